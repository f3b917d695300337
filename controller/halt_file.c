/* {"halts": [{"scope": "fleet", "reason": "...", "since": "2026-12-02T01:00:00Z"}, ...]} */
#include "halt_file.h"

#include <cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../reconcile/err.h"

#define HALT_FILE_MAX_BYTES (1 << 20)

void halt_file_default(char *out, size_t size)
{
	const char *dir = getenv("STATE_DIRECTORY");
	if (dir && *dir) {
		/* systemd may list several, colon-separated: the first is ours */
		size_t n = strcspn(dir, ":");
		snprintf(out, size, "%.*s/halt", (int)n, dir);
	} else {
		snprintf(out, size, "/var/lib/dualstackd/halt");
	}
}

int halt_file_write(const char *path, const struct guard_halt *halts, size_t n, char *err,
		    size_t err_len)
{
	int rc = DS_ENOMEM;
	char tmp[1100];
	char *text = NULL;
	FILE *f = NULL;
	cJSON *root = cJSON_CreateObject();
	cJSON *arr = root ? cJSON_AddArrayToObject(root, "halts") : NULL;
	for (size_t i = 0; arr && i < n; i++) {
		char since[32] = "";
		struct tm tm;
		if (gmtime_r(&halts[i].since, &tm))
			strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &tm);
		cJSON *h = cJSON_CreateObject();
		if (!h || !cJSON_AddItemToArray(arr, h) ||
		    !cJSON_AddStringToObject(h, "scope", halts[i].scope) ||
		    !cJSON_AddStringToObject(h, "reason", halts[i].reason) ||
		    !cJSON_AddStringToObject(h, "since", since))
			goto out;
	}
	text = arr ? cJSON_Print(root) : NULL;
	if (!text)
		goto out;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	rc = DS_EIO;
	f = fopen(tmp, "w");
	if (!f || fputs(text, f) < 0 || fputc('\n', f) == EOF || fflush(f) || fsync(fileno(f))) {
		snprintf(err, err_len, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	if (fclose(f)) {
		f = NULL;
		snprintf(err, err_len, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	f = NULL;
	if (rename(tmp, path)) {
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	rc = DS_OK;
out:
	if (f) {
		fclose(f);
		unlink(tmp);
	}
	free(text);
	cJSON_Delete(root);
	return rc;
}

int halt_file_read(const char *path, struct guard_halt **halts, size_t *n, char *err,
		   size_t err_len)
{
	*halts = NULL;
	*n = 0;
	FILE *f = fopen(path, "r");
	if (!f)
		return errno == ENOENT
			   ? DS_OK
			   : (snprintf(err, err_len, "%s: %s", path, strerror(errno)), DS_EIO);
	char *text = malloc(HALT_FILE_MAX_BYTES + 1);
	size_t len = text ? fread(text, 1, HALT_FILE_MAX_BYTES, f) : 0;
	fclose(f);
	if (!text)
		return DS_ENOMEM;
	int rc = halt_file_parse(path, text, len, halts, n, err, err_len);
	free(text);
	return rc;
}

void halt_file_unreadable(struct guard_halt *h, const char *why, time_t now)
{
	memset(h, 0, sizeof(*h));
	snprintf(h->scope, sizeof(h->scope), GUARD_FLEET);
	snprintf(h->reason, sizeof(h->reason), "the halt file cannot be read: %.200s", why);
	h->since = now;
}

int halt_file_parse(const char *name, const char *text, size_t len, struct guard_halt **halts,
		    size_t *n, char *err, size_t err_len)
{
	*halts = NULL;
	*n = 0;
	cJSON *root = cJSON_ParseWithLength(text, len);
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "halts");
	if (!cJSON_IsArray(arr)) {
		snprintf(err, err_len, "%s: expected {\"halts\": [...]} as dualstackd writes it",
			 name);
		cJSON_Delete(root);
		return DS_EPARSE;
	}
	size_t count = (size_t)cJSON_GetArraySize(arr);
	*halts = calloc(count + 1, sizeof(**halts));
	if (!*halts) {
		cJSON_Delete(root);
		return DS_ENOMEM;
	}
	const cJSON *h;
	cJSON_ArrayForEach(h, arr)
	{
		const cJSON *scope = cJSON_GetObjectItemCaseSensitive(h, "scope");
		const cJSON *reason = cJSON_GetObjectItemCaseSensitive(h, "reason");
		const cJSON *since = cJSON_GetObjectItemCaseSensitive(h, "since");
		if (!cJSON_IsString(scope))
			continue;
		struct guard_halt *g = &(*halts)[(*n)++];
		snprintf(g->scope, sizeof(g->scope), "%s", scope->valuestring);
		snprintf(g->reason, sizeof(g->reason), "%s",
			 cJSON_IsString(reason) ? reason->valuestring : "");
		struct tm tm = {0};
		if (cJSON_IsString(since) &&
		    strptime(since->valuestring, "%Y-%m-%dT%H:%M:%SZ", &tm))
			g->since = timegm(&tm);
	}
	cJSON_Delete(root);
	return DS_OK;
}
