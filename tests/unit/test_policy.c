/* Policy parsing and validation: the canonical example in JSON and YAML gives the same policy;
 * every bad value is reported with file, path and what was expected. */
#include <stdlib.h>
#include <string.h>

#include "../../reconcile/policy.h"
#include "check.h"

static const char canonical_json[] =
    "{\"mode\":\"enforce\",\"scope\":{\"accounts\":[\"123456789012\"],\"regions\":[\"us-east-1\"],"
    "\"vpcs\":[],\"exclude_tags\":{\"dualstack:opt-out\":\"true\"}},"
    "\"subnets\":{\"index\":\"lowest-free\",\"assign_ipv6_on_create\":true},"
    "\"routes\":{\"enabled\":true},\"security_groups\":{\"enabled\":true,\"cidr_map\":"
    "{\"198.51.100.0/24\":\"2001:db8:1234::/"
    "48\"}},\"network_acls\":{\"enabled\":true,\"offset\":1},"
    "\"instances\":{\"resize\":\"always\",\"type_map\":{\"m3.large\":\"m4.large\"},"
    "\"maintenance_window\":null,\"max_concurrent_stops\":2,\"allow_instance_store_loss\":false,"
    "\"assign_ipv6\":true},\"guest_config\":\"off\",\"api_budget\":0.5,"
    "\"assume_role\":\"arn:aws:iam::{account}:role/dualstackd\"}";

static const char canonical_yaml[] = "mode: enforce\n"
				     "scope:\n"
				     "  accounts: ['123456789012']\n"
				     "  regions: [us-east-1]\n"
				     "  vpcs: []\n"
				     "  exclude_tags: {\"dualstack:opt-out\": \"true\"}\n"
				     "subnets: {index: lowest-free, assign_ipv6_on_create: true}\n"
				     "routes: {enabled: true}\n"
				     "security_groups:\n"
				     "  enabled: true\n"
				     "  cidr_map:\n"
				     "    198.51.100.0/24: 2001:db8:1234::/48\n"
				     "network_acls: {enabled: true, offset: 1}\n"
				     "instances:\n"
				     "  resize: always\n"
				     "  type_map: {m3.large: m4.large}\n"
				     "  maintenance_window: null\n"
				     "  max_concurrent_stops: 2\n"
				     "  allow_instance_store_loss: false\n"
				     "  assign_ipv6: true\n"
				     "guest_config: \"off\"\n"
				     "api_budget: 0.5\n"
				     "assume_role: arn:aws:iam::{account}:role/dualstackd\n";

static void test_canonical(void)
{
	struct policy *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
	struct buf err;
	buf_init(&err, 0);
	CHECK(policy_parse("p.json", canonical_json, strlen(canonical_json), a, &err) == 0);
	CHECK_MSG(policy_parse("p.yaml", canonical_yaml, strlen(canonical_yaml), b, &err) == 0,
		  "%s", err.data);
	CHECK(memcmp(a, b, sizeof(*a)) == 0);
	CHECK(a->resize == RESIZE_ALWAYS && a->n_type_map == 1 && a->max_concurrent_stops == 2);
	CHECK_STR(a->cidr_map[0].ipv6, "2001:db8:1234::/48");
	CHECK(a->api_budget == 0.5 && a->nacl_offset == 1 && !a->maintenance_window.set);
	char arn[256];
	policy_role_arn(a, "210987654321", arn, sizeof(arn));
	CHECK_STR(arn, "arn:aws:iam::210987654321:role/dualstackd");
	CHECK(policy_account_in_scope(a, "123456789012") && !policy_account_in_scope(a, "1"));
	CHECK(policy_region_in_scope(a, "us-east-1") && !policy_region_in_scope(a, "eu-west-1"));
	buf_cleanup(&err);
	free(a);
	free(b);
}

static void test_errors(void)
{
	static const struct {
		const char *text;
		const char *want; /* a substring of the error output */
	} cases[] = {
	    {"{\"mode\":\"yolo\"}",
	     "p.json: $.mode: expected \"enforce\" or \"dry-run\", got \"yolo\""},
	    {"{\"instances\":{\"resize\":\"sometimes\"}}",
	     "$.instances.resize: expected \"never\", \"opt-in-tag\" or \"always\""},
	    {"{\"instances\":{\"resise\":\"always\"}}",
	     "$.instances.resise: unknown key; expected"},
	    {"{\"security_groups\":{\"cidr_map\":{\"10.0.0.0/8\":\"::/0\"}}}",
	     "a specific IPv4 range never becomes ::/0"},
	    {"{\"security_groups\":{\"cidr_map\":{\"0.0.0.0/0\":\"2001:db8::/32\"}}}",
	     "0.0.0.0/0 always maps to ::/0"},
	    {"{\"security_groups\":{\"cidr_map\":{\"10.0.0.0/8\":\"banana\"}}}",
	     "expected an IPv6 CIDR, got \"banana\""},
	    {"{\"api_budget\":1.5}",
	     "$.api_budget: expected a fraction greater than 0 and at most 1, "
	     "got 1.5"},
	    {"{\"network_acls\":{\"offset\":0}}",
	     "$.network_acls.offset: expected an integer from 1"},
	    {"{\"scope\":{\"accounts\":[\"12345\"]}}",
	     "$.scope.accounts[0]: expected a 12-digit account id, got \"12345\""},
	    {"{\"scope\":{\"regions\":[\"mars\"]}}", "$.scope.regions[0]: expected a region name"},
	    {"{\"instances\":{\"maintenance_window\":\"sunday night\"}}",
	     "$.instances.maintenance_window: expected null or \"ddd:hh:mm-ddd:hh:mm\""},
	    {"{\"instances\":{\"max_concurrent_stops\":2.5}}",
	     "$.instances.max_concurrent_stops: expected an integer"},
	    {"{\"guest_config\":true}", "$.guest_config: expected \"off\" or \"ssm\", got true"},
	    {"{\"mode\":\"enforce\",", "p.json: line 1: invalid JSON"},
	    {"[1,2]", "$: expected an object"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct policy *p = malloc(sizeof(*p));
		struct buf err;
		buf_init(&err, 0);
		int rc = policy_parse("p.json", cases[i].text, strlen(cases[i].text), p, &err);
		CHECK_MSG(rc != 0, "case %zu accepted", i);
		CHECK_MSG(err.data && strstr(err.data, cases[i].want), "case %zu: got %s", i,
			  err.data ? err.data : "(nothing)");
		buf_cleanup(&err);
		free(p);
	}
	/* every error in one pass */
	struct policy *p = malloc(sizeof(*p));
	struct buf err;
	buf_init(&err, 0);
	const char *two = "{\"mode\":1,\"api_budget\":\"half\"}";
	CHECK(policy_parse("p.json", two, strlen(two), p, &err) != 0);
	CHECK(err.data && strstr(err.data, "$.mode") && strstr(err.data, "$.api_budget"));
	buf_reset(&err);
	const char *yaml = "mode: enforce\ninstances:\n  resize: [always\n";
	CHECK(policy_parse("p.yaml", yaml, strlen(yaml), p, &err) != 0);
	CHECK_MSG(err.data && strstr(err.data, "p.yaml: line"), "%s", err.data);
	buf_cleanup(&err);
	free(p);
}

static void test_window(void)
{
	struct policy *p = malloc(sizeof(*p));
	struct buf err;
	buf_init(&err, 0);
	const char *w = "{\"instances\":{\"maintenance_window\":\"sat:22:00-sun:02:00\"}}";
	CHECK(policy_parse("p.json", w, strlen(w), p, &err) == 0);
	CHECK(policy_in_window(p, 1795903200));	 /* Sat 2026-11-28 22:00 UTC */
	CHECK(policy_in_window(p, 1795912800));	 /* Sun 00:40 */
	CHECK(!policy_in_window(p, 1795920000)); /* Sun 02:40 */
	CHECK(!policy_in_window(p, 1795694400)); /* Thu 12:00 */
	buf_cleanup(&err);
	free(p);
}

void test_policy(void)
{
	test_canonical();
	test_errors();
	test_window();
}
