-- 0006_recordings: sensor recordings and the windows derived from them (issue 15). A dataset has
-- a kind: 'table' (CSV, IDX: every dataset before this migration), 'recording' (samples of a
-- few channels with subject, label and timestamp: formats wisdm and timeseries) or 'windows'
-- (features of windows cut from a recording). `details` is a JSON object of what the kind
-- tells beyond the shape, merged into the dataset's answer: a recording's subjects, channels,
-- sampling rate, gaps, quirks and skipped records; windows' source dataset and parameters.
-- Adding columns with defaults keeps every row and id as it was.
ALTER TABLE datasets ADD COLUMN kind TEXT NOT NULL DEFAULT 'table'
    CHECK (kind IN ('table', 'recording', 'windows'));
ALTER TABLE datasets ADD COLUMN details TEXT; -- JSON object, NULL for a table
