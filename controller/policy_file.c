#include "policy_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *policy_file_read(const char *path, size_t max, size_t *len, struct buf *errors)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		buf_printf(errors, "%s: cannot open: %s\n", path, strerror(errno));
		return NULL;
	}
	struct buf b;
	buf_init(&b, max);
	char chunk[8192];
	size_t n;
	int rc = 0;
	while (!rc && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		rc = buf_append(&b, chunk, n);
	bool read_error = ferror(f);
	fclose(f);
	if (rc || read_error || buf_reserve(&b, 0)) {
		buf_printf(errors, "%s: %s\n", path,
			   read_error ? "read error" : "too large (more than 4 MiB)");
		buf_cleanup(&b);
		return NULL;
	}
	*len = b.len;
	return b.data;
}

struct policy *policy_file_load(const char *path, struct buf *errors)
{
	size_t len = 0;
	char *text = policy_file_read(path, POLICY_FILE_MAX_BYTES, &len, errors);
	if (!text)
		return NULL;
	struct policy *p = policy_new(path, text, len, errors);
	free(text);
	return p;
}
