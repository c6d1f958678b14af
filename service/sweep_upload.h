/*
 * service/sweep_upload.h - how `mlptune sweep` turns a dataset file into a dataset id (private
 * to service/): one multipart POST /api/v1/datasets, files streamed from disk, with a progress
 * line on a terminal. Main thread only.
 */
#ifndef SVC_SWEEP_UPLOAD_H
#define SVC_SWEEP_UPLOAD_H

#include "http_client.h"
#include "sweep_spec.h"

/* Uploads ref's files (CSV, or IDX images and labels) when ref has no id yet, and sets ref->id
 * to the new dataset's; a ref that has an id is left as it is. label_column (may be NULL) goes
 * with a CSV file. With tty set, uploads of 1 MiB or more show their progress on stderr. On
 * success one line on stderr names the dataset and its shape. Returns 0, or the exit status
 * after saying why (see sweep_answer.h: SVC_EXIT_USAGE when the server refuses the file). */
int svc_dataset_upload(svc_http_t *http, svc_dataset_ref_t *ref, const char *label_column, int tty);

#endif
