/* Shared unit-test helpers (see testutil.h). */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *tu_shared_path(const char *rel, char *buf, size_t cap)
{
    const char *root = getenv("HEARTH_SHARED");
    if (!root || !*root)
        root = "../shared";
    snprintf(buf, cap, "%s/%s", root, rel);
    struct stat st;
    return stat(buf, &st) == 0 ? buf : NULL;
}

char *tu_read_file(const char *path, size_t *n_out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return NULL;
    }
    long n = ftell(f);
    rewind(f);
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    buf[n] = '\0';
    if (n_out)
        *n_out = (size_t)n;
    return buf;
}

const char *tu_tmpdir(void)
{
    static char dir[256];
    if (!dir[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/hearth-test-XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(dir))
            return "/tmp";
    }
    return dir;
}

const char *tu_tmpfile(const char *name, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s", tu_tmpdir(), name);
    return buf;
}
