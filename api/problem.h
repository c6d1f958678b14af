/*
 * api/problem.h - application/problem+json answers and the one mapping of MLPT_E* codes to HTTP
 * statuses.
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

/* The HTTP status for an MLPT_E* code: ENOTFOUND 404, ESTATE 409, EINVAL/EFORMAT/ELIMIT 422,
 * EBUSY 503, ENOSPC 507, everything else (ENOMEM, EIO, EDB, EVERSION, ...) 500. 0 gives 200. */
unsigned api_error_status(int code);

/* The HTTP status for an errno from creating or writing a file under the data dir (an upload's
 * copy, a dataset matrix): ENOSPC/EDQUOT 507 (the disk is full); a folder that cannot take files
 * (EACCES, EPERM, EROFS, ENOTDIR, ENOENT, EISDIR, ELOOP, ENAMETOOLONG) 503, the server's problem
 * and not the client's, reported by /healthz; anything else (EIO...) 500. */
unsigned api_file_error_status(int errnum);

/* The problem's title and type slug for a status ("Not found", "not-found"); never NULL. */
const char *api_problem_title(unsigned status);
const char *api_problem_slug(unsigned status);

/* The problem object (new reference) or NULL when memory runs out. detail may be NULL (then
 * the title is used); errs may be NULL. */
json_t *api_problem_json(unsigned status, const char *detail, const api_errors_t *errs);

/* Sets res to a problem answer (replacing any body). On memory failure res still gets the
 * status with an empty body. */
void api_problem(api_response_t *res, unsigned status, const char *detail,
                 const api_errors_t *errs);

/* A problem with a printf-style detail and no field errors. */
void api_problemf(api_response_t *res, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A problem with one field error; the message is also the detail. */
void api_problem_field(api_response_t *res, unsigned status, const char *field, const char *fmt,
                       ...) __attribute__((format(printf, 4, 5)));

/* A problem for an MLPT_E* code: status from api_error_status, detail given or the code's
 * description. */
void api_problem_code(api_response_t *res, int code, const char *detail);

/* Sets res to a JSON answer: takes the reference to body (decref'd here, even on failure).
 * Non-finite reals cannot occur (jansson refuses to make them; see json_util.h). On memory
 * failure res becomes a bare 500. */
void api_res_json(api_response_t *res, unsigned status, json_t *body);

#endif
