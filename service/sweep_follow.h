/*
 * service/sweep_follow.h - what every form of `mlptune sweep` does once it holds a sweep id
 * (private to service/): the client's connection and its Ctrl-C handling, following a sweep to
 * its end, fetching its leaderboard and printing the result (a table, or one JSON object) with
 * the exit status its end calls for. Main thread only.
 */
#ifndef SVC_SWEEP_FOLLOW_H
#define SVC_SWEEP_FOLLOW_H

#include <jansson.h>
#include <stdint.h>

#include "http_client.h"

/* A client of one server. */
typedef struct svc_sweep_client {
    svc_http_t *http;
    long timeout_s;
    int tty;  /* stderr is a terminal */
    int json; /* --json: one JSON object on stdout */
} svc_sweep_client_t;

/* Connects *c to server (token, the bearer token, may be NULL; it is copied), installs the
 * SIGINT/SIGTERM handlers that stop the request in flight and ignores SIGPIPE. Returns 0, or the
 * exit status after saying why (SVC_EXIT_USAGE for a URL that is not http(s)). Close with
 * svc_sweep_client_close, either way. */
int svc_sweep_client_open(svc_sweep_client_t *c, const char *server, const char *token,
                          long timeout_s, int json);

/* Frees the connection. Accepts a client that failed to open. */
void svc_sweep_client_close(svc_sweep_client_t *c);

/* Polls GET /api/v1/sweeps/{id} until the sweep ends, with the progress display on stderr.
 * Returns 0 with *final (new reference) the finished sweep, or the exit status after saying why
 * (a server away for longer than the timeout: SVC_EXIT_FAILURE; Ctrl-C:
 * SVC_SWEEP_EXIT_INTERRUPTED). */
int svc_sweep_follow(svc_sweep_client_t *c, int64_t id, json_t **final);

/* After following: fetches the leaderboard and prints the finished sweep sw (with --json, sw
 * plus "leaderboard", so members the caller added to sw are printed too). Returns the exit
 * status: 0 completed, SVC_SWEEP_EXIT_CANCELED, SVC_EXIT_FAILURE (failed, or a request or write
 * failed). */
int svc_sweep_finish(svc_sweep_client_t *c, json_t *sw, double elapsed);

/* Writes obj as the one JSON document on stdout. Returns 0 or SVC_EXIT_FAILURE. */
int svc_sweep_print_json(const json_t *obj);

#endif
