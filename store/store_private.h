/*
 * store/store_private.h - what the store's sources share and nobody else sees: the handle, the
 * statement cache, error filling, savepoints, the row-to-JSON mapper and the list cursors.
 *
 * Conventions of every store source: functions return 0 or a negative MLPT_E* code and fill the
 * optional store_error_t on failure only; a statement is prepared (or taken from the cache),
 * bound, stepped and released at one exit label.
 */
#ifndef STORE_PRIVATE_H
#define STORE_PRIVATE_H

#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "mlpt_err.h"
#include "store.h"

#define STORE_BUSY_TIMEOUT_MS 5000
#define STORE_LIST_MAX 1000

/* The migrations compiled in (store_migrations.c, generated from migrations/ at build time).
 * Migration i has version i + 1. */
typedef struct store_migration {
    const char *name; /* "0001_init" */
    const char *sql;  /* NUL-terminated */
} store_migration_t;
extern const store_migration_t store_migrations[];
extern const size_t store_migrations_len;

/* Statements prepared once per connection (SQLITE_PREPARE_PERSISTENT) because they run on every
 * scheduler tick or every history poll. Every other statement is prepared where it is used. */
typedef enum store_stmt_id {
    STMT_SAVEPOINT,
    STMT_RELEASE,
    STMT_ROLLBACK_TO,
    STMT_METRIC_INSERT,
    STMT_TRIAL_ITERATIONS,
    STMT_TRIAL_HISTORY,
    STMT_COUNT
} store_stmt_id_t;

struct store {
    sqlite3 *db;
    store_mode_t mode;
    int in_tx; /* between store_begin and store_commit / store_rollback */
    sqlite3_stmt *cache[STMT_COUNT];
    /* The file under the connection (watch.c): its path and identity when it was opened, and
     * whether store_file_detach has run (then nothing is written any more). */
    char *path;
    uint64_t dev, ino;
    int has_id, detached, wal_emptied;
    char *data_dir; /* store_set_data_dir: models and checkpoints go there as files */
    char **pending; /* files written in the open transaction (relative), removed on rollback */
    size_t n_pending, cap_pending;
    int collecting; /* store_files_collect is running */
};

/* ---- the file under the connection (watch.c) ---- */

/* Records the identity (device, inode) of the file at st->path (after it is open). */
void store_file_remember(store_t *st);

/* ---- errors (store_sql.c) ---- */

/* Fills *err (when not NULL) with code, sqlite_code and a printf-style message; returns code. */
int store_error_set(store_error_t *err, int code, int sqlite_code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The MLPT_E* code for an SQLite result: NOMEM -> ENOMEM, FULL -> ENOSPC, BUSY/LOCKED -> EBUSY,
 * TOOBIG -> ELIMIT, CHECK/NOT NULL constraints -> EINVAL, a foreign key -> ENOTFOUND, a primary
 * key or UNIQUE constraint -> ESTATE, anything else -> EDB. */
int store_code_from_sqlite(int sqlite_rc);

/* Fails with the connection's current SQLite error: "<what>: <sqlite message>". Returns the
 * mapped code. */
int store_fail_sql(store_t *st, store_error_t *err, int sqlite_rc, const char *what);

/* MLPT_EBUSY with a message when st is detached (store_file_detach ran: no
 * write may start), else 0. */
int store_require_attached(store_t *st, store_error_t *err);

/* MLPT_EINVAL unless st is a writer; MLPT_EBUSY once it is detached (store_file_detach). */
int store_require_writer(store_t *st, const char *fn, store_error_t *err);

/* ---- statements (store_sql.c) ---- */

int store_prepare(store_t *st, const char *sql, sqlite3_stmt **out, store_error_t *err);
int store_cached(store_t *st, store_stmt_id_t id, sqlite3_stmt **out, store_error_t *err);
/* Resets a cached statement (and clears its bindings), finalizes any other. Accepts NULL. */
void store_release(store_t *st, sqlite3_stmt *s);
void store_cache_clear(store_t *st);
/* Steps s once expecting SQLITE_DONE. */
int store_step_done(store_t *st, sqlite3_stmt *s, const char *what, store_error_t *err);
/* Prepares, steps to the end and finalizes one statement without parameters. */
int store_exec(store_t *st, const char *sql, const char *what, store_error_t *err);

/* Bind helpers that keep the first failure in *rc (0 while all went well). A NULL text, a
 * non-finite double and (for bind_id0) a zero id bind SQL NULL. */
void store_bind_i64(sqlite3_stmt *s, int i, int64_t v, int *rc);
void store_bind_id0(sqlite3_stmt *s, int i, int64_t v, int *rc);
void store_bind_real(sqlite3_stmt *s, int i, double v, int *rc);
void store_bind_text(sqlite3_stmt *s, int i, const char *v, int *rc);
void store_bind_null(sqlite3_stmt *s, int i, int *rc);

/* A malloc'd copy of column col's blob (empty blobs give a 1-byte allocation, *len 0). Returns
 * 0 or MLPT_ENOMEM (err set). */
int store_column_blob(sqlite3_stmt *s, int col, void **out, size_t *len, store_error_t *err);

/* Looks up the status text of row `id` with sql (one parameter, one TEXT column): 0 with the
 * status in out, MLPT_ENOTFOUND ("<what> <id> not found") or an SQLite failure. */
int store_lookup_status(store_t *st, const char *sql, int64_t id, const char *what, char *out,
                        size_t outsz, store_error_t *err);

/* ---- transactions (tx.c) ---- */

/* Every write function runs inside a savepoint, so it is all-or-nothing on its own and nests
 * inside a store_begin transaction. store_op_end releases on rc == 0, otherwise rolls back to
 * the savepoint; it returns rc, or the release's failure. */
int store_op_begin(store_t *st, store_error_t *err);
int store_op_end(store_t *st, int rc, store_error_t *err);

/* ---- files (files.c) ---- */

/* Whether rel is a path this module makes: under models/ or checkpoints/, no "..". */
int store_file_rel_ok(const char *rel);

/* The absolute path of a data-dir-relative one (malloc'd), or NULL without a data dir or
 * memory. */
char *store_file_abs(const store_t *st, const char *rel);

/* Reads a whole data-dir-relative file into *out (malloc'd). 0, MLPT_ENOTFOUND (missing),
 * MLPT_EIO, MLPT_ENOMEM, MLPT_EINVAL (no data dir). */
int store_file_read(const store_t *st, const char *rel, void **out, size_t *len,
                    store_error_t *err);

/* Records a file written inside the open transaction or savepoint: 0 or MLPT_ENOMEM. */
int store_files_pending_add(store_t *st, const char *rel);

/* The outermost transaction ended: committed, the pending files stay (rows name them);
 * otherwise they are removed. */
void store_files_pending_end(store_t *st, int committed);

/* After a commit, outside any transaction: removes the files deleted_files lists, then the
 * rows. Failures are left for the next call. Writer with a data dir only; else a no-op. */
void store_files_collect(store_t *st);

/* ---- JSON (store_json.c) ---- */

typedef enum store_col_kind {
    COL_INT,  /* INTEGER or NULL -> number or null */
    COL_REAL, /* REAL or NULL -> number or null */
    COL_TEXT, /* TEXT or NULL -> string or null */
    COL_JSON, /* TEXT holding JSON -> the parsed value; NULL -> null */
    COL_TIME, /* REAL Unix seconds -> RFC 3339 UTC string; NULL -> null */
    COL_BOOL, /* INTEGER -> true / false */
} store_col_kind_t;

typedef struct store_col {
    const char *key;
    store_col_kind_t kind;
} store_col_t;

/* The JSON value of column `col` of the current row, or NULL with *rc set (MLPT_ENOMEM, or
 * MLPT_EDB for stored JSON that does not parse). */
json_t *store_col_json(sqlite3_stmt *s, int col, store_col_kind_t kind, int *rc);

/* An object of columns first .. first + n - 1 named by cols, or NULL with *rc set. */
json_t *store_row_json(sqlite3_stmt *s, int first, const store_col_t *cols, size_t n, int *rc);

/* The same, added to obj: 0, or -1 with *rc set. */
int store_row_into(json_t *obj, sqlite3_stmt *s, int first, const store_col_t *cols, size_t n,
                   int *rc);

/* One history point: iteration, train_loss, train_accuracy, val_loss, val_accuracy, seconds. */
#define STORE_POINT_NCOLS 6
extern const store_col_t store_point_cols[STORE_POINT_NCOLS];

/* Fills *err from a row builder's failure code (MLPT_ENOMEM or MLPT_EDB); returns it. */
int store_row_failed(store_error_t *err, int rc);

/* json_object_set_new that also fails on a NULL value: 0 or -1 (the value is consumed). */
int store_obj_set(json_t *obj, const char *key, json_t *value);

/* store_rfc3339 (Unix seconds as "2026-11-23T04:30:00.123Z") is public: see store.h. */

/* Checks that text parses as JSON of the given type (JSON_OBJECT or JSON_ARRAY). */
int store_check_json(const char *text, json_type type, const char *what, store_error_t *err);

/* ---- list pages and cursors (store_json.c) ---- */

/* What a cursor carries: which list (tag), its scope (sweep id for trials), the sort, and the
 * sort key and id of the last item of the page it ends. */
typedef enum store_cursor_tag {
    CURSOR_DATASETS = 'D',
    CURSOR_SWEEPS = 'S',
    CURSOR_TRIALS = 'T',
} store_cursor_tag_t;

typedef enum store_key_kind {
    KEY_NULL = 1,
    KEY_INT = 2,
    KEY_REAL = 3,
} store_key_kind_t;

typedef struct store_cursor {
    store_cursor_tag_t tag;
    int sort;
    int64_t scope;
    store_key_kind_t kind;
    int64_t ikey;
    double rkey;
    int64_t id;
} store_cursor_t;

#define STORE_CURSOR_MAX 48

void store_cursor_encode(const store_cursor_t *c, char out[STORE_CURSOR_MAX]);

/* Decodes text into *c and checks that it belongs to the list described by tag, sort and scope;
 * MLPT_EINVAL ("cursor is not valid for this list") otherwise. */
int store_cursor_decode(const char *text, store_cursor_tag_t tag, int sort, int64_t scope,
                        store_cursor_t *c, store_error_t *err);

/* Binds the key of a cursor: NULL as SQL NULL, an integer or a double as themselves. */
void store_bind_cursor_key(sqlite3_stmt *s, int i, const store_cursor_t *c, int *rc);

/* MLPT_EINVAL unless 1 <= limit <= STORE_LIST_MAX. */
int store_check_limit(size_t limit, store_error_t *err);

/* Builds one list item from the current row; NULL with *rc set on failure. */
typedef json_t *(*store_row_fn)(sqlite3_stmt *s, int *rc);

/* Steps s (bound to return at most limit + 1 rows) into {"items": [...], "next_cursor": ...}.
 * Columns key_col and key_col + 1 of each row are the sort key and the id that a next cursor
 * (with tag, sort and scope) records. */
json_t *store_page(store_t *st, sqlite3_stmt *s, store_row_fn row, size_t limit, int key_col,
                   store_cursor_tag_t tag, int sort, int64_t scope, store_error_t *err);

/* For an update of row `id` that changed nothing: MLPT_ENOTFOUND when the row does not exist,
 * else MLPT_ESTATE saying "cannot <action> <kind> <id>: it is <status>". status_sql selects the
 * row's status by ?1. */
int store_explain_no_change(store_t *st, const char *status_sql, const char *kind, int64_t id,
                            const char *action, store_error_t *err);

#endif
