/* ec2_load - drives N EC2 calls through dualstackd's EC2 client and reports what became of
 * each, as JSON. A test tool: the fault-proxy tests use it to measure pacing and to prove that
 * every call ends in exactly one answer.
 *   ec2_load --action CreateTags --param Resource.1=vpc-1 --count 500 [--budget 1.0]
 *            [--idempotent] [--filtered] [--tag-index]   (Tag.1.Value = call index)
 *            [--resources id,id,...]  (call i: ResourceId.1 = the (i mod n)th id)
 *            [--port-index BASE]      (call i: IpPermissions.1.From/ToPort = BASE + i)
 *   Prints the client's counters too: how many calls rode in merged requests, how many merged
 *   requests failed and went again one by one. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../controller/aws_query.h"
#include "../../controller/cli.h"

struct load {
	int finished;
	int count;
	int ok;
	int ambiguous;
	int by_class[EC2_FATAL + 1];
	int attempts_total;
	double max_call_s;
	int *seen; /* each call's callback count: must end at exactly 1 */
	char first_error[512];
};

struct call_ud {
	struct load *load;
	int index;
};

static void on_done(void *ud, const struct ec2_result *res)
{
	struct call_ud *cu = ud;
	struct load *l = cu->load;
	l->seen[cu->index]++;
	l->finished++;
	l->attempts_total += res->attempts;
	if (res->elapsed_s > l->max_call_s)
		l->max_call_s = res->elapsed_s;
	if (res->rc == 0) {
		l->ok++;
	} else {
		l->by_class[res->err.cls]++;
		l->ambiguous += res->ambiguous;
		if (!l->first_error[0])
			snprintf(l->first_error, sizeof(l->first_error), "%s: %.200s",
				 res->err.code, res->err.message);
	}
	free(cu);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"action", required_argument, NULL, 'a'},
	    {"param", required_argument, NULL, 'p'},
	    {"count", required_argument, NULL, 'n'},
	    {"budget", required_argument, NULL, 'b'},
	    {"idempotent", no_argument, NULL, 'i'},
	    {"filtered", no_argument, NULL, 'f'},
	    {"tag-index", no_argument, NULL, 't'},
	    {"resources", required_argument, NULL, 'r'},
	    {"port-index", required_argument, NULL, 'P'},
	    {NULL, 0, NULL, 0},
	};
	const char *action = "DescribeVpcs";
	struct buf params;
	buf_init(&params, 1 << 16);
	int count = 1, tag_index = 0, port_base = -1;
	char *resources[1024];
	int n_resources = 0;
	unsigned flags = 0;
	double budget = 1.0;
	int c;
	while ((c = getopt_long(argc, argv, "a:p:n:b:iftr:P:", opts, NULL)) != -1) {
		switch (c) {
		case 'a': action = optarg; break;
		case 'p': {
			char *eq = strchr(optarg, '=');
			if (!eq)
				return 2;
			*eq = '\0';
			aws_form_add(&params, optarg, eq + 1);
			break;
		}
		case 'n': count = (int)strtol(optarg, NULL, 10); break;
		case 'b': budget = strtod(optarg, NULL); break;
		case 'i': flags |= EC2_F_IDEMPOTENT; break;
		case 'f': flags |= EC2_F_FILTERED; break;
		case 't': tag_index = 1; break;
		case 'r': {
			char *save = NULL;
			for (char *tok = strtok_r(optarg, ",", &save); tok && n_resources < 1024;
			     tok = strtok_r(NULL, ",", &save))
				resources[n_resources++] = tok;
			break;
		}
		case 'P': port_base = (int)strtol(optarg, NULL, 10); break;
		default: return 2;
		}
	}
	struct cli_session s;
	char err[512];
	if (count < 1 || cli_session_init(&s, budget, err, sizeof(err))) {
		fprintf(stderr, "ec2_load: %s\n", count < 1 ? "bad --count" : err);
		return 2;
	}
	struct load l;
	memset(&l, 0, sizeof(l));
	l.count = count;
	l.seen = calloc((size_t)count, sizeof(int));
	double t0 = ev_time();
	for (int i = 0; i < count; i++) {
		struct buf p;
		buf_init(&p, 1 << 16);
		buf_append(&p, params.data ? params.data : "", params.len);
		if (tag_index)
			buf_put_pairf(&p, "Tag.1.Value", "%d", i);
		if (n_resources)
			buf_put_pair(&p, "ResourceId.1", resources[i % n_resources]);
		if (port_base >= 0) {
			buf_put_pair(&p, "IpPermissions.1.IpProtocol", "tcp");
			buf_put_pairf(&p, "IpPermissions.1.FromPort", "%d", port_base + i);
			buf_put_pairf(&p, "IpPermissions.1.ToPort", "%d", port_base + i);
			buf_put_pair(&p, "IpPermissions.1.Ipv6Ranges.1.CidrIpv6", "::/0");
		}
		struct call_ud *cu = malloc(sizeof(*cu));
		cu->load = &l;
		cu->index = i;
		if (ec2_call(s.ec2, &s.target, action, flags, p.data, p.len, on_done, cu)) {
			fprintf(stderr, "ec2_load: submit failed\n");
			return 1;
		}
		buf_cleanup(&p);
	}
	int all_done = 0;
	while (!all_done) {
		ev_run(s.loop, EVRUN_ONCE);
		all_done = l.finished == count;
	}
	double elapsed = ev_time() - t0;
	int lost = 0, doubled = 0;
	for (int i = 0; i < count; i++) {
		lost += l.seen[i] == 0;
		doubled += l.seen[i] > 1;
	}
	const struct ec2_client_stats *st = ec2_client_stats(s.ec2);
	printf(
	    "{\"calls\": %d, \"ok\": %d, \"lost\": %d, \"doubled\": %d, \"ambiguous\": %d, "
	    "\"final\": {\"throttled\": %d, \"transient\": %d, \"fatal\": %d, \"duplicate\": %d, "
	    "\"not_found\": %d, \"state\": %d}, \"attempts\": %lu, \"retries\": %lu, "
	    "\"throttled_answers\": %lu, \"transient_answers\": %lu, \"elapsed_s\": %.3f, "
	    "\"max_call_s\": %.3f, \"merged\": %lu, \"split\": %lu, \"first_error\": \"%s\"}\n",
	    count, l.ok, lost, doubled, l.ambiguous, l.by_class[EC2_THROTTLED],
	    l.by_class[EC2_TRANSIENT], l.by_class[EC2_FATAL], l.by_class[EC2_DUPLICATE],
	    l.by_class[EC2_NOT_FOUND], l.by_class[EC2_STATE], st->attempts, st->retries,
	    st->throttled_answers, st->transient_answers, elapsed, l.max_call_s, st->merged,
	    st->split, l.first_error[0] ? "see stderr" : "");
	if (l.first_error[0])
		fprintf(stderr, "first error: %s\n", l.first_error);
	free(l.seen);
	buf_cleanup(&params);
	cli_session_cleanup(&s);
	return lost || doubled ? 3 : 0;
}
