/*
 * store/files.c - models and checkpoints as files under the data dir (migration 0003): writing
 * one atomically before the row that names it, reading one back, removing the files whose rows
 * went (deleted_files) once that is committed, and forgetting the files a rolled-back
 * transaction had written.
 */
#define _DEFAULT_SOURCE /* getrandom */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_private.h"

static const char *kind_dir(store_file_kind_t kind) {
    return kind == STORE_FILE_CHECKPOINT ? "checkpoints" : "models";
}

static const char *kind_ext(store_file_kind_t kind) {
    return kind == STORE_FILE_CHECKPOINT ? "mlpc" : "mlpm";
}

/* The MLPT_E* code of a failed file call: a full disk or quota is MLPT_ENOSPC (it can succeed
 * later), a file over the file system's size limit MLPT_ELIMIT (it never will), the rest
 * MLPT_EIO. */
static int file_error(int e) {
    switch (e) {
    case ENOSPC:
    case EDQUOT:
        return MLPT_ENOSPC;
    case EFBIG:
    case EOVERFLOW:
        return MLPT_ELIMIT;
    case ENOMEM:
        return MLPT_ENOMEM;
    default:
        return MLPT_EIO;
    }
}

/* Writes all of len bytes; 0 or errno. */
static int write_all(int fd, const unsigned char *p, size_t len) {
    while (len > 0) {
        size_t chunk = len > ((size_t)1 << 30) ? (size_t)1 << 30 : len;
        ssize_t n = write(fd, p, chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? errno : EIO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* fsync of a directory, so a rename into it survives a power loss. */
static void sync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

int store_file_write(const char *data_dir, store_file_kind_t kind, int64_t trial_id,
                     const void *bytes, size_t len, char **rel, store_error_t *err) {
    *rel = NULL;
    if (!data_dir || (!bytes && len))
        return store_error_set(err, MLPT_EINVAL, 0, "store_file_write: bad arguments");
    unsigned char rnd[8];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        return store_error_set(err, MLPT_EIO, 0, "no random bytes for a file name: %s",
                               strerror(errno));
    char name[96], path[4200], tmp[4210], dir[4120];
    snprintf(name, sizeof name, "%s/trial-%lld-%02x%02x%02x%02x%02x%02x%02x%02x.%s", kind_dir(kind),
             (long long)trial_id, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7],
             kind_ext(kind));
    snprintf(dir, sizeof dir, "%s/%s", data_dir, kind_dir(kind));
    snprintf(path, sizeof path, "%s/%s", data_dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    const char *what = kind == STORE_FILE_CHECKPOINT ? "a checkpoint" : "a model";
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return store_error_set(err, file_error(errno), 0, "cannot store %s: %s", what,
                               strerror(errno));
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return store_error_set(err, file_error(errno), 0, "cannot store %s: %s", what,
                               strerror(errno));
    int e = write_all(fd, bytes, len);
    if (!e && fsync(fd) != 0)
        e = errno;
    if (close(fd) != 0 && !e)
        e = errno;
    if (!e && rename(tmp, path) != 0)
        e = errno;
    if (e) {
        unlink(tmp);
        return store_error_set(err, file_error(e), 0, "cannot store %s of %zu bytes: %s", what, len,
                               strerror(e));
    }
    sync_dir(dir);
    if (!(*rel = strdup(name))) {
        unlink(path);
        return store_error_set(err, MLPT_ENOMEM, 0, "out of memory");
    }
    return 0;
}

int store_file_rel_ok(const char *rel) {
    return rel && (!strncmp(rel, "models/", 7) || !strncmp(rel, "checkpoints/", 12)) &&
           !strstr(rel, "..");
}

char *store_file_abs(const store_t *st, const char *rel) {
    if (!st || !st->data_dir || !rel)
        return NULL;
    size_t n = strlen(st->data_dir) + strlen(rel) + 2;
    char *abs = malloc(n);
    if (abs)
        snprintf(abs, n, "%s/%s", st->data_dir, rel);
    return abs;
}

int store_file_read(const store_t *st, const char *rel, void **out, size_t *len,
                    store_error_t *err) {
    *out = NULL;
    *len = 0;
    if (!store_file_rel_ok(rel)) /* a row this version did not write: never leave the data dir */
        return store_error_set(err, MLPT_EDB, 0,
                               "the database names a file outside models/ "
                               "and checkpoints/");
    char *abs = store_file_abs(st, rel);
    if (!abs)
        return store_error_set(err, st && st->data_dir ? MLPT_ENOMEM : MLPT_EINVAL, 0,
                               "cannot read %s: %s", rel ? rel : "a file",
                               st && st->data_dir ? "out of memory" : "no data dir");
    int rc = 0;
    unsigned char *buf = NULL;
    int fd = open(abs, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        rc = store_error_set(err, errno == ENOENT ? MLPT_ENOTFOUND : MLPT_EIO, 0,
                             "cannot read %s: %s", rel, strerror(errno));
        goto out;
    }
    size_t size = (size_t)sb.st_size, got = 0;
    if (!(buf = malloc(size ? size : 1))) {
        rc = store_error_set(err, MLPT_ENOMEM, 0, "out of memory reading %s", rel);
        goto out;
    }
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = store_error_set(err, MLPT_EIO, 0, "cannot read %s: %s", rel,
                                 n < 0 ? strerror(errno) : "it was cut short");
            goto out;
        }
        got += (size_t)n;
    }
    *out = buf;
    *len = size;
    buf = NULL;
out:
    if (fd >= 0)
        close(fd);
    free(buf);
    free(abs);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Files written inside the open transaction: removed if it rolls back. */

int store_files_pending_add(store_t *st, const char *rel) {
    if (st->n_pending == st->cap_pending) {
        size_t cap = st->cap_pending ? 2 * st->cap_pending : 8;
        char **tmp = realloc(st->pending, cap * sizeof *tmp);
        if (!tmp)
            return MLPT_ENOMEM;
        st->pending = tmp;
        st->cap_pending = cap;
    }
    if (!(st->pending[st->n_pending] = strdup(rel)))
        return MLPT_ENOMEM;
    st->n_pending++;
    return 0;
}

void store_files_pending_end(store_t *st, int committed) {
    for (size_t i = 0; i < st->n_pending; i++) {
        if (!committed) {
            char *abs = store_file_abs(st, st->pending[i]);
            if (abs)
                unlink(abs);
            free(abs);
        }
        free(st->pending[i]);
    }
    st->n_pending = 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Files whose rows went. */

void store_files_collect(store_t *st) {
    if (!st || st->mode != STORE_WRITER || !st->data_dir || st->in_tx || st->collecting)
        return;
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v3(st->db, "SELECT path FROM deleted_files LIMIT 256", -1, 0, &s, NULL) !=
        SQLITE_OK) {
        sqlite3_finalize(s);
        return;
    }
    int any = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        const char *rel = (const char *)sqlite3_column_text(s, 0);
        /* Only names this module makes: a path from a tampered row never leaves the data dir. */
        if (store_file_rel_ok(rel)) {
            char *abs = store_file_abs(st, rel);
            if (abs)
                unlink(abs);
            free(abs);
        }
        any = 1;
    }
    sqlite3_finalize(s);
    if (!any)
        return;
    /* The rows go after their files: a crash in between leaves rows whose files are gone,
     * removed again (harmlessly) by the next collection. The paths listed were all handled;
     * a batch of more than 256 continues at the next commit. */
    st->collecting = 1;
    store_exec(st,
               "DELETE FROM deleted_files WHERE path IN "
               "(SELECT path FROM deleted_files LIMIT 256)",
               "forgetting deleted files", NULL);
    st->collecting = 0;
}

int store_set_data_dir(store_t *st, const char *data_dir, store_error_t *err) {
    if (!st || !data_dir)
        return store_error_set(err, MLPT_EINVAL, 0, "store_set_data_dir: bad arguments");
    char *copy = strdup(data_dir);
    if (!copy)
        return store_error_set(err, MLPT_ENOMEM, 0, "out of memory");
    free(st->data_dir);
    st->data_dir = copy;
    if (st->mode == STORE_WRITER) {
        for (int k = 0; k < 2; k++) {
            char dir[4120];
            snprintf(dir, sizeof dir, "%s/%s", data_dir,
                     kind_dir(k ? STORE_FILE_CHECKPOINT : STORE_FILE_MODEL));
            if (mkdir(dir, 0755) != 0 && errno != EEXIST)
                return store_error_set(err, file_error(errno), 0, "%s: cannot create: %s", dir,
                                       strerror(errno));
        }
        store_files_collect(st);
    }
    return 0;
}

int store_files_named(store_t *st, int (*fn)(const char *rel, void *user), void *user,
                      store_error_t *err) {
    sqlite3_stmt *s = NULL;
    int rc = st && fn ? 0 : store_error_set(err, MLPT_EINVAL, 0, "store_files_named");
    if (!rc)
        rc = store_prepare(st,
                           "SELECT path FROM trial_models WHERE path IS NOT NULL UNION ALL "
                           "SELECT path FROM trial_checkpoints WHERE path IS NOT NULL",
                           &s, err);
    while (!rc && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *rel = (const char *)sqlite3_column_text(s, 0);
        rc = rel ? fn(rel, user) : 0;
    }
    if (rc == SQLITE_DONE)
        rc = 0;
    else if (rc > 0)
        rc = store_fail_sql(st, err, rc, "listing model and checkpoint files");
    store_release(st, s);
    return rc;
}
