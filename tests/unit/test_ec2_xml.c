/* The EC2 XML decoder, checked against botocore: each recorded moto answer is decoded, printed
 * as JSON with boto3's names, and compared with what botocore's own parser made of the same
 * bytes (tests/py/gen_xml_golden.py). Negative cases: malformed XML, long values, bad numbers.*/
#include <stdlib.h>
#include <string.h>

#include "../../controller/ec2_xml.h"
#include "../../controller/model_json.h"
#include "check.h"

static const struct {
	const char *name;
	const struct xml_schema *schema;
	size_t min_items; /* the fixture's items of its kind, so an empty decode cannot pass */
} decode_cases[] = {
    {"DescribeVpcs", &ec2_xml_describe_vpcs, 3},
    {"DescribeSubnets", &ec2_xml_describe_subnets, 9},
    {"DescribeRouteTables", &ec2_xml_describe_route_tables, 5},
    {"DescribeInternetGateways", &ec2_xml_describe_internet_gateways, 1},
    {"DescribeEgressOnlyInternetGateways", &ec2_xml_describe_egress_only_gateways, 1},
    {"DescribeSecurityGroups", &ec2_xml_describe_security_groups, 5},
    {"DescribeNetworkAcls", &ec2_xml_describe_network_acls, 4},
    {"DescribeInstances", &ec2_xml_describe_instances, 3},
    {"DescribeNetworkInterfaces", &ec2_xml_describe_network_interfaces, 4},
    {"DescribeInstanceTypes", &ec2_xml_describe_instance_types, 5},
};

/* moto prints subnet association states as {'State': 'x'}; we decode them to x. */
static int moto_state_equal(const char *ours, const char *theirs)
{
	const char *p = strstr(theirs, "'State': '");
	if (!p)
		return 0;
	p += strlen("'State': '");
	size_t n = strlen(ours);
	return strncmp(p, ours, n) == 0 && p[n] == '\'';
}

/* Every field we print must be in botocore's answer with the same value; a false bool, a zero
 * or an empty list may stand for an element the answer did not carry. */
static int subset_match(const cJSON *ours, const cJSON *theirs, char *path, size_t path_len)
{
	if (cJSON_IsObject(ours)) {
		if (!cJSON_IsObject(theirs))
			return 0;
		size_t base = strlen(path);
		for (const cJSON *c = ours->child; c; c = c->next) {
			const cJSON *t = cJSON_GetObjectItemCaseSensitive(theirs, c->string);
			snprintf(path + base, path_len - base, ".%s", c->string);
			if (!t) {
				if (cJSON_IsFalse(c) ||
				    (cJSON_IsNumber(c) && c->valuedouble == 0) ||
				    (cJSON_IsArray(c) && !c->child))
					continue;
				return 0;
			}
			if (!subset_match(c, t, path, path_len))
				return 0;
		}
		path[base] = '\0';
		return 1;
	}
	if (cJSON_IsArray(ours)) {
		if (!cJSON_IsArray(theirs) ||
		    cJSON_GetArraySize(ours) != cJSON_GetArraySize(theirs))
			return 0;
		const cJSON *t = theirs->child;
		for (const cJSON *c = ours->child; c; c = c->next, t = t->next)
			if (!subset_match(c, t, path, path_len))
				return 0;
		return 1;
	}
	if (cJSON_IsString(ours))
		return cJSON_IsString(theirs) &&
		       (strcmp(ours->valuestring, theirs->valuestring) == 0 ||
			moto_state_equal(ours->valuestring, theirs->valuestring));
	if (cJSON_IsNumber(ours))
		return cJSON_IsNumber(theirs) && ours->valuedouble == theirs->valuedouble;
	if (cJSON_IsBool(ours))
		return cJSON_IsBool(theirs) && cJSON_IsTrue(ours) == cJSON_IsTrue(theirs);
	return 0;
}

static size_t count_items(const struct observed *o)
{
	return o->vpcs.n + o->subnets.n + o->route_tables.n + o->internet_gateways.n +
	       o->egress_only_gateways.n + o->security_groups.n + o->network_acls.n +
	       o->instances.n + o->interfaces.n + o->instance_types.n;
}

static void test_decode_matches_botocore(void)
{
	for (size_t i = 0; i < sizeof(decode_cases) / sizeof(decode_cases[0]); i++) {
		char rel[256], err[256], path[1024] = "";
		size_t len = 0;
		snprintf(rel, sizeof(rel), "xml/%s.xml", decode_cases[i].name);
		char *xml = check_read_fixture(rel, &len);
		snprintf(rel, sizeof(rel), "xml/%s.json", decode_cases[i].name);
		char *golden = check_read_fixture(rel, NULL);
		struct observed obs;
		struct ec2_meta meta;
		observed_init(&obs);
		if (xml && golden) {
			int rc = ec2_xml_decode(decode_cases[i].schema, &obs, xml, len, &meta, err,
						sizeof(err));
			CHECK_MSG(rc == 0, "%s: decode failed: %s", decode_cases[i].name, err);
			CHECK_MSG(count_items(&obs) >= decode_cases[i].min_items,
				  "%s: %zu items decoded", decode_cases[i].name, count_items(&obs));
			CHECK_MSG(meta.request_id[0] != '\0', "%s: no requestId",
				  decode_cases[i].name);
			cJSON *ours = model_json(decode_cases[i].schema, &obs);
			cJSON *theirs = cJSON_Parse(golden);
			int ok = subset_match(ours, theirs, path, sizeof(path));
			if (!ok) {
				char *s = cJSON_Print(ours);
				fprintf(stderr, "%s: differs from botocore at %s\n",
					decode_cases[i].name, path);
				free(s);
			}
			CHECK(ok);
			cJSON_Delete(ours);
			cJSON_Delete(theirs);
		}
		observed_cleanup(&obs);
		free(xml);
		free(golden);
	}
}

static void test_decoded_values(void)
{
	/* A few values the planner depends on, checked directly. */
	size_t len;
	char *xml = check_read_fixture("xml/DescribeInstances.xml", &len);
	struct observed obs;
	observed_init(&obs);
	if (xml &&
	    ec2_xml_decode(&ec2_xml_describe_instances, &obs, xml, len, NULL, NULL, 0) == 0) {
		int with_v6 = 0;
		for (size_t i = 0; i < obs.instances.n; i++) {
			struct instance *in = &obs.instances.v[i];
			CHECK(in->interfaces.n >= 1);
			CHECK_STR(in->root_device_type, "ebs");
			CHECK(in->block_devices.n >= 1 && in->block_devices.v[0].ebs_volume_id[0]);
			if (in->interfaces.n && in->interfaces.v[0].ipv6_addresses.n)
				with_v6++;
		}
		CHECK_INT(with_v6, 1);
	} else {
		CHECK(0);
	}
	observed_cleanup(&obs);
	free(xml);

	xml = check_read_fixture("xml/DescribeSubnets.xml", &len);
	observed_init(&obs);
	if (xml && ec2_xml_decode(&ec2_xml_describe_subnets, &obs, xml, len, NULL, NULL, 0) == 0) {
		int associated = 0;
		for (size_t i = 0; i < obs.subnets.n; i++)
			for (size_t k = 0; k < obs.subnets.v[i].ipv6_assocs.n; k++)
				associated += strcmp(obs.subnets.v[i].ipv6_assocs.v[k].state,
						     "associated") == 0;
		CHECK_INT(associated, 1);
	} else {
		CHECK(0);
	}
	observed_cleanup(&obs);
	free(xml);
}

static void test_decode_rejects(void)
{
	static const struct {
		const char *xml;
		int rc;
	} bad[] = {
	    {"<DescribeVpcsResponse><vpcSet><item><vpcId>vpc-1</vpcId></item>", DS_EPARSE},
	    {"not xml at all", DS_EPARSE},
	    {"<DescribeVpcsResponse><vpcSet><item><isDefault>yes</isDefault></item></vpcSet>"
	     "</DescribeVpcsResponse>",
	     DS_EPARSE},
	    {"<DescribeVpcsResponse><vpcSet><item><vpcId>"
	     "vpc-0123456789012345678901234567890123456789012345678901234567890123456789"
	     "</vpcId></item></vpcSet></DescribeVpcsResponse>",
	     DS_ETOOBIG},
	    {"<DescribeNetworkAclsResponse><networkAclSet><item><entrySet><item><ruleNumber>1x"
	     "</ruleNumber></item></entrySet></item></networkAclSet></DescribeNetworkAclsResponse>",
	     DS_EPARSE},
	};
	const struct xml_schema *schemas[] = {&ec2_xml_describe_vpcs, &ec2_xml_describe_vpcs,
					      &ec2_xml_describe_vpcs, &ec2_xml_describe_vpcs,
					      &ec2_xml_describe_network_acls};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct observed obs;
		char err[256];
		observed_init(&obs);
		int rc = ec2_xml_decode(schemas[i], &obs, bad[i].xml, strlen(bad[i].xml), NULL, err,
					sizeof(err));
		CHECK_MSG(rc == bad[i].rc, "bad[%zu]: rc %d want %d (%s)", i, rc, bad[i].rc, err);
		CHECK_MSG(err[0] != '\0', "bad[%zu]: no message", i);
		observed_cleanup(&obs);
	}
}

static void test_error_documents(void)
{
	static const struct {
		const char *file;
		int status;
		const char *code;
		const char *request_id;
		enum ec2_class cls;
	} cases[] = {
	    {"errors/ec2-throttled.xml", 503, "RequestLimitExceeded",
	     "5b3b5c9e-1f0e-4c3b-9d3e-0a2f7f1e2a11", EC2_THROTTLED},
	    {"errors/ec2-duplicate.xml", 400, "InvalidPermission.Duplicate",
	     "0d1b3c4e-aaaa-bbbb-cccc-ddddeeeeffff", EC2_DUPLICATE},
	    {"errors/ec2-notfound.xml", 400, "InvalidVpcID.NotFound", "r-1", EC2_NOT_FOUND},
	    {"errors/ec2-state.xml", 400, "IncorrectInstanceState", "r-2", EC2_STATE},
	    {"errors/moto-authfailure.xml", 401, "AuthFailure",
	     "7a62c49f-347e-4fc4-9331-6e8eEXAMPLE", EC2_FATAL},
	    {"errors/sts-error.xml", 403, "AccessDenied", "c6104cbe-af31-11e0-8154-cbc7ccf896c7",
	     EC2_FATAL},
	    {"errors/html-500.html", 500, "HttpStatus500", "", EC2_TRANSIENT},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = 0;
		char *body = check_read_fixture(cases[i].file, &len);
		struct ec2_error e;
		ec2_xml_decode_error(cases[i].status, body, len, &e);
		CHECK_STR(e.code, cases[i].code);
		CHECK_STR(e.request_id, cases[i].request_id);
		CHECK_MSG(e.cls == cases[i].cls, "%s: class %s", cases[i].file,
			  ec2_class_name(e.cls));
		CHECK(e.message[0] != '\0');
		CHECK_INT(e.http_status, cases[i].status);
		free(body);
	}
	struct ec2_error e;
	ec2_xml_decode_error(502, "", 0, &e);
	CHECK_STR(e.code, "HttpStatus502");
	CHECK(e.cls == EC2_TRANSIENT);
	ec2_xml_decode_error(400,
			     "<Response><Errors><Error><Code>InvalidParameterValue</Code>"
			     "</Error></Errors></Response>",
			     83, &e);
	CHECK(e.cls == EC2_FATAL);
}

void test_ec2_xml(void)
{
	test_decode_matches_botocore();
	test_decoded_values();
	test_decode_rejects();
	test_error_documents();
}
