/*
 * api/problem.h - application/problem+json answers and the one place that chooses HTTP error
 * statuses.
 *
 * Code elsewhere in the API never writes an error status: it names why it refuses a request (an
 * api_problem_kind_t, or an MLPT_E* code, or an errno from a file under the data dir), and the
 * functions here turn that into the status. tests/check_statuses.sh keeps it so.
 *
 * Every error the API gives is {"type", "title", "status", "detail", "errors": [{"field",
 * "message"}]} with Content-Type application/problem+json. "type" is "urn:mlptune:problem:<slug>"
 * and "title" a fixed sentence, both determined by the status; "errors" is always present (empty
 * when no field is to blame). Pure functions: any thread.
 */
#ifndef API_PROBLEM_H
#define API_PROBLEM_H

#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>

#include "api_types.h"

#define API_MAX_ERRORS 32 /* field errors kept per answer; more are counted, not listed */

typedef struct api_field_error {
    char field[128];   /* e.g. "grid.learning_rate[1]", "file", "query.limit" */
    char message[320]; /* e.g. "must be > 0" */
} api_field_error_t;

typedef struct api_errors {
    api_field_error_t items[API_MAX_ERRORS];
    size_t n;
    size_t dropped; /* errors beyond API_MAX_ERRORS */
} api_errors_t;

/* Empties *e. */
void api_errors_init(api_errors_t *e);

/* Appends a field error (printf-style message; both truncated to fit). */
void api_errors_add(api_errors_t *e, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void api_errors_vadd(api_errors_t *e, const char *field, const char *fmt, va_list ap);

/* Why the API refuses a request; api_problem_status gives the HTTP status of each. */
typedef enum api_problem_kind {
    API_PROBLEM_NONE = 0,     /* not refused (status 200) */
    API_PROBLEM_MALFORMED,    /* the request cannot be read: bad JSON, framing, multipart */
    API_PROBLEM_UNAUTHORIZED, /* credentials missing or wrong */
    API_PROBLEM_FORBIDDEN,    /* another site, another host */
    API_PROBLEM_NOT_FOUND,    /* an unknown route, id or file */
    API_PROBLEM_METHOD,       /* the route does not take this method */
    API_PROBLEM_CONFLICT,     /* the resource's state forbids it */
    API_PROBLEM_TOO_LARGE,    /* a body, an upload or a decompression over a limit */
    API_PROBLEM_MEDIA_TYPE,   /* a Content-Type the route does not take */
    API_PROBLEM_INVALID,      /* readable but semantically wrong (field errors) */
    API_PROBLEM_TOO_MANY,     /* one client holds too many streams */
    API_PROBLEM_INTERNAL,     /* the server failed (memory, I/O, database) */
    API_PROBLEM_UNAVAILABLE,  /* shutting down, the database lost or unreadable, a folder that
                                 cannot take files, the server's stream or memory caps */
    API_PROBLEM_NO_SPACE,     /* the disk is full */
} api_problem_kind_t;

/* The HTTP status of a kind: MALFORMED 400, UNAUTHORIZED 401, FORBIDDEN 403, NOT_FOUND 404,
 * METHOD 405, CONFLICT 409, TOO_LARGE 413, MEDIA_TYPE 415, INVALID 422, TOO_MANY 429,
 * INTERNAL 500, UNAVAILABLE 503, NO_SPACE 507; NONE 200. */
unsigned api_problem_status(api_problem_kind_t kind);

/* The kind for an MLPT_E* code: ENOTFOUND NOT_FOUND, ESTATE CONFLICT, EINVAL/EFORMAT/ELIMIT
 * INVALID, EBUSY UNAVAILABLE, ENOSPC NO_SPACE, everything else (ENOMEM, EIO, EDB, EVERSION, ...)
 * INTERNAL. 0 gives NONE. */
api_problem_kind_t api_error_kind(int code);

/* api_problem_status(api_error_kind(code)). */
unsigned api_error_status(int code);

/* The kind for an errno from creating or writing a file under the data dir (an upload's copy, a
 * dataset matrix): ENOSPC/EDQUOT NO_SPACE (the disk is full); a folder that cannot take files
 * (EACCES, EPERM, EROFS, ENOTDIR, ENOENT, EISDIR, ELOOP, ENAMETOOLONG) UNAVAILABLE, the server's
 * problem and not the client's, reported by /healthz; anything else (EIO...) INTERNAL. */
api_problem_kind_t api_file_error_kind(int errnum);

/* The problem's title and type slug for a status ("Not found", "not-found"); never NULL. */
const char *api_problem_title(unsigned status);
const char *api_problem_slug(unsigned status);

/* The problem object (new reference) or NULL when memory runs out. detail may be NULL (then
 * the title is used); errs may be NULL. */
json_t *api_problem_json(api_problem_kind_t kind, const char *detail, const api_errors_t *errs);

/* Sets res to a problem answer (replacing any body) with the kind's status. On memory failure
 * res still gets the status with an empty body. */
void api_problem(api_response_t *res, api_problem_kind_t kind, const char *detail,
                 const api_errors_t *errs);

/* A problem with a printf-style detail and no field errors. */
void api_problemf(api_response_t *res, api_problem_kind_t kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A problem with one field error; the message is also the detail. */
void api_problem_field(api_response_t *res, api_problem_kind_t kind, const char *field,
                       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* A problem for an MLPT_E* code: status from api_error_status, detail given or the code's
 * description. */
void api_problem_code(api_response_t *res, int code, const char *detail);

/* Sets res to a JSON answer of a state the service cannot serve in (/healthz's 503: a state, not
 * a refused request, so not problem+json): api_res_json with the kind's status. */
void api_res_json_refused(api_response_t *res, api_problem_kind_t kind, json_t *body);

/* Sets res to a JSON answer: takes the reference to body (decref'd here, even on failure).
 * Non-finite reals cannot occur (jansson refuses to make them; see json_util.h). On memory
 * failure res becomes a bare 500. */
void api_res_json(api_response_t *res, unsigned status, json_t *body);

#endif
