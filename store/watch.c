/*
 * store/watch.c - the file under a connection: whether the path it was opened with still names
 * it, and what a connection does once it does not (see store_file_check, store_file_detach).
 *
 * SQLite keeps the file descriptors it opened: a database deleted, moved away or replaced while
 * it is open goes unnoticed, and commits keep landing in a file nobody will open again. Worse, the
 * write-ahead log and its index (-wal, -shm) are opened by name next to the database, so a copy
 * put in place of the database is read (and at the next start recovered) together with the
 * running connection's log: pages of two different databases mixed ("Page N is never used").
 * The identity (device, inode) of the file is taken when the connection opens and compared with
 * what the path names now.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_private.h"

/* How long a detach waits for readers to leave the log before it answers busy (try again). */
#define DETACH_BUSY_MS 100

void store_file_remember(store_t *st) {
    struct stat sb;
    st->has_id = 0;
    if (st->path && stat(st->path, &sb) == 0) {
        st->dev = (uint64_t)sb.st_dev;
        st->ino = (uint64_t)sb.st_ino;
        st->has_id = 1;
    }
}

int store_file_check(store_t *st, store_error_t *err) {
    struct stat sb;
    if (!st)
        return store_error_set(err, MLPT_EINVAL, 0, "store_file_check: no store");
    if (!st->has_id)
        return 0; /* its identity could not be taken at open: nothing to compare */
    if (stat(st->path, &sb) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return store_error_set(err, MLPT_ENOTFOUND, 0,
                                   "the database file was deleted or moved away while open");
        return store_error_set(err, MLPT_EIO, 0, "cannot look at the database file: %s",
                               strerror(errno));
    }
    if ((uint64_t)sb.st_dev != st->dev || (uint64_t)sb.st_ino != st->ino)
        return store_error_set(err, MLPT_ESTATE, 0,
                               "the database file was replaced by another file while open");
    return 0;
}

int store_file_detach(store_t *st, store_error_t *err) {
    if (!st)
        return store_error_set(err, MLPT_EINVAL, 0, "store_file_detach: no store");
    if (!st->detached) {
        st->detached = 1;
        /* Closing must not delete the -wal and -shm by name: they may be another database's
         * by now. With a persistent WAL, SQLite only truncates the log through its descriptor. */
        int one = 1;
        sqlite3_file_control(st->db, "main", SQLITE_FCNTL_PERSIST_WAL, &one);
        if (st->in_tx && !sqlite3_get_autocommit(st->db))
            store_exec(st, "ROLLBACK", "rolling back", NULL);
        st->in_tx = 0;
        /* From now on SQLite itself refuses every write statement on this connection. */
        int rc = store_exec(st, "PRAGMA query_only = ON", "making the connection read-only", err);
        if (rc)
            return rc;
    }
    if (st->mode != STORE_WRITER || st->wal_emptied)
        return 0;
    /* Everything committed moves from the log into the file the connection has open (through
     * its descriptor: never the file that now sits at the path), and the log is truncated, so it
     * cannot be replayed into whatever database is opened at the path next. A database that was
     * moved away is then whole on its own. Busy while a reader holds a snapshot: try again. */
    sqlite3_busy_timeout(st->db, DETACH_BUSY_MS); /* the scheduler's loop is waiting */
    int rc = sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    sqlite3_busy_timeout(st->db, STORE_BUSY_TIMEOUT_MS);
    if (rc != SQLITE_OK)
        return store_fail_sql(st, err, rc, "emptying the write-ahead log of a detached database");
    st->wal_emptied = 1;
    return 0;
}

int store_file_open_path(store_t *st, char *out, size_t len) {
    if (!st || !st->has_id || len == 0)
        return MLPT_ENOTFOUND;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return MLPT_ENOTFOUND;
    struct dirent *e;
    int rc = MLPT_ENOTFOUND;
    while (rc && (e = readdir(d))) {
        char link[300], target[512];
        struct stat sb;
        if (e->d_name[0] == '.')
            continue;
        snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
        if (stat(link, &sb) != 0 || (uint64_t)sb.st_dev != st->dev ||
            (uint64_t)sb.st_ino != st->ino)
            continue;
        ssize_t n = readlink(link, target, sizeof target - 1);
        target[n > 0 ? n : 0] = '\0';
        snprintf(out, len, "/proc/%ld/fd/%s (%s)", (long)getpid(), e->d_name, n > 0 ? target : "?");
        rc = 0;
    }
    closedir(d);
    return rc;
}
