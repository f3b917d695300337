/* The planner, table-driven: each directory under tests/fixtures/plan is one case - recorded
 * moto XML of every read, the case's policy and time (case.json), and the expected plan text
 * (expected.txt). A new case is a new directory, not new code. DS_UPDATE_GOLDEN=1 writes
 * expected.txt for a new case, to be reviewed by hand before it is committed. */
#include <cJSON.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "../../controller/ec2_xml.h"
#include "../../reconcile/plan.h"
#include "check.h"

static const struct {
	const char *file;
	const struct xml_schema *schema;
} reads[] = {
    {"DescribeVpcs.xml", &ec2_xml_describe_vpcs},
    {"DescribeSubnets.xml", &ec2_xml_describe_subnets},
    {"DescribeRouteTables.xml", &ec2_xml_describe_route_tables},
    {"DescribeInternetGateways.xml", &ec2_xml_describe_internet_gateways},
    {"DescribeEgressOnlyInternetGateways.xml", &ec2_xml_describe_egress_only_gateways},
    {"DescribeSecurityGroups.xml", &ec2_xml_describe_security_groups},
    {"DescribeNetworkAcls.xml", &ec2_xml_describe_network_acls},
    {"DescribeInstances.xml", &ec2_xml_describe_instances},
    {"DescribeInstanceTypes.xml", &ec2_xml_describe_instance_types},
};

/* Loads a case's observed state, policy, VPC id and time. */
int plan_case_load(const char *dir, struct observed *obs, struct policy *pol, char *vpc,
		   size_t vpc_size, time_t *now);

int plan_case_load(const char *dir, struct observed *obs, struct policy *pol, char *vpc,
		   size_t vpc_size, time_t *now)
{
	char rel[512];
	int rc = 0;
	for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]) && !rc; i++) {
		size_t len;
		snprintf(rel, sizeof(rel), "plan/%s/%s", dir, reads[i].file);
		char *xml = check_read_fixture(rel, &len);
		char err[256];
		rc = xml ? ec2_xml_decode(reads[i].schema, obs, xml, len, NULL, err, sizeof(err))
			 : -1;
		CHECK_MSG(rc == 0, "%s: %s: %s", dir, reads[i].file, xml ? err : "missing");
		free(xml);
	}
	snprintf(rel, sizeof(rel), "plan/%s/case.json", dir);
	char *text = check_read_fixture(rel, NULL);
	cJSON *c = text ? cJSON_Parse(text) : NULL;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, "vpc");
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(c, "now");
	char *ptext = cJSON_Print(cJSON_GetObjectItemCaseSensitive(c, "policy"));
	struct buf errors;
	buf_init(&errors, 0);
	if (!cJSON_IsString(v) || !cJSON_IsNumber(t) || !ptext ||
	    policy_parse(rel, ptext, strlen(ptext), pol, &errors)) {
		CHECK_MSG(0, "%s: bad case.json: %s", dir, errors.data ? errors.data : "");
		rc = -1;
	} else {
		snprintf(vpc, vpc_size, "%s", v->valuestring);
		*now = (time_t)t->valuedouble;
	}
	buf_cleanup(&errors);
	free(ptext);
	cJSON_Delete(c);
	free(text);
	return rc;
}

static void run_case(const char *dir)
{
	struct observed obs;
	struct policy *pol = malloc(sizeof(*pol));
	struct plan plan;
	struct buf text;
	char vpc[64], rel[512];
	time_t now = 0;
	observed_init(&obs);
	plan_init(&plan);
	buf_init(&text, 0);
	if (!pol || plan_case_load(dir, &obs, pol, vpc, sizeof(vpc), &now))
		goto out;
	struct plan_input in = {pol, &obs, vpc, now};
	CHECK_MSG(plan_build(&in, &plan) == 0, "%s: plan_build failed", dir);
	plan_format_text(&plan, &text);
	snprintf(rel, sizeof(rel), "%s/plan/%s/expected.txt", check_fixtures, dir);
	if (getenv("DS_UPDATE_GOLDEN")) {
		FILE *f = fopen(rel, "w");
		if (f) {
			fputs(text.data, f);
			fclose(f);
		}
	}
	snprintf(rel, sizeof(rel), "plan/%s/expected.txt", dir);
	char *want = check_read_fixture(rel, NULL);
	if (want) {
		int same = strcmp(text.data, want) == 0;
		CHECK_MSG(same, "%s: plan differs\n--- got:\n%s--- want:\n%s", dir, text.data,
			  want);
	}
	free(want);
out:
	free(pol);
	buf_cleanup(&text);
	plan_cleanup(&plan);
	observed_cleanup(&obs);
}

void test_plan(void)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/plan", check_fixtures);
	DIR *d = opendir(path);
	CHECK_MSG(d != NULL, "no %s", path);
	if (!d)
		return;
	char *names[256];
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL && n < 256)
		if (e->d_name[0] != '.')
			names[n++] = strdup(e->d_name);
	closedir(d);
	CHECK(n >= 10);
	for (size_t i = 0; i < n; i++) {
		run_case(names[i]);
		free(names[i]);
	}
}
