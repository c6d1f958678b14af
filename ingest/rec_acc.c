/*
 * ingest/rec_acc.c - what both recording formats share (recording.h): the byte loop that cuts
 * records at line ends (and at ';' for WISDM) across chunks, the samples in doubling arrays,
 * the classes, the account of quirks and skipped records, and the end with its refusals. The
 * records themselves are rec_records.c's, reached through p->record.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest_private.h"
#include "rec_private.h"

#define DEFAULT_MAX_CLASSES ((size_t)1000)
#define FIRST_CAP ((size_t)4096)

static const char *const quirk_names[INGEST_QUIRK_COUNT] = {
    "trailing_comma", "missing_semicolon", "several_on_one_line",
    "empty_value",    "blank_line",        "crlf",
};
static const char *const skip_names[INGEST_SKIP_COUNT] = {
    "field_count",    "bad_subject", "empty_label", "bad_timestamp",
    "zero_timestamp", "bad_value",   "empty_value",
};
static const char *const unit_names[] = {"ns", "us", "ms", "s"};

const char *ingest_quirk_name(size_t q) {
    return q < INGEST_QUIRK_COUNT ? quirk_names[q] : NULL;
}

const char *ingest_skip_name(size_t s) {
    return s < INGEST_SKIP_COUNT ? skip_names[s] : NULL;
}

const char *ingest_time_unit_name(ingest_time_unit_t u) {
    return (unsigned)u < 4 ? unit_names[u] : "ns";
}

int ingest_time_unit_parse(const char *name, ingest_time_unit_t *out) {
    for (int i = 0; name && i < 4; i++)
        if (strcmp(name, unit_names[i]) == 0) {
            *out = (ingest_time_unit_t)i;
            return 0;
        }
    return -1;
}

void ingest_rec_options_init(ingest_rec_options_t *opt) {
    memset(opt, 0, sizeof *opt);
    opt->timestamp_unit = INGEST_TIME_NS;
    opt->max_rows = INGEST_DEFAULT_MAX_ROWS;
    opt->max_values = INGEST_DEFAULT_MAX_VALUES;
    opt->max_line_bytes = (size_t)1 << 20;
    opt->max_classes = DEFAULT_MAX_CLASSES;
    opt->max_gunzip_bytes = INGEST_DEFAULT_MAX_GUNZIP_BYTES;
}

static char *dup_or_null(const char *s, int *bad) {
    char *d = s ? strdup(s) : NULL;
    if (s && !d)
        *bad = 1;
    return d;
}

int ingest_rec_init(ingest_rec_t *p, const ingest_rec_options_t *opt, const char *label_name) {
    static const int64_t units[] = {1, 1000, 1000000, 1000000000};
    ingest_rec_options_t d;
    ingest_rec_options_init(&d);
    p->opt = opt ? *opt : d;
    if (!p->opt.max_rows)
        p->opt.max_rows = d.max_rows;
    if (!p->opt.max_values)
        p->opt.max_values = d.max_values;
    if (!p->opt.max_line_bytes)
        p->opt.max_line_bytes = d.max_line_bytes;
    if (!p->opt.max_classes)
        p->opt.max_classes = d.max_classes;
    if ((unsigned)p->opt.timestamp_unit > INGEST_TIME_S)
        p->opt.timestamp_unit = INGEST_TIME_NS;
    p->unit_ns = units[p->opt.timestamp_unit];
    int bad = 0;
    p->subject_col = dup_or_null(p->opt.subject_column, &bad);
    p->time_col = dup_or_null(p->opt.timestamp_column, &bad);
    p->label_col = dup_or_null(label_name, &bad);
    p->opt.subject_column = p->subject_col;
    p->opt.timestamp_column = p->time_col;
    p->line = 1;
    return bad ? MLPT_ENOMEM : 0;
}

int ingest_rec_set_channels(ingest_rec_t *p, size_t channels, const char *const *names) {
    p->channels = channels;
    p->channel_names = calloc(channels, sizeof *p->channel_names);
    p->row = calloc(channels, sizeof *p->row);
    if (!p->channel_names || !p->row)
        return MLPT_ENOMEM;
    for (size_t c = 0; c < channels; c++)
        if (!(p->channel_names[c] = strdup(names[c])))
            return MLPT_ENOMEM;
    p->report.channels = channels;
    p->report.channel_names = (const char *const *)p->channel_names;
    return 0;
}

void ingest_rec_quirk(ingest_rec_t *p, ingest_quirk_t q) {
    uint64_t k = p->report.quirks[q]++;
    if (k < INGEST_REC_FIRST_LINES)
        p->report.quirk_lines[q][k] = p->line;
}

int ingest_rec_skip(ingest_rec_t *p, ingest_skip_t why, size_t field, const char *field_name,
                    const char *fmt, ...) {
    uint64_t k = p->report.skipped[why]++;
    if (k < INGEST_REC_FIRST_LINES)
        p->report.skip_lines[why][k] = p->line;
    if (!p->first_skip_line) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->first_skip, sizeof p->first_skip, fmt, ap);
        va_end(ap);
        p->first_skip_line = p->line;
        p->first_skip_field = field;
        snprintf(p->first_skip_name, sizeof p->first_skip_name, "%s", field_name ? field_name : "");
    }
    return 0;
}

int ingest_rec_fail(ingest_rec_t *p, ingest_error_t *err, int code, size_t field,
                    const char *field_name, const char *fmt, ...) {
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (field)
        ingest_error_set(&p->err, code, p->line, field, field_name, "line %llu, field %zu (%s): %s",
                         (unsigned long long)p->line, field, field_name ? field_name : "", msg);
    else if (p->line)
        ingest_error_set(&p->err, code, p->line, 0, field_name, "line %llu: %s",
                         (unsigned long long)p->line, msg);
    else
        ingest_error_set(&p->err, code, 0, 0, field_name, "%s", msg);
    p->rc = code;
    ingest_error_copy(err, &p->err);
    return code;
}

int ingest_rec_class(ingest_rec_t *p, const char *label, size_t len, int32_t *id,
                     ingest_error_t *err) {
    size_t c = p->last_class;
    if (c < p->classes && strncmp(p->class_names[c], label, len) == 0 &&
        p->class_names[c][len] == '\0') {
        *id = (int32_t)c;
        return 0;
    }
    for (c = 0; c < p->classes; c++)
        if (strncmp(p->class_names[c], label, len) == 0 && p->class_names[c][len] == '\0') {
            p->last_class = c;
            *id = (int32_t)c;
            return 0;
        }
    if (p->classes >= p->opt.max_classes)
        return ingest_rec_fail(p, err, MLPT_ELIMIT, 0, NULL,
                               "more than %zu distinct labels (the limit max_classes)",
                               p->opt.max_classes);
    if (p->classes == p->class_cap) {
        size_t cap = p->class_cap ? 2 * p->class_cap : 8;
        char **n = realloc(p->class_names, cap * sizeof *n);
        if (n)
            p->class_names = n;
        size_t *k = n ? realloc(p->class_counts, cap * sizeof *k) : NULL;
        if (!k)
            return ingest_rec_fail(p, err, MLPT_ENOMEM, 0, NULL, "out of memory");
        p->class_counts = k;
        p->class_cap = cap;
    }
    char *name = malloc(len + 1);
    if (!name)
        return ingest_rec_fail(p, err, MLPT_ENOMEM, 0, NULL, "out of memory");
    memcpy(name, label, len);
    name[len] = '\0';
    p->class_names[p->classes] = name;
    p->class_counts[p->classes] = 0;
    p->last_class = p->classes;
    *id = (int32_t)p->classes++;
    return 0;
}

/* Doubles the sample arrays. 0 or MLPT_ENOMEM. */
static int grow(ingest_rec_t *p, size_t cap) {
    float *x = realloc(p->x, cap * p->channels * sizeof *x);
    if (!x)
        return MLPT_ENOMEM;
    p->x = x;
    int32_t *y = realloc(p->y, cap * sizeof *y);
    if (!y)
        return MLPT_ENOMEM;
    p->y = y;
    int32_t *g = realloc(p->group, cap * sizeof *g);
    if (!g)
        return MLPT_ENOMEM;
    p->group = g;
    int64_t *t = realloc(p->time, cap * sizeof *t);
    if (!t)
        return MLPT_ENOMEM;
    p->time = t;
    p->cap = cap;
    return 0;
}

int ingest_rec_append(ingest_rec_t *p, int32_t subject, int32_t label, int64_t t_ns,
                      ingest_error_t *err) {
    if (p->n >= p->opt.max_rows || (uint64_t)(p->n + 1) * p->channels > p->opt.max_values)
        return ingest_rec_fail(p, err, MLPT_ELIMIT, 0, NULL,
                               "more than %zu samples (the limit max_rows or max_values)", p->n);
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : FIRST_CAP;
        if (cap > p->opt.max_rows)
            cap = p->opt.max_rows;
        if (grow(p, cap) != 0)
            return ingest_rec_fail(p, err, MLPT_ENOMEM, 0, NULL, "out of memory");
    }
    memcpy(p->x + p->n * p->channels, p->row, p->channels * sizeof *p->row);
    p->y[p->n] = label;
    p->group[p->n] = subject;
    p->time[p->n] = t_ns;
    p->class_counts[label]++;
    if (!p->first_used_line)
        p->first_used_line = p->line;
    p->n++;
    return 0;
}

void ingest_rec_trim(const char **s, size_t *len) {
    const char *a = *s;
    size_t n = *len;
    while (n && (*a == ' ' || *a == '\t')) {
        a++;
        n--;
    }
    while (n && (a[n - 1] == ' ' || a[n - 1] == '\t'))
        n--;
    if (n >= 2 && a[0] == '"' && a[n - 1] == '"') {
        a++;
        n -= 2;
    }
    *s = a;
    *len = n;
}

int ingest_rec_parse_subject(const char *s, size_t len, int32_t *out) {
    int64_t v = 0;
    ingest_rec_trim(&s, &len);
    if (len == 0 || len > 10)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if ((unsigned)(s[i] - '0') >= 10u)
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v > INT32_MAX)
        return -1;
    *out = (int32_t)v;
    return 0;
}

int ingest_rec_parse_time(const char *s, size_t len, int64_t unit_ns, int64_t *out) {
    ingest_rec_trim(&s, &len);
    size_t i = 0;
    uint64_t ip = 0;
    if (len && s[0] == '+')
        i++;
    size_t d0 = i;
    for (; i < len && (unsigned)(s[i] - '0') < 10u; i++) {
        if (ip > (uint64_t)INT64_MAX / 10)
            return -1;
        ip = ip * 10 + (uint64_t)(s[i] - '0');
    }
    size_t nd = i - d0;
    uint64_t frac = 0, scale = 1;
    if (i < len && s[i] == '.') {
        for (i++; i < len && (unsigned)(s[i] - '0') < 10u; i++, nd++)
            if (scale < (uint64_t)unit_ns) { /* digits below a ns are dropped */
                frac = frac * 10 + (uint64_t)(s[i] - '0');
                scale *= 10;
            }
    }
    if (nd == 0 || i != len || ip > (uint64_t)INT64_MAX / (uint64_t)unit_ns)
        return -1;
    uint64_t ns = ip * (uint64_t)unit_ns + frac * ((uint64_t)unit_ns / scale);
    if (ns > (uint64_t)INT64_MAX)
        return -1;
    *out = (int64_t)ns;
    return 0;
}

/* ---- the byte loop ---- */

static int blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t')
            return 0;
    return 1;
}

/* A piece of text ended by term ('\n', ';', or 0 at the end of the input). */
static int piece(ingest_rec_t *p, const char *s, size_t n, char term, ingest_error_t *err) {
    int rc = 0;
    if (term != ';' && n && s[n - 1] == '\r') {
        if (term == '\n')
            ingest_rec_quirk(p, INGEST_QUIRK_CRLF);
        n--;
    }
    if (!blank(s, n)) {
        if (p->semicolons && term != ';')
            ingest_rec_quirk(p, INGEST_QUIRK_MISSING_SEMICOLON);
        if (p->semicolons && p->line_has_record)
            ingest_rec_quirk(p, INGEST_QUIRK_SEVERAL_ON_ONE_LINE);
        p->report.records += p->header_done || p->semicolons;
        rc = p->record(p, s, n, err);
        p->line_has_record = 1;
    } else if (term == '\n' && !p->line_has_record) {
        ingest_rec_quirk(p, INGEST_QUIRK_BLANK_LINE);
    }
    if (term == '\n') {
        p->line++;
        p->line_has_record = 0;
    }
    return rc;
}

static int carry_add(ingest_rec_t *p, const char *s, size_t n, ingest_error_t *err) {
    if (p->carry_len + n > p->opt.max_line_bytes)
        return ingest_rec_fail(p, err, MLPT_ELIMIT, 0, NULL,
                               "a record is longer than %zu bytes (the limit max_line_bytes)",
                               p->opt.max_line_bytes);
    if (p->carry_len + n > p->carry_cap) {
        size_t cap = p->carry_cap ? p->carry_cap : 256;
        while (cap < p->carry_len + n)
            cap *= 2;
        char *c = realloc(p->carry, cap);
        if (!c)
            return ingest_rec_fail(p, err, MLPT_ENOMEM, 0, NULL, "out of memory");
        p->carry = c;
        p->carry_cap = cap;
    }
    memcpy(p->carry + p->carry_len, s, n);
    p->carry_len += n;
    return 0;
}

int ingest_rec_feed(ingest_rec_t *p, const void *buf, size_t len, ingest_error_t *err) {
    const char *s = buf, *end = s + len;
    if (p->rc || p->finished) {
        if (p->rc)
            ingest_error_copy(err, &p->err);
        return p->rc ? p->rc : MLPT_EINVAL;
    }
    while (s < end) {
        const char *t = s;
        if (p->semicolons)
            while (t < end && *t != '\n' && *t != ';')
                t++;
        else if (!(t = memchr(s, '\n', (size_t)(end - s))))
            t = end;
        if (t == end)
            return carry_add(p, s, (size_t)(end - s), err);
        int rc;
        if (p->carry_len) {
            if ((rc = carry_add(p, s, (size_t)(t - s), err)) != 0)
                return rc;
            rc = piece(p, p->carry, p->carry_len, *t, err);
            p->carry_len = 0;
        } else {
            if ((size_t)(t - s) > p->opt.max_line_bytes)
                return carry_add(p, s, (size_t)(t - s), err); /* fails with the limit */
            rc = piece(p, s, (size_t)(t - s), *t, err);
        }
        if (rc)
            return rc;
        s = t + 1;
    }
    return 0;
}

/* The refusal when no record could be used. */
static int refuse_empty(ingest_rec_t *p, ingest_error_t *err) {
    uint64_t skipped = 0;
    for (size_t i = 0; i < INGEST_SKIP_COUNT; i++)
        skipped += p->report.skipped[i];
    if (!skipped) {
        p->line = 0;
        return ingest_rec_fail(p, err, MLPT_EFORMAT, 0, NULL,
                               p->header_done || p->semicolons
                                   ? "no usable record: the file holds no records"
                                   : "no usable record: the file is empty");
    }
    p->line = p->first_skip_line;
    const char *what = skipped == p->report.skipped[INGEST_SKIP_ZERO_TIMESTAMP]
                           ? "no timestamps: every record's timestamp is 0"
                           : "no usable record";
    return ingest_rec_fail(p, err, MLPT_EFORMAT, (size_t)p->first_skip_field, p->first_skip_name,
                           "%s (%llu records skipped; the first: %s)", what,
                           (unsigned long long)skipped, p->first_skip);
}

int ingest_rec_finish(ingest_rec_t *p, trainer_dataset_t **out, ingest_error_t *err) {
    *out = NULL;
    if (p->rc) {
        ingest_error_copy(err, &p->err);
        return p->rc;
    }
    if (p->finished)
        return ingest_rec_fail(p, err, MLPT_EINVAL, 0, NULL, "the parser was finished already");
    int rc = 0;
    if (p->carry_len) {
        rc = piece(p, p->carry, p->carry_len, 0, err);
        p->carry_len = 0;
    }
    p->finished = 1;
    if (rc)
        return rc;
    if (!p->header_done && !p->semicolons) {
        p->line = 0;
        return ingest_rec_fail(p, err, MLPT_EFORMAT, 0, NULL, "the file is empty: no header");
    }
    if (p->n == 0)
        return refuse_empty(p, err);
    if (p->classes < 2) {
        p->line = p->first_used_line;
        return ingest_rec_fail(p, err, MLPT_EFORMAT, p->semicolons ? 2 : 0,
                               p->semicolons ? "activity" : NULL,
                               "every usable record has the label \"%.60s\": a recording needs "
                               "two classes or more",
                               p->class_names[0]);
    }
    trainer_dataset_t *ds = calloc(1, sizeof *ds);
    if (!ds)
        return ingest_rec_fail(p, err, MLPT_ENOMEM, 0, NULL, "out of memory");
    ds->rows = p->n;
    ds->features = p->channels;
    ds->classes = p->classes;
    ds->x = p->x;
    ds->y = p->y;
    ds->group = p->group;
    ds->time = p->time;
    ds->class_names = p->class_names;
    ds->class_counts = p->class_counts;
    ds->scaling = TRAINER_SCALE_STANDARDIZE;
    p->x = NULL;
    p->y = p->group = NULL;
    p->time = NULL;
    p->class_names = NULL;
    p->class_counts = NULL;
    p->classes = p->n = p->cap = 0;
    rc = trainer_dataset_check(ds);
    if (rc) {
        trainer_dataset_free(ds);
        p->line = 0;
        return ingest_rec_fail(p, err, rc, 0, NULL, "the recording is inconsistent");
    }
    *out = ds;
    return 0;
}

const ingest_rec_report_t *ingest_rec_report(const ingest_rec_t *p) {
    return &p->report;
}

size_t ingest_rec_mem_bytes(const ingest_rec_t *p) {
    if (!p)
        return 0;
    return sizeof *p + p->carry_cap +
           p->cap * (p->channels * sizeof(float) + 2 * sizeof(int32_t) + sizeof(int64_t));
}

void ingest_rec_free(ingest_rec_t *p) {
    if (!p)
        return;
    free(p->carry);
    free(p->role);
    for (size_t i = 0; p->col_names && i < p->n_cols; i++)
        free(p->col_names[i]);
    free(p->col_names);
    for (size_t i = 0; p->channel_names && i < p->channels; i++)
        free(p->channel_names[i]);
    free(p->channel_names);
    free(p->x);
    free(p->y);
    free(p->group);
    free(p->time);
    for (size_t i = 0; i < p->classes; i++)
        free(p->class_names[i]);
    free(p->class_names);
    free(p->class_counts);
    free(p->row);
    free(p->subject_col);
    free(p->time_col);
    free(p->label_col);
    free(p);
}
