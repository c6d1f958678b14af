/*
 * api/h_session.c - the dashboard's sign-in: GET, POST and DELETE /api/v1/session.
 *
 * POST exchanges the API token ({"token": "..."}) for a session (session.h): the answer is 204
 * with Set-Cookie mlptune_session=<random 256-bit id>; HttpOnly (scripts never see it),
 * SameSite=Strict (the browser never sends it on a request another site starts), Path=/,
 * Max-Age (the session's life), Secure when the service speaks TLS. Every /api route and event
 * stream then accepts the cookie instead of the Authorization header. DELETE ends the session
 * server-side and clears the cookie; GET says whether the caller is signed in. These routes need
 * no credentials (dispatch.c); like every state-changing request they must come from the
 * service's own origin.
 */
#include <stdio.h>
#include <string.h>

#include "handlers.h"
#include "mlpt_err.h"
#include "origin.h"
#include "problem.h"

static const char *const no_args[] = {NULL};

api_auth_t api_authenticated(api_t *a, const api_request_t *req, int64_t *expires_at) {
    if (!a->token)
        return API_AUTH_OPEN;
    const char *h = req->authorization;
    /* "Bearer <token>" compared in time that depends only on the configured token's length */
    if (h && strncmp(h, "Bearer ", 7) == 0 && api_secret_equal(a->token, h + 7))
        return API_AUTH_BEARER;
    const char *cursor = req->cookie;
    char id[API_SESSION_ID_LEN + 2];
    int64_t now = api_now_s();
    while (a->sessions && api_cookie_next(&cursor, API_SESSION_COOKIE, id, sizeof(id)))
        if (api_sessions_check(a->sessions, id, now, expires_at))
            return API_AUTH_SESSION;
    return API_AUTH_NONE;
}

static void set_cookie(api_t *a, api_response_t *res, const char *id, long max_age) {
    snprintf(res->set_cookie, sizeof(res->set_cookie),
             "%s=%s; Path=/; Max-Age=%ld; HttpOnly; SameSite=Strict%s", API_SESSION_COOKIE, id,
             max_age, a->tls ? "; Secure" : "");
}

void api_h_session_get(api_t *a, const api_request_t *req, api_response_t *res) {
    int64_t expires = 0;
    if (api_h_query(req, no_args, NULL, res))
        return;
    api_auth_t how = api_authenticated(a, req, &expires);
    static const char *const via[] = {"none", "open", "bearer", "session"};
    json_t *j = json_pack("{s:b, s:b, s:s}", "token_required", a->token != NULL, "authenticated",
                          how != API_AUTH_NONE, "via", via[how]);
    if (j && how == API_AUTH_SESSION)
        json_object_set_new(j, "expires_in", json_integer(expires - api_now_s()));
    res->no_cache = 1;
    api_res_json(res, 200, j);
}

void api_h_session_create(api_t *a, const api_request_t *req, api_response_t *res) {
    if (api_h_query(req, no_args, NULL, res))
        return;
    json_t *body = api_h_body(req, res);
    if (!body)
        return;
    const json_t *token = json_is_object(body) ? json_object_get(body, "token") : NULL;
    const char *key;
    json_t *v;
    api_errors_t errs;
    api_errors_init(&errs);
    if (!json_is_object(body)) {
        api_errors_add(&errs, "(body)", "must be an object {\"token\": \"...\"}");
    } else {
        if (!json_is_string(token))
            api_errors_add(&errs, "token", token ? "must be a string" : "is required");
        json_object_foreach(body, key, v) {
            if (strcmp(key, "token") != 0)
                api_errors_add(&errs, key, "unknown field");
        }
    }
    if (errs.n) {
        json_decref(body);
        api_h_invalid(res, &errs);
        return;
    }
    res->no_cache = 1;
    if (!a->token) { /* nothing to sign in to: every request is let in */
        json_decref(body);
        res->status = 204;
        return;
    }
    int ok = api_secret_equal(a->token, json_string_value(token));
    json_decref(body);
    if (!ok) {
        api_problem_field(res, API_PROBLEM_UNAUTHORIZED, "token", "is not this server's API token");
        return;
    }
    char id[API_SESSION_ID_LEN + 1];
    int rc = api_sessions_create(a->sessions, api_now_s(), id);
    if (rc != 0) {
        api_problem_code(res, rc, "no random bytes for a session id");
        return;
    }
    set_cookie(a, res, id, (long)API_SESSION_TTL_S);
    res->status = 204;
}

void api_h_session_delete(api_t *a, const api_request_t *req, api_response_t *res) {
    if (api_h_query(req, no_args, NULL, res))
        return;
    const char *cursor = req->cookie;
    char id[API_SESSION_ID_LEN + 2];
    while (a->sessions && api_cookie_next(&cursor, API_SESSION_COOKIE, id, sizeof(id)))
        api_sessions_end(a->sessions, id);
    set_cookie(a, res, "", 0L);
    res->no_cache = 1;
    res->status = 204;
}
