/*
 * mlpt_err.h - the one project-wide error table.
 *
 * Every library returns int: 0 on success, or one of the negative MLPT_E* codes below. The
 * table is an X-macro so the enum and the strings cannot drift apart. This header is shared by
 * every folder; it has no code of its own beyond mlpt_strerror(), so it adds no dependency edge.
 * The mapping of these codes to HTTP statuses lives in exactly one place (api/).
 */
#ifndef MLPT_ERR_H
#define MLPT_ERR_H

/* X(name, value, message) */
#define MLPT_ERROR_TABLE(X)                                                                        \
    X(MLPT_OK, 0, "success")                                                                       \
    X(MLPT_ENOMEM, -1, "out of memory")                                                            \
    X(MLPT_EINVAL, -2, "invalid argument")                                                         \
    X(MLPT_EIO, -3, "input/output error")                                                          \
    X(MLPT_EFORMAT, -4, "malformed input")                                                         \
    X(MLPT_ELIMIT, -5, "a limit was exceeded")                                                     \
    X(MLPT_ENOTFOUND, -6, "not found")                                                             \
    X(MLPT_ESTATE, -7, "conflict with the current state")                                          \
    X(MLPT_EDIVERGED, -8, "training diverged (loss is NaN or infinite)")                           \
    X(MLPT_ESTOPPED, -9, "stopped on request")                                                     \
    X(MLPT_EVERSION, -10, "unsupported version")                                                   \
    X(MLPT_ENOSPC, -11, "no space left on device")                                                 \
    X(MLPT_EDB, -12, "database error")                                                             \
    X(MLPT_EBUSY, -13, "busy, try again")

enum mlpt_error {
#define MLPT_ERR_ENUM(name, value, message) name = value,
    MLPT_ERROR_TABLE(MLPT_ERR_ENUM)
#undef MLPT_ERR_ENUM
};

/* Returns a static English description of an MLPT_* code; never NULL. Any thread. */
static inline const char *mlpt_strerror(int code) {
    switch (code) {
#define MLPT_ERR_CASE(name, value, message)                                                        \
    case value:                                                                                    \
        return message;
        MLPT_ERROR_TABLE(MLPT_ERR_CASE)
#undef MLPT_ERR_CASE
    default:
        return "unknown error";
    }
}

#endif
