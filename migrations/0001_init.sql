-- 0001_init: datasets, sweeps, trials, their per-iteration metrics and their models.
-- Timestamps are Unix epoch seconds (REAL, UTC). JSON columns hold text as submitted/normalised.
-- schema_migrations itself is created by the store before the first migration runs.

CREATE TABLE datasets (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL,
    format        TEXT    NOT NULL CHECK (format IN ('csv', 'idx')),
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

CREATE TABLE sweeps (
    id              INTEGER PRIMARY KEY,
    name            TEXT    NOT NULL DEFAULT '',
    dataset_id      INTEGER NOT NULL REFERENCES datasets (id),
    test_dataset_id INTEGER REFERENCES datasets (id),
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
CREATE INDEX sweeps_by_status ON sweeps (status, id);
CREATE INDEX sweeps_by_dataset ON sweeps (dataset_id);
CREATE INDEX sweeps_by_test_dataset ON sweeps (test_dataset_id);

CREATE TABLE trials (
    id                 INTEGER PRIMARY KEY,
    sweep_id           INTEGER NOT NULL REFERENCES sweeps (id) ON DELETE CASCADE,
    ordinal            INTEGER NOT NULL,         -- position in the expanded grid, from 0
    params             TEXT    NOT NULL,         -- JSON object of the trial's hyperparameters
    status             TEXT    NOT NULL DEFAULT 'queued'
                       CHECK (status IN ('queued', 'running', 'completed', 'failed', 'diverged',
                                         'pruned', 'canceled')),
    attempt            INTEGER NOT NULL DEFAULT 0,
    iterations_done    INTEGER NOT NULL DEFAULT 0,   -- highest iteration in trial_metrics
    seconds            REAL    NOT NULL DEFAULT 0,   -- sum of its trial_metrics rows' seconds
    best_val_accuracy  REAL,
    best_iteration     INTEGER,
    final_val_accuracy REAL,
    test_accuracy      REAL,
    error              TEXT,
    created_at         REAL    NOT NULL,
    started_at         REAL,
    finished_at        REAL,
    UNIQUE (sweep_id, ordinal)
);
CREATE INDEX trials_by_status ON trials (status, id);

CREATE TABLE trial_metrics (
    trial_id       INTEGER NOT NULL REFERENCES trials (id) ON DELETE CASCADE,
    iteration      INTEGER NOT NULL,
    train_loss     REAL,
    train_accuracy REAL,
    val_loss       REAL,
    val_accuracy   REAL,
    seconds        REAL    NOT NULL,
    PRIMARY KEY (trial_id, iteration)
) WITHOUT ROWID;

-- A model is megabytes: kept out of the trials rows so that listing trials never walks a blob's
-- overflow pages to reach the columns stored after it.
CREATE TABLE trial_models (
    trial_id INTEGER PRIMARY KEY REFERENCES trials (id) ON DELETE CASCADE,
    model    BLOB    NOT NULL
);
