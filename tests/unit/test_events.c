/* Event decoders over every real-world sample (tests/fixtures/events, copied from
 * ../shared/events with their SOURCES.md): each gives the work keys in expected/<name>.json.
 * Negative cases: invalid JSON, oversized, wrong types, unknown shapes. */
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../handlers/event.h"
#include "../../handlers/json_arena.h"
#include "check.h"

/* Samples whose placeholders fail validation (SOURCES.md lists each quirk): they are
 * dead-lettered with the reason, never turned into work. */
static const char *const rejected_samples[] = {
    "cloudtrail-AttachInternetGateway-1.json",	       /* "vpc-1" */
    "cloudtrail-AuthorizeSecurityGroupEgress-1.json",  /* account "000000000" */
    "cloudtrail-AuthorizeSecurityGroupIngress-1.json", /* account "000000000" */
    "cloudtrail-CreateNetworkAclEntry-1.json",	       /* "acl-1111" */
    "cloudtrail-CreateRoute-1.json",		       /* "rtb-1" */
    "cloudtrail-ModifyInstanceAttribute-1.json",       /* region "ca-northsouth-2r" */
    "cloudtrail-StartInstances-2.json",		       /* region "ca-northsouth-2r" */
    "config-ci-Instance-2.json",		       /* account of 13 digits */
};

static bool expect_reject(const char *name)
{
	for (size_t i = 0; i < sizeof(rejected_samples) / sizeof(rejected_samples[0]); i++)
		if (!strcmp(rejected_samples[i], name))
			return true;
	return false;
}

static void run_sample(const char *name)
{
	char rel[512], path[1024];
	size_t len = 0;
	snprintf(rel, sizeof(rel), "events/%s", name);
	char *data = check_read_fixture(rel, &len);
	struct event_result *r = malloc(sizeof(*r));
	if (!data || !r)
		goto out;
	event_decode(data, len, r);
	if (expect_reject(name))
		CHECK_MSG(r->verdict == EVENT_REJECT && r->n_keys == 0, "%s not rejected", name);
	else
		CHECK_MSG(r->verdict != EVENT_REJECT, "%s rejected: %s", name, r->reason);
	cJSON *j = event_result_json(r);
	char *got = cJSON_Print(j);
	snprintf(path, sizeof(path), "%s/events/expected/%s", check_fixtures, name);
	if (getenv("DS_UPDATE_GOLDEN")) {
		FILE *f = fopen(path, "w");
		if (f) {
			fprintf(f, "%s\n", got);
			fclose(f);
		}
	}
	snprintf(rel, sizeof(rel), "events/expected/%s", name);
	char *want = check_read_fixture(rel, NULL);
	if (want) {
		size_t n = strlen(want);
		while (n && want[n - 1] == '\n')
			want[--n] = '\0';
		CHECK_MSG(!strcmp(got, want), "%s:\n got:  %s\n want: %s", name, got, want);
	}
	free(want);
	free(got);
	cJSON_Delete(j);
out:
	free(r);
	free(data);
}

static void test_samples(void)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/events", check_fixtures);
	DIR *d = opendir(path);
	CHECK(d != NULL);
	if (!d)
		return;
	struct dirent *e;
	int n = 0;
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		if (len > 5 && !strcmp(e->d_name + len - 5, ".json")) {
			run_sample(e->d_name);
			n++;
		}
	}
	closedir(d);
	CHECK(n >= 28);
}

static void test_rejects(void)
{
	static const struct {
		const char *text;
		const char *reason;
	} cases[] = {
	    {"{\"detail-type\": \"AWS API Call via CloudTrail\", \"detail\": ", "invalid JSON"},
	    {"[1, 2, 3]", "not a JSON object"},
	    {"{\"hello\": \"world\"}", "unrecognised event shape"},
	    {"{\"detail-type\": \"EC2 Instance State-change Notification\", \"detail\": \"x\"}",
	     "without a detail object"},
	    {"{\"detail-type\": \"EC2 Instance State-change Notification\", \"account\": \"1\","
	     " \"region\": \"r\", \"detail\": {\"instance-id\": 7, \"state\": \"running\"}}",
	     "without instance-id"},
	    {"{\"Records\": []}", "empty Records list"},
	    {"{\"Records\": [{\"x\": 1}]}", "neither CloudTrail nor SNS"},
	    {"{\"eventName\": \"CreateVpc\", \"eventSource\": \"ec2.amazonaws.com\","
	     " \"responseElements\": {\"vpc\": {\"vpcId\": \"vpc-1\"}}}",
	     "without an account id"},
	    {"{\"Type\": \"Notification\", \"Message\": \"not json\"}", "Message is not JSON"},
	    {"{\"invokingEvent\": \"{\\\"configurationItem\\\": {\\\"resourceType\\\": 5}}\"}",
	     "without resourceType/resourceId"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct event_result r;
		event_decode(cases[i].text, strlen(cases[i].text), &r);
		CHECK_MSG(r.verdict == EVENT_REJECT, "case %zu not rejected (%s)", i, r.reason);
		CHECK_MSG(strstr(r.reason, cases[i].reason), "case %zu: %s", i, r.reason);
	}
	/* 5 MB: oversized, whatever it holds */
	size_t big = (size_t)5 << 20;
	char *p = malloc(big);
	memset(p, ' ', big);
	p[0] = '{';
	p[big - 1] = '}';
	struct event_result r;
	event_decode(p, big, &r);
	CHECK(r.verdict == EVENT_REJECT && strstr(r.reason, "oversized: 5242880 bytes"));
	free(p);
}

static void test_nothing_to_do(void)
{
	static const struct {
		const char *text;
		const char *reason;
	} cases[] = {
	    {"{\"eventName\": \"DescribeVpcs\", \"eventSource\": \"ec2.amazonaws.com\","
	     " \"awsRegion\": \"us-east-1\", \"recipientAccountId\": \"123456789012\"}",
	     "read-only call"},
	    {"{\"eventName\": \"CreateBucket\", \"eventSource\": \"s3.amazonaws.com\"}",
	     "not an EC2 call"},
	    {"{\"eventName\": \"CreateKeyPair\", \"eventSource\": \"ec2.amazonaws.com\","
	     " \"awsRegion\": \"us-east-1\", \"recipientAccountId\": \"123456789012\"}",
	     "does not change what dualstackd reconciles"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct event_result r;
		event_decode(cases[i].text, strlen(cases[i].text), &r);
		CHECK_MSG(r.verdict == EVENT_NONE && r.n_keys == 0, "case %zu: %d", i, r.verdict);
		CHECK_MSG(strstr(r.reason, cases[i].reason), "case %zu: %s", i, r.reason);
	}
	/* CreateTags on a subnet (an opt-out tag may have changed) -> resolve the subnet */
	const char *tags =
	    "{\"eventName\": \"CreateTags\", \"eventSource\": \"ec2.amazonaws.com\","
	    " \"awsRegion\": \"eu-west-1\", \"recipientAccountId\": \"123456789012\","
	    " \"requestParameters\": {\"resourcesSet\": {\"items\": [{\"resourceId\":"
	    " \"subnet-0abc1234\"}, {\"resourceId\": \"vol-1\"}]}}}";
	struct event_result r;
	event_decode(tags, strlen(tags), &r);
	CHECK(r.verdict == EVENT_WORK && r.n_keys == 1);
	CHECK_STR(r.keys[0].resource_id, "subnet-0abc1234");
	CHECK_STR(r.keys[0].region, "eu-west-1");
}

/* Hostile fields never become work: a region that is a host name, a wildcard id. */
static void test_hostile_fields(void)
{
	static const struct {
		const char *text;
		const char *reason;
	} cases[] = {
	    {"{\"eventName\": \"CreateVpc\", \"eventSource\": \"ec2.amazonaws.com\","
	     " \"awsRegion\": \"evil.example/x\", \"recipientAccountId\": \"123456789012\","
	     " \"responseElements\": {\"vpc\": {\"vpcId\": \"vpc-0a1b2c3d\"}}}",
	     "region \"evil.example/x\" is not an AWS region name"},
	    {"{\"eventName\": \"CreateVpc\", \"eventSource\": \"ec2.amazonaws.com\","
	     " \"awsRegion\": \"us-east-1\", \"recipientAccountId\": \"123456789012\","
	     " \"responseElements\": {\"vpc\": {\"vpcId\": \"vpc-*\"}}}",
	     "VPC id \"vpc-*\""},
	    {"{\"eventName\": \"CreateVpc\", \"eventSource\": \"ec2.amazonaws.com\","
	     " \"awsRegion\": \"us-east-1\", \"recipientAccountId\": \"12345678901x\","
	     " \"responseElements\": {\"vpc\": {\"vpcId\": \"vpc-0a1b2c3d\"}}}",
	     "account \"12345678901x\" is not 12 digits"},
	    {"{\"eventName\": \"CreateTags\", \"eventSource\": \"ec2.amazonaws.com\","
	     " \"awsRegion\": \"us-east-1\", \"recipientAccountId\": \"123456789012\","
	     " \"requestParameters\": {\"resourcesSet\": {\"items\": [{\"resourceId\":"
	     " \"subnet-0A1B2C3D\"}]}}}",
	     "resource id \"subnet-0A1B2C3D\""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct event_result r;
		event_decode(cases[i].text, strlen(cases[i].text), &r);
		CHECK_MSG(r.verdict == EVENT_REJECT && r.n_keys == 0, "case %zu: %d", i, r.verdict);
		CHECK_MSG(strstr(r.reason, cases[i].reason), "case %zu: %s", i, r.reason);
	}
	static const char *const good_regions[] = {"us-east-1", "ap-southeast-4", "us-gov-west-1",
						   "cn-northwest-1", "eu-central-2"};
	for (size_t i = 0; i < 5; i++)
		CHECK(wk_valid_region(good_regions[i]));
	static const char *const bad_regions[] = {"",		"us",	       "us-east",
						  "US-EAST-1",	"us-east-1.x", "us..east-1",
						  "-us-east-1", "us-east-1-"};
	for (size_t i = 0; i < 8; i++)
		CHECK_MSG(!wk_valid_region(bad_regions[i]), "%s", bad_regions[i]);
	CHECK(wk_valid_id("vpc-0a1b2c3d") && wk_valid_id("i-0123456789abcdef0"));
	CHECK(!wk_valid_id("vpc-0a1b2c3") && !wk_valid_id("i-0123456789abcdef") &&
	      !wk_valid_id("x-01234567"));
}

/* A Config notification with no envelope at all, oversized (a summary, no item): work for the
 * instance it names, like the enveloped forms. */
static void test_bare_config_notification(void)
{
	const char *bare =
	    "{\"configurationItemSummary\": {\"changeType\": \"UPDATE\","
	    " \"awsAccountId\": \"123456789012\", \"configurationItemStatus\": \"OK\","
	    " \"resourceType\": \"AWS::EC2::Instance\", \"resourceId\": \"i-0123456789abcdef0\","
	    " \"ARN\": \"arn:aws:ec2:us-west-2:123456789012:instance/i-0123456789abcdef0\","
	    " \"awsRegion\": \"us-west-2\"},"
	    " \"messageType\": \"OversizedConfigurationItemChangeNotification\"}";
	struct event_result r;
	event_decode(bare, strlen(bare), &r);
	CHECK_MSG(r.verdict == EVENT_WORK && r.n_keys == 1, "%d %s", r.verdict, r.reason);
	CHECK_STR(r.keys[0].resource_id, "i-0123456789abcdef0");
	CHECK_STR(r.keys[0].region, "us-west-2");
	CHECK_STR(r.keys[0].account, "123456789012");
	CHECK(strstr(r.source, "oversized") != NULL);
}

/* A message near the size limit: its tree outgrows the decode arena's first chunk (extra
 * chunks, freed at the end), and decodes the same the second time, when the first chunk is
 * reused. Valgrind checks the chunks and the objects made outside a decode. */
static void test_large_message_through_the_arena(void)
{
	static const char rec[] =
	    "{\"eventSource\":\"ec2.amazonaws.com\",\"eventName\":\"CreateSubnet\","
	    "\"awsRegion\":\"us-east-1\",\"recipientAccountId\":\"123456789012\","
	    "\"requestParameters\":{\"vpcId\":\"vpc-0123456789abcdef0\","
	    "\"cidrBlock\":\"10.0.1.0/24\",\"tagSpecificationSet\":{\"items\":[{\"tags\":"
	    "[{\"key\":\"a\",\"value\":\"b\"},{\"key\":\"c\",\"value\":\"d\"}]}]}},"
	    "\"responseElements\":{\"subnet\":{\"subnetId\":\"subnet-0123456789abcdef0\","
	    "\"vpcId\":\"vpc-0123456789abcdef0\"}}}";
	size_t n = (EVENT_MAX_BYTES - 64) / (sizeof(rec) + 1), len = 0;
	char *msg = malloc(EVENT_MAX_BYTES);
	if (!msg)
		return;
	len += (size_t)snprintf(msg, EVENT_MAX_BYTES, "{\"Records\":[");
	for (size_t i = 0; i < n; i++)
		len +=
		    (size_t)snprintf(msg + len, EVENT_MAX_BYTES - len, "%s%s", i ? "," : "", rec);
	len += (size_t)snprintf(msg + len, EVENT_MAX_BYTES - len, "]}");
	CHECK(len <= EVENT_MAX_BYTES && len > 200 * 1024);
	for (int round = 0; round < 2; round++) {
		struct event_result r;
		event_decode(msg, len, &r);
		CHECK_MSG(r.verdict == EVENT_WORK && r.n_keys == 1, "round %d: %s", round,
			  r.reason);
		CHECK_STR(r.keys[0].vpc_id, "vpc-0123456789abcdef0");
	}
	free(msg);
	/* a scope inside another belongs to it: what the outer one parsed outlives the inner end */
	json_arena_begin();
	cJSON *outer = cJSON_Parse("{\"kept\":\"until the outer end\"}");
	struct event_result inner;
	event_decode(rec, sizeof(rec) - 1, &inner);
	CHECK(inner.verdict == EVENT_WORK);
	CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(outer, "kept")));
	cJSON_Delete(outer);
	json_arena_end();
	cJSON *outside = cJSON_Parse("{\"made\":\"outside a decode\"}");
	CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(outside, "made")));
	cJSON_Delete(outside);
}

/* The work topic's records are checked like events: it can be written to by others. */
static void test_work_records(void)
{
	struct work_key k;
	char why[160];
	static const char good[] =
	    "{\"account\":\"123456789012\",\"region\":\"us-east-1\",\"vpc\":\"vpc-0a1b2c3d\"}";
	CHECK(work_record_decode(good, sizeof(good) - 1, &k, why, sizeof(why)) == 0);
	CHECK_STR(k.vpc_id, "vpc-0a1b2c3d");
	CHECK_STR(k.region, "us-east-1");
	static const char *const bad[] = {
	    "{\"account\":\"123456789012\",\"region\":\"us-east-1\"}",
	    "{\"account\":\"123456789012\",\"region\":\"evil.example/x\",\"vpc\":\"vpc-0a1b2c3d\"}",
	    "{\"account\":\"12\",\"region\":\"us-east-1\",\"vpc\":\"vpc-0a1b2c3d\"}",
	    "{\"account\":\"123456789012\",\"region\":\"us-east-1\",\"vpc\":\"vpc-*\"}",
	    "not json",
	    "",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		CHECK_MSG(work_record_decode(bad[i], strlen(bad[i]), &k, why, sizeof(why)) != 0,
			  "%s accepted", bad[i]);
		CHECK_MSG(why[0] != '\0', "%s: no reason", bad[i]);
	}
}

void test_events(void)
{
	test_work_records();
	test_large_message_through_the_arena();
	test_bare_config_notification();
	test_hostile_fields();
	test_samples();
	test_rejects();
	test_nothing_to_do();
}
