/*
 * data_dir.h - the data dir at start-up: what a previous process left half done, and files no
 * row names, put aside without ever deleting user data on a guess.
 */
#ifndef SVC_DATA_DIR_H
#define SVC_DATA_DIR_H

#include <stddef.h>

/* Tidies <data_dir> before the scheduler and the API start (so nothing in flight can be taken
 * for an orphan), logging through svc_logf:
 *  - uploads/ is emptied: uploads a crash cut while they streamed (nobody was answered 201);
 *  - half-written files are removed: matrices "<file>.mlds.tmp.<pid>" in datasets/, models and
 *    checkpoints "trial-*.tmp" in models/ and checkpoints/, /healthz probes ".probe-*";
 *  - whole files of ours that no row of db names (datasets/NAME.mlds, models/trial-N-X.mlpm,
 *    checkpoints/trial-N-X.mlpc) are never deleted: each is moved to quarantine/<UTC
 * time>/<folder>/ and logged. A crash between writing such a file and committing its row leaves
 * one; so does a database deleted or replaced by an older copy, and then they are the user's data.
 * A database that is new or names no dataset, next to dataset files, is said at error level, with
 * how to put things back. Opening db as the writer creates and migrates a new database (as the
 * scheduler would next) and removes the files of rows deleted just before a crash (they are not
 * orphans). When the store cannot tell which files rows name, only half-written files go. Returns
 * the number of dataset files quarantined (for /healthz and /metrics). Main thread, before anything
 * else opens db. */
size_t svc_data_dir_tidy(const char *data_dir, const char *db);

#endif
