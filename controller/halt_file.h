/* halt_file.h - where a halt outlives the process: a small JSON file the daemon writes when the
 * blast-radius guard halts a scope, reads at start (a restart keeps the halt), and watches; an
 * operator's `dualstackd resume` removes it, and that is what clears the halt.
 * Owns: the file's format and its atomic write. Not: deciding halts (reconcile/guard.c). */
#ifndef DS_HALT_FILE_H
#define DS_HALT_FILE_H

#include <stddef.h>
#include <time.h>

#include "../reconcile/guard.h"

/* The default path: $STATE_DIRECTORY/halt (systemd's StateDirectory=), else
 * /var/lib/dualstackd/halt. */
void halt_file_default(char *out, size_t size);

/* Writes halts (n of them) to path atomically (a temporary file renamed over it). */
int halt_file_write(const char *path, const struct guard_halt *halts, size_t n, char *err,
		    size_t err_len);

/* Reads path into *halts (malloc'd, caller frees) and *n. A missing file is no halt (0, n = 0);
 * a file that is not ours is an error naming it. */
int halt_file_read(const char *path, struct guard_halt **halts, size_t *n, char *err,
		   size_t err_len);
/* The halt a halt file that cannot be read stands for (it might have been a halt): the fleet,
 * since now, with why. The daemon and apply both start with it. */
void halt_file_unreadable(struct guard_halt *h, const char *why, time_t now);
/* The same from the file's text; name is what an error calls it. */
int halt_file_parse(const char *name, const char *text, size_t len, struct guard_halt **halts,
		    size_t *n, char *err, size_t err_len);

#endif
