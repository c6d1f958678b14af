/*
 * store/store.h - mlptune's SQLite layer: schema migrations, the writes of the scheduler loop and
 * the reads of the HTTP threads.
 *
 * One store_t is one SQLite connection. The scheduler's loop thread owns the only writer
 * (STORE_WRITER); every HTTP thread opens its own reader (STORE_READER). A store_t must only be
 * used by the thread that owns it. The database runs in WAL mode, so readers never block the
 * writer nor see a half-committed batch, and foreign keys are on.
 *
 * Reads return jansson objects ready to be served: every function that returns json_t* returns a
 * new reference the caller owns (json_decref), or NULL with *err set. Numbers that are not finite
 * never reach the database (NULL is stored instead) and come back as JSON null.
 *
 * Errors: 0 or a negative MLPT_E* code; MLPT_ENOTFOUND for an unknown id, MLPT_ESTATE for a
 * write the row's state forbids, MLPT_EINVAL for a bad argument (and for a "Writer." function
 * called on a reader), MLPT_EDB for an SQLite failure (the optional store_error_t carries
 * SQLite's code and message; a full disk is MLPT_ENOSPC, a lock still held after the 5 s busy
 * timeout MLPT_EBUSY), MLPT_ENOMEM. The store_error_t is written on failure only. Every write
 * function is all-or-nothing, also inside store_begin/commit.
 */
#ifndef STORE_STORE_H
#define STORE_STORE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct store store_t;

typedef enum store_mode {
    STORE_WRITER = 0, /* creates the file, applies migrations; one per database */
    STORE_READER = 1, /* read-only; the database must exist and be migrated */
} store_mode_t;

typedef struct store_error {
    int code;          /* MLPT_E* */
    int sqlite_code;   /* extended SQLite result code, 0 if none */
    char message[256]; /* what failed, with SQLite's message */
} store_error_t;

/* Opens the database at path. A writer creates it when missing, switches it to WAL and applies
 * every embedded migration not yet recorded in schema_migrations, each in its own transaction.
 * Returns the handle, or NULL with *err (may be NULL) set: MLPT_EDB (cannot open, a migration
 * failed: the database is left at the last good version; for a reader also: the file is missing
 * or not migrated to this binary's latest version), MLPT_EVERSION (the database was written by
 * a newer mlptune), MLPT_ENOMEM. Any thread; the handle then belongs to it. */
store_t *store_open(const char *path, store_mode_t mode, store_error_t *err);

/* Closes the connection (checkpointing the WAL for a writer). Accepts NULL. */
void store_close(store_t *st);

/* Whether the path the connection was opened with still names the file it has open (same
 * device and inode; taken when it opened). 0 when it does (or when the file could not be looked
 * at when it opened); MLPT_ENOTFOUND when nothing is there any more (deleted, moved away);
 * MLPT_ESTATE when another file is (replaced, e.g. by an older copy); MLPT_EIO when stat fails
 * otherwise (inconclusive). One stat(2): cheap enough for every scheduler wake-up. The thread
 * that owns st. */
int store_file_check(store_t *st, store_error_t *err);

/* After store_file_check said the file is gone: the connection stops touching the path. It
 * becomes read-only (PRAGMA query_only: SQLite refuses every write; store_begin and every write
 * function answer MLPT_EBUSY saying why), closing it deletes nothing by name, and for a writer
 * the write-ahead log is checkpointed into the file the connection has open (the old one,
 * through its descriptor) and truncated, so the log cannot be replayed into the database that
 * now sits at the path, and a database moved away is whole by itself. 0 once done; an SQLite
 * error (MLPT_EBUSY while a reader holds a snapshot for more than 100 ms) when the checkpoint
 * must be tried again: call it again later (the read-only part is already in force; store_close
 * makes a last try, waiting for readers). The thread that owns st. */
int store_file_detach(store_t *st, store_error_t *err);

/* Where the file the connection has open can still be read while the process lives, for the
 * operator of a database deleted or moved away: "/proc/<pid>/fd/<n> (<where it is now>)" into
 * out. 0, or MLPT_ENOTFOUND (no /proc, or the descriptor is not found). Linux only. */
int store_file_open_path(store_t *st, char *out, size_t len);

/* The highest migration applied (e.g. 1 for 0001_init.sql). */
int store_schema_version(store_t *st, int *version);

/* The migrations compiled into the binary, in order: names ("0001_init") and SQL; migration i
 * is schema version i + 1. NULL when i >= store_migration_count(). */
size_t store_migration_count(void);
const char *store_migration_name(size_t i);
const char *store_migration_sql(size_t i);

/* Groups writes: the scheduler wraps one tick's metric rows and state changes in one
 * transaction. Nested calls are errors (MLPT_ESTATE), as are commit and rollback without a
 * begin. A failed commit rolls the transaction back. On a reader, begin/commit hold one snapshot
 * across several reads. */
int store_begin(store_t *st, store_error_t *err);
int store_commit(store_t *st, store_error_t *err);
int store_rollback(store_t *st);

/* ------------------------------------------------------------------------------------------ */
/* Datasets. */

typedef struct store_dataset_new {
    const char *name;
    const char *format;  /* "csv" or "idx" */
    const char *scaling; /* "standardize" or "unit" */
    int64_t rows, features, classes;
    const char *class_names_json;  /* JSON array of strings, by class id */
    const char *class_counts_json; /* JSON array of integers, by class id */
    int64_t size_bytes;            /* bytes uploaded */
    const char *sha256;            /* hex digest of the bytes uploaded */
    const char *storage_path;      /* the parsed matrix file, relative to the data dir */
    double created_at;             /* Unix seconds */
    const char *kind;              /* "table" (NULL means it), "recording" or "windows" (0006) */
    const char *details_json;      /* a JSON object merged into the dataset's answer, or NULL */
} store_dataset_new_t;

/* Writer. Inserts a ready dataset; *id receives its id. MLPT_EINVAL for a NULL string, an
 * unknown format or scaling, class JSON that is not an array, or a non-finite created_at. */
int store_dataset_insert(store_t *st, const store_dataset_new_t *d, int64_t *id,
                         store_error_t *err);

/* Writer. Deletes a dataset. MLPT_ENOTFOUND; MLPT_ESTATE while a sweep that is queued or running
 * uses it (as dataset or test dataset). On success *storage_path (when not NULL) receives the
 * matrix file's path (malloc'd, caller frees) so the caller can remove it. Finished sweeps that
 * used the dataset are deleted with it. */
int store_dataset_delete(store_t *st, int64_t id, char **storage_path, store_error_t *err);

/* Reader or writer. One dataset as JSON: {"id", "name", "format", "rows", "features",
 * "classes": [names], "class_counts": [...], "scaling", "size_bytes", "sha256", "created_at"}
 * (created_at as an RFC 3339 UTC string). */
json_t *store_dataset_get(store_t *st, int64_t id, store_error_t *err);

/* The matrix file of a dataset (malloc'd; caller frees), or NULL with *err. */
char *store_dataset_storage_path(store_t *st, int64_t id, store_error_t *err);

/* Datasets by id descending: {"items": [...], "next_cursor": string or null}. limit 1..1000;
 * cursor NULL for the first page, else a next_cursor from a previous page (MLPT_EINVAL if it is
 * not one). */
json_t *store_dataset_list(store_t *st, size_t limit, const char *cursor, store_error_t *err);

/* ------------------------------------------------------------------------------------------ */
/* Sweeps and trials. Sweep states: queued -> running -> completed | failed | canceled. Trial
 * states: queued -> running -> completed | failed | diverged | pruned | stopped | canceled. */

typedef struct store_sweep_new {
    const char *name;
    int64_t dataset_id;
    int64_t test_dataset_id; /* 0 for none */
    const char *spec_json;   /* the request as submitted */
    const char *search;      /* "grid" or "random" */
    double created_at;
} store_sweep_new_t;

/* Writer. Inserts a queued sweep and its n queued trials (params_json[i] is trial i's parameter
 * object, ordinal i) in one transaction. *sweep_id receives the sweep's id, trial_ids[i] (when
 * not NULL, n entries) each trial's. MLPT_ENOTFOUND when a dataset does not exist;
 * MLPT_EINVAL when spec_json or a params_json[i] is not a JSON object or search is unknown. */
int store_sweep_insert(store_t *st, const store_sweep_new_t *s, const char *const *params_json,
                       size_t n, int64_t *sweep_id, int64_t *trial_ids, store_error_t *err);

/* Writer. Adds n queued trials to a queued or running sweep (a search strategy growing it):
 * their ordinals continue after the sweep's last, trials_total grows by n, created_at = now.
 * trial_ids (n entries, may be NULL) receives their ids. MLPT_ENOTFOUND for an unknown sweep,
 * MLPT_ESTATE for a finished one, MLPT_EINVAL when a params_json[i] is not a JSON object. */
int store_sweep_add_trials(store_t *st, int64_t sweep_id, const char *const *params_json, size_t n,
                           double now, int64_t *trial_ids, store_error_t *err);

/* Writer. Sets a sweep's status ("running", "completed", "failed", "canceled"); "running" also
 * sets started_at (first time only), the final states finished_at and best_trial_id (the trial
 * with the highest best_val_accuracy, ties to the lowest id). error may be NULL. Only a queued
 * or running sweep changes (running -> running is allowed); a finished one is MLPT_ESTATE. */
int store_sweep_set_status(store_t *st, int64_t id, const char *status, double now,
                           const char *error, store_error_t *err);

/* Writer. A finished sweep (completed, failed, canceled) runs again (an extend, a retry, a warm
 * start): status running, finished_at, best_trial_id and error cleared (started_at and
 * trials_total kept). MLPT_ENOTFOUND; MLPT_ESTATE when it is queued or running. */
int store_sweep_reopen(store_t *st, int64_t sweep_id, store_error_t *err);

/* Writer. Replaces a sweep's stored request (a JSON object: an extend's new budgets, read again
 * when its strategy is made at a restart). MLPT_ENOTFOUND; MLPT_EINVAL for text that is not a
 * JSON object. */
int store_sweep_set_spec(store_t *st, int64_t sweep_id, const char *spec_json, store_error_t *err);

/* Writer. An ended trial (any final state) goes back to queued (a retry, an extend): its params
 * replaced by params_json when not NULL (more iterations), error, finished_at and
 * test_accuracy cleared, every metric row kept and iterations_done, seconds and the live
 * validation figures recomputed from them, checkpoint_iteration set to its checkpoint's (0
 * without one). It then resumes as after a crash: from its checkpoint or iteration 1,
 * recomputing and checking its stored rows bit for bit, then going on. Its model stays until
 * its next end replaces it. MLPT_ENOTFOUND; MLPT_ESTATE while it is queued or running. */
int store_trial_requeue(store_t *st, int64_t trial_id, const char *params_json, store_error_t *err);

/* Reader or writer. The ids (by ordinal; *ids malloc'd, NULL when none) of a sweep's trials a
 * retry takes: `failed` ones (a worker's error, a dataset that would not load, a result that
 * could not be stored, a resumed run that did not reproduce its history) and lost ones:
 * `canceled` before their last iteration (a cancel, or a restart that found their sweep
 * finished): their run ended without a result. MLPT_ENOTFOUND for an unknown sweep. */
int store_sweep_lost_trials(store_t *st, int64_t sweep_id, int64_t **ids, size_t *n,
                            store_error_t *err);

/* Writer. Deletes a finished sweep with its trials and metrics. MLPT_ENOTFOUND; MLPT_ESTATE
 * while it is queued or running. */
int store_sweep_delete(store_t *st, int64_t id, store_error_t *err);

/* Writer. Marks a queued trial running: attempt + 1, started_at = now. MLPT_ESTATE unless it is
 * queued. */
int store_trial_start(store_t *st, int64_t trial_id, double now, store_error_t *err);

/* Writer. Replaces a queued trial's params JSON (a decision recorded when it first starts, e.g.
 * its rank count: the scheduler's ranks.h). MLPT_EINVAL for text that is not a JSON object;
 * MLPT_ESTATE unless it is queued; MLPT_ENOTFOUND. */
int store_trial_set_params(store_t *st, int64_t trial_id, const char *params_json,
                           store_error_t *err);

/* Where a trial's run is: the MPI rank (0 in a single process), that rank's host name and the
 * worker threads it has. */
typedef struct store_placement {
    int rank;      /* >= 0 */
    int workers;   /* >= 1 */
    char host[64]; /* non-empty, NUL-terminated, UTF-8 */
} store_placement_t;

/* Writer. Records where a running trial's run is (trials.placement, read back as the trial's
 * "placement": {"rank", "host", "workers"}; null before it ran), replacing the previous run's.
 * MLPT_EINVAL for a bad value, MLPT_ENOTFOUND for an unknown trial, MLPT_ESTATE unless it is
 * running. */
int store_trial_set_placement(store_t *st, int64_t trial_id, const store_placement_t *where,
                              store_error_t *err);

typedef struct store_metric {
    int64_t trial_id;
    int64_t iteration;                                         /* 1-based */
    double train_loss, train_accuracy, val_loss, val_accuracy; /* non-finite -> NULL */
    double seconds;
    double ended_at; /* live events only: when the iteration's figures were complete (Unix
                        seconds); not stored, 0 when unknown */
} store_metric_t;

/* Formats Unix seconds as RFC 3339 UTC with milliseconds ("2026-11-23T08:35:01.123Z") into out.
 * Returns 0, or -1 for a time outside years 1970..9999 or not finite. */
int store_rfc3339(double t, char out[32]);

/* Writer. Appends metric rows (usually inside store_begin/commit, one batch per tick) and keeps
 * each trial's iterations_done and seconds (the sum of its rows' seconds). A row whose (trial,
 * iteration) exists is an error (MLPT_ESTATE); an unknown trial MLPT_ENOTFOUND; iteration < 1 or
 * non-finite seconds MLPT_EINVAL. On error none of the n rows is kept. */
int store_metrics_insert(store_t *st, const store_metric_t *rows, size_t n, store_error_t *err);

typedef struct store_trial_end {
    const char *status; /* "completed", "failed", "diverged", "pruned", "stopped", "canceled" */
    double best_val_accuracy, final_val_accuracy, test_accuracy; /* non-finite -> NULL */
    int64_t best_iteration;                                      /* 0 -> NULL */
    const char *error;                                           /* NULL for none */
    const char *model_path; /* a model file already written (store_file_write), relative to the
                               data dir; NULL for none */
    const void *model;      /* model bytes (when model_path is NULL), NULL for none */
    size_t model_len;
    double now;
} store_trial_end_t;

/* Writer. Records the end of a queued or running trial (MLPT_ESTATE once it has ended), deleting
 * its checkpoint unless it ends `canceled` (a retry resumes it from there), with its model: the row
 * names model_path, or, for bytes, a file this call writes first when the store has a data dir
 * (store_set_data_dir; a blob in the database without one). A model file that cannot be written
 * fails the call: MLPT_ENOSPC (disk full: it may work later), MLPT_ELIMIT (over the file system's
 * file size limit: it never will), MLPT_EIO. */
int store_trial_finish(store_t *st, int64_t trial_id, const store_trial_end_t *end,
                       store_error_t *err);

/* Writer. A trial that ended `completed` is recorded `pruned` with `note` in its error, the
 * rest of its row (history, figures, model) kept: a pruning decision that waited for earlier
 * trials came after the trial had run to its end. MLPT_ENOTFOUND; MLPT_ESTATE when it is not
 * completed. */
int store_trial_mark_pruned(store_t *st, int64_t trial_id, const char *note, store_error_t *err);

/* Writer. Cancels what is still queued of a sweep (trials -> canceled). Running trials are the
 * scheduler's to stop. *n_canceled (may be NULL) receives the count. */
int store_sweep_cancel_queued(store_t *st, int64_t sweep_id, double now, int64_t *n_canceled,
                              store_error_t *err);

/* Writer. Records trial_id's checkpoint taken after `iteration` reported iterations (replacing
 * the previous one; with a data dir the bytes go to a file written first, like a model's, and
 * the one replaced is removed after the commit) and sets checkpoint_iteration on it and on the
 * trials in also[0..n_also) (those following its shared prefix) while they run. The scheduler
 * calls it in a transaction of its own once the metric rows up to that iteration have committed,
 * so a checkpoint never covers more rows than are stored. */
int store_checkpoint_put(store_t *st, int64_t trial_id, int64_t iteration, const void *blob,
                         size_t len, const int64_t *also, size_t n_also, store_error_t *err);

/* Writer. The same, for a checkpoint the caller already wrote to a file (store_file_write,
 * STORE_FILE_CHECKPOINT; path relative to the data dir): the row names it. The file is the
 * caller's to remove if this fails or the transaction does not commit. */
int store_checkpoint_put_file(store_t *st, int64_t trial_id, int64_t iteration, const char *path,
                              const int64_t *also, size_t n_also, store_error_t *err);

/* What a trial resumes from: its checkpoint and its figures over the history kept. */
typedef struct store_resume {
    void *state; /* malloc'd; the caller frees */
    size_t len;
    int64_t iteration; /* reported iterations it covers: 1 .. iteration */
    double best_val_accuracy, final_val_accuracy; /* NaN when none */
    int64_t best_iteration;                       /* 0 when none */
} store_resume_t;

/* The checkpoint a trial resumes from (the one its checkpoint_iteration names), with the trial's
 * live figures as they stand (over every stored row: rows are never deleted, so they may cover
 * iterations past the checkpoint). MLPT_ENOTFOUND when there is none: it starts from
 * iteration 1. */
int store_checkpoint_get(store_t *st, int64_t trial_id, store_resume_t *out, store_error_t *err);

/* Reader or writer. A trial's stored metric rows, by iteration ascending: *rows (malloc'd, the
 * caller frees; NULL when there are none) and *n. Non-finite figures (stored as NULL) read back
 * as NaN; ended_at is 0. An unknown trial has no rows. */
int store_trial_rows(store_t *st, int64_t trial_id, store_metric_t **rows, size_t *n,
                     store_error_t *err);

/* Writer, at start-up. Trials left running by a crash go back to queued, every committed metric
 * row kept (a client may have read it): the scheduler resumes them from their checkpoint and
 * checks the iterations it recomputes against the stored rows. A checkpoint that covers more
 * iterations than the trial has rows (it cannot happen: a checkpoint is saved after the rows it
 * covers) or none (a stop during the first iteration) is deleted and checkpoint_iteration set to
 * 0: the trial then recomputes from iteration 1. iterations_done, seconds and the live validation
 * figures are recomputed from the rows (attempt is incremented when it starts again). Unfinished
 * trials of a sweep that has already finished (canceled while they ran) become canceled instead,
 * history kept. *requeued (may be NULL) receives the number of trials re-queued. */
int store_recover(store_t *st, int64_t *requeued, store_error_t *err);

/* Writer, at start-up. Calls fn for every queued trial of a queued or running sweep, in sweep id
 * then ordinal order: the scheduler rebuilds its queue from it. A non-zero return from fn stops
 * the walk and is returned. The rows are read before the first call, so fn may use st;
 * params_json is valid during the call only; test_dataset_id is 0 for none. */
typedef int (*store_trial_fn)(int64_t sweep_id, int64_t trial_id, int64_t dataset_id,
                              int64_t test_dataset_id, const char *params_json, void *user);
int store_queued_trials(store_t *st, store_trial_fn fn, void *user, store_error_t *err);

/* One sweep: {"id", "name", "dataset_id", "test_dataset_id", "status", "trials_total",
 * "trials": {"queued": n, "running": n, "completed": n, ...every state}, "progress" (0..1:
 * iterations done over iterations planned), "best_trial": {"id", "params",
 * "best_val_accuracy"} or null, "spec", "created_at", "started_at", "finished_at", "error"}.
 * test_dataset_id is null for none. Progress: a trial plans its params' "iterations" (1 when
 * that is not a positive integer); a queued or running trial has done min(iterations_done,
 * plan), an ended one its whole plan; progress is the sum done over the sum planned, 0 with no
 * trials, and 1.0 once the sweep is finished. best_trial is best_trial_id once the sweep is
 * finished, and before that the current leader by the same rule. */
json_t *store_sweep_get(store_t *st, int64_t id, store_error_t *err);

/* Sweeps by id descending, optionally only those in `status` (NULL for all; MLPT_EINVAL for an
 * unknown status): {"items": [sweep...], "next_cursor"}, paged like store_dataset_list. */
json_t *store_sweep_list(store_t *st, const char *status, size_t limit, const char *cursor,
                         store_error_t *err);

/* The trials of a sweep: {"items": [trial...], "next_cursor"}. sort is NULL (ordinal), or a key
 * among "ordinal", "best_val_accuracy", "final_val_accuracy", "id", "started_at", prefixed with
 * "-" for descending (MLPT_EINVAL otherwise); nulls sort last, ties by id ascending. Paged like
 * store_dataset_list; a cursor is only valid with the sweep and sort that produced it.
 * MLPT_ENOTFOUND for an unknown sweep. */
json_t *store_trial_list(store_t *st, int64_t sweep_id, const char *sort, size_t limit,
                         const char *cursor, store_error_t *err);

/* One trial: {"id", "sweep_id", "ordinal", "status", "attempt", "params", "iterations_done",
 * "best_val_accuracy", "best_iteration", "final_val_accuracy", "test_accuracy", "error",
 * "has_model", "created_at", "started_at", "finished_at", "seconds", "placement"}; seconds is
 * the sum of its metric rows' seconds, placement {"rank", "host", "workers"} of its last run or
 * null (store_trial_set_placement). */
json_t *store_trial_get(store_t *st, int64_t id, store_error_t *err);

/* {"trial_id", "status", "history": [{"iteration", "train_loss", "train_accuracy", "val_loss",
 * "val_accuracy", "seconds"}...]} with iterations > since, ascending. Read in one snapshot: a
 * batch committed by the writer is seen whole or not at all. */
json_t *store_trial_history(store_t *st, int64_t trial_id, int64_t since, store_error_t *err);

/* {"sweep_id", "status", "trials": [{"trial_id", "status", "params", "history": [...]}...]},
 * trials by ordinal, all read in one snapshot. */
json_t *store_sweep_history(store_t *st, int64_t sweep_id, store_error_t *err);

/* The model bytes of a trial (malloc'd; caller frees), read from its file when it has one (the
 * store needs its data dir then). MLPT_ENOTFOUND for an unknown trial or one without a model
 * (or whose file is missing). */
int store_trial_model(store_t *st, int64_t trial_id, void **blob, size_t *len, store_error_t *err);

/* Where a trial's model is, without reading it: *path (malloc'd absolute path of its file) for a
 * model stored as a file, else *blob and *len (malloc'd bytes of a model stored in the database by
 * a version before migration 0003). Exactly one of *path and *blob is set on success.
 * MLPT_ENOTFOUND for an unknown trial or one without a model; MLPT_EINVAL for a file-backed
 * model on a store without a data dir. */
int store_trial_model_ref(store_t *st, int64_t trial_id, char **path, void **blob, size_t *len,
                          store_error_t *err);

/* ------------------------------------------------------------------------------------------ */
/* Typed reads for internal callers (the scheduler, the event hub's replay, the service's
 * start-up): plain structs, no JSON; the JSON reads above are for HTTP answers. Reader or
 * writer, on the connection's owning thread. Each reads one snapshot (one statement). */

typedef enum store_trial_state {
    STORE_TRIAL_QUEUED,
    STORE_TRIAL_RUNNING,
    STORE_TRIAL_COMPLETED,
    STORE_TRIAL_FAILED,
    STORE_TRIAL_DIVERGED,
    STORE_TRIAL_PRUNED,
    STORE_TRIAL_STOPPED, /* a budget of its sweep ended it while it ran (kept, like pruned) */
    STORE_TRIAL_CANCELED,
    STORE_TRIAL_NSTATES
} store_trial_state_t;

typedef enum store_sweep_state {
    STORE_SWEEP_QUEUED,
    STORE_SWEEP_RUNNING,
    STORE_SWEEP_COMPLETED,
    STORE_SWEEP_FAILED,
    STORE_SWEEP_CANCELED,
    STORE_SWEEP_NSTATES
} store_sweep_state_t;

/* A state's name as stored and answered ("queued", ...; "unknown" out of range), and whether it
 * is final (anything but queued and running). */
const char *store_trial_state_name(store_trial_state_t s);
int store_trial_state_final(store_trial_state_t s);
const char *store_sweep_state_name(store_sweep_state_t s);
int store_sweep_state_final(store_sweep_state_t s);

typedef struct store_dataset_shape {
    int64_t rows, features, classes;
    char kind[16]; /* "table", "recording" or "windows" */
} store_dataset_shape_t;

/* A dataset's shape. 0, MLPT_ENOTFOUND, or an SQLite failure. */
int store_dataset_shape(store_t *st, int64_t id, store_dataset_shape_t *out, store_error_t *err);

/* The subjects (group ids) of a recording or windows dataset, from the "subjects" of its
 * details ([{"id": n, ...}]): *ids (malloc'd, caller frees; NULL when none) and *n. 0,
 * MLPT_ENOTFOUND, MLPT_ENOMEM or an SQLite failure. */
int store_dataset_subjects(store_t *st, int64_t id, int32_t **ids, size_t *n, store_error_t *err);

/* Calls fn with every dataset's id and matrix file (relative to the data dir), by id; the rows
 * are read before the first call, so fn may use st. A non-zero return from fn stops the walk
 * and is returned. */
int store_dataset_paths(store_t *st, int (*fn)(int64_t id, const char *storage_path, void *user),
                        void *user, store_error_t *err);

typedef struct store_sweep_info {
    int64_t id, dataset_id;
    int64_t test_dataset_id; /* 0 for none */
    store_sweep_state_t state;
    int64_t trials_total;
    int64_t trials[STORE_TRIAL_NSTATES]; /* how many of its trials are in each state */
} store_sweep_info_t;

/* A sweep's state and its trials' counts by state. 0, MLPT_ENOTFOUND, MLPT_EDB (a status the
 * schema does not allow), or an SQLite failure. */
int store_sweep_info(store_t *st, int64_t id, store_sweep_info_t *out, store_error_t *err);

typedef struct store_trial_info {
    int64_t id, sweep_id, ordinal, attempt, iterations_done;
    store_trial_state_t state;
    int has_started_at; /* it has a start time (kept when a crash re-queues it) */
} store_trial_info_t;

/* A sweep's trials by ordinal: *out (malloc'd, the caller frees; NULL when there are none) and
 * *n. MLPT_ENOTFOUND for an unknown sweep. */
int store_sweep_trials(store_t *st, int64_t sweep_id, store_trial_info_t **out, size_t *n,
                       store_error_t *err);

/* One trial's state and its metric rows (as store_trial_rows gives them) read together: the
 * rows are those committed with that state. *rows is malloc'd (the caller frees; NULL when
 * none). MLPT_ENOTFOUND for an unknown trial. */
int store_trial_snapshot(store_t *st, int64_t trial_id, store_trial_info_t *info,
                         store_metric_t **rows, size_t *n, store_error_t *err);

/* ------------------------------------------------------------------------------------------ */
/* Model and checkpoint files (migration 0003). */

typedef enum store_file_kind {
    STORE_FILE_MODEL = 0,      /* models, trial-<id>-<16 hex>.mlpm */
    STORE_FILE_CHECKPOINT = 1, /* checkpoints, trial-<id>-<16 hex>.mlpc */
} store_file_kind_t;

/* Tells a connection its data dir: models and checkpoints are then files under it (read by any
 * connection, written and removed by the writer). On the writer it also creates models/ and
 * checkpoints/ and removes the files whose rows were deleted (deleted_files) before a crash.
 * 0, MLPT_ENOMEM, MLPT_EIO (a folder cannot be created). The owning thread. */
int store_set_data_dir(store_t *st, const char *data_dir, store_error_t *err);

/* Calls fn with the path (relative to the data dir) of every model and checkpoint file a row
 * names; a non-zero return from fn stops the walk and is returned. At start-up, files under
 * models/ and checkpoints/ that no row names were left by a crash. Reader or writer. */
int store_files_named(store_t *st, int (*fn)(const char *rel, void *user), void *user,
                      store_error_t *err);

/* Writes bytes to a new file of that kind for trial_id under data_dir, atomically (a ".tmp"
 * sibling, fsync, rename, fsync of the folder), so a row may name it once this returns. *rel
 * receives its path relative to data_dir (malloc'd). The file belongs to the caller until a row
 * names it: remove it (unlink) if none will. Returns 0, MLPT_ENOSPC (disk full or quota),
 * MLPT_ELIMIT (over the file system's size limit), MLPT_EIO, MLPT_ENOMEM; nothing is left behind
 * on failure. Any thread: no connection involved. */
int store_file_write(const char *data_dir, store_file_kind_t kind, int64_t trial_id,
                     const void *bytes, size_t len, char **rel, store_error_t *err);

#endif
