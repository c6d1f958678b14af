/*
 * service/sweep_answer.h - what the server says to `mlptune sweep` (private to service/): the
 * one place that turns HTTP statuses, problem+json bodies and requests that got no answer into
 * messages on stderr and an exit status. A 4xx is the caller's mistake (SVC_EXIT_USAGE),
 * anything else a runtime failure (SVC_EXIT_FAILURE). Main thread only.
 */
#ifndef SVC_SWEEP_ANSWER_H
#define SVC_SWEEP_ANSWER_H

#include <jansson.h>

#include "http_client.h"

/* Exit statuses of `mlptune sweep` beyond those of cli.h. */
enum {
    SVC_SWEEP_EXIT_CANCELED = 4,      /* the sweep was canceled */
    SVC_SWEEP_EXIT_INTERRUPTED = 130, /* SIGINT/SIGTERM while the client ran */
};

/* Says why a request got no answer ("interrupted" when the abort flag stopped it, "cannot reach
 * the server: ..." when it could not be reached). Returns the exit status:
 * SVC_SWEEP_EXIT_INTERRUPTED for MLPT_ESTOPPED, SVC_EXIT_FAILURE otherwise. */
int svc_sweep_no_answer(const svc_http_error_t *err);

/* Checks an answer for status `expect` and parses its JSON object into *out (new reference;
 * NULL on failure). `what` names the request in messages ("GET /api/v1/sweeps/3"). Returns 0,
 * or the exit status after printing the problem (detail and every field error): SVC_EXIT_USAGE
 * for a 4xx, SVC_EXIT_FAILURE for another status or a body that is not a JSON object. */
int svc_sweep_answer_json(const char *what, const svc_http_answer_t *ans, long expect,
                          json_t **out);

/* GET path, expecting 200 and a JSON object in *out (new reference; NULL on failure). Returns 0
 * or the exit status of svc_sweep_no_answer or svc_sweep_answer_json, after saying why. */
int svc_sweep_get_json(svc_http_t *http, const char *path, json_t **out);

#endif
