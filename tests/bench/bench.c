/* bench - figures for docs/benchmarks.md, printed as Markdown table rows.
 *   1. SigV4 signatures per second, one core, 500-byte EC2 form body.
 *   2. Client CPU per EC2 call excluding the network: form encoding, signing, libcurl, the
 *      libev loop, error handling and decoding a DescribeVpcs answer, measured as this thread's
 *      CPU time while a libmicrohttpd responder (its own thread, not counted) answers on
 *      loopback. EC2's pacing is scaled out of the way (bucket_scale) to measure the client. */
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../controller/cli.h"
#include "../../controller/ec2_xml.h"
#include "../../controller/sigv4.h"
#include "../../controller/workqueue.h"
#include "../../reconcile/plan.h"

static double thread_cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double wall_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void bench_sigv4(void)
{
	char body[501];
	memset(body, 'a', 500);
	memcpy(body, "Action=AuthorizeSecurityGroupIngress&Version=2016-11-15&GroupId=sg-0", 68);
	body[500] = '\0';
	struct sigv4_header h[] = {
	    {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
	    {"Host", "ec2.us-east-1.amazonaws.com"},
	    {"X-Amz-Date", "20261126T120000Z"},
	};
	struct sigv4_request req = {"POST", "/", NULL, h, 3, body, 500};
	struct sigv4_creds creds = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
				    NULL};
	struct sigv4_scope scope = {"us-east-1", "ec2", 1795694400};
	struct sigv4_signer *s = sigv4_signer_new();
	struct sigv4_out out;
	sigv4_out_init(&out);
	int n = 300000;
	double t0 = thread_cpu_s();
	for (int i = 0; i < n; i++)
		sigv4_sign(s, &creds, &scope, &req, &out);
	double dt = thread_cpu_s() - t0;
	printf("| SigV4 signatures per second, 500-byte EC2 body, one core | %.0f /s | >= 200000 "
	       "/s |\n",
	       n / dt);
	printf("| SigV4 CPU per signature | %.2f us | |\n", dt / n * 1e6);
	sigv4_out_cleanup(&out);
	sigv4_signer_free(s);
}

static char *answer;
static size_t answer_len;

static enum MHD_Result respond(void *cls, struct MHD_Connection *conn, const char *url,
			       const char *method, const char *version, const char *upload,
			       size_t *upload_size, void **con_cls)
{
	(void)cls;
	(void)url;
	(void)method;
	(void)version;
	(void)upload;
	if (*con_cls == NULL) {
		*con_cls = conn; /* first call: headers only */
		return MHD_YES;
	}
	if (*upload_size) {
		*upload_size = 0; /* body consumed */
		return MHD_YES;
	}
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(answer_len, answer, MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret = MHD_queue_response(conn, 200, r);
	MHD_destroy_response(r);
	return ret;
}

struct calls {
	int done, ok, decoded;
};

static void on_call(void *ud, const struct ec2_result *res)
{
	struct calls *c = ud;
	c->done++;
	if (res->rc == 0) {
		struct observed obs;
		observed_init(&obs);
		c->ok++;
		if (ec2_xml_decode(&ec2_xml_describe_vpcs, &obs, res->body, res->body_len, NULL,
				   NULL, 0) == 0 &&
		    obs.vpcs.n)
			c->decoded++;
		observed_cleanup(&obs);
	}
}

static void bench_client(const char *fixture)
{
	FILE *f = fopen(fixture, "rb");
	if (!f) {
		fprintf(stderr, "bench: %s missing\n", fixture);
		exit(1);
	}
	fseek(f, 0, SEEK_END);
	answer_len = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	answer = malloc(answer_len);
	if (fread(answer, 1, answer_len, f) != answer_len)
		exit(1);
	fclose(f);
	struct MHD_Daemon *d = MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, respond, NULL,
	    MHD_OPTION_SOCK_ADDR, NULL, MHD_OPTION_CONNECTION_LIMIT, 64u, MHD_OPTION_END);
	if (!d)
		exit(1);
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	char endpoint[64];
	snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%u", info->port);
	setenv("AWS_REGION", "us-east-1", 1);
	setenv("AWS_ENDPOINT_URL", endpoint, 1);
	setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);

	struct ev_loop *loop = ev_default_loop(0);
	struct http_client *http = http_client_new(loop);
	struct creds_cache *creds = creds_cache_new(&creds_env_default, "us-east-1");
	struct ec2_client_options opt = {.budget = 1.0, .bucket_scale = 1e6};
	struct ec2_client *ec2 = ec2_client_new(http, creds, &opt);
	struct ec2_target t;
	char err[256];
	ec2_target_from_env(&creds_env_default, &t, err, sizeof(err));
	const char params[] = "Filter.1.Name=vpc-id&Filter.1.Value.1=vpc-0123456789abcdef0";
	struct calls calls = {0};
	int n = 20000, window = 16, submitted = 0;
	double w0 = wall_s(), t0 = thread_cpu_s();
	while (calls.done < n) {
		while (submitted < n && submitted - calls.done < window) {
			ec2_call(ec2, &t, "DescribeVpcs", EC2_F_FILTERED | EC2_F_IDEMPOTENT, params,
				 sizeof(params) - 1, on_call, &calls);
			submitted++;
		}
		ev_run(loop, EVRUN_ONCE);
	}
	double cpu = thread_cpu_s() - t0, wall = wall_s() - w0;
	if (calls.ok != n || calls.decoded != n)
		fprintf(stderr, "bench: %d of %d calls ok, %d decoded\n", calls.ok, n,
			calls.decoded);
	printf("| Client CPU per EC2 call excluding network (sign, curl, loop, decode %zu-byte "
	       "DescribeVpcs) | %.1f us | < 50 us |\n",
	       answer_len, cpu / n * 1e6);
	printf("| EC2 calls per second through the client on loopback, 16 in flight | %.0f /s | "
	       "|\n",
	       n / wall);
	ec2_client_free(ec2);
	creds_cache_free(creds);
	http_client_free(http);
	MHD_stop_daemon(d);
	free(answer);
}

/* A VPC of realistic shape: 24 subnets (a /56, half numbered), 24 route tables, 30 security
 * groups of 8 rules, 4 ACLs of 12 entries, 60 instances. Returns the resource count. */
static size_t synthetic_vpc(struct observed *o)
{
	size_t n = 0;
	struct vpc *v = vec_push(&o->vpcs, sizeof(*v));
	snprintf(v->vpc_id, sizeof(v->vpc_id), "vpc-0123456789abcdef0");
	snprintf(v->cidr_block, sizeof(v->cidr_block), "10.0.0.0/16");
	struct cidr_assoc *a = vec_push(&v->ipv6_assocs, sizeof(*a));
	snprintf(a->cidr, sizeof(a->cidr), "2600:1f18:abcd:ef00::/56");
	snprintf(a->state, sizeof(a->state), "associated");
	n++;
	struct instance_type_info *t = vec_push(&o->instance_types, sizeof(*t));
	snprintf(t->instance_type, sizeof(t->instance_type), "m5.large");
	t->ipv6_supported = true;
	for (int i = 0; i < 24; i++, n += 2) {
		struct subnet *s = vec_push(&o->subnets, sizeof(*s));
		snprintf(s->subnet_id, sizeof(s->subnet_id), "subnet-%017d", i);
		snprintf(s->vpc_id, sizeof(s->vpc_id), "%s", v->vpc_id);
		snprintf(s->cidr_block, sizeof(s->cidr_block), "10.0.%d.0/24", i);
		if (i % 2) {
			struct cidr_assoc *sa = vec_push(&s->ipv6_assocs, sizeof(*sa));
			snprintf(sa->cidr, sizeof(sa->cidr), "2600:1f18:abcd:ef%02x::/64", i);
			snprintf(sa->state, sizeof(sa->state), "associated");
		}
		struct route_table *rt = vec_push(&o->route_tables, sizeof(*rt));
		snprintf(rt->route_table_id, sizeof(rt->route_table_id), "rtb-%017d", i);
		snprintf(rt->vpc_id, sizeof(rt->vpc_id), "%s", v->vpc_id);
		struct rt_assoc *ra = vec_push(&rt->assocs, sizeof(*ra));
		snprintf(ra->subnet_id, sizeof(ra->subnet_id), "%s", s->subnet_id);
		struct route *r = vec_push(&rt->routes, sizeof(*r));
		snprintf(r->dest_cidr, sizeof(r->dest_cidr), "0.0.0.0/0");
		snprintf(i % 3 ? r->gateway_id : r->nat_gateway_id, DS_ID_LEN, "%s",
			 i % 3 ? "igw-0123456789abcdef0" : "nat-0123456789abcdef0");
		snprintf(r->state, sizeof(r->state), "active");
	}
	for (int g = 0; g < 30; g++, n++) {
		struct security_group *sg = vec_push(&o->security_groups, sizeof(*sg));
		snprintf(sg->group_id, sizeof(sg->group_id), "sg-%017d", g);
		snprintf(sg->vpc_id, sizeof(sg->vpc_id), "%s", v->vpc_id);
		for (int k = 0; k < 8; k++, n++) {
			struct sg_permission *p = vec_push(&sg->ingress, sizeof(*p));
			snprintf(p->protocol, sizeof(p->protocol), "tcp");
			p->has_ports = true;
			p->from_port = p->to_port = 8000 + k;
			struct sg_range *r = vec_push(&p->ipv4_ranges, sizeof(*r));
			snprintf(r->cidr, sizeof(r->cidr), k % 2 ? "0.0.0.0/0" : "10.0.%d.0/24", k);
		}
	}
	for (int c = 0; c < 4; c++) {
		struct network_acl *acl = vec_push(&o->network_acls, sizeof(*acl));
		snprintf(acl->network_acl_id, sizeof(acl->network_acl_id), "acl-%017d", c);
		snprintf(acl->vpc_id, sizeof(acl->vpc_id), "%s", v->vpc_id);
		for (int k = 0; k < 12; k++, n++) {
			struct nacl_entry *e = vec_push(&acl->entries, sizeof(*e));
			e->rule_number = 100 + 10 * k;
			e->egress = k % 2;
			snprintf(e->protocol, sizeof(e->protocol), "6");
			snprintf(e->rule_action, sizeof(e->rule_action), k % 3 ? "allow" : "deny");
			snprintf(e->cidr_block, sizeof(e->cidr_block), "0.0.0.0/0");
			e->has_ports = true;
			e->port_from = e->port_to = 1000 + k;
		}
	}
	for (int i = 0; i < 60; i++, n++) {
		struct instance *in = vec_push(&o->instances, sizeof(*in));
		snprintf(in->instance_id, sizeof(in->instance_id), "i-%017d", i);
		snprintf(in->instance_type, sizeof(in->instance_type), "m5.large");
		snprintf(in->state, sizeof(in->state), "running");
		snprintf(in->vpc_id, sizeof(in->vpc_id), "%s", v->vpc_id);
		snprintf(in->subnet_id, sizeof(in->subnet_id), "subnet-%017d", i % 24);
		struct network_interface *eni = vec_push(&in->interfaces, sizeof(*eni));
		snprintf(eni->network_interface_id, sizeof(eni->network_interface_id), "eni-%017d",
			 i);
	}
	return n;
}

static void bench_planner(void)
{
	struct observed o;
	struct policy *pol = malloc(sizeof(*pol));
	observed_init(&o);
	policy_defaults(pol);
	size_t resources = synthetic_vpc(&o);
	int n = 2000;
	size_t actions = 0;
	double t0 = thread_cpu_s();
	for (int i = 0; i < n; i++) {
		struct plan p;
		plan_init(&p);
		struct plan_input in = {pol, &o, "vpc-0123456789abcdef0", 1795694400};
		plan_build(&in, &p);
		actions = p.actions.n;
		plan_cleanup(&p);
	}
	double dt = thread_cpu_s() - t0;
	printf(
	    "| Planner throughput, one core (a VPC of %zu resources, %zu actions planned) | %.0f "
	    "resources/s | >= 100000 resources/s |\n",
	    resources, actions, n * (double)resources / dt);
	observed_cleanup(&o);
	free(pol);
}

static long rss_kb(void)
{
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &resident) != 2) /* lint: allow (kernel format) */
			resident = 0;
		fclose(f);
	}
	return resident * 4;
}

/* Resident memory per tracked VPC: the work queue's item for 100,000 distinct keys. */
static void bench_memory(void)
{
	struct wq *q = wq_new(200000, 8, 8);
	long before = rss_kb();
	int n = 100000;
	for (int i = 0; i < n; i++) {
		struct work_key k;
		memset(&k, 0, sizeof(k));
		snprintf(k.account, sizeof(k.account), "%012d", i % 50);
		snprintf(k.region, sizeof(k.region), "us-east-1");
		snprintf(k.vpc_id, sizeof(k.vpc_id), "vpc-%017x", i);
		wq_add(q, &k, i % 8, (uint64_t)i + 1, 0);
	}
	long after = rss_kb();
	printf("| Resident memory per tracked VPC (work queue item with one pending offset ticket; "
	       "100000 VPCs) | %.0f bytes | |\n",
	       (after - before) * 1024.0 / n);
	wq_free(q);
}

/* BENCH_ONLY=sigv4|planner|memory|client runs one part (to profile it alone). */
int main(int argc, char **argv)
{
	const char *only = getenv("BENCH_ONLY");
	if (!only || !strcmp(only, "sigv4"))
		bench_sigv4();
	if (!only || !strcmp(only, "planner"))
		bench_planner();
	if (!only || !strcmp(only, "memory"))
		bench_memory();
	if (!only || !strcmp(only, "client"))
		bench_client(argc > 1 ? argv[1] : "tests/fixtures/xml/DescribeVpcs.xml");
	return 0;
}
