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

int main(int argc, char **argv)
{
	bench_sigv4();
	bench_client(argc > 1 ? argv[1] : "tests/fixtures/xml/DescribeVpcs.xml");
	return 0;
}
