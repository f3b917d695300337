/* dualstackd run --config FILE : the daemon. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "../reconcile/policy.h"
#include "cli.h"
#include "daemon.h"
#include "policy_file.h"

/* --check: the configuration and the policy it names, as the daemon would load them. */
static int check(const struct daemon_config *cfg, const char *path)
{
	struct buf errors;
	buf_init(&errors, 0);
	struct policy *pol = policy_file_load(cfg->policy_path, &errors);
	if (!pol) {
		fputs(errors.data ? errors.data : "invalid policy\n", stderr);
		buf_cleanup(&errors);
		return 1;
	}
	printf("%s: valid; policy %s: valid (mode %s)\n", path, cfg->policy_path,
	       policy_mode_name(pol->mode));
	policy_unref(pol);
	buf_cleanup(&errors);
	return 0;
}

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"check", no_argument, NULL, 'k'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *path = NULL;
	bool only_check = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		if (c == 'c' || c == 'k') {
			if (c == 'c')
				path = optarg;
			else
				only_check = true;
			continue;
		}
		fprintf(
		    c == 'h' ? stdout : stderr,
		    "usage: dualstackd run --config FILE [--check]\n"
		    "  The daemon: consumes EC2 events from Kafka and reconciles each VPC they\n"
		    "  name. SIGTERM hands over and commits; SIGHUP reloads the policy.\n"
		    "  --check validates the configuration and its policy, then exits.\n");
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
	int rc = only_check ? check(&cfg, path) : daemon_run(&cfg);
	daemon_config_cleanup(&cfg);
	return rc;
}
