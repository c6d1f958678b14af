/*
 * ingest/rec_records.c - the records of the two recording formats (recording.h): a WISDM
 * record's six fields, a timeseries file's header (delimiter, columns and their roles) and its
 * rows; and the constructors, which pick one of them. The byte loop, the samples and the account
 * are rec_acc.c's.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "csv_number.h"
#include "ingest_private.h"
#include "rec_private.h"

#define MAX_FIELDS (INGEST_REC_MAX_CHANNELS + 8)

typedef struct field {
    const char *s;
    size_t n;
} field_t;

/* Splits rec at delim into at most cap fields; returns how many there are (may exceed cap:
 * only the first cap are filled). */
static size_t split(const char *rec, size_t len, char delim, field_t *f, size_t cap) {
    size_t k = 0;
    const char *s = rec, *end = rec + len;
    for (;;) {
        const char *t = memchr(s, delim, (size_t)(end - s));
        if (!t)
            t = end;
        if (k < cap)
            f[k] = (field_t){s, (size_t)(t - s)};
        k++;
        if (t == end)
            return k;
        s = t + 1;
    }
}

static int blank_field(const field_t *f) {
    const char *s = f->s;
    size_t n = f->n;
    ingest_rec_trim(&s, &n);
    return n == 0;
}

/* Reads channel values f[0..channels) into p->row; 1 when the record was skipped. */
static int read_channels(ingest_rec_t *p, const field_t *f, const size_t *field_no,
                         const char *const *names, int32_t subject) {
    for (size_t c = 0; c < p->channels; c++) {
        const char *s = f[c].s;
        size_t n = f[c].n;
        ingest_rec_trim(&s, &n);
        if (n == 0) {
            /* The quirk: keep the subject's previous value of this channel. */
            if (p->n == 0 || p->group[p->n - 1] != subject) {
                ingest_rec_skip(p, INGEST_SKIP_EMPTY_VALUE, field_no[c], names[c],
                                "line %llu, field %zu (%s): empty, and no earlier value of "
                                "subject %d to keep",
                                (unsigned long long)p->line, field_no[c], names[c], (int)subject);
                return 1;
            }
            ingest_rec_quirk(p, INGEST_QUIRK_EMPTY_VALUE);
            p->row[c] = p->x[(p->n - 1) * p->channels + c];
            continue;
        }
        float v;
        if (ingest_num_parse_text(s, n, &v) != INGEST_NUM_OK) {
            char esc[48];
            ingest_rec_skip(p, INGEST_SKIP_BAD_VALUE, field_no[c], names[c],
                            "line %llu, field %zu (%s): \"%s\" is not a number",
                            (unsigned long long)p->line, field_no[c], names[c],
                            ingest_escape(esc, sizeof esc, s, n, 20));
            return 1;
        }
        p->row[c] = v;
    }
    return 0;
}

/* Subject, label and timestamp of a record; 1 when it was skipped, -1 on a failure. */
static int read_keys(ingest_rec_t *p, field_t subj, size_t subj_no, const char *subj_name,
                     field_t label, size_t label_no, const char *label_name, field_t time,
                     size_t time_no, const char *time_name, int32_t *s_out, int32_t *l_out,
                     int64_t *t_out, ingest_error_t *err) {
    char esc[48];
    if (ingest_rec_parse_subject(subj.s, subj.n, s_out) != 0)
        return 1 + ingest_rec_skip(p, INGEST_SKIP_BAD_SUBJECT, subj_no, subj_name,
                                   "line %llu, field %zu (%s): \"%s\" is not a subject id (an "
                                   "integer from 0)",
                                   (unsigned long long)p->line, subj_no, subj_name,
                                   ingest_escape(esc, sizeof esc, subj.s, subj.n, 20));
    if (ingest_rec_parse_time(time.s, time.n, p->unit_ns, t_out) != 0)
        return 1 + ingest_rec_skip(p, INGEST_SKIP_BAD_TIMESTAMP, time_no, time_name,
                                   "line %llu, field %zu (%s): \"%s\" is not a timestamp",
                                   (unsigned long long)p->line, time_no, time_name,
                                   ingest_escape(esc, sizeof esc, time.s, time.n, 24));
    if (*t_out == 0)
        return 1 + ingest_rec_skip(p, INGEST_SKIP_ZERO_TIMESTAMP, time_no, time_name,
                                   "line %llu, field %zu (%s): the timestamp is 0",
                                   (unsigned long long)p->line, time_no, time_name);
    const char *l = label.s;
    size_t ln = label.n;
    ingest_rec_trim(&l, &ln);
    if (ln == 0)
        return 1 + ingest_rec_skip(p, INGEST_SKIP_EMPTY_LABEL, label_no, label_name,
                                   "line %llu, field %zu (%s): the label is empty",
                                   (unsigned long long)p->line, label_no, label_name);
    if (memchr(l, '\0', ln))
        return 1 + ingest_rec_skip(p, INGEST_SKIP_EMPTY_LABEL, label_no, label_name,
                                   "line %llu, field %zu (%s): the label holds a NUL byte",
                                   (unsigned long long)p->line, label_no, label_name);
    return ingest_rec_class(p, l, ln, l_out, err) ? -1 : 0;
}

/* ---- WISDM: user,activity,timestamp,x,y,z ---- */

static int wisdm_record(ingest_rec_t *p, const char *rec, size_t len, ingest_error_t *err) {
    static const size_t axis_no[3] = {4, 5, 6};
    static const char *const axis_names[3] = {"x", "y", "z"};
    field_t f[8];
    size_t n = split(rec, len, ',', f, 8);
    if (n == 7 && blank_field(&f[6])) {
        ingest_rec_quirk(p, INGEST_QUIRK_TRAILING_COMMA);
        n = 6;
    }
    if (n != 6)
        return ingest_rec_skip(p, INGEST_SKIP_FIELD_COUNT, n > 6 ? 7 : n, "",
                               "line %llu: %zu fields, not the 6 of user,activity,timestamp,x,y,z",
                               (unsigned long long)p->line, n);
    int32_t subject, label;
    int64_t t;
    int k = read_keys(p, f[0], 1, "user", f[1], 2, "activity", f[2], 3, "timestamp", &subject,
                      &label, &t, err);
    if (k < 0)
        return p->rc;
    if (k > 0 || read_channels(p, f + 3, axis_no, axis_names, subject))
        return 0;
    return ingest_rec_append(p, subject, label, t, err);
}

/* ---- timeseries: a header, then rows ---- */

static char detect_delim(const char *s, size_t n) {
    size_t c = 0, sc = 0, tab = 0;
    for (size_t i = 0; i < n; i++) {
        c += s[i] == ',';
        sc += s[i] == ';';
        tab += s[i] == '\t';
    }
    return c >= sc && c >= tab ? ',' : sc >= tab ? ';' : '\t';
}

/* The column named want (exactly, else in any case), or -1. */
static long find_col(const ingest_rec_t *p, const char *want) {
    for (size_t i = 0; i < p->n_cols; i++)
        if (strcmp(p->col_names[i], want) == 0)
            return (long)i;
    for (size_t i = 0; i < p->n_cols; i++)
        if (strcasecmp(p->col_names[i], want) == 0)
            return (long)i;
    return -1;
}

/* The column for an option (given: must exist) or its defaults. -1 after failing. */
static long role_col(ingest_rec_t *p, const char *given, const char *def1, const char *def2,
                     const char *option, ingest_error_t *err) {
    long i = given ? find_col(p, given) : find_col(p, def1);
    if (i < 0 && !given && def2)
        i = find_col(p, def2);
    if (i >= 0)
        return i;
    char esc[80];
    if (given)
        ingest_rec_fail(p, err, MLPT_EINVAL, 0, option, "no column named \"%s\" (%s)",
                        ingest_escape(esc, sizeof esc, given, strlen(given), 40), option);
    else
        ingest_rec_fail(p, err, MLPT_EINVAL, 0, option,
                        "no column named \"%s\"%s%s%s: name it with %s", def1, def2 ? " or \"" : "",
                        def2 ? def2 : "", def2 ? "\"" : "", option);
    return -1;
}

static int ts_header(ingest_rec_t *p, const char *rec, size_t len, ingest_error_t *err) {
    field_t f[MAX_FIELDS];
    p->delim = detect_delim(rec, len);
    size_t n = split(rec, len, p->delim, f, MAX_FIELDS);
    if (n > MAX_FIELDS)
        return ingest_rec_fail(p, err, MLPT_ELIMIT, 0, NULL,
                               "%zu columns: at most %zu channels and subject, label and timestamp",
                               n, INGEST_REC_MAX_CHANNELS);
    p->col_names = calloc(n, sizeof *p->col_names);
    p->role = calloc(n, sizeof *p->role);
    if (!p->col_names || !p->role)
        return ingest_rec_fail(p, err, MLPT_ENOMEM, 0, NULL, "out of memory");
    p->n_cols = n;
    for (size_t i = 0; i < n; i++) {
        const char *s = f[i].s;
        size_t k = f[i].n;
        ingest_rec_trim(&s, &k);
        if (!(p->col_names[i] = malloc(k + 1)))
            return ingest_rec_fail(p, err, MLPT_ENOMEM, 0, NULL, "out of memory");
        memcpy(p->col_names[i], s, k);
        p->col_names[i][k] = '\0';
    }
    long subj = role_col(p, p->subject_col, "subject", "user", "subject_column", err);
    long label =
        subj < 0 ? -1 : role_col(p, p->label_col, "label", "activity", "label_column", err);
    long time =
        label < 0 ? -1 : role_col(p, p->time_col, "timestamp", "time", "timestamp_column", err);
    if (time < 0)
        return p->rc;
    if (subj == label || subj == time || label == time)
        return ingest_rec_fail(p, err, MLPT_EINVAL, 0, NULL,
                               "the subject, label and timestamp columns must be three different "
                               "columns");
    const char *names[MAX_FIELDS];
    size_t ch = 0;
    for (size_t i = 0; i < n; i++) {
        if ((long)i == subj || (long)i == label || (long)i == time) {
            p->role[i] = (long)i == subj ? COL_SUBJECT : (long)i == label ? COL_LABEL : COL_TIME;
            continue;
        }
        p->role[i] = (int)ch;
        names[ch++] = p->col_names[i];
    }
    if (ch == 0)
        return ingest_rec_fail(p, err, MLPT_EFORMAT, 0, NULL,
                               "no channel column: every column is subject, label or timestamp");
    if (ch > INGEST_REC_MAX_CHANNELS)
        return ingest_rec_fail(p, err, MLPT_ELIMIT, 0, NULL, "%zu channel columns: at most %zu", ch,
                               INGEST_REC_MAX_CHANNELS);
    if (ingest_rec_set_channels(p, ch, names))
        return ingest_rec_fail(p, err, MLPT_ENOMEM, 0, NULL, "out of memory");
    p->header_done = 1;
    return 0;
}

static int ts_record(ingest_rec_t *p, const char *rec, size_t len, ingest_error_t *err) {
    if (!p->header_done)
        return ts_header(p, rec, len, err);
    field_t f[MAX_FIELDS], ch[MAX_FIELDS];
    size_t no[MAX_FIELDS];
    const char *names[MAX_FIELDS];
    size_t n = split(rec, len, p->delim, f, MAX_FIELDS);
    if (n == p->n_cols + 1 && blank_field(&f[n - 1])) {
        ingest_rec_quirk(p, INGEST_QUIRK_TRAILING_COMMA);
        n--;
    }
    if (n != p->n_cols)
        return ingest_rec_skip(p, INGEST_SKIP_FIELD_COUNT, 0, "",
                               "line %llu: %zu fields, the header has %zu",
                               (unsigned long long)p->line, n, p->n_cols);
    size_t is = 0, il = 0, it = 0;
    for (size_t i = 0; i < n; i++) {
        if (p->role[i] == COL_SUBJECT)
            is = i;
        else if (p->role[i] == COL_LABEL)
            il = i;
        else if (p->role[i] == COL_TIME)
            it = i;
        else {
            ch[p->role[i]] = f[i];
            no[p->role[i]] = i + 1;
            names[p->role[i]] = p->col_names[i];
        }
    }
    int32_t subject, label;
    int64_t t;
    int k = read_keys(p, f[is], is + 1, p->col_names[is], f[il], il + 1, p->col_names[il], f[it],
                      it + 1, p->col_names[it], &subject, &label, &t, err);
    if (k < 0)
        return p->rc;
    if (k > 0 || read_channels(p, ch, no, names, subject))
        return 0;
    return ingest_rec_append(p, subject, label, t, err);
}

/* ---- constructors ---- */

ingest_rec_t *ingest_wisdm_new(const ingest_rec_options_t *opt) {
    static const char *const axes[3] = {"x", "y", "z"};
    ingest_rec_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    if (ingest_rec_init(p, opt, NULL) != 0 || ingest_rec_set_channels(p, 3, axes) != 0) {
        ingest_rec_free(p);
        return NULL;
    }
    p->unit_ns = 1; /* WISDM's timestamps are ns, whatever the option says */
    p->semicolons = 1;
    p->header_done = 1;
    p->record = wisdm_record;
    return p;
}

ingest_rec_t *ingest_timeseries_new(const ingest_rec_options_t *opt, const char *label_name) {
    ingest_rec_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    if (ingest_rec_init(p, opt, label_name) != 0) {
        ingest_rec_free(p);
        return NULL;
    }
    p->record = ts_record;
    return p;
}
