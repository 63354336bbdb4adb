/* See small_file.h. */
#include "small_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

char *hr_read_small_file(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(max + 2);
    size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
    int failed = ferror(f);
    fclose(f);
    if (!buf || failed || n > max) {
        free(buf);
        errno = !buf ? ENOMEM : failed ? EIO : EFBIG;
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}
