/* AWS's SigV4 test suite, replayed case by case: canonical request, string to sign and
 * Authorization are each compared with the published files. One line per case. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../controller/sigv4.h"
#include "check.h"

static const struct {
	const char *dir;
	const char *signed_token; /* X-Amz-Security-Token added before signing, per the .creq */
} cases[] = {
    {"get-header-key-duplicate", NULL},
    {"get-header-value-multiline", NULL},
    {"get-header-value-order", NULL},
    {"get-header-value-trim", NULL},
    {"get-unreserved", NULL},
    {"get-utf8", NULL},
    {"get-vanilla", NULL},
    {"get-vanilla-empty-query-key", NULL},
    {"get-vanilla-query", NULL},
    {"get-vanilla-query-order-encoded", NULL},
    {"get-vanilla-query-order-key", NULL},
    {"get-vanilla-query-order-key-case", NULL},
    {"get-vanilla-query-order-value", NULL},
    {"get-vanilla-query-unreserved", NULL},
    {"get-vanilla-utf8-query", NULL},
    {"get-vanilla-with-session-token",
     "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"},
    {"normalize-path/get-relative", NULL},
    {"normalize-path/get-relative-relative", NULL},
    {"normalize-path/get-slash", NULL},
    {"normalize-path/get-slash-dot-slash", NULL},
    {"normalize-path/get-slash-pointless-dot", NULL},
    {"normalize-path/get-slashes", NULL},
    {"normalize-path/get-space", NULL},
    {"normalize-path/get-special-character", NULL},
    {"post-header-key-case", NULL},
    {"post-header-key-sort", NULL},
    {"post-header-value-case", NULL},
    {"post-sts-token/post-sts-header-after", NULL},
    {"post-sts-token/post-sts-header-before", NULL},
    {"post-vanilla", NULL},
    {"post-vanilla-empty-query-value", NULL},
    {"post-vanilla-query", NULL},
    {"post-x-www-form-urlencoded", NULL},
    {"post-x-www-form-urlencoded-parameters", NULL},
};

#define MAX_HDRS 32

/* A parsed .req: "METHOD URI HTTP/1.1", headers (continuation lines start with white space),
 * a blank line, the body. Strings point into the (modified) text. */
struct parsed_req {
	char *method, *path, *query, *body;
	struct sigv4_header h[MAX_HDRS];
	size_t nh;
};

static int parse_req(char *text, struct parsed_req *r)
{
	memset(r, 0, sizeof(*r));
	char *line_end = strchr(text, '\n');
	if (line_end)
		*line_end = '\0';
	char *sp1 = strchr(text, ' ');
	char *sp2 = strrchr(text, ' ');
	if (!sp1 || sp1 == sp2)
		return -1;
	*sp1 = '\0';
	*sp2 = '\0';
	r->method = text;
	r->path = sp1 + 1;
	char *q = strchr(r->path, '?');
	if (q) {
		*q = '\0';
		r->query = q + 1;
	}
	char *p = line_end ? line_end + 1 : NULL;
	while (p && *p && *p != '\n') {
		char *e = strchr(p, '\n');
		/* join continuation lines: the value keeps the newline, the signer folds it */
		while (e && (e[1] == ' ' || e[1] == '\t'))
			e = strchr(e + 1, '\n');
		if (e)
			*e = '\0';
		char *colon = strchr(p, ':');
		if (!colon || r->nh == MAX_HDRS)
			return -1;
		*colon = '\0';
		r->h[r->nh].name = p;
		r->h[r->nh].value = colon + 1;
		r->nh++;
		p = e ? e + 1 : NULL;
	}
	if (p && *p == '\n')
		r->body = p + 1;
	return 0;
}

static void strip_trailing_newline(char *s)
{
	size_t n = strlen(s);
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
}

static void run_case(const char *dir, const char *signed_token)
{
	const char *base = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
	char rel[512];
	char *req = NULL, *creq = NULL, *sts = NULL, *authz = NULL;
	struct sigv4_out out;
	struct sigv4_signer *signer = sigv4_signer_new();
	sigv4_out_init(&out);

	snprintf(rel, sizeof(rel), "sigv4-testsuite/%s/%s.req", dir, base);
	req = check_read_fixture(rel, NULL);
	snprintf(rel, sizeof(rel), "sigv4-testsuite/%s/%s.creq", dir, base);
	creq = check_read_fixture(rel, NULL);
	snprintf(rel, sizeof(rel), "sigv4-testsuite/%s/%s.sts", dir, base);
	sts = check_read_fixture(rel, NULL);
	snprintf(rel, sizeof(rel), "sigv4-testsuite/%s/%s.authz", dir, base);
	authz = check_read_fixture(rel, NULL);
	if (!req || !creq || !sts || !authz || !signer)
		goto out;
	strip_trailing_newline(creq);
	strip_trailing_newline(sts);
	strip_trailing_newline(authz);

	struct parsed_req r;
	CHECK_MSG(parse_req(req, &r) == 0, "%s: unparsable .req", dir);
	if (signed_token && r.nh < MAX_HDRS) {
		r.h[r.nh].name = "X-Amz-Security-Token";
		r.h[r.nh].value = signed_token;
		r.nh++;
	}
	struct sigv4_request sr = {
	    .method = r.method,
	    .path = r.path,
	    .query = r.query,
	    .headers = r.h,
	    .n_headers = r.nh,
	    .body = r.body,
	    .body_len = r.body ? strlen(r.body) : 0,
	};
	struct sigv4_creds creds = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
				    NULL};
	struct sigv4_scope scope = {"us-east-1", "service", 1440938160}; /* 20150830T123600Z */
	int rc = sigv4_sign(signer, &creds, &scope, &sr, &out);
	CHECK_MSG(rc == 0, "%s: sign failed %d", dir, rc);
	CHECK_MSG(strcmp(out.canonical_request.data, creq) == 0, "%s: creq\n got:\n%s\n want:\n%s",
		  dir, out.canonical_request.data, creq);
	CHECK_MSG(strcmp(out.string_to_sign.data, sts) == 0, "%s: sts\n got:\n%s\n want:\n%s", dir,
		  out.string_to_sign.data, sts);
	CHECK_MSG(strcmp(out.authorization.data, authz) == 0, "%s: authz\n got:  %s\n want: %s",
		  dir, out.authorization.data, authz);
out:
	free(req);
	free(creq);
	free(sts);
	free(authz);
	sigv4_out_cleanup(&out);
	sigv4_signer_free(signer);
}

static void test_key_cache_follows_inputs(void)
{
	/* The cached signing key must change with the secret, date, region and service. */
	struct sigv4_signer *s = sigv4_signer_new();
	struct sigv4_out a, b;
	sigv4_out_init(&a);
	sigv4_out_init(&b);
	struct sigv4_header h[] = {{"Host", "ec2.us-east-1.amazonaws.com"},
				   {"X-Amz-Date", "20150830T123600Z"}};
	struct sigv4_request req = {"POST", "/", NULL, h, 2, "Action=DescribeVpcs", 19};
	struct sigv4_creds c1 = {"AK", "secret-one", NULL}, c2 = {"AK", "secret-two", NULL};
	struct sigv4_scope sc = {"us-east-1", "ec2", 1440938160};
	CHECK(sigv4_sign(s, &c1, &sc, &req, &a) == 0);
	CHECK(sigv4_sign(s, &c2, &sc, &req, &b) == 0);
	CHECK(strcmp(a.authorization.data, b.authorization.data) != 0);
	struct sigv4_scope sc2 = {"eu-west-1", "ec2", 1440938160};
	CHECK(sigv4_sign(s, &c1, &sc2, &req, &b) == 0);
	CHECK(strcmp(a.authorization.data, b.authorization.data) != 0);
	CHECK(sigv4_sign(s, &c1, &sc, &req, &b) == 0);
	CHECK_STR(a.authorization.data, b.authorization.data);
	struct sigv4_creds none = {NULL, NULL, NULL};
	CHECK(sigv4_sign(s, &none, &sc, &req, &b) == DS_ECREDS);
	sigv4_out_cleanup(&a);
	sigv4_out_cleanup(&b);
	sigv4_signer_free(s);
}

/* X-Amz-Date is formatted by hand (strftime was a tenth of a signature's CPU): the same text. */
static void test_amz_date(void)
{
	static const struct {
		time_t when;
		const char *want;
	} dates[] = {{0, "19700101T000000Z"},
		     {1440938160, "20150830T123600Z"}, /* the test suite's date */
		     {951782399, "20000228T235959Z"},
		     {951868800, "20000301T000000Z"},
		     {4102444799, "20991231T235959Z"}};
	for (size_t i = 0; i < sizeof(dates) / sizeof(dates[0]); i++) {
		char got[17];
		sigv4_amz_date(dates[i].when, got);
		CHECK_STR(got, dates[i].want);
	}
}

void test_sigv4(void)
{
	test_amz_date();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(cases[i].dir, cases[i].signed_token);
	test_key_cache_follows_inputs();
}
