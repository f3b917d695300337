/* dualstackd explain-event [FILE|-] : the work keys one event produces, or why none. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../handlers/event.h"
#include "../reconcile/buf.h"
#include "cli.h"

int cmd_explain_event(int argc, char **argv)
{
	if (argc > 2 || (argc == 2 && !strcmp(argv[1], "--help"))) {
		fprintf(
		    argc == 2 ? stdout : stderr,
		    "usage: dualstackd explain-event [FILE|-]\n"
		    "  Decodes one event (EventBridge, CloudTrail, Config) as the daemon would "
		    "and\n"
		    "  prints {verdict, source, reason, keys} as JSON. Exit 1 when it would go to\n"
		    "  the dead-letter topic.\n");
		return argc == 2 ? 0 : 2;
	}
	const char *path = argc == 2 ? argv[1] : "-";
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	if (!f) {
		fprintf(stderr, "explain-event: cannot open %s: %m\n", path);
		return 2;
	}
	/* read a little past the limit so an oversized event is reported as such */
	struct buf b;
	buf_init(&b, (size_t)EVENT_MAX_BYTES + 1);
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		size_t room = b.max - b.len;
		if (buf_append(&b, chunk, n < room ? n : room) || n > room)
			break;
	}
	size_t total = b.len;
	while (n > 0 && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		total += n; /* the rest of an oversized input, counted */
	if (f != stdin)
		fclose(f);
	struct event_result *r = malloc(sizeof(*r));
	if (!r) {
		buf_cleanup(&b);
		return 1;
	}
	if (total > EVENT_MAX_BYTES) {
		memset(r, 0, sizeof(*r));
		ev_set(r, EVENT_REJECT, "oversized: %zu bytes (the limit is %d)", total,
		       EVENT_MAX_BYTES);
	} else {
		event_decode(b.data ? b.data : "", b.len, r);
	}
	cJSON *j = event_result_json(r);
	char *text = cJSON_Print(j);
	puts(text ? text : "{}");
	int status = r->verdict == EVENT_REJECT ? 1 : 0;
	free(text);
	cJSON_Delete(j);
	free(r);
	buf_cleanup(&b);
	return status;
}
