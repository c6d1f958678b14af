/*
 * api/json_util.h - JSON in and out of the API with jansson.
 *
 * Non-finite numbers: JSON has no NaN or Infinity, and the API never writes them as bare tokens.
 * A value that is not finite (a diverged loss, a validation figure of a trial without a
 * validation split) is written as null; the store already keeps such values as SQL NULL and
 * reads them back as null, and api_json_num() does the same for values computed here. The
 * mapping is documented in openapi.json ("non-finite numbers are null").
 * Pure functions: any thread.
 */
#ifndef API_JSON_UTIL_H
#define API_JSON_UTIL_H

#include <jansson.h>
#include <stddef.h>

/* A JSON real for a finite v, JSON null otherwise (new reference; NULL only without memory). */
json_t *api_json_num(double v);

/* 1 when s[0..len) is valid UTF-8 (no overlong forms, surrogates or code points above
 * U+10FFFF), else 0. */
int api_utf8_valid(const char *s, size_t len);

/* A JSON string for s with every byte that is not valid UTF-8 replaced by '?' (new reference;
 * NULL only without memory). s NULL gives null. */
json_t *api_json_string(const char *s);

/* Serialises j compactly with a trailing newline into *out (malloc'd, caller frees; NUL-
 * terminated) and *len. Returns 0, or -1 without memory. */
int api_json_dump(const json_t *j, char **out, size_t *len);

/* Parses a request body (duplicate keys rejected, NUL bytes rejected). Returns the value (new
 * reference) or NULL with detail set to "line L, column C: <jansson's message>". */
json_t *api_json_parse(const char *body, size_t len, char *detail, size_t cap);

/* The number held by j (integer or real) into *out. Returns 0, or -1 when j is not a number. */
int api_json_get_number(const json_t *j, double *out);

#endif
