/*
 * api/handlers.h - the route handlers named in API_ROUTES (router.h). Each one answers through
 * res (a JSON body, a problem, a file or an event stream); none sees libmicrohttpd. They run on
 * the HTTP threads, read through api_reader() and command through sched_*.
 */
#ifndef API_HANDLERS_H
#define API_HANDLERS_H

#include "api_types.h"
#include "router.h"
#include "server.h"

typedef void (*api_handler_fn)(api_t *a, const api_request_t *req, api_response_t *res);

#define API_HANDLER_DECL(id, method, pattern, body, handler)                                       \
    void handler(api_t *a, const api_request_t *req, api_response_t *res);
API_ROUTES(API_HANDLER_DECL)
#undef API_HANDLER_DECL

#endif
