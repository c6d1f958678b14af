-- 0004_ids_only_grow: ids are never handed out twice. Without AUTOINCREMENT SQLite gives a new
-- row max(id) + 1, so deleting the newest dataset or sweep gave its id to the next one: old deep
-- links opened another sweep, and a live sweep page followed a stream that was no longer its
-- own. With AUTOINCREMENT the highest id ever used is kept in sqlite_sequence. (A database whose
-- newest row was deleted before this migration still reuses that id once: nothing recorded it.)
--
-- SQLite cannot change a primary key in place: every table with an id (datasets, sweeps,
-- trials) is rebuilt, and with it every table that references them (trial_metrics,
-- trial_models, trial_checkpoints), because foreign keys are on inside a migration and dropping
-- a parent table deletes its rows first, cascading into children that name it. So: the new
-- tables are created under *_new names referencing each other, filled parents first, the old
-- ones dropped children first (a drop's implicit delete fires no triggers, so no deleted_files
-- rows appear), then renamed (a rename rewrites the REFERENCES clauses naming it). Indexes and
-- the deleted_files triggers went with the old tables and are created again as 0001 and 0003
-- wrote them. Rows, ids and column values are copied unchanged.
--
-- While datasets is rebuilt anyway: its format is any lowercase name of the ingest registry
-- (ingest/format.h), which the store checks, so that a new format needs no migration.

CREATE TABLE datasets_new (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL,
    format        TEXT    NOT NULL CHECK (format <> '' AND format NOT GLOB '*[^a-z0-9_]*'),
    status        TEXT    NOT NULL DEFAULT 'ready' CHECK (status IN ('uploading', 'ready')),
    rows          INTEGER NOT NULL DEFAULT 0,
    features      INTEGER NOT NULL DEFAULT 0,
    classes       INTEGER NOT NULL DEFAULT 0,
    class_names   TEXT    NOT NULL DEFAULT '[]', -- JSON array of strings, by class id
    class_counts  TEXT    NOT NULL DEFAULT '[]', -- JSON array of integers, by class id
    scaling       TEXT    NOT NULL DEFAULT 'standardize' CHECK (scaling IN ('standardize', 'unit')),
    size_bytes    INTEGER NOT NULL DEFAULT 0,    -- bytes uploaded
    sha256        TEXT    NOT NULL DEFAULT '',   -- of the bytes uploaded
    storage_path  TEXT    NOT NULL DEFAULT '',   -- the parsed matrix, relative to the data dir
    created_at    REAL    NOT NULL
);

CREATE TABLE sweeps_new (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT    NOT NULL DEFAULT '',
    dataset_id      INTEGER NOT NULL REFERENCES datasets_new (id),
    test_dataset_id INTEGER REFERENCES datasets_new (id),
    spec            TEXT    NOT NULL,            -- the request body as submitted (JSON)
    search          TEXT    NOT NULL DEFAULT 'grid' CHECK (search IN ('grid', 'random')),
    status          TEXT    NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'running', 'completed', 'failed', 'canceled')),
    trials_total    INTEGER NOT NULL DEFAULT 0,
    best_trial_id   INTEGER,
    error           TEXT,
    created_at      REAL    NOT NULL,
    started_at      REAL,
    finished_at     REAL
);

CREATE TABLE trials_new (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    sweep_id             INTEGER NOT NULL REFERENCES sweeps_new (id) ON DELETE CASCADE,
    ordinal              INTEGER NOT NULL,         -- position in the expanded grid, from 0
    params               TEXT    NOT NULL,         -- JSON object of the trial's hyperparameters
    status               TEXT    NOT NULL DEFAULT 'queued'
                         CHECK (status IN ('queued', 'running', 'completed', 'failed', 'diverged',
                                           'pruned', 'canceled')),
    attempt              INTEGER NOT NULL DEFAULT 0,
    iterations_done      INTEGER NOT NULL DEFAULT 0,   -- highest iteration in trial_metrics
    seconds              REAL    NOT NULL DEFAULT 0,   -- sum of its trial_metrics rows' seconds
    best_val_accuracy    REAL,
    best_iteration       INTEGER,
    final_val_accuracy   REAL,
    test_accuracy        REAL,
    error                TEXT,
    created_at           REAL    NOT NULL,
    started_at           REAL,
    finished_at          REAL,
    checkpoint_iteration INTEGER NOT NULL DEFAULT 0,   -- see 0002
    UNIQUE (sweep_id, ordinal)
);

CREATE TABLE trial_metrics_new (
    trial_id       INTEGER NOT NULL REFERENCES trials_new (id) ON DELETE CASCADE,
    iteration      INTEGER NOT NULL,
    train_loss     REAL,
    train_accuracy REAL,
    val_loss       REAL,
    val_accuracy   REAL,
    seconds        REAL    NOT NULL,
    PRIMARY KEY (trial_id, iteration)
) WITHOUT ROWID;

-- One row per trial: the trial's id is the key, so it only grows with trials'.
CREATE TABLE trial_models_new (
    trial_id INTEGER PRIMARY KEY REFERENCES trials_new (id) ON DELETE CASCADE,
    model    BLOB    NOT NULL,
    path     TEXT
);

CREATE TABLE trial_checkpoints_new (
    trial_id  INTEGER PRIMARY KEY REFERENCES trials_new (id) ON DELETE CASCADE,
    iteration INTEGER NOT NULL,
    state     BLOB    NOT NULL,
    path      TEXT
);

INSERT INTO datasets_new (id, name, format, status, rows, features, classes, class_names,
                          class_counts, scaling, size_bytes, sha256, storage_path, created_at)
SELECT id, name, format, status, rows, features, classes, class_names, class_counts, scaling,
       size_bytes, sha256, storage_path, created_at
FROM datasets ORDER BY id;

INSERT INTO sweeps_new (id, name, dataset_id, test_dataset_id, spec, search, status,
                        trials_total, best_trial_id, error, created_at, started_at, finished_at)
SELECT id, name, dataset_id, test_dataset_id, spec, search, status, trials_total, best_trial_id,
       error, created_at, started_at, finished_at
FROM sweeps ORDER BY id;

INSERT INTO trials_new (id, sweep_id, ordinal, params, status, attempt, iterations_done, seconds,
                        best_val_accuracy, best_iteration, final_val_accuracy, test_accuracy,
                        error, created_at, started_at, finished_at, checkpoint_iteration)
SELECT id, sweep_id, ordinal, params, status, attempt, iterations_done, seconds,
       best_val_accuracy, best_iteration, final_val_accuracy, test_accuracy, error, created_at,
       started_at, finished_at, checkpoint_iteration
FROM trials ORDER BY id;

INSERT INTO trial_metrics_new (trial_id, iteration, train_loss, train_accuracy, val_loss,
                               val_accuracy, seconds)
SELECT trial_id, iteration, train_loss, train_accuracy, val_loss, val_accuracy, seconds
FROM trial_metrics;

INSERT INTO trial_models_new (trial_id, model, path)
SELECT trial_id, model, path FROM trial_models;

INSERT INTO trial_checkpoints_new (trial_id, iteration, state, path)
SELECT trial_id, iteration, state, path FROM trial_checkpoints;

-- Children first: when a table goes, nothing that still names it holds rows.
DROP TABLE trial_metrics;
DROP TABLE trial_checkpoints;
DROP TABLE trial_models;
DROP TABLE trials;
DROP TABLE sweeps;
DROP TABLE datasets;

ALTER TABLE datasets_new RENAME TO datasets;
ALTER TABLE sweeps_new RENAME TO sweeps;
ALTER TABLE trials_new RENAME TO trials;
ALTER TABLE trial_metrics_new RENAME TO trial_metrics;
ALTER TABLE trial_models_new RENAME TO trial_models;
ALTER TABLE trial_checkpoints_new RENAME TO trial_checkpoints;

CREATE INDEX sweeps_by_status ON sweeps (status, id);
CREATE INDEX sweeps_by_dataset ON sweeps (dataset_id);
CREATE INDEX sweeps_by_test_dataset ON sweeps (test_dataset_id);
CREATE INDEX trials_by_status ON trials (status, id);

CREATE TRIGGER trial_models_file_deleted AFTER DELETE ON trial_models
WHEN old.path IS NOT NULL BEGIN
    INSERT OR IGNORE INTO deleted_files (path) VALUES (old.path);
END;

CREATE TRIGGER trial_models_file_replaced AFTER UPDATE OF path ON trial_models
WHEN old.path IS NOT NULL AND old.path IS NOT new.path BEGIN
    INSERT OR IGNORE INTO deleted_files (path) VALUES (old.path);
END;

-- INSERT OR REPLACE deletes the old row without firing delete triggers (recursive_triggers is
-- off): catch the row it is about to replace.
CREATE TRIGGER trial_models_file_overwritten BEFORE INSERT ON trial_models BEGIN
    INSERT OR IGNORE INTO deleted_files (path)
    SELECT path FROM trial_models WHERE trial_id = new.trial_id AND path IS NOT NULL
    AND path IS NOT new.path;
END;

CREATE TRIGGER trial_checkpoints_file_deleted AFTER DELETE ON trial_checkpoints
WHEN old.path IS NOT NULL BEGIN
    INSERT OR IGNORE INTO deleted_files (path) VALUES (old.path);
END;

CREATE TRIGGER trial_checkpoints_file_replaced AFTER UPDATE OF path ON trial_checkpoints
WHEN old.path IS NOT NULL AND old.path IS NOT new.path BEGIN
    INSERT OR IGNORE INTO deleted_files (path) VALUES (old.path);
END;

CREATE TRIGGER trial_checkpoints_file_overwritten BEFORE INSERT ON trial_checkpoints BEGIN
    INSERT OR IGNORE INTO deleted_files (path)
    SELECT path FROM trial_checkpoints WHERE trial_id = new.trial_id AND path IS NOT NULL
    AND path IS NOT new.path;
END;
