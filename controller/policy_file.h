/* policy_file.h - the policy as a file on disk, for the CLI and the daemon alike.
 * Owns: reading the file (bounded) and handing its text to policy_new.
 * Not: validation (reconcile/policy.c) or when to reload (the daemon). */
#ifndef DS_POLICY_FILE_H
#define DS_POLICY_FILE_H

#include "../reconcile/policy.h"

#define POLICY_FILE_MAX_BYTES ((size_t)4 << 20)

/* Reads and validates path; NULL with one line per error appended to errors. */
struct policy *policy_file_load(const char *path, struct buf *errors);

/* Reads a whole file of at most max bytes (NUL-terminated); NULL with errors filled. */
char *policy_file_read(const char *path, size_t max, size_t *len, struct buf *errors);

#endif
