/* The planner, table-driven: each directory under tests/fixtures/plan is one case - recorded
 * moto XML of every read, the case's policy and time (case.json), and the expected plan text
 * (expected.txt). A new case is a new directory, not new code. DS_UPDATE_GOLDEN=1 writes
 * expected.txt for a new case, to be reviewed by hand before it is committed. */
#include <cJSON.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "../../controller/ec2_xml.h"
#include "../../reconcile/guest.h"
#include "../../reconcile/plan.h"
#include "../../reconcile/plan_internal.h"
#include "../../reconcile/progress.h"
#include "../../reconcile/reader.h"
#include "check.h"
#include "plan_case.h"

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

int plan_case_load_in(const char *root, const char *dir, struct observed *obs, struct policy *pol,
		      char *vpc, size_t vpc_size, time_t *now)
{
	char rel[512];
	int rc = 0;
	for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]) && !rc; i++) {
		size_t len;
		snprintf(rel, sizeof(rel), "%s/%s/%s", root, dir, reads[i].file);
		char *xml = check_read_fixture(rel, &len);
		char err[256];
		rc = xml ? ec2_xml_decode(reads[i].schema, obs, xml, len, NULL, err, sizeof(err))
			 : -1;
		CHECK_MSG(rc == 0, "%s: %s: %s", dir, reads[i].file, xml ? err : "missing");
		free(xml);
	}
	/* step 4's facts, when the case has them: AMIs, offerings, and stop protection (one
	 * DescribeInstanceAttribute answer per instance); and every network interface of the VPC
	 * (revert reads them: cases recorded before, with none but the instances', lack it) */
	static const struct {
		const char *file;
		const struct xml_schema *schema;
		bool resize_fact;
	} facts[] = {
	    {"DescribeImages.xml", &ec2_xml_describe_images, true},
	    {"DescribeInstanceTypeOfferings.xml", &ec2_xml_describe_type_offerings, true},
	    {"DescribeNetworkInterfaces.xml", &ec2_xml_describe_network_interfaces, false},
	};
	for (size_t i = 0; i < sizeof(facts) / sizeof(facts[0]) && !rc; i++) {
		char fp[1024];
		snprintf(fp, sizeof(fp), "%s/%s/%s/%s", check_fixtures, root, dir, facts[i].file);
		FILE *ff = fopen(fp, "r");
		if (!ff)
			continue;
		fclose(ff);
		size_t len;
		snprintf(rel, sizeof(rel), "%s/%s/%s", root, dir, facts[i].file);
		char *xml = check_read_fixture(rel, &len);
		char err[256];
		rc = xml ? ec2_xml_decode(facts[i].schema, obs, xml, len, NULL, err, sizeof(err))
			 : -1;
		CHECK_MSG(rc == 0, "%s: %s: %s", dir, facts[i].file, xml ? err : "missing");
		free(xml);
		obs->resize_facts_read |= facts[i].resize_fact;
	}
	char dpath[1024];
	snprintf(dpath, sizeof(dpath), "%s/%s/%s", check_fixtures, root, dir);
	DIR *dd = opendir(dpath);
	for (struct dirent *de; dd && (de = readdir(dd)) != NULL;) {
		if (strncmp(de->d_name, "DescribeInstanceAttribute-", 26) != 0)
			continue;
		size_t len;
		snprintf(rel, sizeof(rel), "%s/%s/%s", root, dir, de->d_name);
		char *xml = check_read_fixture(rel, &len);
		struct stop_protection *sp = vec_push(&obs->stop_protection, sizeof(*sp));
		char err[256];
		CHECK_MSG(xml && sp &&
			      ec2_xml_decode(&ec2_xml_describe_stop_protection, sp, xml, len, NULL,
					     err, sizeof(err)) == 0,
			  "%s: %s", dir, de->d_name);
		free(xml);
	}
	if (dd)
		closedir(dd);
	/* step 6: what SSM knows, when the case has it */
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s/%s/DescribeInstanceInformation.json", check_fixtures,
		 root, dir);
	FILE *sf = fopen(path, "r");
	if (sf) {
		fclose(sf);
		char next[256];
		snprintf(rel, sizeof(rel), "%s/%s/DescribeInstanceInformation.json", root, dir);
		size_t slen = 0;
		char *json = check_read_fixture(rel, &slen);
		CHECK(json && reader_decode_ssm(json, slen, obs, next, sizeof(next)) == 0);
		free(json);
	}
	snprintf(rel, sizeof(rel), "%s/%s/case.json", root, dir);
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

int plan_case_load(const char *dir, struct observed *obs, struct policy *pol, char *vpc,
		   size_t vpc_size, time_t *now)
{
	return plan_case_load_in("plan", dir, obs, pol, vpc, vpc_size, now);
}

bool plan_case_open(struct plan_case *c, const char *root, const char *dir)
{
	memset(c, 0, sizeof(*c));
	observed_init(&c->obs);
	c->pol = malloc(sizeof(*c->pol));
	if (!c->pol)
		CHECK_MSG(0, "%s/%s: out of memory", root, dir);
	return c->pol &&
	       !plan_case_load_in(root, dir, &c->obs, c->pol, c->vpc, sizeof(c->vpc), &c->now);
}

void plan_case_close(struct plan_case *c)
{
	observed_cleanup(&c->obs);
	free(c->pol);
	c->pol = NULL;
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
	snprintf(rel, sizeof(rel), "plan/%s/expected.txt", dir);
	char what[300];
	snprintf(what, sizeof(what), "%s: the plan", dir);
	check_golden(rel, text.data, what);
out:
	free(pol);
	buf_cleanup(&text);
	plan_cleanup(&plan);
	observed_cleanup(&obs);
}

static void test_guest_os_table(void)
{
	static const struct {
		const char *type, *name, *version;
		enum guest_os want;
	} cases[] = {
	    {"Linux", "Amazon Linux AMI", "2016.03", GUEST_OS_AMAZON_LINUX_OLD},
	    {"Linux", "Amazon Linux AMI", "2016.09", GUEST_OS_CONFIGURED},
	    {"Linux", "Amazon Linux AMI", "2018.03", GUEST_OS_CONFIGURED},
	    {"Linux", "Amazon Linux", "2", GUEST_OS_CONFIGURED},
	    {"Linux", "Ubuntu", "14.04", GUEST_OS_UBUNTU_14},
	    {"Linux", "Ubuntu", "16.04", GUEST_OS_UBUNTU_16},
	    {"Linux", "Ubuntu", "22.04", GUEST_OS_CONFIGURED},
	    {"Linux", "Red Hat Enterprise Linux Server", "7.9", GUEST_OS_RHEL_CENTOS_7},
	    {"Linux", "CentOS Linux", "6.10", GUEST_OS_RHEL_CENTOS_6},
	    {"Linux", "Red Hat Enterprise Linux", "9.2", GUEST_OS_CONFIGURED},
	    {"Windows", "Microsoft Windows Server 2008 Datacenter", "6.0.6002",
	     GUEST_OS_WINDOWS_OLD},
	    {"Windows", "Microsoft Windows Server 2003", "5.2.3790", GUEST_OS_WINDOWS_OLD},
	    {"Windows", "Microsoft Windows Server 2019 Datacenter", "10.0.17763",
	     GUEST_OS_CONFIGURED},
	    {"Linux", "SLES", "15.4", GUEST_OS_UNKNOWN},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ssm_instance s;
		memset(&s, 0, sizeof(s));
		snprintf(s.platform_type, sizeof(s.platform_type), "%s", cases[i].type);
		snprintf(s.platform_name, sizeof(s.platform_name), "%s", cases[i].name);
		snprintf(s.platform_version, sizeof(s.platform_version), "%s", cases[i].version);
		CHECK_MSG(guest_os_classify(&s) == cases[i].want, "%s %s -> %s", cases[i].name,
			  cases[i].version, guest_os_name(guest_os_classify(&s)));
		if (cases[i].want > GUEST_OS_CONFIGURED)
			CHECK(guest_commands(cases[i].want) && guest_commands(cases[i].want)[0]);
	}
}

/* Linux scripts find the interface on the host; RHEL/CentOS 7 keeps cloud-init off it. */
static void test_guest_scripts(void)
{
	static const enum guest_os linux_os[] = {GUEST_OS_AMAZON_LINUX_OLD, GUEST_OS_UBUNTU_14,
						 GUEST_OS_UBUNTU_16, GUEST_OS_RHEL_CENTOS_6,
						 GUEST_OS_RHEL_CENTOS_7};
	for (size_t i = 0; i < sizeof(linux_os) / sizeof(linux_os[0]); i++) {
		const char *const *c = guest_commands(linux_os[i]);
		bool finds = false, uses_eth0 = false, leases = false;
		for (size_t k = 0; c && c[k]; k++) {
			finds |= strstr(c[k], "route show to default") != NULL;
			uses_eth0 |= strstr(c[k], "eth0") != NULL;
			leases |= strstr(c[k], "dhclient -6") != NULL;
		}
		CHECK_MSG(finds && !uses_eth0 && leases, "%s: interface %s, eth0 %s, lease %s",
			  guest_os_name(linux_os[i]), finds ? "found" : "not found",
			  uses_eth0 ? "hard-coded" : "not used", leases ? "asked" : "not asked");
	}
	bool cloud_init = false;
	for (const char *const *c = guest_commands(GUEST_OS_RHEL_CENTOS_7); c && *c; c++)
		cloud_init |= strstr(*c, "/etc/cloud/cloud.cfg.d/") != NULL;
	CHECK(cloud_init);
	CHECK_STR(guest_document(GUEST_OS_WINDOWS_OLD), "AWS-RunPowerShellScript");
	CHECK_STR(guest_document(GUEST_OS_UBUNTU_16), "AWS-RunShellScript");
}

/* The ICMP table (RFC 4443 numbers, RFC 4890 on what must pass). */
/* A dependency the plan cannot hold fails the plan (it was dropped silently once: the action
 * could have run before what it needs), and a failed plan is emptied, never half-run. */
static void test_dependency_overflow_refuses_the_plan(void)
{
	struct plan plan;
	struct vpc vpc = {.vpc_id = "vpc-1"};
	plan_init(&plan);
	snprintf(plan.vpc_id, sizeof(plan.vpc_id), "vpc-1");
	struct plan_ctx c = {.vpc = &vpc, .out = &plan};
	int a = plan_add_action(&c, ACT_CREATE_ROUTE_V6, 2, "rtb-1", "a route");
	for (int d = 0; d < PLAN_MAX_DEPS; d++)
		plan_add_dep(&c, a, plan_add_action(&c, ACT_TAG_MANAGED, 2, "rtb-1", "dep"));
	CHECK_INT(c.rc, DS_OK);
	CHECK_INT(plan.actions.v[a].n_deps, PLAN_MAX_DEPS);
	plan_add_dep(&c, a, plan_add_action(&c, ACT_TAG_MANAGED, 2, "rtb-1", "one too many"));
	CHECK_INT(c.rc, DS_EINVAL);
	plan_refuse(&plan, c.rc);
	CHECK_INT((int)plan.actions.n, 0);
	CHECK_INT((int)plan_blocked(&plan), 1);
	CHECK_STR(plan.findings.v[0].code, "plan-failed");
	plan_cleanup(&plan);
}

/* Type names taken from tags (anyone with tag rights can write them) reach DescribeInstanceTypes
 * and DescribeInstanceTypeOfferings as filter values, where '*' and '?' are wildcards: only
 * what reads as an instance type goes there. */
static void test_type_names_from_tags_are_validated(void)
{
	struct observed obs;
	struct policy *pol = malloc(sizeof(*pol));
	char vpc[64];
	time_t now;
	observed_init(&obs);
	if (!pol || plan_case_load("guide", &obs, pol, vpc, sizeof(vpc), &now)) {
		free(pol);
		observed_cleanup(&obs);
		return;
	}
	static const char *const bad[] = {"*", "m3.*", "m?.large", "m3.large,x", "M3.LARGE", "m3"};
	for (size_t b = 0; b < sizeof(bad) / sizeof(bad[0]); b++) {
		struct instance *in = &obs.instances.v[0];
		in->tags.n = 0;
		static const char *const keys[] = {TAG_RESIZED_FROM, TAG_RESIZE_FROM,
						   TAG_RESIZE_TO};
		for (size_t k = 0; k < 3; k++) {
			struct tag *t = vec_push(&in->tags, sizeof(*t));
			snprintf(t->key, sizeof(t->key), "%s", keys[k]);
			snprintf(t->value, sizeof(t->value), "%s", bad[b]);
		}
		char **names = NULL;
		size_t n = 0;
		CHECK(plan_wanted_instance_types(pol, &obs, &names, &n) == DS_OK);
		struct plan_resize_reads rz;
		CHECK(plan_resize_reads(pol, &obs, true, &rz) == DS_OK);
		for (size_t i = 0; i < n; i++)
			CHECK_MSG(strcmp(names[i], bad[b]), "%s reached DescribeInstanceTypes",
				  bad[b]);
		for (size_t i = 0; i < rz.n_types; i++)
			CHECK_MSG(strcmp(rz.types[i], bad[b]), "%s reached the offerings read",
				  bad[b]);
		for (size_t i = 0; i < n; i++)
			free(names[i]);
		free(names);
		plan_resize_reads_cleanup(&rz);
	}
	free(pol);
	observed_cleanup(&obs);
}

static void test_icmp_table(void)
{
	static const struct {
		int type, code, n;
		struct icmp_twin want[2];
	} cases[] = {
	    {-1, -1, 1, {{-1, -1}}},	   /* all */
	    {8, -1, 1, {{128, -1}}},	   /* echo request */
	    {8, 0, 1, {{128, 0}}},	   /* echo request, code 0 */
	    {0, -1, 1, {{129, -1}}},	   /* echo reply */
	    {11, 0, 1, {{3, 0}}},	   /* time exceeded in transit */
	    {11, 1, 1, {{3, 1}}},	   /* fragment reassembly time exceeded */
	    {3, -1, 2, {{1, -1}, {2, 0}}}, /* unreachable: and packet too big (PMTUD) */
	    {3, 4, 1, {{2, 0}}},	   /* fragmentation needed = packet too big */
	    {3, 3, 0, {{0, 0}}},	   /* port unreachable: the codes differ */
	    {13, -1, 0, {{0, 0}}},	   /* timestamp: no twin */
	    {5, -1, 0, {{0, 0}}},	   /* redirect: no twin */
	    {8, 3, 0, {{0, 0}}},	   /* echo with a code that does not exist */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct icmp_twin got[2] = {{0, 0}, {0, 0}};
		int n = plan_icmp_twins(cases[i].type, cases[i].code, got);
		CHECK_MSG(n == cases[i].n, "icmp %d/%d: %d twins, want %d", cases[i].type,
			  cases[i].code, n, cases[i].n);
		for (int k = 0; k < n && k < cases[i].n; k++)
			CHECK_MSG(got[k].type == cases[i].want[k].type &&
				      got[k].code == cases[i].want[k].code,
				  "icmp %d/%d twin %d: %d/%d", cases[i].type, cases[i].code, k,
				  got[k].type, got[k].code);
	}
}

/* Progress along the steps: the guide's example before (everything pending but the web
 * server's type and the main table, which needs no route) and after dualstackd. */
static void test_progress(void)
{
	static const struct {
		const char *dir;
		int want[PS_COUNT][3]; /* done, pending, blocked */
	} cases[] = {
	    {"guide",
	     {{0, 1, 0}, {0, 2, 0}, {1, 2, 0}, {0, 3, 0}, {0, 2, 0}, {1, 1, 0}, {0, 2, 0}}},
	    /* the web group's SSH rule from one /32 has no mapping: that group needs you */
	    {"guide-converged",
	     {{1, 0, 0}, {2, 0, 0}, {3, 0, 0}, {2, 0, 1}, {2, 0, 0}, {2, 0, 0}, {2, 0, 0}}},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct observed obs;
		struct policy *pol = calloc(1, sizeof(*pol));
		struct plan plan;
		char vpc[64];
		time_t now = 0;
		observed_init(&obs);
		plan_init(&plan);
		if (pol && !plan_case_load(cases[i].dir, &obs, pol, vpc, sizeof(vpc), &now)) {
			struct plan_input in = {pol, &obs, vpc, now};
			struct vpc_progress pr;
			CHECK(plan_build(&in, &plan) == 0);
			plan_progress(&obs, pol, vpc, &plan, &pr);
			for (int s = 0; s < PS_GUESTS; s++) {
				const struct progress_count *c = &pr.step[s];
				CHECK_MSG(c->done == cases[i].want[s][0] &&
					      c->pending == cases[i].want[s][1] &&
					      c->blocked == cases[i].want[s][2] &&
					      c->total == c->done + c->pending + c->blocked,
					  "%s %s: %d done %d pending %d blocked of %d",
					  cases[i].dir, progress_step_name((enum progress_step)s),
					  c->done, c->pending, c->blocked, c->total);
			}
			CHECK(pr.step[PS_GUESTS].total == 0); /* guest_config is off */
		}
		free(pol);
		plan_cleanup(&plan);
		observed_cleanup(&obs);
	}
}

void test_plan(void)
{
	test_progress();
	test_guest_os_table();
	test_guest_scripts();
	test_icmp_table();
	test_dependency_overflow_refuses_the_plan();
	test_type_names_from_tags_are_validated();
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
