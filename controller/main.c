/* main.c - the dualstackd command line: a dispatch table of subcommands. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
} subcommands[] = {
    {"run", cmd_run, "the daemon: Kafka events in, dual-stack VPCs out"},
    {"plan", cmd_plan, "read-only: the exact EC2 calls that would make the VPCs dual-stack"},
    {"apply", cmd_apply, "reconcile the VPCs once; exit 0 only when converged"},
    {"report", cmd_report,
     "fleet readiness: converged, pending, blocked and why (text, JSON, HTML)"},
    {"check-policy", cmd_check_policy, "validate a policy file"},
    {"explain-event", cmd_explain_event, "the work keys an event produces, or why none"},
    {"describe", cmd_describe, "print the observed state of a resource kind as JSON"},
};

static int usage(FILE *f)
{
	fprintf(f, "usage: dualstackd COMMAND [ARGS]...\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(f, "  %-14s %s\n", subcommands[i].name, subcommands[i].summary);
	fprintf(f, "\n'dualstackd COMMAND --help' describes a command.\n");
	return f == stdout ? 0 : 2;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage(stderr);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0)
		return usage(stdout);
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		if (strcmp(argv[1], subcommands[i].name) == 0)
			return subcommands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "dualstackd: unknown command '%s'\n", argv[1]);
	return usage(stderr);
}
