-- 0005_trial_states: what adaptive search and scale-out need from the schema.
--   * trials.status may be 'stopped': a trial a sweep's budget ended while it ran (kept, like a
--     pruned one, with its history, best values and model at the stop).
--   * trials.placement: where the trial's last run was, as JSON {"rank", "host", "workers"}
--     (NULL before it ran; a single process is rank 0).
--   * sweeps.search is any lowercase strategy name the service knows (as datasets.format since
--     0004), so that a new strategy needs no migration.
-- A CHECK constraint cannot change in place: sweeps and trials are rebuilt, and with them the
-- tables that reference trials, exactly as 0004 does (new tables under *_new names, parents
-- filled first, old ones dropped children first, renamed; indexes and triggers created again).
-- Rows, ids and values are copied unchanged.


CREATE TABLE sweeps_new (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT    NOT NULL DEFAULT '',
    dataset_id      INTEGER NOT NULL REFERENCES datasets (id),
    test_dataset_id INTEGER REFERENCES datasets (id),
    spec            TEXT    NOT NULL,            -- the request body as submitted (JSON)
    search          TEXT    NOT NULL DEFAULT 'grid' CHECK (search <> '' AND search NOT GLOB '*[^a-z0-9_]*'),
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
                                           'pruned', 'stopped', 'canceled')),
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
    placement            TEXT,  -- JSON {rank, host, workers} of its last run, NULL before one
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
