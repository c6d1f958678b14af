/*
 * service/sweep_preview.h - how `mlptune sweep --preview` shows the server's estimate (private
 * to service/): the answer of POST /api/v1/sweeps?dry_run=true as a few lines of text. Main
 * thread only.
 */
#ifndef SVC_SWEEP_PREVIEW_H
#define SVC_SWEEP_PREVIEW_H

#include <jansson.h>
#include <stdio.h>

/* Checks that answer is a preview ({"dry_run": true, ...}). Returns 1 or 0. */
int svc_preview_is(const json_t *answer);

/* Writes the preview to out: the search type, the trials (or the budget that bounds them), the
 * iterations trained at most, the GEMM FLOPs at most, the server's throughput and workers, and
 * the estimated time. A member that is missing or of the wrong type prints as "?"; text from the
 * server is printed without control characters. Returns 0, or -1 when writing failed. */
int svc_preview_print(FILE *out, const json_t *answer);

#endif
