/* Rollout waves (reconcile/rollout.c) and their policy: selectors (accounts, VPC tags, a stable
 * hashed share), the decision over a fleet view given as data (pending and blocked VPCs hold the
 * next wave, the soak counts from the last convergence, a failure in an earlier wave closes the
 * later ones again), and the policy's errors. */
#include <stdlib.h>
#include <string.h>

#include "../../reconcile/reconcile.h"
#include "../../reconcile/rollout.h"
#include "check.h"

#define T0 1795694400

static struct policy *load(const char *json, struct buf *err)
{
	return policy_new("p.json", json, strlen(json), err);
}

static struct vpc *vpc_with(struct vpc *v, const char *id, const char *key, const char *value)
{
	memset(v, 0, sizeof(*v));
	snprintf(v->vpc_id, sizeof(v->vpc_id), "%s", id);
	if (key) {
		struct tag *t = vec_push(&v->tags, sizeof(*t));
		if (t) {
			snprintf(t->key, sizeof(t->key), "%s", key);
			snprintf(t->value, sizeof(t->value), "%s", value);
		}
	}
	return v;
}

static void test_selectors(void)
{
	struct buf err;
	buf_init(&err, 0);
	struct policy *p = load("{\"rollout\": {\"waves\": ["
				"{\"name\": \"canary\", \"accounts\": [\"111111111111\"], "
				"\"vpc_tags\": {\"env\": \"dev\"}},"
				"{\"name\": \"five\", \"percent\": 5},"
				"{\"name\": \"quarter\", \"percent\": 25},"
				"{\"name\": \"rest\"}]}}",
				&err);
	CHECK_MSG(p != NULL, "%s", err.data ? err.data : "");
	if (!p)
		return;
	struct vpc v;
	CHECK_INT(
	    rollout_wave_of(p, "111111111111", vpc_with(&v, "vpc-0000000000000000a", "env", "dev")),
	    0);
	vec_free(&v.tags);
	/* the tag without the account, or the account without the tag: a later wave */
	CHECK(rollout_wave_of(p, "222222222222",
			      vpc_with(&v, "vpc-0000000000000000a", "env", "dev")) > 0);
	vec_free(&v.tags);
	CHECK(rollout_wave_of(p, "111111111111",
			      vpc_with(&v, "vpc-0000000000000000a", NULL, NULL)) > 0);
	/* percentages: a stable hashed share, the 5% inside the first 25% */
	int n = 20000, five = 0, upto25 = 0, moved = 0;
	for (int i = 0; i < n; i++) {
		char id[32];
		snprintf(id, sizeof(id), "vpc-%017x", (unsigned)i * 2654435761u);
		vpc_with(&v, id, NULL, NULL);
		int w = rollout_wave_of(p, "333333333333", &v);
		five += w == 1;
		upto25 += w == 1 || w == 2;
		moved += w != rollout_wave_of(p, "333333333333", &v);
	}
	CHECK_MSG(five > n * 4 / 100 && five < n * 6 / 100, "5%%: %d of %d", five, n);
	CHECK_MSG(upto25 > n * 23 / 100 && upto25 < n * 27 / 100, "25%%: %d of %d", upto25, n);
	CHECK_INT(moved, 0);
	policy_unref(p);
	buf_cleanup(&err);
}

static void test_policy_errors(void)
{
	static const struct {
		const char *json, *want;
	} cases[] = {
	    {"{\"rollout\": {\"waves\": [{\"percent\": 0}]}}",
	     "$.rollout.waves[0].percent: expected a percentage"},
	    {"{\"rollout\": {\"waves\": [{\"soak_s\": -1}]}}",
	     "$.rollout.waves[0].soak_s: expected an integer"},
	    {"{\"rollout\": {\"waves\": [{}, {\"accounts\": [\"12\"]}]}}",
	     "$.rollout.waves[1].accounts[0]: expected a 12-digit"},
	    {"{\"rollout\": {\"waves\": [{\"when\": 1}]}}", "$.rollout.waves[0].when: unknown key"},
	    {"{\"rollout\": {\"waves\": {}}}", "$.rollout.waves: expected a list of waves"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf err;
		buf_init(&err, 0);
		struct policy *p = load(cases[i].json, &err);
		CHECK_MSG(!p && err.data && strstr(err.data, cases[i].want), "%s -> %s",
			  cases[i].json, err.data ? err.data : "(accepted)");
		policy_unref(p);
		buf_cleanup(&err);
	}
}

/* A plan with `work` calls (besides the converged-at tag) and `blocked` blockers. */
static void fake_plan(struct plan *p, int work, int blocked)
{
	plan_init(p);
	for (int i = 0; i < work; i++) {
		struct plan_action *a = vec_push(&p->actions, sizeof(*a));
		if (a) {
			memset(a, 0, sizeof(*a));
			a->kind = ACT_CREATE_ROUTE_V6;
		}
	}
	for (int i = 0; i < blocked; i++) {
		struct plan_finding *f = vec_push(&p->findings, sizeof(*f));
		if (f) {
			memset(f, 0, sizeof(*f));
			f->severity = FIND_BLOCKED;
		}
	}
}

static void add(struct rollout *r, int wave, int work, int blocked, time_t converged_at)
{
	struct plan p;
	fake_plan(&p, work, blocked);
	rollout_add(r, wave, &p, converged_at, T0);
	plan_cleanup(&p);
}

static void test_open_through(void)
{
	struct buf err;
	buf_init(&err, 0);
	struct policy *p =
	    load("{\"rollout\": {\"waves\": [{\"name\": \"canary\", \"soak_s\": 3600},"
		 "{\"name\": \"rest\"}]}}",
		 &err);
	if (!p)
		return;
	struct rollout r;
	char why[256];
	/* canary has a VPC still pending: only canary is open */
	rollout_init(&r);
	add(&r, 0, 0, 0, T0 - 7200);
	add(&r, 0, 3, 0, 0);
	add(&r, 1, 5, 0, 0);
	CHECK_INT(rollout_open_through(&r, p, T0, why, sizeof(why)), 0);
	CHECK(strstr(why, "rest waits for canary: 1 of 2 VPCs not converged") != NULL);
	/* all converged, the last one 10 minutes ago: soaking */
	rollout_init(&r);
	add(&r, 0, 0, 0, T0 - 7200);
	add(&r, 0, 0, 0, T0 - 600);
	CHECK_INT(rollout_open_through(&r, p, T0, why, sizeof(why)), 0);
	CHECK(strstr(why, "to soak until 2026-11-26T12:50:00Z (3000 s more)") != NULL);
	/* soaked: both open */
	CHECK_INT(rollout_open_through(&r, p, T0 + 3000, why, sizeof(why)), 1);
	CHECK_STR(why, "");
	/* converged but not yet tagged: the soak starts now */
	rollout_init(&r);
	add(&r, 0, 0, 0, 0);
	CHECK_INT(rollout_open_through(&r, p, T0 + 60, why, sizeof(why)), 0);
	/* a blocker holds the next wave; so does a VPC of the canary failing again later */
	rollout_init(&r);
	add(&r, 0, 0, 1, 0);
	CHECK_INT(rollout_open_through(&r, p, T0 + 99999, why, sizeof(why)), 0);
	CHECK(strstr(why, "1 blocked") != NULL);
	/* VPCs in no wave are counted, never opened */
	rollout_init(&r);
	add(&r, ROLLOUT_NO_WAVE, 2, 0, 0);
	CHECK_INT(r.outside, 1);
	struct buf text;
	buf_init(&text, 0);
	rollout_format(&r, p, 0, "rest waits", &text);
	CHECK(text.data && strstr(text.data, "wave 2 rest (waiting): 0 VPCs") &&
	      strstr(text.data, "1 VPCs in no wave") && strstr(text.data, "next: rest waits"));
	buf_cleanup(&text);
	policy_unref(p);
	buf_cleanup(&err);
}

/* Which waves are open belongs to the waves it was decided for: a reload that changes them
 * opens nothing until the fleet is looked at again; one that keeps them keeps what is open. */
static void test_reload_and_open_waves(void)
{
	static const char *const two = "{\"rollout\": {\"waves\": [{\"name\": \"a\", "
				       "\"percent\": 5}, {\"name\": \"b\"}]}}";
	static const char *const reordered = "{\"rollout\": {\"waves\": [{\"name\": \"b\"}, "
					     "{\"name\": \"a\", \"percent\": 5}]}}";
	struct buf err;
	buf_init(&err, 0);
	struct policy *p1 = load(two, &err), *p2 = load(two, &err), *p3 = load(reordered, &err);
	struct reconciler *r = p1 && p2 && p3 ? reconciler_new(p1, NULL, NULL) : NULL;
	CHECK(r != NULL);
	if (r) {
		char why[256];
		CHECK_INT(reconciler_rollout(r, why, sizeof(why)), -1); /* before any look */
		reconciler_set_rollout(r, 1, "");
		reconciler_set_policy(r, p2); /* the same waves, reloaded */
		CHECK_INT(reconciler_rollout(r, why, sizeof(why)), 1);
		reconciler_set_policy(r, p3); /* wave 2 is another wave now */
		CHECK_INT(reconciler_rollout(r, why, sizeof(why)), -1);
		CHECK(strstr(why, "waves changed") != NULL);
	}
	reconciler_free(r);
	policy_unref(p1);
	policy_unref(p2);
	policy_unref(p3);
	buf_cleanup(&err);
}

void test_rollout(void)
{
	test_reload_and_open_waves();
	test_selectors();
	test_policy_errors();
	test_open_through();
}
