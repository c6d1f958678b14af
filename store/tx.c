/*
 * store/tx.c - transactions: store_begin/commit/rollback, the ones the scheduler groups its
 * writes in, and the savepoint (store_op_begin/end) around every write function. A commit keeps
 * the files written inside it and then removes the files of deleted rows (files.c); a rollback
 * removes the files written inside it. Above store_sql.c and files.c: calls go tx.c -> files.c
 * -> store_sql.c, never back.
 */
#include <sqlite3.h>

#include "store_private.h"

int store_begin(store_t *st, store_error_t *err) {
    if (!st)
        return store_error_set(err, MLPT_EINVAL, 0, "store_begin: no store");
    if (st->in_tx)
        return store_error_set(err, MLPT_ESTATE, 0, "a transaction is already open");
    if (st->mode == STORE_WRITER && store_require_attached(st, err) != 0)
        return MLPT_EBUSY;
    /* The writer takes the write lock now, so a later statement never waits for it mid-way. */
    int rc = store_exec(st, st->mode == STORE_WRITER ? "BEGIN IMMEDIATE" : "BEGIN",
                        "starting a transaction", err);
    if (!rc)
        st->in_tx = 1;
    return rc;
}

int store_commit(store_t *st, store_error_t *err) {
    if (!st)
        return store_error_set(err, MLPT_EINVAL, 0, "store_commit: no store");
    if (!st->in_tx)
        return store_error_set(err, MLPT_ESTATE, 0, "no transaction is open");
    if (sqlite3_get_autocommit(st->db)) {
        st->in_tx = 0;
        return store_error_set(err, MLPT_EDB, 0,
                               "the transaction was rolled back by an earlier error");
    }
    int rc = store_exec(st, "COMMIT", "committing", err);
    if (rc && !sqlite3_get_autocommit(st->db)) /* e.g. a full disk: give the batch up */
        store_exec(st, "ROLLBACK", "rolling back", NULL);
    st->in_tx = 0;
    store_files_pending_end(st, rc == 0);
    if (rc == 0)
        store_files_collect(st);
    return rc;
}

int store_rollback(store_t *st) {
    if (!st)
        return MLPT_EINVAL;
    if (!st->in_tx)
        return MLPT_ESTATE;
    st->in_tx = 0;
    store_files_pending_end(st, 0);
    if (sqlite3_get_autocommit(st->db))
        return 0; /* an error already rolled it back */
    return store_exec(st, "ROLLBACK", "rolling back", NULL);
}

/* Runs a cached statement without parameters. */
static int run_cached(store_t *st, store_stmt_id_t id, const char *what, store_error_t *err) {
    sqlite3_stmt *s = NULL;
    int rc = store_cached(st, id, &s, err);
    if (!rc)
        rc = store_step_done(st, s, what, err);
    store_release(st, s);
    return rc;
}

int store_op_begin(store_t *st, store_error_t *err) {
    if (store_require_attached(st, err) != 0)
        return MLPT_EBUSY;
    if (st->in_tx && sqlite3_get_autocommit(st->db))
        return store_error_set(err, MLPT_EDB, 0,
                               "the transaction was rolled back by an earlier error");
    return run_cached(st, STMT_SAVEPOINT, "starting a savepoint", err);
}

int store_op_end(store_t *st, int rc, store_error_t *err) {
    if (rc == 0) {
        rc = run_cached(st, STMT_RELEASE, "committing", err);
        if (rc == 0) {
            if (!st->in_tx && sqlite3_get_autocommit(st->db)) { /* the outermost: a commit */
                store_files_pending_end(st, 1);
                store_files_collect(st);
            }
            return 0;
        }
    }
    /* Some errors (a full disk, I/O) roll the whole transaction back by themselves: then there
     * is no savepoint left to go back to. */
    if (!sqlite3_get_autocommit(st->db)) {
        if (run_cached(st, STMT_ROLLBACK_TO, "rolling back", NULL) == 0)
            run_cached(st, STMT_RELEASE, "rolling back", NULL);
        if (!st->in_tx && !sqlite3_get_autocommit(st->db))
            store_exec(st, "ROLLBACK", "rolling back", NULL);
    }
    if (!st->in_tx && sqlite3_get_autocommit(st->db))
        store_files_pending_end(st, 0);
    return rc;
}
