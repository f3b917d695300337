/* dualstackd describe KIND [--vpc ID]... : the observed state as dualstackd parses it. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ec2_describe.h"
#include "model_json.h"

struct describe_wait {
	int done;
	int rc;
	struct ec2_error err;
	int calls;
};

static void on_done(void *ud, int rc, const struct ec2_error *err, int calls)
{
	struct describe_wait *w = ud;
	w->rc = rc;
	if (err)
		w->err = *err;
	w->calls = calls;
	w->done = 1;
}

static void usage(FILE *f)
{
	fprintf(
	    f, "usage: dualstackd describe KIND [--vpc ID]...\n"
	       "  KIND: vpcs subnets route-tables internet-gateways\n"
	       "        egress-only-internet-gateways security-groups network-acls instances\n"
	       "        network-interfaces\n"
	       "  Prints what dualstackd reads, as JSON with boto3's field names.\n"
	       "  Region from AWS_REGION; endpoint from AWS_ENDPOINT_URL_EC2 or AWS_ENDPOINT_URL.\n"
	       "  --role-arn ARN   read a member account through STS AssumeRole\n");
}

int cmd_describe(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"vpc", required_argument, NULL, 'v'},
	    {"role-arn", required_argument, NULL, 'r'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *vpcs[256];
	size_t n_vpcs = 0;
	const char *role = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "v:r:h", opts, NULL)) != -1) {
		switch (c) {
		case 'v':
			if (n_vpcs == 256) {
				fprintf(stderr, "describe: at most 256 --vpc\n");
				return 2;
			}
			vpcs[n_vpcs++] = optarg;
			break;
		case 'r': role = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	int kind = describe_kind_by_name(argv[optind]);
	if (kind < 0 || kind >= DESCRIBE_INSTANCE_TYPES) {
		fprintf(stderr, "describe: unknown kind '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}

	struct cli_session s;
	char err[512];
	if (cli_session_init(&s, 1.0, err, sizeof(err))) {
		fprintf(stderr, "describe: %s\n", err);
		return 1;
	}
	if (role)
		snprintf(s.target.role_arn, sizeof(s.target.role_arn), "%s", role);
	struct observed obs;
	observed_init(&obs);
	struct describe_wait w = {0};
	struct describe_request req = {.kind = kind, .vpc_ids = vpcs, .n_vpc_ids = n_vpcs};
	int rc = ec2_describe(s.ec2, &s.target, &req, &obs, on_done, &w);
	if (!rc)
		cli_run_until(&s, &w.done);
	else
		w.rc = rc;
	int status = 0;
	if (w.rc) {
		fprintf(stderr, "describe: %s: %s (class %s, http %d, request %s)\n", w.err.code,
			w.err.message, ec2_class_name(w.err.cls), w.err.http_status,
			w.err.request_id[0] ? w.err.request_id : "-");
		status = 1;
	} else {
		cJSON *json = model_json(describe_kind_info(kind)->schema, &obs);
		char *text = cJSON_Print(json);
		if (text)
			puts(text);
		free(text);
		cJSON_Delete(json);
	}
	observed_cleanup(&obs);
	cli_session_cleanup(&s);
	return status;
}
