/*
 * matrix.c - the parsed-dataset file (see matrix.h for the format).
 */
#include "matrix.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "le.h"

#define MATRIX_MAGIC "MLPTDSET"
#define MATRIX_VERSION 2u        /* written for a dataset without groups; 1 is still read */
#define MATRIX_VERSION_GROUPS 3u /* written for one with groups: i32 group[rows] after y */
#define MATRIX_VERSION_TIME 4u   /* with groups and times: i64 time[rows] (ns) after group */
#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

static int fail(ingest_error_t *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(ingest_error_t *err, int code, const char *fmt, ...) {
    if (err) {
        memset(err, 0, sizeof *err);
        err->code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* Version 1's checksum: FNV-1a 64, one byte at a time (about 1 GB/s: a fifth of what writing a
 * parsed upload cost). */
static uint64_t fnv1a(uint64_t h, const void *buf, size_t n) {
    const unsigned char *p = buf;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= FNV_PRIME;
    }
    return h;
}

/* Version 2's: zlib's CRC-32 (several GB/s), zero-extended to the same u64 field. */
static uint64_t crc(uint64_t h, const void *buf, size_t n) {
    const unsigned char *p = buf;
    uLong c = (uLong)h;
    while (n > 0) {
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, p, k);
        p += k;
        n -= k;
    }
    return (uint64_t)c;
}

static uint64_t checksum(uint32_t version, uint64_t h, const void *buf, size_t n) {
    return version == 1 ? fnv1a(h, buf, n) : crc(h, buf, n);
}

/* A buffered writer that hashes what it writes and remembers the first error. */
typedef struct {
    int fd;
    uint64_t hash;
    int error; /* errno of the first failure */
    size_t used;
    unsigned char buf[1 << 16];
} out_t;

static void write_all(out_t *o, const unsigned char *p, size_t n) {
    while (!o->error && n > 0) {
        ssize_t w = write(o->fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            o->error = w < 0 ? errno : EIO;
        else {
            p += w;
            n -= (size_t)w;
        }
    }
}

static void out_flush(out_t *o) {
    write_all(o, o->buf, o->used);
    o->used = 0;
}

static void out_put(out_t *o, const void *data, size_t n) {
    const unsigned char *p = data;
    o->hash = crc(o->hash, p, n);
    if (n >= sizeof o->buf) { /* the matrix: straight from the dataset, no copy */
        out_flush(o);
        write_all(o, p, n);
        return;
    }
    while (n > 0 && !o->error) {
        size_t k = sizeof o->buf - o->used < n ? sizeof o->buf - o->used : n;
        memcpy(o->buf + o->used, p, k);
        o->used += k;
        p += k;
        n -= k;
        if (o->used == sizeof o->buf)
            out_flush(o);
    }
}

/* Integers through trainer/le.h's codec. */
static void out_u32(out_t *o, uint32_t v) {
    unsigned char b[4];
    trainer_le_put_u32(b, v);
    out_put(o, b, 4);
}

static void out_u64(out_t *o, uint64_t v) {
    unsigned char b[8];
    trainer_le_put_u64(b, v);
    out_put(o, b, 8);
}

int ingest_matrix_write(const char *path, const trainer_dataset_t *ds, ingest_error_t *err) {
    int rc = MLPT_ENOMEM;
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 32), *dir = strdup(path);
    out_t *o = malloc(sizeof *o);
    int fd = -1;
    if (!tmp || !dir || !o)
        goto done;
    snprintf(tmp, plen + 32, "%s.tmp.%ld", path, (long)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = fail(err, errno == ENOSPC ? MLPT_ENOSPC : MLPT_EIO, "cannot create %s: %s", tmp,
                  strerror(errno));
        goto done;
    }
    *o = (out_t){.fd = fd, .hash = 0};
    out_put(o, MATRIX_MAGIC, 8);
    out_u32(o, ds->group && ds->time ? MATRIX_VERSION_TIME
               : ds->group           ? MATRIX_VERSION_GROUPS
                                     : MATRIX_VERSION);
    out_u32(o, (uint32_t)ds->scaling);
    out_u64(o, ds->rows);
    out_u64(o, ds->features);
    out_u64(o, ds->classes);
    for (size_t c = 0; c < ds->classes; c++) {
        size_t n = strlen(ds->class_names[c]);
        out_u32(o, (uint32_t)n);
        out_put(o, ds->class_names[c], n);
    }
    for (size_t c = 0; c < ds->classes; c++)
        out_u64(o, ds->class_counts[c]);
    /* x and y go out in the machine's order; the format is little-endian, as is every machine
     * this builds for (checked at compile time below). */
    out_put(o, ds->x, ds->rows * ds->features * sizeof(float));
    out_put(o, ds->y, ds->rows * sizeof(int32_t));
    if (ds->group)
        out_put(o, ds->group, ds->rows * sizeof(int32_t));
    if (ds->group && ds->time)
        out_put(o, ds->time, ds->rows * sizeof(int64_t));
    out_u64(o, o->hash);
    out_flush(o);
    if (!o->error && fsync(fd) != 0)
        o->error = errno;
    if (close(fd) != 0 && !o->error)
        o->error = errno;
    fd = -1;
    if (!o->error && rename(tmp, path) != 0)
        o->error = errno;
    if (o->error) {
        unlink(tmp);
        rc = fail(err, o->error == ENOSPC || o->error == EDQUOT ? MLPT_ENOSPC : MLPT_EIO,
                  "cannot write %s: %s", path, strerror(o->error));
        goto done;
    }
    int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd); /* the rename is durable once the folder is */
        close(dfd);
    }
    rc = 0;
done:
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    }
    free(tmp);
    free(dir);
    free(o);
    return rc;
}

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the matrix format is little-endian");

/* A reader straight from the file that hashes what it reads, so the matrix lands in its final
 * buffer without a second copy in memory. */
typedef struct {
    FILE *f;
    uint32_t version; /* picks the checksum; 2 until the version field is read */
    uint64_t hash;
    uint64_t left; /* bytes of the file not yet read */
} in_t;

static int in_take(in_t *in, void *dst, size_t n) {
    if (in->left < n || fread(dst, 1, n, in->f) != n)
        return -1;
    in->left -= n;
    in->hash = checksum(in->version, in->hash, dst, n);
    return 0;
}

static int in_u32(in_t *in, uint32_t *v) {
    unsigned char b[4];
    if (in_take(in, b, 4))
        return -1;
    *v = trainer_le_get_u32(b);
    return 0;
}

static int in_u64(in_t *in, uint64_t *v) {
    unsigned char b[8];
    if (in_take(in, b, 8))
        return -1;
    *v = trainer_le_get_u64(b);
    return 0;
}

int ingest_matrix_read(const char *path, trainer_dataset_t **out, ingest_error_t *err) {
    trainer_dataset_t *ds = NULL;
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return fail(err, MLPT_EIO, "cannot open %s: %s", path, strerror(errno));
    int rc;
    long size = -1;
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        rc = fail(err, MLPT_EIO, "cannot read %s", path);
        goto done;
    }
    /* The magic and the version come first: they are hashed once the version says which
     * checksum covers the file. */
    in_t in = {f, 2, 0, (uint64_t)size};
    unsigned char head[12];
    uint32_t version, scaling;
    uint64_t rows, features, classes, sum, stored;
    rc = fail(err, MLPT_EFORMAT, "%s: not a dataset file, or a damaged one", path);
    if (in.left < 12 || fread(head, 1, 12, f) != 12 || memcmp(head, MATRIX_MAGIC, 8) != 0)
        goto done;
    in.left -= 12;
    version = trainer_le_get_u32(head + 8);
    if (version < 1 || version > MATRIX_VERSION_TIME) {
        rc =
            fail(err, MLPT_EVERSION, "%s: dataset file version %u is not supported", path, version);
        goto done;
    }
    in.version = version;
    in.hash = checksum(version, version == 1 ? FNV_OFFSET : 0, head, 12);
    /* Sizes are checked against what the file holds before anything is allocated for them. */
    if (in_u32(&in, &scaling) || in_u64(&in, &rows) || in_u64(&in, &features) ||
        in_u64(&in, &classes) || scaling > TRAINER_SCALE_UNIT || rows == 0 || features == 0 ||
        classes == 0 || classes > rows || features > in.left / 4 || rows > in.left / 4 / features)
        goto done;
    ds = calloc(1, sizeof *ds);
    if (!ds)
        goto nomem;
    ds->rows = rows;
    ds->features = features;
    ds->scaling = (trainer_scaling_t)scaling;
    ds->class_names = calloc(classes, sizeof *ds->class_names);
    ds->class_counts = calloc(classes, sizeof *ds->class_counts);
    if (!ds->class_names || !ds->class_counts)
        goto nomem;
    ds->classes = classes;
    for (size_t c = 0; c < classes; c++) {
        uint32_t n;
        if (in_u32(&in, &n) || in.left < n)
            goto done;
        if (!(ds->class_names[c] = malloc(n + 1)))
            goto nomem;
        if (in_take(&in, ds->class_names[c], n))
            goto done;
        ds->class_names[c][n] = '\0';
    }
    for (size_t c = 0; c < classes; c++) {
        uint64_t v;
        if (in_u64(&in, &v))
            goto done;
        ds->class_counts[c] = v;
    }
    int groups = version >= MATRIX_VERSION_GROUPS, times = version >= MATRIX_VERSION_TIME;
    if (in.left != rows * features * 4 + rows * 4 * (groups ? 2 : 1) + rows * 8 * times + 8)
        goto done;
    ds->x = malloc(rows * features * sizeof(float));
    ds->y = malloc(rows * sizeof(int32_t));
    ds->group = groups ? malloc(rows * sizeof(int32_t)) : NULL;
    ds->time = times ? malloc(rows * sizeof(int64_t)) : NULL;
    if (!ds->x || !ds->y || (groups && !ds->group) || (times && !ds->time))
        goto nomem;
    if (in_take(&in, ds->x, rows * features * sizeof(float)) ||
        in_take(&in, ds->y, rows * sizeof(int32_t)) ||
        (groups && in_take(&in, ds->group, rows * sizeof(int32_t))) ||
        (times && in_take(&in, ds->time, rows * sizeof(int64_t))))
        goto done;
    sum = in.hash;
    if (in_u64(&in, &stored) || stored != sum || trainer_dataset_check(ds) != 0)
        goto done;
    *out = ds;
    ds = NULL;
    rc = 0;
    goto done;
nomem:
    rc = fail(err, MLPT_ENOMEM, "out of memory loading %s", path);
done:
    trainer_dataset_free(ds);
    fclose(f);
    return rc;
}
