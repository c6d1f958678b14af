/*
 * tests/faults/fault_shim.c - an LD_PRELOAD library that makes writes to chosen files fail as if
 * the disk were full, so the integration tests can drive the service's full-disk paths without
 * root, a small tmpfs or a loop device, and switch the fault on and off while the server runs.
 *
 * It wraps every call through which the service and SQLite put bytes into files (strace shows
 * write(2) for uploads and dataset matrices, pwrite64(2) for the database and its WAL):
 * write, pwrite, pwrite64, writev, pwritev, pwritev64, fallocate, fallocate64, posix_fallocate
 * and posix_fallocate64. A call fails when the fault is armed and the path of its descriptor
 * (readlink of /proc/self/fd/N) matches one of the patterns; anything else goes straight to the
 * next definition (libc, or the sanitizer's interceptor first in an ASan build).
 *
 * Environment (read once, at load time):
 *   MLPT_FAULT_PATHS    ':'-separated fnmatch(3) patterns, matched without flags (so '*' also
 *                       matches '/'; examples in README.md); unset or empty: the shim does
 *                       nothing.
 *   MLPT_FAULT_AFTER    bytes the matching files may still take once the fault is armed, in total
 *                       over the process (default 0). The call that crosses the budget is cut
 *                       short, as on a real full disk; vectored calls and fallocate are refused
 *                       whole instead.
 *   MLPT_FAULT_CONTROL  a path: the fault is armed only while this file exists. Creating it again
 *                       (a new inode or modification time) restarts the byte budget.
 *                       Unset: armed from the start.
 *   MLPT_FAULT_ERRNO    ENOSPC (the default), EDQUOT, EIO, or a number.
 *   MLPT_FAULT_LOG      a file that receives one line per refused call: "<errno> <call> <path>",
 *                       so a test can check that the fault really happened.
 *   MLPT_FAULT_SQLITE_MAX_LENGTH
 *                       bytes: every database connection opened through sqlite3_open_v2 gets
 *                       this SQLITE_LIMIT_LENGTH (the largest string or blob), so a test can hit
 *                       SQLite's "string or blob too big" with a small model instead of 1 GB.
 *                       Independent of MLPT_FAULT_PATHS; unset: connections keep SQLite's.
 *
 * Limits: stdio (fwrite, fflush) reaches the kernel through glibc's internal write, which no
 * LD_PRELOAD library sees; mmap'd writes (SQLite's -shm index) are not system calls either.
 * Under an ASan build the runtime insists on coming first in the library list: run the binary
 * with ASAN_OPTIONS=verify_asan_link_order=0.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_PATTERNS 16

static struct {
    char patterns[MAX_PATTERNS][512];
    int n_patterns;
    long long budget;
    const char *control; /* points into the environment, which outlives us */
    const char *log;
    int err;
} cfg;

static atomic_llong used;         /* bytes given to matching files since the fault was armed */
static atomic_ullong control_key; /* identity of the control file last seen (0: none yet) */

/* The next definitions: libc's, or the sanitizer interceptors in front of them. */
static ssize_t (*next_write)(int, const void *, size_t);
static ssize_t (*next_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*next_pwrite64)(int, const void *, size_t, off64_t);
static ssize_t (*next_writev)(int, const struct iovec *, int);
static ssize_t (*next_pwritev)(int, const struct iovec *, int, off_t);
static ssize_t (*next_pwritev64)(int, const struct iovec *, int, off64_t);
static int (*next_fallocate)(int, int, off_t, off_t);
static int (*next_fallocate64)(int, int, off64_t, off64_t);
static int (*next_posix_fallocate)(int, off_t, off_t);
static int (*next_posix_fallocate64)(int, off64_t, off64_t);

/* Looks a symbol up once; every thread that races here stores the same value. */
#define NEXT(name)                                                                                 \
    do {                                                                                           \
        if (!next_##name)                                                                          \
            *(void **)&next_##name = dlsym(RTLD_NEXT, #name);                                      \
    } while (0)

static int parse_errno(const char *s) {
    if (!s || !*s || strcmp(s, "ENOSPC") == 0)
        return ENOSPC;
    if (strcmp(s, "EDQUOT") == 0)
        return EDQUOT;
    if (strcmp(s, "EIO") == 0)
        return EIO;
    long v = strtol(s, NULL, 10);
    return v > 0 ? (int)v : ENOSPC;
}

__attribute__((constructor)) static void shim_init(void) {
    NEXT(write);
    NEXT(pwrite);
    NEXT(pwrite64);
    NEXT(writev);
    NEXT(pwritev);
    NEXT(pwritev64);
    NEXT(fallocate);
    NEXT(fallocate64);
    NEXT(posix_fallocate);
    NEXT(posix_fallocate64);
    const char *paths = getenv("MLPT_FAULT_PATHS");
    while (paths && *paths && cfg.n_patterns < MAX_PATTERNS) {
        size_t n = strcspn(paths, ":");
        if (n > 0 && n < sizeof cfg.patterns[0]) {
            memcpy(cfg.patterns[cfg.n_patterns], paths, n);
            cfg.patterns[cfg.n_patterns++][n] = '\0';
        }
        paths += n + (paths[n] == ':');
    }
    const char *after = getenv("MLPT_FAULT_AFTER");
    cfg.budget = after ? strtoll(after, NULL, 10) : 0;
    if (cfg.budget < 0)
        cfg.budget = 0;
    cfg.control = getenv("MLPT_FAULT_CONTROL");
    if (cfg.control && !*cfg.control)
        cfg.control = NULL;
    cfg.log = getenv("MLPT_FAULT_LOG");
    if (cfg.log && !*cfg.log)
        cfg.log = NULL;
    cfg.err = parse_errno(getenv("MLPT_FAULT_ERRNO"));
}

/* Whether the fault is armed; a control file created anew restarts the byte budget. */
static int armed(void) {
    if (cfg.n_patterns == 0)
        return 0;
    if (!cfg.control)
        return 1;
    struct stat st;
    if (stat(cfg.control, &st) != 0)
        return 0;
    unsigned long long key = ((unsigned long long)st.st_ino * 1000003ull) ^
                             ((unsigned long long)st.st_mtim.tv_sec * 1000000000ull +
                              (unsigned long long)st.st_mtim.tv_nsec);
    key |= 1; /* never 0, the "not seen yet" value */
    unsigned long long seen = atomic_load(&control_key);
    if (seen != key && atomic_compare_exchange_strong(&control_key, &seen, key))
        atomic_store(&used, 0);
    return 1;
}

/* The path behind fd when it matches a pattern (written to path), else 0. */
static int matches(int fd, char *path, size_t cap) {
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, cap - 1);
    if (n <= 0)
        return 0;
    path[n] = '\0';
    for (int i = 0; i < cfg.n_patterns; i++)
        if (fnmatch(cfg.patterns[i], path, 0) == 0)
            return 1;
    return 0;
}

static void log_fault(const char *call, const char *path) {
    if (!cfg.log)
        return;
    NEXT(write);
    char line[4200];
    int n = snprintf(line, sizeof line, "%s %s %s\n", strerrorname_np(cfg.err), call, path);
    int fd = open(cfg.log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    if (n > 0 && next_write)
        (void)next_write(fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    close(fd);
}

/* How many of len bytes the call may write: len (no fault), fewer (cut short by the budget), or
 * -1 (refused: errno is set and the refusal logged). partial_ok is 0 for calls that cannot be
 * cut short. */
static long long allowance(int fd, long long len, int partial_ok, const char *call) {
    char path[4096];
    int saved = errno;
    if (!armed() || !matches(fd, path, sizeof path)) {
        errno = saved;
        return len;
    }
    long long before = atomic_fetch_add(&used, len);
    long long left = cfg.budget - before;
    if (left >= len) {
        errno = saved;
        return len;
    }
    if (left > 0 && partial_ok) {
        errno = saved;
        return left;
    }
    log_fault(call, path);
    errno = cfg.err;
    return -1;
}

static long long iov_bytes(const struct iovec *iov, int n) {
    long long total = 0;
    for (int i = 0; i < n; i++)
        total += (long long)iov[i].iov_len;
    return total;
}

ssize_t write(int fd, const void *buf, size_t len) {
    NEXT(write);
    long long ok = allowance(fd, (long long)len, 1, "write");
    return ok < 0 ? -1 : next_write(fd, buf, (size_t)ok);
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off) {
    NEXT(pwrite);
    long long ok = allowance(fd, (long long)len, 1, "pwrite");
    return ok < 0 ? -1 : next_pwrite(fd, buf, (size_t)ok, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off64_t off) {
    NEXT(pwrite64);
    long long ok = allowance(fd, (long long)len, 1, "pwrite64");
    return ok < 0 ? -1 : next_pwrite64(fd, buf, (size_t)ok, off);
}

ssize_t writev(int fd, const struct iovec *iov, int n) {
    NEXT(writev);
    if (allowance(fd, iov_bytes(iov, n), 0, "writev") < 0)
        return -1;
    return next_writev(fd, iov, n);
}

ssize_t pwritev(int fd, const struct iovec *iov, int n, off_t off) {
    NEXT(pwritev);
    if (allowance(fd, iov_bytes(iov, n), 0, "pwritev") < 0)
        return -1;
    return next_pwritev(fd, iov, n, off);
}

ssize_t pwritev64(int fd, const struct iovec *iov, int n, off64_t off) {
    NEXT(pwritev64);
    if (allowance(fd, iov_bytes(iov, n), 0, "pwritev64") < 0)
        return -1;
    return next_pwritev64(fd, iov, n, off);
}

int fallocate(int fd, int mode, off_t off, off_t len) {
    NEXT(fallocate);
    if (allowance(fd, (long long)len, 0, "fallocate") < 0)
        return -1;
    return next_fallocate(fd, mode, off, len);
}

int fallocate64(int fd, int mode, off64_t off, off64_t len) {
    NEXT(fallocate64);
    if (allowance(fd, (long long)len, 0, "fallocate64") < 0)
        return -1;
    return next_fallocate64(fd, mode, off, len);
}

/* posix_fallocate answers the error number instead of setting errno. */
int posix_fallocate(int fd, off_t off, off_t len) {
    NEXT(posix_fallocate);
    int saved = errno;
    if (allowance(fd, (long long)len, 0, "posix_fallocate") < 0) {
        int e = errno;
        errno = saved;
        return e;
    }
    return next_posix_fallocate(fd, off, len);
}

int posix_fallocate64(int fd, off64_t off, off64_t len) {
    NEXT(posix_fallocate64);
    int saved = errno;
    if (allowance(fd, (long long)len, 0, "posix_fallocate64") < 0) {
        int e = errno;
        errno = saved;
        return e;
    }
    return next_posix_fallocate64(fd, off, len);
}

/* SQLite's own limit, lowered on request (MLPT_FAULT_SQLITE_MAX_LENGTH). Looked up at run time:
 * the shim does not link SQLite. */
typedef struct sqlite3 sqlite3;
int sqlite3_open_v2(const char *name, sqlite3 **db, int flags, const char *vfs) {
    static int (*next_open)(const char *, sqlite3 **, int, const char *);
    static int (*limit)(sqlite3 *, int, int);
    if (!next_open)
        *(void **)&next_open = dlsym(RTLD_NEXT, "sqlite3_open_v2");
    if (!limit)
        *(void **)&limit = dlsym(RTLD_NEXT, "sqlite3_limit");
    if (!next_open)
        return 1; /* SQLITE_ERROR */
    int rc = next_open(name, db, flags, vfs);
    const char *max = getenv("MLPT_FAULT_SQLITE_MAX_LENGTH");
    if (rc == 0 && db && *db && limit && max && *max)
        limit(*db, 0 /* SQLITE_LIMIT_LENGTH */, (int)strtol(max, NULL, 10));
    return rc;
}
