/* Reading a whole small file (a chat template, a PEM certificate) into memory, refusing one
 * larger than the caller's cap. Any thread but the loop's (it blocks on the disk). */
#ifndef HR_SMALL_FILE_H
#define HR_SMALL_FILE_H

#include <stddef.h>

/* The file's bytes, NUL-terminated, malloc'd (caller frees), its length in *len. NULL with
 * errno set when it cannot be opened or read, or (EFBIG) holds more than max bytes. */
char *hr_read_small_file(const char *path, size_t max, size_t *len);

#endif
