/* The credential chain against a fake environment and a fake transport: each provider, the
 * chain's order, refresh before expiry, and the AssumeRole cache. */
#include <ev.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../controller/creds.h"
#include "check.h"

/* ---- fakes ---- */

static const char *fake_vars[32][2];
static size_t n_vars;
static _Atomic time_t fake_time = 1780000000; /* 2026-05-28; the refresher reads it too */

static void env_reset(void)
{
	n_vars = 0;
}

static void env_set(const char *k, const char *v)
{
	fake_vars[n_vars][0] = k;
	fake_vars[n_vars][1] = v;
	n_vars++;
}

static const char *fake_getenv(const char *name)
{
	for (size_t i = 0; i < n_vars; i++)
		if (strcmp(fake_vars[i][0], name) == 0)
			return fake_vars[i][1];
	return NULL;
}

static time_t fake_now(void)
{
	return fake_time;
}

struct scripted {
	const char *method;
	const char *url_part;
	long status;
	const char *body;
};

static const struct scripted *script;
static size_t n_script;
static char log_buf[16384]; /* one line per request: METHOD URL | headers | body */
static int n_fetches;

static int fake_fetch(const struct http_request *req, struct http_response *resp)
{
	memset(resp, 0, sizeof(*resp));
	buf_init(&resp->body, 0);
	n_fetches++;
	size_t used = strlen(log_buf);
	snprintf(log_buf + used, sizeof(log_buf) - used, "%s %s |", req->method, req->url);
	for (size_t i = 0; i < req->n_headers; i++) {
		used = strlen(log_buf);
		snprintf(log_buf + used, sizeof(log_buf) - used, " %s;", req->headers[i]);
	}
	used = strlen(log_buf);
	snprintf(log_buf + used, sizeof(log_buf) - used, " | %.*s\n", (int)req->body_len,
		 req->body ? req->body : "");
	for (size_t i = 0; i < n_script; i++) {
		if (strcmp(script[i].method, req->method) == 0 &&
		    strstr(req->url, script[i].url_part)) {
			resp->status = script[i].status;
			buf_puts(&resp->body, script[i].body);
			return 0;
		}
	}
	snprintf(resp->transport_msg, sizeof(resp->transport_msg), "connection refused");
	resp->transport_error = DS_ENET;
	return DS_ENET;
}

static const struct creds_env fake_env = {fake_getenv, fake_fetch, fake_now};

static void reset(const struct scripted *s, size_t n)
{
	env_reset();
	env_set("HOME", "/nonexistent");
	script = s;
	n_script = n;
	log_buf[0] = '\0';
	n_fetches = 0;
}

#define STS_OK(result)                                                                         \
	"<" result "Response xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><" result     \
	"Result><Credentials><AccessKeyId>ASIASTS</AccessKeyId><SecretAccessKey>stssecret"     \
	"</SecretAccessKey><SessionToken>ststoken</SessionToken><Expiration>"                  \
	"2026-05-28T21:46:40Z</Expiration></Credentials></" result "Result><ResponseMetadata>" \
	"<RequestId>r1</RequestId></ResponseMetadata></" result "Response>"

static const char imds_json[] =
    "{\"Code\":\"Success\",\"AccessKeyId\":\"ASIAIMDS\",\"SecretAccessKey\":\"imdssecret\","
    "\"Token\":\"imdstoken\",\"Expiration\":\"2026-05-28T21:00:00Z\"}";

static void test_env_provider(void)
{
	struct aws_creds c;
	char err[256];
	reset(NULL, 0);
	env_set("AWS_ACCESS_KEY_ID", "AKIAENV");
	env_set("AWS_SECRET_ACCESS_KEY", "envsecret");
	env_set("AWS_SESSION_TOKEN", "envtoken");
	CHECK(creds_resolve(&fake_env, &c, err, sizeof(err)) == 0);
	CHECK_STR(c.access_key_id, "AKIAENV");
	CHECK_STR(c.session_token, "envtoken");
	CHECK_STR(c.source, "env");
	CHECK_INT(n_fetches, 0);

	reset(NULL, 0);
	env_set("AWS_ACCESS_KEY_ID", "AKIAENV");
	CHECK(creds_resolve(&fake_env, &c, err, sizeof(err)) == DS_ECREDS);
	CHECK(strstr(err, "AWS_SECRET_ACCESS_KEY") != NULL);
}

static void test_profile_provider(void)
{
	struct aws_creds c;
	char err[256];
	char dir[] = "/tmp/ds-creds-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char cpath[256], gpath[256];
	snprintf(cpath, sizeof(cpath), "%s/credentials", dir);
	snprintf(gpath, sizeof(gpath), "%s/config", dir);
	FILE *f = fopen(cpath, "w");
	fputs("[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = d\n\n"
	      "# ops account\n[ops]\naws_access_key_id=AKIAOPS\naws_secret_access_key = opssecret\n"
	      "aws_session_token = opstoken\n",
	      f);
	fclose(f);
	f = fopen(gpath, "w");
	fputs("[default]\nregion = eu-west-1\n[profile ops]\nregion = us-west-2\n", f);
	fclose(f);

	reset(NULL, 0);
	env_set("AWS_SHARED_CREDENTIALS_FILE", cpath);
	env_set("AWS_CONFIG_FILE", gpath);
	env_set("AWS_EC2_METADATA_DISABLED", "true");
	CHECK(creds_resolve(&fake_env, &c, err, sizeof(err)) == 0);
	CHECK_STR(c.access_key_id, "AKIADEFAULT");
	char region[64];
	CHECK_STR(creds_region(&fake_env, region, sizeof(region)), "eu-west-1");
	env_set("AWS_PROFILE", "ops");
	CHECK(creds_resolve(&fake_env, &c, err, sizeof(err)) == 0);
	CHECK_STR(c.access_key_id, "AKIAOPS");
	CHECK_STR(c.secret_access_key, "opssecret");
	CHECK_STR(c.session_token, "opstoken");
	CHECK_STR(c.source, "profile");
	CHECK_STR(creds_region(&fake_env, region, sizeof(region)), "us-west-2");
	env_set("AWS_REGION", "ap-south-1");
	CHECK_STR(creds_region(&fake_env, region, sizeof(region)), "ap-south-1");
	/* a profile AWS_PROFILE names that does not exist is an error, never a fall through to
	 * instance metadata (which might hold another account's role) */
	static const struct scripted imds[] = {
	    {"PUT", "/latest/api/token", 200, "tok"},
	    {"GET", "/security-credentials/", 200, "role"},
	};
	reset(imds, 2);
	env_set("AWS_SHARED_CREDENTIALS_FILE", cpath);
	env_set("AWS_CONFIG_FILE", gpath);
	env_set("AWS_PROFILE", "missing");
	CHECK(creds_resolve(&fake_env, &c, err, sizeof(err)) == DS_ECREDS);
	CHECK_MSG(strstr(err, "profile missing not found") != NULL, "%s", err);
	CHECK_INT(n_fetches, 0);
	remove(cpath);
	remove(gpath);
	rmdir(dir);
}

/* role_arn with source_profile (and its external_id), credential_source, credential_process,
 * and SSO profiles (a clear error). */
static void test_profile_roles_and_processes(void)
{
	struct aws_creds c;
	char err[512];
	char dir[] = "/tmp/ds-creds-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char cpath[256], gpath[256];
	snprintf(cpath, sizeof(cpath), "%s/credentials", dir);
	snprintf(gpath, sizeof(gpath), "%s/config", dir);
	FILE *f = fopen(cpath, "w");
	fputs("[base]\naws_access_key_id = AKIABASE\naws_secret_access_key = basesecret\n", f);
	fclose(f);
	f = fopen(gpath, "w");
	fputs("[profile member]\nrole_arn = arn:aws:iam::222222222222:role/dualstackd\n"
	      "source_profile = base\nexternal_id = ext-42\nrole_session_name = ops\n"
	      "[profile badsource]\nrole_arn = arn:aws:iam::333333333333:role/x\n"
	      "credential_source = Nowhere\n"
	      "[profile proc]\ncredential_process = printf "
	      "'{\"Version\":1,\"AccessKeyId\":\"ASIAPROC\",\"SecretAccessKey\":\"ps\","
	      "\"SessionToken\":\"pt\",\"Expiration\":\"2026-05-28T22:00:00Z\"}'\n"
	      "[profile procfail]\ncredential_process = false\n"
	      "[profile sso]\nsso_start_url = https://example.awsapps.com/start\n"
	      "sso_role_name = admin\n",
	      f);
	fclose(f);
	static const struct scripted sts[] = {{"POST", "sts.", 200, STS_OK("AssumeRole")}};
	reset(sts, 1);
	env_set("AWS_SHARED_CREDENTIALS_FILE", cpath);
	env_set("AWS_CONFIG_FILE", gpath);
	env_set("AWS_PROFILE", "member");
	CHECK_MSG(creds_resolve(&fake_env, &c, err, sizeof(err)) == 0, "%s", err);
	CHECK_STR(c.source, "profile-role");
	CHECK(strstr(log_buf, "RoleArn=arn%3Aaws%3Aiam%3A%3A222222222222%3Arole%2Fdualstackd"));
	CHECK(strstr(log_buf, "ExternalId=ext-42") && strstr(log_buf, "RoleSessionName=ops"));
	CHECK(strstr(log_buf, "Credential=AKIABASE/") != NULL); /* signed with the source's */
	reset(NULL, 0);
	env_set("AWS_SHARED_CREDENTIALS_FILE", cpath);
	env_set("AWS_CONFIG_FILE", gpath);
	env_set("AWS_PROFILE", "badsource");
	CHECK(creds_resolve(&fake_env, &c, err, sizeof(err)) == DS_ECREDS);
	CHECK_MSG(strstr(err, "credential_source Nowhere") != NULL, "%s", err);
	reset(NULL, 0);
	env_set("AWS_SHARED_CREDENTIALS_FILE", cpath);
	env_set("AWS_CONFIG_FILE", gpath);
	env_set("AWS_PROFILE", "proc");
	CHECK_MSG(creds_resolve(&fake_env, &c, err, sizeof(err)) == 0, "%s", err);
	CHECK_STR(c.access_key_id, "ASIAPROC");
	CHECK_STR(c.session_token, "pt");
	CHECK_STR(c.source, "process");
	CHECK(c.expires_at > 0);
	reset(NULL, 0);
	env_set("AWS_SHARED_CREDENTIALS_FILE", cpath);
	env_set("AWS_CONFIG_FILE", gpath);
	env_set("AWS_PROFILE", "procfail");
	CHECK(creds_resolve(&fake_env, &c, err, sizeof(err)) == DS_ECREDS);
	CHECK(strstr(err, "credential_process exited") != NULL);
	reset(NULL, 0);
	env_set("AWS_SHARED_CREDENTIALS_FILE", cpath);
	env_set("AWS_CONFIG_FILE", gpath);
	env_set("AWS_PROFILE", "sso");
	CHECK(creds_resolve(&fake_env, &c, err, sizeof(err)) == DS_ECREDS);
	CHECK_MSG(strstr(err, "IAM Identity Center (SSO)") != NULL, "%s", err);
	remove(cpath);
	remove(gpath);
	rmdir(dir);
}

/* AWS_CONTAINER_CREDENTIALS_FULL_URI: the SDKs' host rule. */
static void test_container_uri_rule(void)
{
	CHECK(container_uri_allowed("https://creds.example.com/x"));
	CHECK(container_uri_allowed("http://127.0.0.1:8080/creds"));
	CHECK(container_uri_allowed("http://127.9.9.9/creds"));
	CHECK(container_uri_allowed("http://localhost/creds"));
	CHECK(container_uri_allowed("http://169.254.170.2/v2/credentials/x"));
	CHECK(container_uri_allowed("http://169.254.170.23/v1/credentials"));
	CHECK(container_uri_allowed("http://[fd00:ec2::23]/v1/credentials"));
	CHECK(container_uri_allowed("http://[::1]:9/creds"));
	CHECK(!container_uri_allowed("http://evil.example/creds"));
	CHECK(!container_uri_allowed("http://169.254.169.254/latest"));
	CHECK(!container_uri_allowed("http://10.0.0.5/creds"));
	CHECK(!container_uri_allowed("http://127.0.0.1.evil.example/creds"));
	CHECK(!container_uri_allowed("ftp://127.0.0.1/creds"));
	struct aws_creds c;
	char err[512];
	reset(NULL, 0);
	env_set("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://evil.example/creds");
	env_set("AWS_EC2_METADATA_DISABLED", "true");
	CHECK(creds_resolve(&fake_env, &c, err, sizeof(err)) == DS_ECREDS);
	CHECK_INT(n_fetches, 0); /* never asked */
}

static void test_web_identity(void)
{
	static const struct scripted s[] = {
	    {"POST", "sts.", 200, STS_OK("AssumeRoleWithWebIdentity")},
	};
	struct aws_creds c;
	char err[256];
	char path[] = "/tmp/ds-wit-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	CHECK(write(fd, "eyJ.token.sig\n", 14) == 14);
	close(fd);
	reset(s, 1);
	env_set("AWS_WEB_IDENTITY_TOKEN_FILE", path);
	env_set("AWS_ROLE_ARN", "arn:aws:iam::111111111111:role/ctl");
	env_set("AWS_REGION", "eu-central-1");
	CHECK(creds_resolve(&fake_env, &c, err, sizeof(err)) == 0);
	CHECK_STR(c.access_key_id, "ASIASTS");
	CHECK_STR(c.session_token, "ststoken");
	CHECK_STR(c.source, "web-identity");
	CHECK_INT(c.expires_at, 1780004800);
	CHECK(strstr(log_buf, "https://sts.eu-central-1.amazonaws.com") != NULL);
	CHECK(strstr(log_buf, "Action=AssumeRoleWithWebIdentity") != NULL);
	CHECK(strstr(log_buf, "WebIdentityToken=eyJ.token.sig |") == NULL); /* trimmed */
	CHECK(strstr(log_buf, "WebIdentityToken=eyJ.token.sig\n") != NULL);
	CHECK(strstr(log_buf, "Authorization") == NULL); /* unsigned */
	remove(path);
}

static void test_container(void)
{
	static const struct scripted s[] = {{"GET", "169.254.170.2/v2/creds", 200, imds_json}};
	struct aws_creds c;
	char err[256];
	reset(s, 1);
	env_set("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/creds");
	env_set("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer xyz");
	CHECK(creds_resolve(&fake_env, &c, err, sizeof(err)) == 0);
	CHECK_STR(c.source, "container");
	CHECK_STR(c.access_key_id, "ASIAIMDS");
	CHECK(strstr(log_buf, "Authorization: Bearer xyz;") != NULL);
}

static void test_imds_v2(void)
{
	static const struct scripted s[] = {
	    {"PUT", "/latest/api/token", 200, "TOKEN123"},
	    {"GET", "/security-credentials/ctl-role", 200, imds_json},
	    {"GET", "/security-credentials/", 200, "ctl-role\n"},
	};
	struct aws_creds c;
	char err[256];
	reset(s, 3);
	env_set("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1");
	CHECK(creds_resolve(&fake_env, &c, err, sizeof(err)) == 0);
	CHECK_STR(c.source, "imds");
	CHECK_STR(c.session_token, "imdstoken");
	CHECK_INT(n_fetches, 3);
	/* token first, then every read carries it */
	CHECK(strncmp(log_buf, "PUT http://127.0.0.1:1/latest/api/token", 39) == 0);
	CHECK(strstr(log_buf, "X-aws-ec2-metadata-token-ttl-seconds: 21600") != NULL);
	const char *second = strchr(log_buf, '\n') + 1;
	CHECK(strstr(second, "X-aws-ec2-metadata-token: TOKEN123;") != NULL);

	/* no metadata service: the chain ends with a clear error */
	reset(NULL, 0);
	CHECK(creds_resolve(&fake_env, &c, err, sizeof(err)) == DS_ECREDS);
	CHECK(strstr(err, "instance metadata") != NULL);
}

static void test_cache_refresh_and_assume_role(void)
{
	static const struct scripted s[] = {
	    {"PUT", "/latest/api/token", 200, "T"},
	    {"GET", "/security-credentials/r", 200, imds_json},
	    {"GET", "/security-credentials/", 200, "r"},
	    {"POST", "sts.", 200, STS_OK("AssumeRole")},
	};
	struct aws_creds c;
	char err[256];
	reset(s, 4);
	struct creds_cache *cache = creds_cache_new(&fake_env, "us-east-1");
	CHECK(creds_cache_base(cache, &c, err, sizeof(err)) == 0);
	CHECK_INT(n_fetches, 3);
	CHECK(creds_cache_base(cache, &c, err, sizeof(err)) == 0);
	CHECK_INT(n_fetches, 3);      /* cached */
	fake_time = 1780002000 - 100; /* IMDS creds expire at 21:00 = 1780002000 */
	CHECK(creds_cache_base(cache, &c, err, sizeof(err)) == 0);
	CHECK_INT(n_fetches, 6); /* refreshed inside the margin */

	fake_time = 1780000000;
	log_buf[0] = '\0';
	int before = n_fetches;
	CHECK(creds_cache_role(cache, "arn:aws:iam::222222222222:role/dualstackd", &c, err,
			       sizeof(err)) == 0);
	CHECK_STR(c.access_key_id, "ASIASTS");
	CHECK_INT(n_fetches, before + 1);
	CHECK(strstr(log_buf, "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A"
			      "222222222222%3Arole%2Fdualstackd") != NULL);
	CHECK(strstr(log_buf, "Authorization: AWS4-HMAC-SHA256 Credential=ASIAIMDS/") != NULL);
	CHECK(strstr(log_buf, "X-Amz-Security-Token: imdstoken") != NULL);
	CHECK(creds_cache_role(cache, "arn:aws:iam::222222222222:role/dualstackd", &c, err,
			       sizeof(err)) == 0);
	CHECK_INT(n_fetches, before + 1); /* cached */
	creds_cache_free(cache);
}

/* ---- the refresher: the chain walked on its own thread ---- */

/* A container endpoint that answers from a list, one answer per request (the last repeats),
 * and counts requests made on the test's (the loop's) thread. */
static const struct scripted *answers;
static size_t n_answers;
static atomic_size_t n_asked;
static atomic_int asked_on_loop;
static pthread_t loop_thread;

static int seq_fetch(const struct http_request *req, struct http_response *resp)
{
	memset(resp, 0, sizeof(*resp));
	buf_init(&resp->body, 0);
	if (pthread_equal(pthread_self(), loop_thread))
		asked_on_loop++;
	size_t i = n_asked++;
	const struct scripted *a = &answers[i < n_answers ? i : n_answers - 1];
	(void)req;
	resp->status = a->status;
	buf_puts(&resp->body, a->body);
	return 0;
}

static const struct creds_env seq_env = {fake_getenv, seq_fetch, fake_now};

struct got {
	int calls, rc;
	char key[128], err[512];
};

static void on_creds(void *ud, int rc, const struct aws_creds *creds, const char *err)
{
	struct got *g = ud;
	g->calls++;
	g->rc = rc;
	snprintf(g->key, sizeof(g->key), "%s", creds ? creds->access_key_id : "");
	snprintf(g->err, sizeof(g->err), "%s", err ? err : "");
}

/* Asks for the base credentials as an EC2 call does, and runs the loop until they come (5 s
 * at most: the refresher answers in microseconds here). */
static struct got ask(struct creds_cache *cache, struct ev_loop *loop)
{
	struct got g = {0};
	CHECK(creds_cache_role_async(cache, NULL, NULL, on_creds, &g) == 0);
	for (int i = 0; i < 5000 && !g.calls; i++) {
		ev_run(loop, EVRUN_NOWAIT);
		usleep(1000);
	}
	CHECK_INT(g.calls, 1);
	return g;
}

static void wait_attempts(struct creds_cache *cache, unsigned long n)
{
	struct creds_refresh_stats st;
	for (int i = 0; i < 5000; i++) {
		creds_cache_refresh_stats(cache, &st);
		if (st.attempts >= n)
			return;
		usleep(1000);
	}
	CHECK(st.attempts >= n);
}

#define CONTAINER_CREDS(key, expiration)                                          \
	"{\"AccessKeyId\":\"" key "\",\"SecretAccessKey\":\"s\",\"Token\":\"t\"," \
	"\"Expiration\":\"" expiration "\"}"

static void test_refresher_keeps_the_loop_free(void)
{
	/* 1780002000 = 21:00, 1780009200 = 23:00 */
	static const struct scripted seq[] = {
	    {"GET", "", 200, CONTAINER_CREDS("ASIAFIRST", "2026-05-28T21:00:00Z")},
	    {"GET", "", 200, CONTAINER_CREDS("ASIANEXT", "2026-05-28T23:00:00Z")},
	    {"GET", "", 500, "endpoint down"},
	    {"GET", "", 500, "endpoint down"},
	    {"GET", "", 500, "endpoint down"},
	    {"GET", "", 200, CONTAINER_CREDS("ASIALATER", "2026-05-29T23:00:00Z")},
	};
	answers = seq;
	n_answers = sizeof(seq) / sizeof(seq[0]);
	n_asked = 0;
	asked_on_loop = 0;
	loop_thread = pthread_self();
	reset(NULL, 0);
	env_set("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/creds");
	fake_time = 1780000000;
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct creds_cache *cache = creds_cache_new(&seq_env, "us-east-1");
	CHECK(creds_cache_refresh_in_background(cache, loop) == 0);

	/* start-up: the one wait, for the first attempt */
	struct aws_creds c;
	char err[256];
	CHECK(creds_cache_base(cache, &c, err, sizeof(err)) == 0);
	CHECK_STR(c.access_key_id, "ASIAFIRST");
	CHECK_INT(ask(cache, loop).calls, 1); /* cached: no request */
	CHECK_INT((int)n_asked, 1);

	/* inside the margin: the old ones serve at once while the refresher fetches new ones */
	fake_time = 1780002000 - 200;
	struct got g = ask(cache, loop);
	CHECK_STR(g.key, "ASIAFIRST");
	wait_attempts(cache, 2);
	CHECK_STR(ask(cache, loop).key, "ASIANEXT");

	/* the endpoint fails: unexpired credentials keep serving, the failure is counted */
	fake_time = 1780009200 - 200;
	CHECK_STR(ask(cache, loop).key, "ASIANEXT");
	wait_attempts(cache, 3);
	struct creds_refresh_stats st;
	creds_cache_refresh_stats(cache, &st);
	CHECK(st.failing && st.failures == 1);
	fake_time = 1780009200 - 30; /* too close to expiry to sign with: wait for an attempt */
	g = ask(cache, loop);
	CHECK(g.rc == 0 && !strcmp(g.key, "ASIANEXT")); /* it failed; unexpired beats none */
	fake_time = 1780009200 + 10; /* expired, and the next attempt fails: a clear error */
	g = ask(cache, loop);
	CHECK(g.rc != 0 && !g.key[0] && strstr(g.err, "500") != NULL);
	creds_cache_refresh_stats(cache, &st);
	CHECK_INT((int)st.failures, 3);
	/* inside the backoff: no waiting it out, the last error at once */
	g = (struct got){0};
	CHECK(creds_cache_role_async(cache, NULL, NULL, on_creds, &g) == 0);
	CHECK(g.calls == 1 && g.rc != 0);
	CHECK_INT((int)n_asked, 5);

	/* after the backoff the endpoint is back */
	fake_time += CREDS_RETRY_MAX_S;
	CHECK_STR(ask(cache, loop).key, "ASIALATER");
	creds_cache_refresh_stats(cache, &st);
	CHECK(!st.failing);

	/* EC2 said ExpiredToken: refreshed before the next use */
	fake_time += CREDS_RETRY_MAX_S;
	size_t before = n_asked;
	creds_cache_invalidate(cache, NULL);
	CHECK_STR(ask(cache, loop).key, "ASIALATER");
	CHECK_INT((int)(n_asked - before), 1);

	CHECK_INT(asked_on_loop, 0); /* not one request blocked the loop */
	creds_cache_free(cache);
	ev_loop_destroy(loop);
	fake_time = 1780000000;
}

void test_creds(void)
{
	test_profile_roles_and_processes();
	test_container_uri_rule();
	CHECK_INT(creds_parse_iso8601("2026-05-28T21:46:40Z"), 1780004800);
	CHECK_INT(creds_parse_iso8601("2026-05-28T21:46:40.123Z"), 1780004800);
	CHECK_INT(creds_parse_iso8601("yesterday"), -1);
	test_env_provider();
	test_profile_provider();
	test_web_identity();
	test_container();
	test_imds_v2();
	test_cache_refresh_and_assume_role();
	test_refresher_keeps_the_loop_free();
}
