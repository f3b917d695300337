/* The undo planner, table-driven like the planner: each directory under tests/fixtures/revert is
 * the state a real `dualstackd apply` left in moto (tests/py/record_plan_fixtures.py --revert),
 * maybe changed by the owner after, and the expected removals (expected.txt; DS_UPDATE_GOLDEN=1
 * writes it for review). Then what no fixture shows: the executor's phases. */
#include <cJSON.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "../../reconcile/audit.h"
#include "../../reconcile/executor.h"
#include "../../reconcile/plan.h"
#include "../../reconcile/poller.h"
#include "../../reconcile/revert.h"
#include "check.h"
#include "fake_ec2.h"
#include "plan_case.h"

/* case.json "steps": [3] -> the bits; none -> REVERT_ALL_STEPS */
static unsigned case_steps(const char *dir)
{
	char rel[512];
	snprintf(rel, sizeof(rel), "revert/%s/case.json", dir);
	char *text = check_read_fixture(rel, NULL);
	cJSON *c = text ? cJSON_Parse(text) : NULL;
	const cJSON *steps = cJSON_GetObjectItemCaseSensitive(c, "steps");
	unsigned bits = 0;
	const cJSON *s;
	cJSON_ArrayForEach(s, steps) if (cJSON_IsNumber(s)) bits |= 1u << s->valueint;
	cJSON_Delete(c);
	free(text);
	return bits ? bits : REVERT_ALL_STEPS;
}

static size_t count_kind(const struct plan *p, enum action_kind kind)
{
	size_t n = 0;
	for (size_t i = 0; i < p->actions.n; i++)
		n += p->actions.v[i].kind == kind;
	return n;
}

static size_t count_finding(const struct plan *p, const char *code)
{
	size_t n = 0;
	for (size_t i = 0; i < p->findings.n; i++)
		n += !strcmp(p->findings.v[i].code, code);
	return n;
}

/* Invariants every revert plan keeps, whatever the case: only removals (and a resize-back),
 * nothing IPv4, the /56 after every /64, the marks after everything else. */
static void check_invariants(const char *dir, const struct plan *p)
{
	size_t bad = 0, last_bad = 0;
	for (size_t i = 0; i < p->actions.n; i++) {
		const struct plan_action *a = &p->actions.v[i];
		size_t before = bad;
		bad += a->kind < ACT_UNSET_SUBNET_ASSIGN_IPV6 && a->kind != ACT_RESIZE_INSTANCE;
		bad += strchr(a->cidr.literal, '.') != NULL;
		for (size_t k = 0; k < p->actions.n; k++) {
			const struct plan_action *b = &p->actions.v[k];
			if (a->kind == ACT_DISASSOCIATE_VPC_IPV6 &&
			    b->kind == ACT_DISASSOCIATE_SUBNET_IPV6)
				bad += b->phase >= a->phase;
			if (a->kind == ACT_UNTAG_MANAGED && b->kind != ACT_UNTAG_MANAGED &&
			    b->kind != ACT_TAG_VPC_REVERTED)
				bad += b->phase >= a->phase;
		}
		if (bad != before)
			last_bad = i + 1;
	}
	CHECK_MSG(bad == 0, "%s: %zu broken invariants, the last at action %zu", dir, bad,
		  last_bad);
}

/* Loads a case into obs and builds its revert plan into plan (both initialised here; the
 * caller frees them with case_done), checks the invariants and the golden text. */
static void run_case(const char *dir, struct plan *plan, struct observed *obs)
{
	observed_init(obs);
	plan_init(plan);
	struct policy *pol = malloc(sizeof(*pol));
	struct buf text;
	char vpc[64], rel[512];
	time_t now = 0;
	buf_init(&text, 0);
	if (!pol || plan_case_load_in("revert", dir, obs, pol, vpc, sizeof(vpc), &now))
		goto out;
	struct revert_input in = {pol, obs, vpc, case_steps(dir), now, NULL};
	CHECK_MSG(revert_build(&in, plan) == 0, "%s: revert_build failed", dir);
	check_invariants(dir, plan);
	plan_format_text(plan, &text);
	snprintf(rel, sizeof(rel), "revert/%s/expected.txt", dir);
	char what[300];
	snprintf(what, sizeof(what), "%s: the revert plan", dir);
	check_golden(rel, text.data, what);
out:
	free(pol);
	buf_cleanup(&text);
}

static void case_done(struct plan *plan, struct observed *obs)
{
	plan_cleanup(plan);
	observed_cleanup(obs);
}

/* What each case is for, asserted beside the golden text so a wrong golden cannot hide it. */
static void test_cases(void)
{
	struct plan p;
	struct observed o;

	run_case("revert-applied", &p, &o);
	CHECK(count_kind(&p, ACT_DISASSOCIATE_VPC_IPV6) == 1);
	CHECK(count_kind(&p, ACT_DISASSOCIATE_SUBNET_IPV6) == 2);
	CHECK(count_kind(&p, ACT_DELETE_EIGW) == 1);
	CHECK(count_kind(&p, ACT_UNASSIGN_IPV6_ADDRESS) == 2);
	/* the custom NACL: 111 (dualstackd's twin of 110) goes, 101 (the owner's, listed in the
	 * mark) stays; the default NACL's two twins go */
	CHECK(count_kind(&p, ACT_DELETE_NACL_ENTRY) == 3);
	for (size_t i = 0; i < p.actions.n; i++)
		if (p.actions.v[i].kind == ACT_DELETE_NACL_ENTRY && !p.actions.v[i].egress &&
		    strstr(p.actions.v[i].reason, "twin"))
			CHECK(p.actions.v[i].rule_number == 101 ||
			      p.actions.v[i].rule_number == 111);
	CHECK(count_kind(&p, ACT_UNTAG_MANAGED) >= 7); /* VPC, 2 subnets, 2 tables, 2 ACLs, ... */
	CHECK(plan_blocked(&p) == 0);
	case_done(&p, &o);

	run_case("revert-applied-step3", &p, &o);
	for (size_t i = 0; i < p.actions.n; i++)
		CHECK_MSG(p.actions.v[i].step == 3, "step-3 revert plans step %d",
			  p.actions.v[i].step);
	CHECK(count_kind(&p, ACT_DELETE_NACL_ENTRY) == 3);
	CHECK(count_kind(&p, ACT_REVOKE_SG_INGRESS) + count_kind(&p, ACT_REVOKE_SG_EGRESS) >= 3);
	case_done(&p, &o);

	run_case("revert-owner-changes", &p, &o);
	/* two addresses on the web server: neither is provably ours; its /64 and the /56 stay,
	 * and every mark stays for the next revert */
	CHECK(count_kind(&p, ACT_UNASSIGN_IPV6_ADDRESS) == 1);
	CHECK(count_kind(&p, ACT_DISASSOCIATE_SUBNET_IPV6) == 1);
	CHECK(count_kind(&p, ACT_DISASSOCIATE_VPC_IPV6) == 0);
	CHECK(count_kind(&p, ACT_UNTAG_MANAGED) == 0);
	CHECK(count_finding(&p, "ipv6-block-in-use") == 2);
	CHECK(count_finding(&p, "not-provably-ours") >= 2); /* the address, the bastion twin */
	for (size_t i = 0; i < p.actions.n; i++)
		if (p.actions.v[i].kind == ACT_REVOKE_SG_INGRESS)
			CHECK(p.actions.v[i].from_port != 22); /* the owner's unmarked twin */
	case_done(&p, &o);

	run_case("revert-resize-back", &p, &o);
	/* the database goes back to m3.large after its address, before its /64 */
	int resize = -1, unassign = -1, subnet = -1;
	for (size_t i = 0; i < p.actions.n; i++) {
		const struct plan_action *a = &p.actions.v[i];
		if (a->kind == ACT_RESIZE_INSTANCE) {
			CHECK(a->resize_back && !strcmp(a->to_type, "m3.large") &&
			      !strcmp(a->from_type, "m4.large") &&
			      a->resize_mode == RESIZE_FORWARD);
			resize = (int)i;
		}
	}
	CHECK(resize >= 0);
	for (size_t i = 0; resize >= 0 && i < p.actions.n; i++) {
		const struct plan_action *a = &p.actions.v[i];
		if (a->kind == ACT_UNASSIGN_IPV6_ADDRESS &&
		    !strcmp(a->instance_id, p.actions.v[resize].instance_id))
			unassign = (int)i;
		if (a->kind == ACT_DISASSOCIATE_SUBNET_IPV6)
			subnet = (int)i;
	}
	CHECK(unassign >= 0 && resize >= 0 && p.actions.v[resize].n_deps == 1 &&
	      p.actions.v[resize].deps[0] == unassign);
	CHECK(subnet >= 0 && resize >= 0 && p.actions.v[subnet].phase > p.actions.v[resize].phase);
	case_done(&p, &o);

	run_case("revert-resize-back-held", &p, &o);
	CHECK(count_kind(&p, ACT_RESIZE_INSTANCE) == 0);
	CHECK(count_finding(&p, "resize-back-held") == 1);
	case_done(&p, &o);

	run_case("revert-unmarked", &p, &o);
	CHECK_MSG(p.actions.n == 0, "no mark, no call: %zu actions", p.actions.n);
	CHECK(count_finding(&p, "not-provably-ours") >= 5);
	case_done(&p, &o);
}

/* Every case directory runs against its expected.txt (a new case needs no code). */
static void test_every_case_runs(void)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/revert", check_fixtures);
	DIR *d = opendir(path);
	CHECK_MSG(d != NULL, "no %s", path);
	size_t n = 0;
	for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
		if (e->d_name[0] == '.')
			continue;
		struct plan p;
		struct observed o;
		run_case(e->d_name, &p, &o);
		case_done(&p, &o);
		n++;
	}
	if (d)
		closedir(d);
	CHECK(n >= 6);
}

/* Phases: a /64 waits for every item before it, and a failure before it skips it and the /56
 * and the marks - the marks are what the next revert goes by. */
static void test_phases_stop_at_a_failure(void)
{
	struct plan_case pc;
	struct plan plan;
	plan_init(&plan);
	if (!plan_case_open(&pc, "revert", "revert-applied")) {
		plan_case_close(&pc);
		return;
	}
	struct revert_input in = {pc.pol, &pc.obs, pc.vpc, REVERT_ALL_STEPS, pc.now, NULL};
	CHECK(revert_build(&in, &plan) == DS_OK);
	struct fake_ec2 f;
	fake_ec2_init(&f);
	fake_ec2_fault(&f, "DeleteRoute", FAULT_FATAL, 1);
	CHECK(fake_ec2_execute(&f, &plan, pc.pol));
	int revokes = 0;
	for (int i = 0; i < f.n_calls; i++) {
		const char *a = f.calls[i].action;
		revokes += !strncmp(a, "Revoke", 6);
		CHECK_MSG(strcmp(a, "DisassociateSubnetCidrBlock") &&
			      strcmp(a, "DisassociateVpcCidrBlock") && strcmp(a, "DeleteTags") &&
			      strcmp(a, "DeleteEgressOnlyInternetGateway"),
			  "%s after a failed DeleteRoute", a);
	}
	CHECK(revokes >= 3); /* phase 0 ran on: one failure does not stop the items beside it */
	plan_cleanup(&plan);
	plan_case_close(&pc);
}

/* After a revert deleted the gateway, EC2 would answer the old ClientToken with that deleted
 * gateway: apply's token then carries the revert's time (only its letters and digits). */
static void test_eigw_token_after_revert(void)
{
	static const struct {
		const char *tag, *token;
	} cases[] = {
	    {NULL, "ClientToken=dualstackd-eigw-%s Tag"},
	    {"20261126T120000Z", "ClientToken=dualstackd-eigw-%s-20261126T120000Z Tag"},
	    {"2026-11-26 12:00&Tag.2.Key=x",
	     "ClientToken=dualstackd-eigw-%s-202611261200Tag2Keyx "},
	};
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct plan_case pc;
		struct plan plan;
		char want[160];
		plan_init(&plan);
		if (plan_case_open(&pc, "plan", "guide")) {
			if (cases[k].tag) {
				struct tag *t = vec_push(&pc.obs.vpcs.v[0].tags, sizeof(*t));
				snprintf(t->key, sizeof(t->key), TAG_REVERTED_AT);
				snprintf(t->value, sizeof(t->value), "%s", cases[k].tag);
			}
			struct plan_input in = {pc.pol, &pc.obs, pc.vpc, pc.now};
			CHECK(plan_build(&in, &plan) == DS_OK);
			struct buf params;
			buf_init(&params, 0);
			for (size_t i = 0; i < plan.actions.n; i++)
				if (plan.actions.v[i].kind == ACT_CREATE_EIGW)
					plan_format_params(&plan.actions.v[i], &params);
			snprintf(want, sizeof(want), cases[k].token, pc.vpc);
			CHECK_MSG(params.data && strstr(params.data, want), "%s: %s",
				  cases[k].tag ? cases[k].tag : "no tag",
				  params.data ? params.data : "no gateway planned");
			buf_cleanup(&params);
		}
		plan_cleanup(&plan);
		plan_case_close(&pc);
	}
}

static void add_tag(struct instance *in, const char *k, const char *v)
{
	struct tag *t = vec_push(&in->tags, sizeof(*t));
	if (t) {
		snprintf(t->key, sizeof(t->key), "%s", k);
		snprintf(t->value, sizeof(t->value), "%s", v);
	}
}

/* A revert never leaves an instance stopped: an interrupted resize is settled whatever the
 * steps asked for - restored as it stands, a rollback finished, a resize-back of ours (when
 * asked) finished. */
static void test_interrupted_resizes_are_settled(void)
{
	static const struct {
		const char *to, *rollback;
		unsigned steps;
		enum resize_mode mode;
		bool back;
	} cases[] = {
	    {"m4.large", NULL, 1u << 3, RESIZE_RESTORE, false},
	    {"m4.large", "StartInstances: InsufficientInstanceCapacity", 1u << 3, RESIZE_ROLLBACK,
	     false},
	    {"m3.large", NULL, REVERT_ALL_STEPS | REVERT_RESIZE_BACK, RESIZE_FORWARD, true},
	    {"m3.large", NULL, REVERT_ALL_STEPS, RESIZE_RESTORE, false}, /* back not asked */
	};
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct plan_case pc;
		struct plan plan;
		plan_init(&plan);
		if (plan_case_open(&pc, "revert", "revert-applied")) {
			struct instance *db = NULL;
			for (size_t i = 0; i < pc.obs.instances.n; i++)
				if (tag_get(&pc.obs.instances.v[i].tags, TAG_RESIZED_FROM))
					db = &pc.obs.instances.v[i];
			CHECK(db != NULL);
			if (db) {
				snprintf(db->state, sizeof(db->state), "stopped");
				add_tag(db, TAG_RESIZE_FROM,
					cases[k].back ? "m4.large" : "m3.large");
				add_tag(db, TAG_RESIZE_TO, cases[k].to);
				add_tag(db, TAG_RESIZE_WAS, "running");
				if (cases[k].rollback)
					add_tag(db, TAG_RESIZE_ROLLBACK, cases[k].rollback);
			}
			struct revert_input in = {pc.pol,	  &pc.obs, pc.vpc,
						  cases[k].steps, pc.now,  NULL};
			CHECK(revert_build(&in, &plan) == DS_OK);
			size_t n = 0;
			for (size_t i = 0; db && i < plan.actions.n; i++) {
				const struct plan_action *a = &plan.actions.v[i];
				if (a->kind != ACT_RESIZE_INSTANCE)
					continue;
				n++;
				CHECK_MSG(a->resize_mode == cases[k].mode &&
					      a->resize_back == cases[k].back && a->was_running &&
					      !strcmp(a->instance_id, db->instance_id),
					  "case %zu: mode %d back %d", k, a->resize_mode,
					  a->resize_back);
			}
			CHECK_MSG(n == 1, "case %zu: %zu resizes", k, n);
		}
		plan_cleanup(&plan);
		plan_case_close(&pc);
	}
}

/* A NACL whose mark could not list its earlier IPv6 entries (over a tag value's 256
 * characters): none of its twins is provably ours, each is listed as left - never skipped
 * silently - and every mark stays. */
static void test_nacl_mark_that_could_not_list(void)
{
	struct plan_case pc;
	struct plan plan;
	plan_init(&plan);
	if (plan_case_open(&pc, "revert", "revert-applied")) {
		const char *acl = NULL;
		for (size_t i = 0; i < pc.obs.network_acls.n; i++) {
			struct tag_vec *t = &pc.obs.network_acls.v[i].tags;
			for (size_t k = 0; k < t->n; k++)
				if (!strcmp(t->v[k].key, TAG_MANAGED) &&
				    !strncmp(t->v[k].value, MARK_KEPT_PREFIX,
					     strlen(MARK_KEPT_PREFIX))) {
					snprintf(t->v[k].value, sizeof(t->v[k].value),
						 MARK_KEPT_PREFIX "unknown");
					acl = pc.obs.network_acls.v[i].network_acl_id;
				}
		}
		CHECK(acl != NULL);
		struct revert_input in = {pc.pol, &pc.obs, pc.vpc, REVERT_ALL_STEPS, pc.now, NULL};
		CHECK(revert_build(&in, &plan) == DS_OK);
		size_t deletes = 0, left = 0;
		for (size_t i = 0; acl && i < plan.actions.n; i++)
			deletes += plan.actions.v[i].kind == ACT_DELETE_NACL_ENTRY &&
				   !strcmp(plan.actions.v[i].resource_id, acl);
		for (size_t i = 0; acl && i < plan.findings.n; i++)
			left += !strcmp(plan.findings.v[i].code, "not-provably-ours") &&
				!strcmp(plan.findings.v[i].resource_id, acl);
		CHECK_INT((int)deletes, 0);
		CHECK_INT((int)left, 2); /* the owner's 101 and dualstackd's 111, both left */
		CHECK_INT((int)count_kind(&plan, ACT_UNTAG_MANAGED), 0);
	}
	plan_cleanup(&plan);
	plan_case_close(&pc);
}

/* A /64 revert recognises from the audit topic (no mark) on a subnet whose
 * AssignIpv6AddressOnCreation is on and not dualstackd's: EC2 refuses the disassociation while
 * it is on (InvalidCidrBlock.InUse), and turning it off is not revert's to do - the /64 stays,
 * BLOCKED with the reason and the fix, and the /56 with it. With the setting off the /64 goes. */
static void test_a_64_on_a_subnet_that_assigns_ipv6_by_the_owners_choice(void)
{
	for (int on = 0; on < 2; on++) {
		struct plan_case pc;
		struct plan plan;
		struct audit_log log;
		char line[512], err[256], subnet[DS_ID_LEN] = "";
		plan_init(&plan);
		audit_init(&log);
		if (!plan_case_open(&pc, "revert", "revert-applied"))
			goto next;
		for (size_t i = 0; i < pc.obs.subnets.n && !subnet[0]; i++) {
			struct subnet *sn = &pc.obs.subnets.v[i];
			if (!sn->ipv6_assocs.n)
				continue;
			snprintf(subnet, sizeof(subnet), "%s", sn->subnet_id);
			sn->tags.n =
			    0; /* written before marks existed: only the audit record says */
			sn->assign_ipv6_on_creation = on;
		}
		int n =
		    snprintf(line, sizeof(line),
			     "{\"vpc\":\"%s\",\"action\":\"AssociateSubnetCidrBlock\","
			     "\"parameters\":\"SubnetId=%s&Ipv6CidrBlock=x\",\"outcome\":\"ok\"}\n",
			     pc.vpc, subnet);
		CHECK(subnet[0] && audit_parse(&log, line, (size_t)n, err, sizeof(err)) == 0);
		audit_index(&log);
		struct revert_input in = {pc.pol, &pc.obs, pc.vpc, REVERT_ALL_STEPS, pc.now, &log};
		CHECK(revert_build(&in, &plan) == DS_OK);
		bool disassociated = false, blocked = false;
		for (size_t a = 0; a < plan.actions.n; a++)
			disassociated |= plan.actions.v[a].kind == ACT_DISASSOCIATE_SUBNET_IPV6 &&
					 !strcmp(plan.actions.v[a].resource_id, subnet);
		for (size_t f = 0; f < plan.findings.n; f++)
			blocked |=
			    plan.findings.v[f].severity == FIND_BLOCKED &&
			    !strcmp(plan.findings.v[f].resource_id, subnet) &&
			    strstr(plan.findings.v[f].detail, "AssignIpv6AddressOnCreation is on");
		CHECK_MSG(disassociated == !on && blocked == (bool)on,
			  "setting %s: disassociated %d, blocked %d", on ? "on" : "off",
			  disassociated, blocked);
	next:
		audit_cleanup(&log);
		plan_cleanup(&plan);
		plan_case_close(&pc);
	}
}

void test_revert(void)
{
	test_a_64_on_a_subnet_that_assigns_ipv6_by_the_owners_choice();
	test_nacl_mark_that_could_not_list();
	test_interrupted_resizes_are_settled();
	test_eigw_token_after_revert();
	test_every_case_runs();
	test_cases();
	test_phases_stop_at_a_failure();
}
