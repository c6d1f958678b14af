/*
 * store/store.c - connections: opening (pragmas, WAL, the schema version check), migrations,
 * closing (the transactions the scheduler groups its writes in are tx.c's).
 *
 * Versions: migration i of the embedded table (store_migrations.c) is version i + 1. A database
 * records each applied migration in schema_migrations and mirrors the highest in
 * PRAGMA user_version; its version is the larger of the two.
 *
 * A migration runs in one transaction with foreign keys on, and must leave no foreign key
 * violation behind (checked before its commit). PRAGMA foreign_keys cannot change inside a
 * transaction: a migration that rebuilds a table uses PRAGMA defer_foreign_keys = ON instead.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_private.h"

#define MIGRATIONS_TABLE_SQL                                                                       \
    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "                  \
    "name TEXT NOT NULL, applied_at REAL NOT NULL)"

size_t store_migration_count(void) {
    return store_migrations_len;
}

const char *store_migration_name(size_t i) {
    return i < store_migrations_len ? store_migrations[i].name : NULL;
}

const char *store_migration_sql(size_t i) {
    return i < store_migrations_len ? store_migrations[i].sql : NULL;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs a one-value query (no parameters) into *value; a query that returns no row leaves 0. */
static int query_int(store_t *st, const char *sql, int64_t *value, store_error_t *err) {
    sqlite3_stmt *s = NULL;
    int rc = store_prepare(st, sql, &s, err);
    if (rc)
        goto out;
    *value = 0;
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *value = sqlite3_column_int64(s, 0);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        rc = store_fail_sql(st, err, rc, "reading the schema");
        goto out;
    }
    rc = 0;
out:
    store_release(st, s);
    return rc;
}

/* The database's schema version: 0 for a database mlptune never touched. */
static int read_version(store_t *st, int64_t *version, store_error_t *err) {
    int64_t has_table = 0, recorded = 0, user = 0;
    int rc = query_int(st,
                       "SELECT count(*) FROM sqlite_schema "
                       "WHERE type = 'table' AND name = 'schema_migrations'",
                       &has_table, err);
    if (!rc && has_table)
        rc = query_int(st, "SELECT coalesce(max(version), 0) FROM schema_migrations", &recorded,
                       err);
    if (!rc)
        rc = query_int(st, "PRAGMA user_version", &user, err);
    if (!rc)
        *version = recorded > user ? recorded : user;
    return rc;
}

/* Runs every statement of a migration's SQL text in order. */
static int exec_script(store_t *st, const char *sql, const char *name, store_error_t *err) {
    const char *tail = sql;
    int rc = 0;
    char what[96];
    snprintf(what, sizeof(what), "migration %s failed", name);
    while (!rc && *tail) {
        sqlite3_stmt *s = NULL;
        const char *next = NULL;
        rc = sqlite3_prepare_v3(st->db, tail, -1, 0, &s, &next);
        if (rc != SQLITE_OK) {
            rc = store_fail_sql(st, err, rc, what);
            break;
        }
        if (s) { /* NULL for a tail of only blanks and comments */
            while ((rc = sqlite3_step(s)) == SQLITE_ROW)
                ;
            rc = rc == SQLITE_DONE ? 0 : store_fail_sql(st, err, rc, what);
            sqlite3_finalize(s);
        }
        tail = next;
    }
    return rc;
}

/* Applies migration i (version i + 1) in its own transaction, unless another writer did it
 * first. */
static int apply_migration(store_t *st, size_t i, store_error_t *err) {
    const store_migration_t *m = &store_migrations[i];
    int64_t version = 0, violations = 0;
    sqlite3_stmt *s = NULL;
    char what[96], pragma[64];
    snprintf(what, sizeof(what), "migration %s failed", m->name);
    int rc = store_exec(st, "BEGIN IMMEDIATE", what, err);
    if (rc)
        return rc;
    rc = read_version(st, &version, err);
    if (rc || version > (int64_t)i)
        goto out;
    rc = exec_script(st, m->sql, m->name, err);
    if (!rc)
        rc = query_int(st, "SELECT count(*) FROM pragma_foreign_key_check", &violations, err);
    if (!rc && violations)
        rc = store_error_set(err, MLPT_EDB, 0, "%s: %lld foreign key violations", what,
                             (long long)violations);
    if (rc)
        goto out;
    rc = store_prepare(st,
                       "INSERT INTO schema_migrations (version, name, applied_at) "
                       "VALUES (?1, ?2, ?3)",
                       &s, err);
    if (rc)
        goto out;
    store_bind_i64(s, 1, (int64_t)i + 1, &rc);
    store_bind_text(s, 2, m->name, &rc);
    store_bind_real(s, 3, now_seconds(), &rc);
    rc = rc ? store_fail_sql(st, err, rc, what) : store_step_done(st, s, what, err);
    if (rc)
        goto out;
    /* A pragma takes no parameters; the value is our own version number, not input. */
    snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %zu", i + 1);
    rc = store_exec(st, pragma, what, err);
    if (!rc)
        rc = store_exec(st, "COMMIT", what, err);
out:
    store_release(st, s);
    if (rc && !sqlite3_get_autocommit(st->db))
        store_exec(st, "ROLLBACK", "rolling back", NULL);
    else if (!rc && !sqlite3_get_autocommit(st->db)) /* skipped: nothing was written */
        rc = store_exec(st, "COMMIT", what, err);
    return rc;
}

/* Brings a writer's database to the latest version, or checks a reader's. */
static int migrate(store_t *st, const char *path, store_error_t *err) {
    int64_t version = 0;
    size_t n = store_migrations_len;
    int rc;
    if (st->mode == STORE_WRITER) {
        rc = store_exec(st, MIGRATIONS_TABLE_SQL, "creating schema_migrations", err);
        if (rc)
            return rc;
    }
    rc = read_version(st, &version, err);
    if (rc)
        return rc;
    if (version > (int64_t)n)
        return store_error_set(err, MLPT_EVERSION, 0,
                               "database \"%.100s\" has schema version %lld; this mlptune knows "
                               "versions up to %zu",
                               path, (long long)version, n);
    if (st->mode == STORE_READER) {
        if (version < (int64_t)n)
            return store_error_set(err, MLPT_EDB, 0,
                                   "database \"%.100s\" is not migrated (schema version %lld, "
                                   "needs %zu): open it with the writer first",
                                   path, (long long)version, n);
        return 0;
    }
    for (size_t i = (size_t)version; i < n && !rc; i++)
        rc = apply_migration(st, i, err);
    return rc;
}

/* Sets WAL (writer; the mode is persistent in the file) or checks that it is set (reader). */
static int journal_wal(store_t *st, const char *what, store_error_t *err) {
    sqlite3_stmt *s = NULL;
    const char *sql =
        st->mode == STORE_WRITER ? "PRAGMA journal_mode = WAL" : "PRAGMA journal_mode";
    int rc = store_prepare(st, sql, &s, err);
    if (rc)
        goto out;
    rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        rc = store_fail_sql(st, err, rc, what);
        goto out;
    }
    const char *mode = (const char *)sqlite3_column_text(s, 0);
    if (!mode || strcmp(mode, "wal") != 0) {
        rc = store_error_set(err, MLPT_EDB, 0, "%s: journal mode is \"%s\", not WAL", what,
                             mode ? mode : "?");
        goto out;
    }
    rc = 0;
out:
    store_release(st, s);
    return rc;
}

/* The pragmas every connection runs, then the schema: a writer migrates, a reader checks. */
static int configure(store_t *st, const char *path, store_error_t *err) {
    char what[160];
    snprintf(what, sizeof(what), "cannot configure database \"%.100s\"", path);
    sqlite3_extended_result_codes(st->db, 1);
    int rc = sqlite3_busy_timeout(st->db, STORE_BUSY_TIMEOUT_MS);
    if (rc != SQLITE_OK)
        return store_fail_sql(st, err, rc, what);
    rc = store_exec(st, "PRAGMA foreign_keys = ON", what, err);
    if (!rc)
        rc = store_exec(st, "PRAGMA synchronous = NORMAL", what, err);
    if (!rc && st->mode == STORE_WRITER)
        rc = journal_wal(st, what, err);
    if (!rc)
        rc = migrate(st, path, err);
    if (!rc && st->mode == STORE_READER)
        rc = journal_wal(st, what, err);
    return rc;
}

store_t *store_open(const char *path, store_mode_t mode, store_error_t *err) {
    store_t *st = NULL;
    int rc;
    if (!path || (mode != STORE_WRITER && mode != STORE_READER)) {
        store_error_set(err, MLPT_EINVAL, 0, "store_open: no path or an unknown mode");
        return NULL;
    }
    st = calloc(1, sizeof(*st));
    if (!st) {
        store_error_set(err, MLPT_ENOMEM, 0, "out of memory");
        return NULL;
    }
    st->mode = mode;
    if (!(st->path = strdup(path))) {
        free(st);
        store_error_set(err, MLPT_ENOMEM, 0, "out of memory");
        return NULL;
    }
    int flags =
        SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE |
        (mode == STORE_WRITER ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY);
    rc = sqlite3_open_v2(path, &st->db, flags, NULL);
    if (rc != SQLITE_OK) {
        char what[160];
        snprintf(what, sizeof(what), "cannot open database \"%.100s\"", path);
        rc = st->db ? store_fail_sql(st, err, rc, what)
                    : store_error_set(err, MLPT_ENOMEM, rc, "%s: out of memory", what);
        goto fail;
    }
    rc = configure(st, path, err);
    if (rc)
        goto fail;
    store_file_remember(st);
    return st;
fail:
    store_cache_clear(st);
    sqlite3_close_v2(st->db);
    free(st->path);
    free(st);
    return NULL;
}

void store_close(store_t *st) {
    if (!st)
        return;
    if (st->in_tx && !sqlite3_get_autocommit(st->db))
        store_exec(st, "ROLLBACK", "rolling back", NULL);
    store_files_pending_end(st, !st->in_tx);
    free(st->pending);
    free(st->data_dir);
    store_cache_clear(st);
    if (st->mode == STORE_WRITER && st->detached && !st->wal_emptied) {
        /* The detach could not empty the log (readers held it): a last try, waiting for them,
         * so no log is left to be replayed into the database now at the path. */
        sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    } else if (st->mode == STORE_WRITER && !st->detached) {
        /* Passive: never waits for a reader. The last connection to close also checkpoints. */
        store_exec(st, "PRAGMA optimize", "optimizing", NULL);
        sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    }
    sqlite3_close_v2(st->db);
    free(st->path);
    free(st);
}

int store_schema_version(store_t *st, int *version) {
    int64_t v = 0;
    if (!st || !version)
        return MLPT_EINVAL;
    int rc = query_int(st, "SELECT coalesce(max(version), 0) FROM schema_migrations", &v, NULL);
    if (!rc)
        *version = (int)v;
    return rc;
}
