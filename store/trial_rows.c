/*
 * store/trial_rows.c - a trial's stored metric rows as plain structs: what the scheduler checks
 * a resumed run's recomputed iterations against (rows are never deleted, so a resumed trial
 * recomputes the iterations it already has and writes only the new ones).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "store_private.h"

/* NULL (a non-finite figure) reads back as NaN. */
static double column_real(sqlite3_stmt *s, int col) {
    return sqlite3_column_type(s, col) == SQLITE_NULL ? NAN : sqlite3_column_double(s, col);
}

int store_trial_rows(store_t *st, int64_t trial_id, store_metric_t **rows, size_t *n,
                     store_error_t *err) {
    sqlite3_stmt *s = NULL;
    store_metric_t *out = NULL;
    size_t count = 0, cap = 0;
    *rows = NULL;
    *n = 0;
    int rc = store_prepare(st,
                           "SELECT iteration, train_loss, train_accuracy, val_loss, val_accuracy, "
                           "seconds FROM trial_metrics WHERE trial_id = ?1 ORDER BY iteration",
                           &s, err);
    if (rc)
        goto out;
    store_bind_i64(s, 1, trial_id, &rc);
    if (rc) {
        rc = store_fail_sql(st, err, rc, "reading a trial's rows");
        goto out;
    }
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (count == cap) {
            size_t ncap = cap ? 2 * cap : 64;
            store_metric_t *tmp = realloc(out, ncap * sizeof *tmp);
            if (!tmp) {
                rc = store_error_set(err, MLPT_ENOMEM, 0, "out of memory");
                goto out;
            }
            out = tmp;
            cap = ncap;
        }
        out[count++] = (store_metric_t){.trial_id = trial_id,
                                        .iteration = sqlite3_column_int64(s, 0),
                                        .train_loss = column_real(s, 1),
                                        .train_accuracy = column_real(s, 2),
                                        .val_loss = column_real(s, 3),
                                        .val_accuracy = column_real(s, 4),
                                        .seconds = column_real(s, 5)};
    }
    rc = rc == SQLITE_DONE ? 0 : store_fail_sql(st, err, rc, "reading a trial's rows");
out:
    store_release(st, s);
    if (rc) {
        free(out);
        return rc;
    }
    *rows = out;
    *n = count;
    return 0;
}
