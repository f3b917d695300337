/* dualstackd resume --config FILE | --halt-file PATH : an operator clears a halt of the
 * blast-radius guard. It says what was halted and why, then removes the halt file; the daemon
 * watching it resumes within a second (and a daemon started later starts unhalted). */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "daemon.h"
#include "halt_file.h"

static void print_halts(const struct guard_halt *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char since[32] = "?";
		struct tm tm;
		if (h[i].since && gmtime_r(&h[i].since, &tm))
			strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &tm);
		printf("  %s, since %s: %s\n", h[i].scope, since, h[i].reason);
	}
}

int cmd_resume(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"halt-file", required_argument, NULL, 'f'},
	    {"dry-run", no_argument, NULL, 'n'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *config = NULL;
	char path[1024] = "";
	bool dry_run = false;
	int c, rc = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:f:nh", opts, NULL)) != -1) {
		if (c == 'c')
			config = optarg;
		else if (c == 'f')
			snprintf(path, sizeof(path), "%s", optarg);
		else if (c == 'n')
			dry_run = true;
		else {
			fprintf(
			    c == 'h' ? stdout : stderr,
			    "usage: dualstackd resume [--config FILE | --halt-file PATH] "
			    "[--dry-run]\n"
			    "  Clears a halt of the blast-radius guard: prints what was halted and "
			    "why,\n"
			    "  then removes the halt file the daemon watches (the config's "
			    "halt_file,\n"
			    "  else the default). --dry-run only prints.\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "dualstackd resume: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	char err[1024];
	if (config && !path[0]) {
		struct daemon_config cfg;
		if (daemon_config_load(config, &cfg, err, sizeof(err))) {
			fprintf(stderr, "%s\n", err);
			return 2;
		}
		snprintf(path, sizeof(path), "%s", cfg.halt_file);
		daemon_config_cleanup(&cfg);
	} else if (!path[0]) {
		halt_file_default(path, sizeof(path));
	}
	struct guard_halt *halts = NULL;
	size_t n = 0;
	if (halt_file_read(path, &halts, &n, err, sizeof(err))) {
		/* not readable as ours: still the file that holds the daemon; say so and clear it */
		fprintf(stderr, "%s\n", err);
	} else if (!n && access(path, F_OK)) {
		printf("not halted (%s does not exist)\n", path);
		free(halts);
		return 0;
	} else {
		printf("halted (%s):\n", path);
		print_halts(halts, n);
	}
	free(halts);
	if (dry_run)
		return 0;
	if (unlink(path) && errno != ENOENT) {
		fprintf(stderr, "dualstackd resume: %s: %s\n", path, strerror(errno));
		rc = 1;
	} else {
		printf("resumed: removed %s; a running daemon resumes within a second\n", path);
	}
	return rc;
}
