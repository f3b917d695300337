/* The executor over a fake EC2 (fake_ec2.c): every step of the resize state machine answered
 * with every class, a crash after every call, the window closing before the stop, shared stop
 * slots, and NACL twins stopping at the first failure. The invariant throughout: an instance
 * that was running ends running - on the new type, or back on its own with a finding tag. */
#include <stdlib.h>
#include <string.h>

#include "../../reconcile/executor.h"
#include "../../reconcile/plan.h"
#include "../../reconcile/poller.h"
#include "../../reconcile/revert.h"
#include "check.h"
#include "fake_ec2.h"
#include "plan_case.h"

static const char *const policy_json =
    "{\"mode\": \"enforce\", \"instances\": {\"resize\": \"always\", \"type_map\": "
    "{\"m3.large\": \"m4.large\"}, \"max_concurrent_stops\": 1}, "
    "\"routes\": {\"enabled\": false}, \"security_groups\": {\"enabled\": false}, "
    "\"network_acls\": {\"enabled\": false}}";

#define T0 1795694400 /* 2026-11-26 12:00 UTC, a Thursday */

struct clock_ud {
	struct fake_ec2 *f;
	time_t base;
};

static time_t fake_clock(void *ud)
{
	struct clock_ud *c = ud;
	return c->base + (time_t)c->f->now;
}

static void on_done(void *ud, const struct exec_report *rep)
{
	(void)rep;
	*(int *)ud = 1;
}

/* Plans from what the fake holds now and executes the plan, as one reconcile (revert_steps 0)
 * or one revert would; a crash (f->crash_after) ends it where it stands. */
static void run_once(struct fake_ec2 *f, const struct policy *pol, time_t base,
		     unsigned revert_steps)
{
	struct observed obs;
	struct plan plan;
	struct clock_ud clock = {f, base};
	observed_init(&obs);
	plan_init(&plan);
	fake_ec2_observe(f, &obs);
	struct plan_input in = {pol, &obs, "vpc-fake", base + (time_t)f->now};
	struct revert_input rin = {pol, &obs, "vpc-fake", revert_steps, base + (time_t)f->now,
				   NULL};
	CHECK((revert_steps ? revert_build(&rin, &plan) : plan_build(&in, &plan)) == DS_OK);

	struct poller *poller = poller_new(&f->port, 1);
	struct exec_options opt = {.max_concurrent_stops = pol->max_concurrent_stops,
				   .poll_s = 1,
				   .wait_timeout_s = 600,
				   .poller = poller,
				   .policy = pol,
				   .clock = fake_clock,
				   .clock_ud = &clock};
	int done = 0;
	struct executor *e = executor_start(&f->port, &plan, &opt, on_done, &done);
	fake_ec2_run(f, &done, f->now + 3600);
	if (f->crashed)
		fake_ec2_crash(f); /* the process is gone: its timers and its memory with it */
	else
		CHECK_MSG(done, "the executor never finished");
	/* after a crash nothing calls back into the executor (its timers are gone): freeing it
	 * is what the process's exit does to its memory */
	executor_free(e);
	poller_free(poller);
	plan_cleanup(&plan);
	observed_cleanup(&obs);
}

static void reconcile_once(struct fake_ec2 *f, const struct policy *pol, time_t base)
{
	run_once(f, pol, base, 0);
}

static struct policy *load_policy(const char *json)
{
	struct buf err;
	buf_init(&err, 0);
	struct policy *p = policy_new("p.json", json, strlen(json), &err);
	CHECK_MSG(p != NULL, "%s", err.data ? err.data : "");
	buf_cleanup(&err);
	return p;
}

static bool has_resize_tags(const struct fake_instance *in)
{
	return fake_ec2_tag_get(in, TAG_RESIZE_FROM) || fake_ec2_tag_get(in, TAG_RESIZE_TO) ||
	       fake_ec2_tag_get(in, TAG_RESIZE_WAS) || fake_ec2_tag_get(in, TAG_RESIZE_ROLLBACK);
}

/* Reconciles until the plan is empty or n runs (the daemon's next reconciles). */
static void reconcile_until_settled(struct fake_ec2 *f, const struct policy *pol, int runs)
{
	for (int r = 0; r < runs; r++) {
		int before = f->n_calls;
		reconcile_once(f, pol, T0);
		if (f->n_calls == before)
			return;
	}
}

static const char *const steps[] = {"CreateTags", "StopInstances", "ModifyInstanceAttribute",
				    "StartInstances", "DeleteTags"};
static const struct {
	enum fake_fault fault;
	const char *name;
} retryable[] = {{FAULT_THROTTLED, "throttled"},
		 {FAULT_TRANSIENT, "transient"},
		 {FAULT_AMBIGUOUS, "ambiguous"},
		 {FAULT_STATE, "state"}};

/* A fault that passes: the resize finishes, the instance runs on m4.large, untagged. */
static void test_retryable_answers(const struct policy *pol)
{
	for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++)
		for (size_t k = 0; k < sizeof(retryable) / sizeof(retryable[0]); k++) {
			struct fake_ec2 f;
			fake_ec2_init(&f);
			struct fake_instance *in =
			    fake_ec2_add_instance(&f, "i-0db", "m3.large", "running");
			fake_ec2_fault(&f, steps[s], retryable[k].fault, 1);
			reconcile_until_settled(&f, pol, 3);
			CHECK_MSG(!strcmp(in->state, "running") && !strcmp(in->type, "m4.large") &&
				      !has_resize_tags(in),
				  "%s answered %s: instance %s on %s, resize tags %s", steps[s],
				  retryable[k].name, in->state, in->type,
				  has_resize_tags(in) ? "left" : "gone");
			CHECK_MSG(fake_ec2_count(&f, "StopInstances") <= 2 + (s == 1),
				  "%s %s: %d stops", steps[s], retryable[k].name,
				  fake_ec2_count(&f, "StopInstances"));
		}
}

/* A fault for good: the instance ends running - on m3.large with the failed tag when the
 * resize rolled back, on m4.large when only the last untag failed. */
static void test_final_answers(const struct policy *pol)
{
	static const struct {
		enum fake_fault fault;
		const char *name;
	} final[] = {{FAULT_FATAL, "fatal"}, {FAULT_CAPACITY, "capacity"}};
	for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++)
		for (size_t k = 0; k < 2; k++) {
			struct fake_ec2 f;
			fake_ec2_init(&f);
			struct fake_instance *in =
			    fake_ec2_add_instance(&f, "i-0db", "m3.large", "running");
			/* a start fails only for the new type (no capacity for it, or the AMI
			 * does not run on it); the original type still starts */
			if (!strcmp(steps[s], "StartInstances"))
				fake_ec2_fault_type(&f, steps[s], final[k].fault, -1, "m4.large");
			else
				fake_ec2_fault(&f, steps[s], final[k].fault, -1);
			reconcile_until_settled(&f, pol, 3);
			if (getenv("DS_TRACE"))
				for (int c = 0; c < f.n_calls; c++)
					fprintf(stderr, "  %s %s %s\n", f.calls[c].action,
						f.calls[c].failed ? "FAILED" : "ok",
						f.calls[c].params);
			CHECK_MSG(!strcmp(in->state, "running"), "%s answered %s: instance left %s",
				  steps[s], final[k].name, in->state);
			bool rolled_back = s >= 1 && s <= 3;
			if (rolled_back) {
				CHECK_MSG(!strcmp(in->type, "m3.large") &&
					      fake_ec2_tag_get(in, TAG_RESIZE_FAILED) &&
					      !has_resize_tags(in),
					  "%s answered %s: rollback left %s, failed tag %s",
					  steps[s], final[k].name, in->type,
					  fake_ec2_tag_get(in, TAG_RESIZE_FAILED) ? "set"
										  : "missing");
				/* once rolled back, later reconciles leave it alone */
				int calls = f.n_calls;
				reconcile_until_settled(&f, pol, 2);
				CHECK_INT(f.n_calls, calls);
			} else if (s == 0) {
				CHECK(!strcmp(in->type, "m3.large") && !has_resize_tags(in));
				CHECK_INT(fake_ec2_count(&f, "StopInstances"), 0);
			} else {
				CHECK(!strcmp(in->type, "m4.large"));
			}
		}
}

/* StartInstances is accepted, and the instance falls back to stopped (EC2 found no room). */
static void test_start_without_placement(const struct policy *pol)
{
	struct fake_ec2 f;
	fake_ec2_init(&f);
	struct fake_instance *in = fake_ec2_add_instance(&f, "i-0db", "m3.large", "running");
	fake_ec2_fault_type(&f, "StartInstances", FAULT_START_NO_PLACE, -1, "m4.large");
	reconcile_until_settled(&f, pol, 3);
	CHECK_STR(in->state, "running");
	CHECK_STR(in->type, "m3.large");
	CHECK(fake_ec2_tag_get(in, TAG_RESIZE_FAILED) != NULL);
	CHECK(!has_resize_tags(in));
}

/* The process dies after each call of a resize (forward, and during a rollback); the next
 * reconcile finishes the job from the tags, and nothing is stopped twice. */
static void test_crash_after_each_call(const struct policy *pol)
{
	for (int rollback = 0; rollback < 2; rollback++)
		for (int k = 1; k <= (rollback ? 9 : 5); k++) {
			struct fake_ec2 f;
			fake_ec2_init(&f);
			struct fake_instance *in =
			    fake_ec2_add_instance(&f, "i-0db", "m3.large", "running");
			if (rollback)
				fake_ec2_fault_type(&f, "StartInstances", FAULT_CAPACITY, -1,
						    "m4.large");
			f.crash_after = k;
			reconcile_once(&f, pol, T0);
			reconcile_until_settled(&f, pol, 4);
			CHECK_MSG(!strcmp(in->state, "running"),
				  "crash after call %d%s: instance left %s", k,
				  rollback ? " (rolling back)" : "", in->state);
			CHECK_MSG(!strcmp(in->type, rollback ? "m3.large" : "m4.large") &&
				      !has_resize_tags(in),
				  "crash after call %d%s: %s, tags %s", k,
				  rollback ? " (rolling back)" : "", in->type,
				  has_resize_tags(in) ? "left" : "gone");
			CHECK_MSG(fake_ec2_count(&f, "StopInstances") == 1,
				  "crash after call %d: %d stops", k,
				  fake_ec2_count(&f, "StopInstances"));
		}
}

#define RESIZE_BACK (REVERT_RESIZE_BACK | (1u << 5))

/* revert --resize-back after a resize: back on m3.large, running, with nothing of the resize
 * left (its record included); every answer class at every step of the way back, and a crash
 * after each of its calls, end with the instance running - on m3.large, or rolled back to
 * m4.large with the failure recorded - and a second revert settles what a crash left. */
static void test_resize_back(const struct policy *pol)
{
	for (size_t s = 0; s <= sizeof(steps) / sizeof(steps[0]); s++) {
		for (int mode = 0; mode < 3;
		     mode++) { /* a final answer, a retryable one, a crash */
			if (s == sizeof(steps) / sizeof(steps[0]) && mode)
				continue; /* (the clean run is case s == 5, once) */
			struct fake_ec2 f;
			fake_ec2_init(&f);
			struct fake_instance *in =
			    fake_ec2_add_instance(&f, "i-0db", "m3.large", "running");
			reconcile_until_settled(&f, pol, 4);
			CHECK(!strcmp(in->type, "m4.large") &&
			      fake_ec2_tag_get(in, TAG_RESIZED_FROM) &&
			      !strcmp(fake_ec2_tag_get(in, TAG_RESIZED_FROM), "m3.large"));
			/* its address is dualstackd's (the fake gives every instance one) */
			fake_ec2_tag(in, TAG_MANAGED, MARK_VALUE);
			int base = f.n_calls + 1; /* the address goes first */
			const char *step = s < sizeof(steps) / sizeof(steps[0]) ? steps[s] : NULL;
			if (step && mode == 0)
				fake_ec2_fault(&f, step, FAULT_FATAL, 1);
			if (step && mode == 1)
				fake_ec2_fault(&f, step, FAULT_THROTTLED, 1);
			if (step && mode == 2)
				f.crash_after = base + (int)s + 1;
			run_once(&f, pol, T0, RESIZE_BACK);
			if (mode != 1) /* the next reverts settle what a crash or a refusal left */
				for (int r = 0; r < 3; r++)
					run_once(&f, pol, T0, RESIZE_BACK);
			const char *what = step ? step : "none";
			CHECK_MSG(!strcmp(in->state, "running"), "%s/%d: left %s", what, mode,
				  in->state);
			CHECK_MSG(!has_resize_tags(in), "%s/%d: resize tags left", what, mode);
			bool failed = fake_ec2_tag_get(in, TAG_RESIZE_FAILED) != NULL;
			if (!strcmp(in->type, "m3.large"))
				CHECK_MSG(!fake_ec2_tag_get(in, TAG_RESIZED_FROM) && !failed,
					  "%s/%d: back on m3.large with its record", what, mode);
			else
				CHECK_MSG(!strcmp(in->type, "m4.large") &&
					      failed, /* on m4.large only by a rollback */
					  "%s/%d: on %s", what, mode, in->type);
			if (mode == 1 || !step)
				CHECK_MSG(!strcmp(in->type, "m3.large"), "%s/%d: on %s", what, mode,
					  in->type);
		}
	}
}

/* The window is open when the plan is made and closes before the stop can be sent (the first
 * StopInstances is throttled): nothing is stopped, the tags come off again. */
static void test_window_checked_at_the_stop(void)
{
	/* Thursday 12:00 UTC is T0: a window thu:11:00-thu:12:00 closes 2 s after the plan */
	struct policy *pol = load_policy(
	    "{\"instances\": {\"resize\": \"always\", \"type_map\": {\"m3.large\": \"m4.large\"}, "
	    "\"maintenance_window\": \"thu:11:00-thu:12:00\"}, \"routes\": {\"enabled\": false},"
	    " \"security_groups\": {\"enabled\": false}, \"network_acls\": {\"enabled\": false}}");
	if (!pol)
		return;
	struct fake_ec2 f;
	fake_ec2_init(&f);
	struct fake_instance *in = fake_ec2_add_instance(&f, "i-0db", "m3.large", "running");
	fake_ec2_fault(&f, "StopInstances", FAULT_THROTTLED, 1);
	reconcile_once(&f, pol, T0 - 2); /* tag at 0 s, stop (throttled) at 1 s, closed at 2 s */
	CHECK_STR(in->state, "running");
	CHECK_STR(in->type, "m3.large");
	CHECK(!has_resize_tags(in));
	CHECK_INT(fake_ec2_count(&f, "StopInstances"), 1); /* the throttled one, nothing since */
	/* a resume after a crash outside the window only gets the instance running again */
	fake_ec2_tag(in, TAG_RESIZE_FROM, "m3.large");
	fake_ec2_tag(in, TAG_RESIZE_TO, "m4.large");
	fake_ec2_tag(in, TAG_RESIZE_WAS, "running");
	snprintf(in->state, sizeof(in->state), "stopped");
	reconcile_once(&f, pol, T0 + 3600);
	CHECK_STR(in->state, "running");
	CHECK_STR(in->type, "m3.large");
	CHECK(!has_resize_tags(in));
	CHECK_INT(fake_ec2_count(&f, "ModifyInstanceAttribute"), 0);
	policy_unref(pol);
}

/* Tags someone else wrote cannot make dualstackd retype toward a type the policy would not
 * choose: the instance is started as it is and untagged. */
static void test_tags_are_not_authority(const struct policy *pol)
{
	struct fake_ec2 f;
	fake_ec2_init(&f);
	struct fake_instance *in = fake_ec2_add_instance(&f, "i-0db", "m3.large", "stopped");
	fake_ec2_tag(in, TAG_RESIZE_FROM, "m3.large");
	fake_ec2_tag(in, TAG_RESIZE_TO, "m5.24xlarge");
	fake_ec2_tag(in, TAG_RESIZE_WAS, "running");
	reconcile_once(&f, pol, T0);
	CHECK_STR(in->state, "running");
	CHECK_STR(in->type, "m3.large");
	CHECK(!has_resize_tags(in));
	CHECK_INT(fake_ec2_count(&f, "ModifyInstanceAttribute"), 0);
}

/* Two executors share one account's stop slots (max_concurrent_stops 1): never two stopped. */
static void test_shared_stop_slots(const struct policy *pol)
{
	struct fake_ec2 f;
	fake_ec2_init(&f);
	fake_ec2_add_instance(&f, "i-0a", "m3.large", "running");
	fake_ec2_add_instance(&f, "i-0b", "m3.large", "running");
	struct observed obs;
	observed_init(&obs);
	fake_ec2_observe(&f, &obs);
	struct plan p1, p2;
	plan_init(&p1);
	plan_init(&p2);
	struct plan_input in = {pol, &obs, "vpc-fake", T0};
	plan_build(&in, &p1);
	plan_build(&in, &p2);
	/* each executor takes one of the two resizes */
	CHECK_INT(p1.actions.n, 2);
	if (p1.actions.n == 2) {
		p1.actions.n = 1;
		p2.actions.v[0] = p2.actions.v[1];
		p2.actions.n = 1;
	}
	struct poller *poller = poller_new(&f.port, 1);
	struct clock_ud clock = {&f, T0};
	int stops = 0, d1 = 0, d2 = 0;
	struct exec_options opt = {.max_concurrent_stops = 1,
				   .poll_s = 1,
				   .wait_timeout_s = 600,
				   .shared_stops = &stops,
				   .poller = poller,
				   .policy = pol,
				   .clock = fake_clock,
				   .clock_ud = &clock};
	struct executor *e1 = executor_start(&f.port, &p1, &opt, on_done, &d1);
	struct executor *e2 = executor_start(&f.port, &p2, &opt, on_done, &d2);
	int both = 0;
	while (!both && f.now < 600) {
		fake_ec2_run(&f, &d1, f.now + 600);
		fake_ec2_run(&f, &d2, f.now + 600);
		both = d1 && d2;
	}
	CHECK(d1 && d2);
	CHECK_INT(f.max_stopped, 1);
	CHECK_INT(stops, 0);
	CHECK_INT(fake_ec2_count(&f, "StopInstances"), 2);
	executor_free(e1);
	executor_free(e2);
	poller_free(poller);
	p2.actions.n = 2;
	plan_cleanup(&p1);
	plan_cleanup(&p2);
	observed_cleanup(&obs);
}

/* NACL twins of one direction: the first fails, none after it in that direction is sent. */
static void test_nacl_direction_stops_at_first_failure(void)
{
	struct plan_case pc;
	struct plan plan;
	plan_init(&plan);
	if (!plan_case_open(&pc, "plan", "network-acls")) {
		plan_case_close(&pc);
		return;
	}
	struct plan_input in = {pc.pol, &pc.obs, pc.vpc, pc.now};
	CHECK(plan_build(&in, &plan) == DS_OK);
	struct fake_ec2 f;
	fake_ec2_init(&f);
	fake_ec2_fault(&f, "CreateNetworkAclEntry", FAULT_FATAL, 1);
	CHECK(fake_ec2_execute(&f, &plan, pc.pol));
	/* the first call failed; every other call is of another ACL or direction */
	const struct fake_call *first = NULL;
	int same = 0;
	for (int i = 0; i < f.n_calls; i++) {
		if (strcmp(f.calls[i].action, "CreateNetworkAclEntry"))
			continue;
		if (!first) {
			first = &f.calls[i];
			CHECK(first->failed);
			continue;
		}
		char acl[64] = "", egress[16] = "", acl0[64] = "", egress0[16] = "";
		const char *p = strstr(f.calls[i].params, "NetworkAclId=");
		const char *q = strstr(first->params, "NetworkAclId=");
		if (p && q) {
			snprintf(acl, sizeof(acl), "%.*s", (int)strcspn(p, "&"), p);
			snprintf(acl0, sizeof(acl0), "%.*s", (int)strcspn(q, "&"), q);
		}
		p = strstr(f.calls[i].params, "Egress=");
		q = strstr(first->params, "Egress=");
		if (p && q) {
			snprintf(egress, sizeof(egress), "%.*s", (int)strcspn(p, "&"), p);
			snprintf(egress0, sizeof(egress0), "%.*s", (int)strcspn(q, "&"), q);
		}
		same += !strcmp(acl, acl0) && !strcmp(egress, egress0);
	}
	CHECK(first != NULL);
	CHECK_INT(same, 0);
	plan_cleanup(&plan);
	plan_case_close(&pc);
}

void test_executor(void)
{
	struct policy *pol = load_policy(policy_json);
	if (!pol)
		return;
	test_retryable_answers(pol);
	test_final_answers(pol);
	test_start_without_placement(pol);
	test_crash_after_each_call(pol);
	test_resize_back(pol);
	test_tags_are_not_authority(pol);
	test_shared_stop_slots(pol);
	test_window_checked_at_the_stop();
	test_nacl_direction_stops_at_first_failure();
	policy_unref(pol);
}
