/* Names and messages for the HR_E* codes, generated from HR_ERRNO_MAP. Any thread. */
#include "err.h"

const char *hr_err_name(int code)
{
    switch (code) {
    case HR_OK:
        return "HR_OK";
#define HR_ERR_NAME(name, val, msg) \
    case val:                       \
        return "HR_" #name;
        HR_ERRNO_MAP(HR_ERR_NAME)
#undef HR_ERR_NAME
    default:
        return "HR_UNKNOWN";
    }
}

const char *hr_err_str(int code)
{
    switch (code) {
    case HR_OK:
        return "success";
#define HR_ERR_STR(name, val, msg) \
    case val:                      \
        return msg;
        HR_ERRNO_MAP(HR_ERR_STR)
#undef HR_ERR_STR
    default:
        return "unknown error";
    }
}
