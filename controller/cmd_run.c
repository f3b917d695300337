/* dualstackd run --config FILE : the daemon. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "daemon.h"

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *path = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		if (c == 'c') {
			path = optarg;
			continue;
		}
		fprintf(
		    c == 'h' ? stdout : stderr,
		    "usage: dualstackd run --config FILE\n"
		    "  The daemon: consumes EC2 events from Kafka and reconciles each VPC they\n"
		    "  name. SIGTERM drains and commits; SIGHUP reloads the policy.\n");
		return c == 'h' ? 0 : 2;
	}
	if (!path || optind != argc) {
		fprintf(stderr, "usage: dualstackd run --config FILE\n");
		return 2;
	}
	struct daemon_config cfg;
	char err[1024];
	if (daemon_config_load(path, &cfg, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	int rc = daemon_run(&cfg);
	daemon_config_cleanup(&cfg);
	return rc;
}
