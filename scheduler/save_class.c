/*
 * save_class.c - which failures to save a worker's report are worth retrying. A full disk, a
 * lock, an I/O error or missing memory concern the whole database and pass; a value SQLite
 * refuses (too big, a constraint, a type) or a row that is gone concerns one report and will be
 * refused again at every retry, so its trial fails instead of holding every other report back.
 * Anything not known to be permanent is retried: nothing is given up on a guess.
 */
#include <sqlite3.h>

#include "mlpt_err.h"
#include "save_class.h"

sched_save_class_t sched_save_classify(const store_error_t *err) {
    if (!err)
        return SCHED_SAVE_RETRY;
    switch (err->code) {
    case MLPT_ELIMIT:    /* SQLITE_TOOBIG, a file over the file system's size limit */
    case MLPT_EINVAL:    /* a CHECK or NOT NULL constraint, a bad argument */
    case MLPT_EFORMAT:   /* a value that does not serialise */
    case MLPT_ESTATE:    /* the row exists, or the trial's state forbids the write */
    case MLPT_ENOTFOUND: /* the trial's row is gone */
        return SCHED_SAVE_PERMANENT;
    case MLPT_EDB:
        switch (err->sqlite_code & 0xff) {
        case SQLITE_TOOBIG:
        case SQLITE_CONSTRAINT:
        case SQLITE_MISMATCH:
        case SQLITE_RANGE:
            return SCHED_SAVE_PERMANENT;
        default: /* IOERR, CORRUPT, CANTOPEN, READONLY, ...: the database, not this report */
            return SCHED_SAVE_RETRY;
        }
    default: /* ENOSPC, EBUSY, EIO, ENOMEM and the rest */
        return SCHED_SAVE_RETRY;
    }
}
