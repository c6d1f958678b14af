/*
 * api/static_files.c - path checks and containment-checked opening of the dashboard's files.
 */
#define _XOPEN_SOURCE 700 /* realpath */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "static_files.h"

int api_static_rel(const char *url_path, char *rel, size_t cap) {
    if (!url_path || url_path[0] != '/' || cap == 0)
        return -1;
    const char *p = url_path + 1;
    if (*p == '\0') {
        if (cap < sizeof("index.html"))
            return -1;
        memcpy(rel, "index.html", sizeof("index.html"));
        return 0;
    }
    size_t len = strlen(p);
    if (len >= cap)
        return -1;
    const char *seg = p;
    for (size_t i = 0; i <= len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '/' || c == '\0') {
            size_t n = (size_t)(p + i - seg);
            if (n == 0 || seg[0] == '.') /* "//", a trailing '/', ".", "..", ".hidden" */
                return -1;
            seg = p + i + 1;
            continue;
        }
        if (c < 0x20 || c == 0x7F || c == '\\' || c == '%')
            return -1;
    }
    memcpy(rel, p, len + 1);
    return 0;
}

int api_static_is_page(const char *rel) {
    const char *last = strrchr(rel, '/');
    last = last ? last + 1 : rel;
    return strchr(last, '.') == NULL;
}

const char *api_static_type(const char *name) {
    static const char *const types[][2] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".map", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"},
        {".woff2", "font/woff2"},
        {".wasm", "application/wasm"},
    };
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(dot, types[i][0]) == 0)
            return types[i][1];
    return "application/octet-stream";
}

int api_static_open(const char *web_real, const char *rel, uint64_t *size) {
    char joined[PATH_MAX], real[PATH_MAX];
    int n = snprintf(joined, sizeof(joined), "%s/%s", web_real, rel);
    if (n < 0 || (size_t)n >= sizeof(joined)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (!realpath(joined, real))
        return -1;
    size_t root = strlen(web_real);
    if (strncmp(real, web_real, root) != 0 || real[root] != '/') {
        errno = EACCES;
        return -1;
    }
    int fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        errno = ENOENT;
        return -1;
    }
    *size = (uint64_t)st.st_size;
    return fd;
}
