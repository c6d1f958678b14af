-- 0003_model_files: models and checkpoints as files under the data dir, referenced by path.
-- A model is (inputs x neurons + ...) x 4 bytes: a wide layer on a wide dataset is gigabytes, over
-- SQLite's blob limit, and a blob that can never be written blocked every other save. New rows
-- hold the path (relative to the data dir: models/trial-<id>-<random>.mlpm,
-- checkpoints/trial-<id>-<random>.mlpc) and an empty blob; rows written before keep their blob
-- and a NULL path, and are still read. The file is written (atomically) before the row that
-- names it commits, so a crash leaves at worst a file no row names (handled at start-up).
--
-- deleted_files: the paths whose rows went (a trial's end deletes its checkpoint, a newer
-- checkpoint replaces one, a sweep or dataset delete cascades to its models). The triggers
-- record them in the same transaction; the writer removes the files after the commit and then
-- these rows, so a crash in between only delays the removal to the next commit.

ALTER TABLE trial_models ADD COLUMN path TEXT;
ALTER TABLE trial_checkpoints ADD COLUMN path TEXT;

CREATE TABLE deleted_files (
    path TEXT PRIMARY KEY
) WITHOUT ROWID;

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
