/* The blast-radius guard (reconcile/guard.c) over a clock given as data, its halt file, and the
 * executor's gate: a scope halts when its failure ratio passes the limit with enough samples,
 * not before; old failures leave the window; the hourly cap halts the fleet before the call that
 * would pass it; a halt survives a policy reload and only resume clears it; held actions start
 * nothing and say why. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../controller/halt_file.h"
#include "../../reconcile/executor.h"
#include "../../reconcile/guard.h"
#include "../../reconcile/poller.h"
#include "check.h"
#include "fake_ec2.h"

#define T0 1795694400

static const struct guard_limits limits = {
    .max_failure_ratio = 0.25, .window_s = 600, .min_samples = 20, .max_changes_per_hour = 0};

static bool allows(struct guard *g, const char *acc, time_t now, char *why)
{
	return guard_allows(g, acc, "us-east-1", now, 1, why, 256, NULL, NULL);
}

static void test_ratio_needs_samples_and_halts_its_scope(void)
{
	struct guard *g = guard_new(&limits);
	struct guard_halt h;
	char why[256];
	/* a healthy account keeps the fleet's ratio low */
	CHECK(!guard_record(g, "222", "us-east-1", T0, &(struct guard_counts){.calls = 100}, &h));
	/* 10 of 19 failed: a high ratio, too few samples to prove anything */
	CHECK(!guard_record(g, "111", "us-east-1", T0,
			    &(struct guard_counts){.calls = 19, .calls_failed = 10}, &h));
	CHECK(allows(g, "111", T0, why));
	/* the 20th call, failed: 11 of 20 */
	CHECK(guard_record(g, "111", "us-east-1", T0 + 1,
			   &(struct guard_counts){.calls = 1, .calls_failed = 1}, &h));
	CHECK_STR(h.scope, "111/us-east-1");
	CHECK(strstr(h.reason, "11 of 20 mutating calls failed") != NULL);
	CHECK(!allows(g, "111", T0 + 2, why));
	CHECK(strstr(why, "halted (111/us-east-1") != NULL);
	CHECK(strstr(why, "dualstackd resume") != NULL);
	/* 11 of 120 fleet-wide: the other account goes on */
	CHECK(allows(g, "222", T0 + 2, why));
	/* halted stays halted: no second report */
	CHECK(!guard_record(g, "111", "us-east-1", T0 + 3,
			    &(struct guard_counts){.calls = 5, .calls_failed = 5}, &h));
	CHECK_INT((int)guard_halts(g, NULL, 0), 1);
	guard_free(g);
}

static void test_old_failures_leave_the_window(void)
{
	struct guard *g = guard_new(&limits);
	struct guard_halt h;
	char why[256];
	guard_record(g, "111", "eu-west-1", T0,
		     &(struct guard_counts){.calls = 19, .calls_failed = 19}, &h);
	/* 700 s later the 19 failures are out of the 600-s window: 1 of 21 */
	CHECK(!guard_record(g, "111", "eu-west-1", T0 + 700,
			    &(struct guard_counts){.calls = 21, .calls_failed = 1}, &h));
	CHECK(guard_allows(g, "111", "eu-west-1", T0 + 700, 1, why, sizeof(why), NULL, NULL));
	/* the same 100 s later would have halted: 20 of 40 */
	struct guard *g2 = guard_new(&limits);
	guard_record(g2, "111", "eu-west-1", T0,
		     &(struct guard_counts){.calls = 19, .calls_failed = 19}, &h);
	CHECK(guard_record(g2, "111", "eu-west-1", T0 + 100,
			   &(struct guard_counts){.calls = 21, .calls_failed = 1}, &h));
	guard_free(g);
	guard_free(g2);
}

static void test_reconcile_ratio(void)
{
	struct guard *g = guard_new(&limits);
	struct guard_halt h;
	CHECK(!guard_record(g, "111", "us-east-1", T0,
			    &(struct guard_counts){.runs = 15, .runs_failed = 2}, &h));
	CHECK(guard_record(g, "111", "us-east-1", T0,
			   &(struct guard_counts){.runs = 5, .runs_failed = 4}, &h));
	CHECK(strstr(h.reason, "6 of 20 reconciles failed") != NULL);
	guard_free(g);
}

/* max_changes_per_hour is fleet-wide: a group of replicas splits it (each its share, rounded
 * up), as it splits api_budget - three replicas with the whole cap each would make three times
 * the changes the operator allowed. */
static struct guard *guard_with_hourly_cap(int cap)
{
	struct guard_limits l = limits;
	l.max_changes_per_hour = cap;
	return guard_new(&l);
}

static void test_hourly_cap_is_split_among_replicas(void)
{
	struct guard *g = guard_with_hourly_cap(10);
	struct guard_halt h;
	bool now_halted = false;
	char why[256];
	guard_set_replicas(g, 3); /* a share of 4 */
	CHECK(guard_allows(g, "111", "us-east-1", T0, 4, why, sizeof(why), &h, &now_halted));
	guard_record(g, "111", "us-east-1", T0, &(struct guard_counts){.changes = 4}, NULL);
	CHECK(!guard_allows(g, "111", "us-east-1", T0 + 1, 1, why, sizeof(why), &h, &now_halted));
	CHECK(now_halted);
	CHECK_MSG(
	    strstr(h.reason, "this replica's share 4 of max_changes_per_hour 10 (3 replicas)"),
	    "%s", h.reason);
	guard_resume(g);
	/* a replica left: the share grows with the next decision */
	guard_set_replicas(g, 1);
	CHECK(guard_allows(g, "111", "us-east-1", T0 + 2, 6, why, sizeof(why), &h, &now_halted));
	guard_set_replicas(g, 0); /* nonsense counts as one */
	CHECK(guard_allows(g, "111", "us-east-1", T0 + 2, 6, why, sizeof(why), &h, &now_halted));
	/* never a share of 0: a cap smaller than the group still lets each replica make one */
	guard_set_replicas(g, 50);
	guard_resume(g);
	struct guard *small = guard_with_hourly_cap(10);
	guard_set_replicas(small, 50);
	CHECK(guard_allows(small, "111", "us-east-1", T0, 1, why, sizeof(why), &h, &now_halted));
	guard_free(small);
	guard_free(g);
}

static void test_hourly_cap_halts_before_passing(void)
{
	struct guard *g = guard_with_hourly_cap(10);
	struct guard_halt h;
	bool now_halted = false;
	char why[256];
	for (int i = 0; i < 2; i++) {
		CHECK(guard_allows(g, "111", "us-east-1", T0 + i, 5, why, sizeof(why), &h,
				   &now_halted));
		guard_record(g, "111", "us-east-1", T0 + i, &(struct guard_counts){.changes = 5},
			     NULL);
	}
	CHECK_INT(guard_changes_last_hour(g, T0 + 2), 10);
	CHECK(!guard_allows(g, "333", "ap-south-1", T0 + 2, 1, why, sizeof(why), &h, &now_halted));
	CHECK(now_halted);
	CHECK_STR(h.scope, GUARD_FLEET);
	CHECK(strstr(h.reason, "pass max_changes_per_hour 10") != NULL);
	/* a reload keeps the halt; only resume clears it */
	guard_set_limits(g, &limits);
	CHECK(!guard_allows(g, "111", "us-east-1", T0 + 3, 1, why, sizeof(why), NULL, NULL));
	guard_resume(g);
	CHECK(guard_allows(g, "111", "us-east-1", T0 + 3, 1, why, sizeof(why), NULL, NULL));
	CHECK_INT((int)guard_halts(g, NULL, 0), 0);
	/* an hour later the changes are forgotten */
	struct guard *g2 = guard_with_hourly_cap(10);
	guard_record(g2, "111", "us-east-1", T0, &(struct guard_counts){.changes = 10}, NULL);
	CHECK_INT(guard_changes_last_hour(g2, T0 + 3700), 0);
	guard_free(g);
	guard_free(g2);
}

static void test_off_means_off(void)
{
	struct guard_limits l = limits;
	l.max_failure_ratio = 0;
	struct guard *g = guard_new(&l);
	CHECK(!guard_record(g, "111", "us-east-1", T0,
			    &(struct guard_counts){.calls = 1000, .calls_failed = 1000}, NULL));
	guard_free(g);
}

static void test_halt_file_round_trip(void)
{
	char dir[] = "/tmp/ds-halt-XXXXXX";
	if (!mkdtemp(dir)) {
		CHECK(0);
		return;
	}
	char path[128], err[256];
	snprintf(path, sizeof(path), "%s/halt", dir);
	struct guard_halt *got = NULL;
	size_t n = 9;
	CHECK_INT(halt_file_read(path, &got, &n, err, sizeof(err)), 0); /* missing: no halt */
	CHECK_INT((int)n, 0);
	free(got);
	struct guard_halt in[2] = {{.scope = "fleet", .reason = "why \"quoted\"", .since = T0},
				   {.scope = "111/us-east-1", .reason = "r2", .since = T0 + 60}};
	CHECK_INT(halt_file_write(path, in, 2, err, sizeof(err)), 0);
	CHECK_INT(halt_file_read(path, &got, &n, err, sizeof(err)), 0);
	CHECK_INT((int)n, 2);
	if (n == 2) {
		CHECK_STR(got[0].reason, "why \"quoted\"");
		CHECK_STR(got[1].scope, "111/us-east-1");
		CHECK(got[1].since == T0 + 60);
	}
	free(got);
	FILE *f = fopen(path, "w");
	if (f) {
		fputs("not json", f);
		fclose(f);
	}
	CHECK(halt_file_read(path, &got, &n, err, sizeof(err)) != 0);
	CHECK(strstr(err, path) != NULL);
	free(got);
	unlink(path);
	rmdir(dir);
}

/* exec_options.may_start: refuses after `allow` actions */
struct gate {
	int allow, asked;
};

static bool gate(void *ud, const struct plan_action *a, char *why, size_t why_len)
{
	struct gate *g = ud;
	(void)a;
	if (g->asked++ < g->allow)
		return true;
	snprintf(why, why_len, "halted (fleet): test");
	return false;
}

struct outcome {
	int done;
	int held;
	char why[384];
};

static void on_done(void *ud, const struct exec_report *rep)
{
	struct outcome *o = ud;
	o->done = 1;
	for (size_t i = 0; i < rep->skipped + rep->done + rep->failed; i++)
		if (rep->results[i].held) {
			o->held++;
			snprintf(o->why, sizeof(o->why), "%s", rep->results[i].detail);
		}
}

static void test_executor_holds_what_the_gate_refuses(void)
{
	struct fake_ec2 f;
	fake_ec2_init(&f);
	struct plan plan;
	plan_init(&plan);
	/* three independent tag actions on subnets */
	for (int i = 0; i < 3; i++) {
		struct plan_action *a = vec_push(&plan.actions, sizeof(*a));
		if (!a)
			return;
		memset(a, 0, sizeof(*a));
		a->kind = ACT_TAG_MANAGED;
		a->step = 1;
		snprintf(a->vpc_id, sizeof(a->vpc_id), "vpc-fake");
		snprintf(a->resource_id, sizeof(a->resource_id), "subnet-%d", i);
	}
	struct poller *poller = poller_new(&f.port, 1);
	struct gate g = {.allow = 1};
	struct exec_options opt = {
	    .max_concurrent_stops = 1, .poller = poller, .may_start = gate, .may_start_ud = &g};
	struct outcome o = {0};
	struct executor *e = executor_start(&f.port, &plan, &opt, on_done, &o);
	fake_ec2_run(&f, &o.done, 600);
	CHECK(o.done);
	CHECK_INT(fake_ec2_count(&f, "CreateTags"), 1);
	CHECK_INT(o.held, 2);
	CHECK_STR(o.why, "halted (fleet): test");
	executor_free(e);
	poller_free(poller);
	plan_cleanup(&plan);
}

void test_guard(void)
{
	test_ratio_needs_samples_and_halts_its_scope();
	test_old_failures_leave_the_window();
	test_reconcile_ratio();
	test_hourly_cap_halts_before_passing();
	test_hourly_cap_is_split_among_replicas();
	test_off_means_off();
	test_halt_file_round_trip();
	test_executor_holds_what_the_gate_refuses();
}
