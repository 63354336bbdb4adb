/* Error codes shared by every layer. Fallible functions return 0 or a negative HR_E* code.
 * The list below is the only place codes, names and messages are defined; a code is never
 * renumbered, only appended. Any thread. */
#ifndef HR_ERR_H
#define HR_ERR_H

#define HR_ERRNO_MAP(X)                                                       \
    X(EINVAL, -1, "invalid argument")                                         \
    X(ENOMEM, -2, "out of memory")                                            \
    X(EIO, -3, "input/output error")                                          \
    X(EFORMAT, -4, "malformed data")                                          \
    X(EUNSUPPORTED, -5, "not supported")                                      \
    X(ERANGE, -6, "value out of range")                                       \
    X(ENOTFOUND, -7, "not found")                                             \
    X(EFULL, -8, "queue is full")                                             \
    X(ECANCELED, -9, "canceled")                                              \
    X(ECONTEXT, -10, "context length exceeded")                               \
    X(EINTERNAL, -11, "internal error")                                       \
    X(ESHUTDOWN, -12, "shutting down")                                        \
    X(ETIMEDOUT, -13, "timed out")

enum hr_err {
    HR_OK = 0,
#define HR_ERR_ENUM(name, val, msg) HR_##name = (val),
    HR_ERRNO_MAP(HR_ERR_ENUM)
#undef HR_ERR_ENUM
};

/* "HR_EINVAL" etc.; "HR_UNKNOWN" for codes not in the list. */
const char *hr_err_name(int code);
/* Human-readable message for a code. */
const char *hr_err_str(int code);

#endif
