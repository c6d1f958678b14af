-- 0002_checkpoints: a running trial's latest checkpoint (weights, optimiser, shuffle state and
-- position, as the trainer serialises them) so that a crash costs at most a few iterations.
-- checkpoint_iteration is where a restart resumes: the trial continues from the checkpoint and
-- its rows after it are recomputed and checked, never deleted (mlptune before issue 11 deleted
-- them). Trials that follow a job's shared prefix carry the same number and no blob: their rows
-- come from the job's run.

ALTER TABLE trials ADD COLUMN checkpoint_iteration INTEGER NOT NULL DEFAULT 0;

CREATE TABLE trial_checkpoints (
    trial_id  INTEGER PRIMARY KEY REFERENCES trials (id) ON DELETE CASCADE,
    iteration INTEGER NOT NULL,
    state     BLOB    NOT NULL
);
