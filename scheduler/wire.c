/*
 * wire.c - the rank messages as bytes (wire.h): a growing buffer with little-endian appends
 * and a bounded reader whose every read checks what is left.
 */
#include "wire.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "grid.h"
#include "le.h"
#include "mlpt_err.h"
#include "ranks.h"
#include "train.h"

/* ------------------------------------------------------------------------------------------ */
/* Writing */

static void put(sched_wire_buf_t *b, const void *p, size_t n) {
    if (b->oom)
        return;
    if (n > SIZE_MAX - b->len) {
        b->oom = 1;
        return;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap = cap > SIZE_MAX / 2 ? b->len + n : cap * 2;
        unsigned char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
}

/* Room for n more bytes. Returns 1, or 0 (oom set). */
static int reserve(sched_wire_buf_t *b, size_t n) {
    size_t len = b->len;
    put(b, NULL, 0);
    if (b->oom || n > SIZE_MAX - len)
        return b->oom = 1, 0;
    if (len + n <= b->cap)
        return 1;
    unsigned char *q = realloc(b->p, len + n);
    if (!q)
        return b->oom = 1, 0;
    b->p = q;
    b->cap = len + n;
    return 1;
}

static void put_u8(sched_wire_buf_t *b, unsigned v) {
    unsigned char c = (unsigned char)v;
    put(b, &c, 1);
}

static void put_u16(sched_wire_buf_t *b, unsigned v) {
    unsigned char c[2] = {(unsigned char)v, (unsigned char)(v >> 8)};
    put(b, c, 2);
}

static void put_u32(sched_wire_buf_t *b, uint32_t v) {
    unsigned char c[4];
    trainer_le_put_u32(c, v);
    put(b, c, 4);
}

static void put_u64(sched_wire_buf_t *b, uint64_t v) {
    unsigned char c[8];
    trainer_le_put_u64(c, v);
    put(b, c, 8);
}

static void put_f64(sched_wire_buf_t *b, double d) {
    unsigned char c[8];
    trainer_le_put_f64(c, d);
    put(b, c, 8);
}

static void put_str(sched_wire_buf_t *b, const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n > UINT32_MAX) {
        b->oom = 1;
        return;
    }
    put_u32(b, (uint32_t)n);
    put(b, s, n);
}

static void put_bytes(sched_wire_buf_t *b, const void *p, size_t n) {
    put_u64(b, (uint64_t)n);
    put(b, p, n);
}

static void header(sched_wire_buf_t *b, sched_wire_type_t type, uint64_t job) {
    b->len = 0;
    b->oom = 0;
    put_u32(b, SCHED_WIRE_MAGIC);
    put_u16(b, SCHED_WIRE_VERSION);
    put_u16(b, (unsigned)type);
    put_u64(b, job);
}

static int done(sched_wire_buf_t *b) {
    return b->oom ? MLPT_ENOMEM : 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Reading */

typedef struct rd {
    const unsigned char *p;
    size_t left;
    int bad;
} rd_t;

static const unsigned char *take(rd_t *r, size_t n) {
    if (r->bad || n > r->left) {
        r->bad = 1;
        return NULL;
    }
    const unsigned char *p = r->p;
    r->p += n;
    r->left -= n;
    return p;
}

static unsigned get_u8(rd_t *r) {
    const unsigned char *p = take(r, 1);
    return p ? p[0] : 0;
}

static uint32_t get_u32(rd_t *r) {
    const unsigned char *p = take(r, 4);
    return p ? trainer_le_get_u32(p) : 0;
}

static uint64_t get_u64(rd_t *r) {
    const unsigned char *p = take(r, 8);
    return p ? trainer_le_get_u64(p) : 0;
}

static int64_t get_i64(rd_t *r) {
    return (int64_t)get_u64(r);
}

static double get_f64(rd_t *r) {
    const unsigned char *p = take(r, 8);
    return p ? trainer_le_get_f64(p) : 0.0;
}

/* A string of at most max bytes without NUL, as a new NUL-terminated copy (NULL when bad). */
static char *get_str(rd_t *r, size_t max) {
    uint32_t n = get_u32(r);
    if (n > max) {
        r->bad = 1;
        return NULL;
    }
    const unsigned char *p = take(r, n);
    if (!p || memchr(p, '\0', n)) {
        r->bad = 1;
        return NULL;
    }
    char *s = malloc((size_t)n + 1);
    if (!s) {
        r->bad = 2;
        return NULL;
    }
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* A string into a fixed buffer of cap bytes (cap - 1 characters at most). */
static void get_str_into(rd_t *r, char *out, size_t cap) {
    uint32_t n = get_u32(r);
    const unsigned char *p = n < cap ? take(r, n) : NULL;
    if (!p || memchr(p, '\0', n)) {
        r->bad = r->bad ? r->bad : 1;
        out[0] = '\0';
        return;
    }
    memcpy(out, p, n);
    out[n] = '\0';
}

static int rd_begin(rd_t *r, const void *msg, size_t len, sched_wire_type_t want, uint64_t *job) {
    sched_wire_type_t type;
    uint64_t j;
    if (sched_wire_peek(msg, len, &type, &j) != 0 || type != want)
        return MLPT_EFORMAT;
    r->p = (const unsigned char *)msg + SCHED_WIRE_HEADER;
    r->left = len - SCHED_WIRE_HEADER;
    r->bad = 0;
    if (job)
        *job = j;
    return 0;
}

/* The end of a decode: anything short, malformed or left over is a refusal. */
static int rd_end(const rd_t *r) {
    if (r->bad == 2)
        return MLPT_ENOMEM;
    return r->bad || r->left ? MLPT_EFORMAT : 0;
}

int sched_wire_peek(const void *msg, size_t len, sched_wire_type_t *type, uint64_t *job) {
    const unsigned char *p = msg;
    if (!p || len < SCHED_WIRE_HEADER || trainer_le_get_u32(p) != SCHED_WIRE_MAGIC ||
        (p[4] | p[5] << 8) != SCHED_WIRE_VERSION)
        return MLPT_EFORMAT;
    unsigned t = (unsigned)(p[6] | p[7] << 8);
    if (t < SCHED_WIRE_JOB || t > SCHED_WIRE_BYE)
        return MLPT_EFORMAT;
    uint64_t j = trainer_le_get_u64(p + 8);
    /* a job number exactly where a message is about one job */
    int about_job = t == SCHED_WIRE_JOB || t == SCHED_WIRE_STOP || t == SCHED_WIRE_MSG;
    if (about_job != (j != 0))
        return MLPT_EFORMAT;
    *type = (sched_wire_type_t)t;
    *job = j;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* JOB */

static void put_ds(sched_wire_buf_t *b, const sched_wire_ds_t *d) {
    static const unsigned char zero[SCHED_WIRE_HASH];
    put_u64(b, (uint64_t)(d ? d->id : 0));
    put(b, d ? d->hash : zero, SCHED_WIRE_HASH);
    put_str(b, d ? d->path : NULL);
}

static void get_ds(rd_t *r, sched_wire_ds_t *d) {
    d->id = get_i64(r);
    const unsigned char *h = take(r, SCHED_WIRE_HASH);
    if (h)
        memcpy(d->hash, h, SCHED_WIRE_HASH);
    d->path = get_str(r, SCHED_WIRE_MAX_PATH);
    if (d->id < 0)
        r->bad = r->bad ? r->bad : 1;
}

static void put_row(sched_wire_buf_t *b, const store_metric_t *m) {
    put_u64(b, (uint64_t)m->iteration);
    put_f64(b, m->train_loss);
    put_f64(b, m->train_accuracy);
    put_f64(b, m->val_loss);
    put_f64(b, m->val_accuracy);
    put_f64(b, m->seconds);
}

static void get_row(rd_t *r, store_metric_t *m) {
    m->iteration = get_i64(r);
    m->train_loss = get_f64(r);
    m->train_accuracy = get_f64(r);
    m->val_loss = get_f64(r);
    m->val_accuracy = get_f64(r);
    m->seconds = get_f64(r);
}

int sched_wire_encode_job(sched_wire_buf_t *b, uint64_t job_no, const sched_exec_job_t *job,
                          const sched_wire_ds_t *ds, const sched_wire_ds_t *test) {
    json_t *params = sched_params_to_json(&job->params);
    char *text = params ? json_dumps(params, JSON_COMPACT) : NULL;
    json_decref(params);
    if (!text)
        return MLPT_ENOMEM;
    header(b, SCHED_WIRE_JOB, job_no);
    put_u64(b, (uint64_t)job->trial_id);
    put_str(b, text);
    free(text);
    put_u64(b, job->partitions);
    put_u32(b, (uint32_t)job->n_followers);
    for (size_t i = 0; i < job->n_followers; i++) {
        put_u64(b, (uint64_t)job->followers[i].trial_id);
        put_u64(b, job->followers[i].iterations);
    }
    put_ds(b, ds);
    put_ds(b, job->test.id ? test : NULL);
    const store_resume_t *rs = job->resume && job->resume->state ? job->resume : NULL;
    put_u8(b, rs != NULL);
    if (rs) {
        put_u64(b, (uint64_t)rs->iteration);
        put_f64(b, rs->best_val_accuracy);
        put_f64(b, rs->final_val_accuracy);
        put_u64(b, (uint64_t)rs->best_iteration);
        put_bytes(b, rs->state, rs->len);
    }
    put_u32(b, (uint32_t)job->n_stored);
    for (size_t i = 0; i < job->n_stored; i++)
        put_row(b, &job->stored[i]);
    /* a job across ranks: its group (i13-dp) */
    size_t ranks = job->ranks > 1 && job->members ? job->ranks : 1;
    put_u64(b, ranks);
    put_u64(b, ranks > 1 ? job->sync_every : 0);
    put_u32(b, ranks > 1 ? (uint32_t)job->member : 0);
    for (size_t i = 0; ranks > 1 && i < ranks; i++)
        put_u32(b, (uint32_t)job->members[i]);
    return done(b);
}

void sched_wire_job_free(sched_wire_job_t *j) {
    if (!j)
        return;
    free(j->ds.path);
    free(j->test.path);
    free(j->followers);
    free(j->stored);
    free(j->resume.state);
    free(j->members);
    memset(j, 0, sizeof *j);
}

int sched_wire_decode_job(const void *msg, size_t len, sched_wire_job_t *out) {
    rd_t r;
    memset(out, 0, sizeof *out);
    if (rd_begin(&r, msg, len, SCHED_WIRE_JOB, NULL) != 0)
        return MLPT_EFORMAT;
    sched_wire_job_t j = {0};
    j.job.trial_id = get_i64(&r);
    char *text = get_str(&r, SCHED_WIRE_MAX_PARAMS);
    if (text) {
        json_error_t jerr;
        json_t *obj = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
        if (!obj || sched_params_from_json(obj, &j.job.params) != 0)
            r.bad = r.bad ? r.bad : 1;
        json_decref(obj);
        free(text);
    }
    uint64_t parts = get_u64(&r);
    if (parts < 1 || parts > TRAINER_MAX_PARTITIONS)
        r.bad = r.bad ? r.bad : 1;
    j.job.partitions = (size_t)parts;
    uint32_t nf = get_u32(&r);
    if (!r.bad && nf > r.left / 16)
        r.bad = 1;
    if (!r.bad && nf) {
        if (!(j.followers = calloc(nf, sizeof *j.followers)))
            r.bad = 2;
        for (uint32_t i = 0; i < nf && !r.bad; i++) {
            j.followers[i].trial_id = get_i64(&r);
            j.followers[i].iterations = (size_t)get_u64(&r);
            if (i && j.followers[i].iterations < j.followers[i - 1].iterations)
                r.bad = 1; /* ascending, as executor.h says */
        }
        j.job.n_followers = nf;
    }
    get_ds(&r, &j.ds);
    get_ds(&r, &j.test);
    if (!r.bad && j.ds.id == 0)
        r.bad = 1;
    unsigned has_resume = get_u8(&r);
    if (has_resume > 1)
        r.bad = r.bad ? r.bad : 1;
    if (has_resume == 1 && !r.bad) {
        j.resume.iteration = get_i64(&r);
        j.resume.best_val_accuracy = get_f64(&r);
        j.resume.final_val_accuracy = get_f64(&r);
        j.resume.best_iteration = get_i64(&r);
        uint64_t n = get_u64(&r);
        if (!r.bad && (n == 0 || n > r.left || j.resume.iteration < 1))
            r.bad = 1;
        if (!r.bad && !(j.resume.state = malloc((size_t)n)))
            r.bad = 2;
        if (!r.bad) {
            memcpy(j.resume.state, take(&r, (size_t)n), (size_t)n);
            j.resume.len = (size_t)n;
        }
    }
    uint32_t ns = get_u32(&r);
    if (!r.bad && ns > r.left / 48)
        r.bad = 1;
    if (!r.bad && ns) {
        if (!(j.stored = calloc(ns, sizeof *j.stored)))
            r.bad = 2;
        for (uint32_t i = 0; i < ns && !r.bad; i++) {
            get_row(&r, &j.stored[i]);
            j.stored[i].trial_id = j.job.trial_id;
            if (j.stored[i].iteration != (int64_t)i + 1)
                r.bad = 1; /* rows 1 .. n_stored */
        }
        j.job.n_stored = ns;
    }
    if (!r.bad && j.resume.state && j.resume.iteration > (int64_t)ns)
        r.bad = 1; /* the stored rows reach the resume point (the loop checks it too) */
    uint64_t ranks = get_u64(&r), every = get_u64(&r);
    uint32_t member = get_u32(&r);
    if (!r.bad && (ranks < 1 || ranks > TRAINER_MAX_RANKS || ranks > r.left / 4 + 1 ||
                   (ranks > 1 && (every < 1 || every > SCHED_MAX_SYNC_EVERY || member >= ranks)) ||
                   (ranks == 1 && (every != 0 || member != 0))))
        r.bad = 1;
    if (!r.bad && ranks > 1 && !(j.members = calloc((size_t)ranks, sizeof *j.members)))
        r.bad = 2;
    for (uint64_t i = 0; !r.bad && ranks > 1 && i < ranks; i++) {
        uint32_t m = get_u32(&r);
        for (uint64_t k = 0; k < i && !r.bad; k++)
            if ((uint32_t)j.members[k] == m)
                r.bad = 1; /* distinct ranks */
        if (m > INT32_MAX)
            r.bad = 1;
        j.members[i] = (int)m;
    }
    j.job.ranks = (size_t)ranks;
    j.job.sync_every = (size_t)every;
    j.job.member = member;
    int rc = rd_end(&r);
    if (rc != 0) {
        sched_wire_job_free(&j);
        return rc;
    }
    *out = j;
    out->job.followers = out->followers;
    out->job.stored = out->stored;
    out->job.members = out->members;
    out->job.resume = out->resume.state ? &out->resume : NULL;
    out->job.dataset.id = out->ds.id;
    out->job.test.id = out->test.id;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* STOP, STOP_ALL, SHUTDOWN, BYE, WANT */

int sched_wire_encode_stop(sched_wire_buf_t *b, sched_wire_type_t type, uint64_t job_no,
                           sched_stop_reason_t why) {
    header(b, type, job_no);
    put_u32(b, (uint32_t)why);
    return done(b);
}

int sched_wire_decode_stop(const void *msg, size_t len, sched_stop_reason_t *why) {
    rd_t r;
    sched_wire_type_t type;
    uint64_t job;
    if (sched_wire_peek(msg, len, &type, &job) != 0 ||
        (type != SCHED_WIRE_STOP && type != SCHED_WIRE_STOP_ALL) ||
        rd_begin(&r, msg, len, type, NULL) != 0)
        return MLPT_EFORMAT;
    uint32_t v = get_u32(&r);
    if (rd_end(&r) != 0 || v < SCHED_STOP_CANCEL || v > SCHED_STOP_EARLY)
        return MLPT_EFORMAT;
    *why = (sched_stop_reason_t)v;
    return 0;
}

int sched_wire_encode_empty(sched_wire_buf_t *b, sched_wire_type_t type) {
    header(b, type, 0);
    return done(b);
}

int sched_wire_encode_want(sched_wire_buf_t *b, int64_t id, const unsigned char *hash) {
    header(b, SCHED_WIRE_WANT, 0);
    put_u64(b, (uint64_t)id);
    put(b, hash, SCHED_WIRE_HASH);
    return done(b);
}

int sched_wire_decode_want(const void *msg, size_t len, int64_t *id, unsigned char *hash) {
    rd_t r;
    if (rd_begin(&r, msg, len, SCHED_WIRE_WANT, NULL) != 0)
        return MLPT_EFORMAT;
    int64_t v = get_i64(&r);
    const unsigned char *h = take(&r, SCHED_WIRE_HASH);
    if (rd_end(&r) != 0 || v <= 0)
        return MLPT_EFORMAT;
    *id = v;
    memcpy(hash, h, SCHED_WIRE_HASH);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* DATASET */

int sched_wire_encode_dataset(sched_wire_buf_t *b, int64_t id, const unsigned char *hash,
                              const trainer_dataset_t *ds, const char *error) {
    header(b, SCHED_WIRE_DATASET, 0);
    put_u64(b, (uint64_t)id);
    put(b, hash, SCHED_WIRE_HASH);
    put_u8(b, ds != NULL);
    if (!ds) {
        put_str(b, error ? error : "unavailable");
        return done(b);
    }
    put_u64(b, ds->rows);
    put_u64(b, ds->features);
    put_u64(b, ds->classes);
    put_u32(b, (uint32_t)ds->scaling);
    for (size_t c = 0; c < ds->classes; c++)
        put_str(b, ds->class_names[c]);
    for (size_t c = 0; c < ds->classes; c++)
        put_u64(b, ds->class_counts[c]);
    size_t nx = ds->rows * ds->features;
    if (nx > (SIZE_MAX - b->len) / 4 - 16 * ds->rows || !reserve(b, 4 * nx + 9 * ds->rows + 16))
        b->oom = 1;
    if (!b->oom) { /* the floats in place, without a copy per value through put() */
        trainer_le_put_f32s(b->p + b->len, ds->x, nx);
        b->len += 4 * nx;
    }
    for (size_t i = 0; i < ds->rows && !b->oom; i++)
        put_u32(b, (uint32_t)ds->y[i]);
    put_u8(b, ds->group != NULL);
    for (size_t i = 0; ds->group && i < ds->rows && !b->oom; i++)
        put_u32(b, (uint32_t)ds->group[i]);
    return done(b);
}

int sched_wire_decode_dataset(const void *msg, size_t len, int64_t *id, unsigned char *hash,
                              trainer_dataset_t **ds, char *error, size_t error_len) {
    rd_t r;
    *ds = NULL;
    if (error_len)
        error[0] = '\0';
    if (rd_begin(&r, msg, len, SCHED_WIRE_DATASET, NULL) != 0)
        return MLPT_EFORMAT;
    int64_t v = get_i64(&r);
    const unsigned char *h = take(&r, SCHED_WIRE_HASH);
    unsigned ok = get_u8(&r);
    if (r.bad || v <= 0 || ok > 1)
        return MLPT_EFORMAT;
    if (!ok) {
        char msgbuf[256];
        get_str_into(&r, msgbuf, sizeof msgbuf);
        if (rd_end(&r) != 0)
            return MLPT_EFORMAT;
        snprintf(error, error_len, "%s", msgbuf);
        *id = v;
        memcpy(hash, h, SCHED_WIRE_HASH);
        return 0;
    }
    uint64_t rows = get_u64(&r), features = get_u64(&r), classes = get_u64(&r);
    uint32_t scaling = get_u32(&r);
    /* Every class costs at least 12 bytes (name length, count), every value 4: bounded by what
     * is left before anything is allocated. */
    if (r.bad || rows < 1 || features < 1 || classes < 1 || scaling > TRAINER_SCALE_GLOBAL_MINMAX ||
        classes > r.left / 12 || rows > r.left / 4 || features > (r.left / 4) / rows)
        return MLPT_EFORMAT;
    trainer_dataset_t *d = calloc(1, sizeof *d);
    if (!d)
        return MLPT_ENOMEM;
    d->rows = (size_t)rows;
    d->features = (size_t)features;
    d->scaling = (trainer_scaling_t)scaling;
    d->class_names = calloc((size_t)classes, sizeof *d->class_names);
    d->class_counts = calloc((size_t)classes, sizeof *d->class_counts);
    if (!d->class_names || !d->class_counts)
        r.bad = 2;
    else
        d->classes = (size_t)classes; /* trainer_dataset_free walks the names */
    for (size_t c = 0; c < d->classes && !r.bad; c++)
        d->class_names[c] = get_str(&r, 4096);
    for (size_t c = 0; c < d->classes && !r.bad; c++)
        d->class_counts[c] = (size_t)get_u64(&r);
    size_t nx = d->rows * d->features;
    if (!r.bad && nx > r.left / 4)
        r.bad = 1;
    if (!r.bad && !(d->x = malloc(nx * sizeof *d->x)))
        r.bad = 2;
    if (!r.bad)
        trainer_le_get_f32s(d->x, take(&r, 4 * nx), nx);
    if (!r.bad && d->rows > r.left / 4)
        r.bad = 1;
    if (!r.bad && !(d->y = malloc(d->rows * sizeof *d->y)))
        r.bad = 2;
    for (size_t i = 0; i < d->rows && !r.bad; i++)
        d->y[i] = (int32_t)get_u32(&r);
    unsigned groups = get_u8(&r);
    if (groups > 1 || (groups && !r.bad && d->rows > r.left / 4))
        r.bad = r.bad ? r.bad : 1;
    if (groups && !r.bad && !(d->group = malloc(d->rows * sizeof *d->group)))
        r.bad = 2;
    for (size_t i = 0; groups && i < d->rows && !r.bad; i++)
        d->group[i] = (int32_t)get_u32(&r);
    int rc = rd_end(&r);
    if (rc == 0 && trainer_dataset_check(d) != 0)
        rc = MLPT_EFORMAT;
    if (rc != 0) {
        trainer_dataset_free(d);
        return rc;
    }
    *id = v;
    memcpy(hash, h, SCHED_WIRE_HASH);
    *ds = d;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* MSG */

/* The message types on the wire (their own numbers, not the enum's). */
enum { WIRE_ITERATION = 1, WIRE_CHECKPOINT, WIRE_END, WIRE_PLACED };

int sched_wire_encode_msg(sched_wire_buf_t *b, uint64_t job_no, const sched_msg_t *m) {
    uint32_t type = m->type == SCHED_MSG_ITERATION    ? WIRE_ITERATION
                    : m->type == SCHED_MSG_CHECKPOINT ? WIRE_CHECKPOINT
                    : m->type == SCHED_MSG_PLACED     ? WIRE_PLACED
                                                      : WIRE_END;
    header(b, SCHED_WIRE_MSG, job_no);
    put_u32(b, type);
    put_row(b, &m->metric);
    put_f64(b, m->metric.ended_at);
    put_u64(b, m->samples);
    put_u64(b, (uint64_t)m->follower_id);
    put_f64(b, m->follower_best_val);
    put_f64(b, m->follower_test_accuracy);
    put_u64(b, (uint64_t)m->follower_best_iteration);
    put_u32(b, (uint32_t)m->rc);
    put_f64(b, m->best_val_accuracy);
    put_f64(b, m->final_val_accuracy);
    put_f64(b, m->test_accuracy);
    put_u64(b, (uint64_t)m->best_iteration);
    put_bytes(b, m->model, m->model ? m->model_len : 0);
    put_u64(b, m->checkpoint_iteration);
    put_str(b, m->error);
    put_u32(b, (uint32_t)m->placement_rank);
    put_u32(b, (uint32_t)m->placement_workers);
    put_str(b, m->placement_host);
    return done(b);
}

int sched_wire_decode_msg(const void *msg, size_t len, sched_msg_t **out) {
    rd_t r;
    *out = NULL;
    if (rd_begin(&r, msg, len, SCHED_WIRE_MSG, NULL) != 0)
        return MLPT_EFORMAT;
    sched_msg_t *m = calloc(1, sizeof *m);
    if (!m)
        return MLPT_ENOMEM;
    uint32_t type = get_u32(&r);
    if (type < WIRE_ITERATION || type > WIRE_PLACED)
        r.bad = 1;
    m->type = type == WIRE_ITERATION    ? SCHED_MSG_ITERATION
              : type == WIRE_CHECKPOINT ? SCHED_MSG_CHECKPOINT
              : type == WIRE_PLACED     ? SCHED_MSG_PLACED
                                        : SCHED_MSG_END;
    get_row(&r, &m->metric);
    m->metric.ended_at = get_f64(&r);
    m->samples = (size_t)get_u64(&r);
    m->follower_id = get_i64(&r);
    m->follower_best_val = get_f64(&r);
    m->follower_test_accuracy = get_f64(&r);
    m->follower_best_iteration = get_i64(&r);
    m->rc = (int)(int32_t)get_u32(&r);
    m->best_val_accuracy = get_f64(&r);
    m->final_val_accuracy = get_f64(&r);
    m->test_accuracy = get_f64(&r);
    m->best_iteration = get_i64(&r);
    uint64_t n = get_u64(&r);
    if (!r.bad && n > r.left)
        r.bad = 1;
    if (!r.bad && n) {
        if (!(m->model = malloc((size_t)n)))
            r.bad = 2;
        else {
            memcpy(m->model, take(&r, (size_t)n), (size_t)n);
            m->model_len = (size_t)n;
        }
    }
    m->checkpoint_iteration = (size_t)get_u64(&r);
    get_str_into(&r, m->error, sizeof m->error);
    m->placement_rank = (int)(int32_t)get_u32(&r);
    m->placement_workers = (int)(int32_t)get_u32(&r);
    get_str_into(&r, m->placement_host, sizeof m->placement_host);
    /* What the loop relies on: an error code of the table, a model only where one belongs, a
     * checkpoint with its bytes. */
    if (!r.bad &&
        (m->rc > 0 || m->rc < -1000 || m->follower_id < 0 ||
         (m->type == SCHED_MSG_CHECKPOINT && (!m->model || !m->checkpoint_iteration)) ||
         (m->type == SCHED_MSG_ITERATION && m->model && m->follower_id == 0) ||
         (m->type != SCHED_MSG_END && m->rc != 0) || m->placement_rank < 0 ||
         m->placement_workers < 0 || (m->type == SCHED_MSG_PLACED && m->placement_workers < 1)))
        r.bad = 1;
    int rc = rd_end(&r);
    if (rc != 0) {
        free(m->model);
        free(m);
        return rc;
    }
    *out = m;
    return 0;
}
