/*
 * api/static_files.h - the dashboard's files under web_dir, never anything outside it.
 *
 * Two steps: api_static_rel() is a pure check of the (percent-decoded) URL path that refuses
 * every path that could climb out ("..", "." and empty segments, backslashes, '%' left after
 * decoding (a double-encoded traversal), control bytes, hidden dot-files); api_static_open()
 * then resolves the real path (following symlinks) and refuses it unless it is a regular file
 * inside web_dir's real path. Unknown paths whose last segment has no '.' are dashboard pages
 * and get index.html, so dashboard URLs can be bookmarked; unknown assets are 404.
 */
#ifndef API_STATIC_FILES_H
#define API_STATIC_FILES_H

#include <stddef.h>
#include <stdint.h>

/* Maps a URL path to a path relative to web_dir: "/" -> "index.html", "/js/app.js" ->
 * "js/app.js". Returns 0, or -1 when the path is refused or longer than cap - 1. Pure. */
int api_static_rel(const char *url_path, char *rel, size_t cap);

/* 1 when rel names a page route (its last segment has no '.'), else 0. Pure. */
int api_static_is_page(const char *rel);

/* The Content-Type for a file name by its extension ("application/octet-stream" when unknown).
 * Pure. */
const char *api_static_type(const char *name);

/* Opens web_real/rel read-only. web_real must be a realpath() result. Returns the descriptor
 * (caller closes) with *size set, or -1 with errno: ENOENT (missing, or not a regular file),
 * EACCES (its real path leaves web_real), other open/stat errors. Any thread. */
int api_static_open(const char *web_real, const char *rel, uint64_t *size);

#endif
