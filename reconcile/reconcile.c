/* A run: [list the VPCs] -> read (batched) -> plan each VPC -> execute every non-empty plan at
 * once (the client paces them) -> read -> plan -> ... A VPC is done when its plan is empty; the
 * run ends when every VPC is done, a round had failures (they need the next reconcile or an
 * operator, not a tight loop), or RECONCILE_MAX_ROUNDS rounds ran. */
#include "reconcile.h"
#include "revert.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "poller.h"
#include "reader.h"

#define TARGET_BUCKETS 1024
/* Reads of one kind (VPCs, subnets, instances) for waiters are at least this far apart: what is
 * due within it joins one read, and the waits themselves back off from poll_s to 1 s (executor.c POLL_MAX_S). */
#define POLL_GAP_S 0.2

/* What every run of one (account, region) shares. */
struct rc_target {
	char account[DS_ID_LEN];
	char region[DS_ID_LEN];
	int stops_running;
	struct poller *poller; /* on the first shared port given for the target */
	/* VPCs that failed lately (a hash of the id, when): a VPC failing again within the guard's
	 * window is one broken VPC, not more of a failure ratio (collisions only count more) */
	struct {
		uint32_t vpc;
		time_t at;
	} failed_lately[32];
	struct rc_target *next;
};

struct reconciler {
	struct policy *policy;
	time_t (*clock)(void *ud);
	void *clock_ud;
	double poll_s, wait_timeout_s;
	struct rc_target *targets[TARGET_BUCKETS];
	struct guard *guard;
	int open_through; /* rollout: the last open wave (-1: none yet) */
	char wave_why[256];
	void (*on_halt)(void *ud, const struct guard_halt *h);
	void *on_halt_ud;
};

struct reconcile_run {
	struct reconciler *r;
	struct policy *policy; /* the run's own reference */
	struct rc_target *target;
	const struct ec2_port *port;
	struct poller *poller;	   /* the target's, or own_poller */
	struct poller *own_poller; /* when the request gave no shared port */
	bool execute;
	unsigned revert_steps; /* non-zero: a revert run (revert.h) */
	const struct audit_log *audit;
	bool cancelled;
	bool held; /* the guard held an action: a halt */
	struct observed obs;
	struct reconcile_vpc *vpcs;
	size_t n_vpcs;
	struct executor **executors;
	int executing;
	int round;
	int rc;
	struct ec2_error err;
	bool listing;
	reconcile_done_fn done;
	void *ud;
};

const char *reconcile_outcome_name(enum reconcile_outcome o)
{
	static const char *const names[] = {"converged", "blocked", "pending", "failed",
					    "gone",	 "halted",  "waiting"};
	return (unsigned)o < sizeof(names) / sizeof(names[0]) ? names[o] : "?";
}

static time_t default_clock(void *ud)
{
	(void)ud;
	return time(NULL);
}

struct reconciler *reconciler_new(struct policy *policy, time_t (*clock)(void *ud), void *clock_ud)
{
	struct reconciler *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->policy = policy_ref(policy);
	r->guard = guard_new(&policy->guard);
	if (!r->guard) {
		policy_unref(r->policy);
		free(r);
		return NULL;
	}
	r->clock = clock ? clock : default_clock;
	r->open_through = -1;
	snprintf(r->wave_why, sizeof(r->wave_why), "the fleet's rollout state is not known yet");
	r->clock_ud = clock_ud;
	r->poll_s = 1;
	r->wait_timeout_s = 900;
	return r;
}

void reconciler_free(struct reconciler *r)
{
	if (!r)
		return;
	for (size_t b = 0; b < TARGET_BUCKETS; b++)
		for (struct rc_target *t = r->targets[b], *n; t; t = n) {
			n = t->next;
			poller_free(t->poller);
			free(t);
		}
	guard_free(r->guard);
	policy_unref(r->policy);
	free(r);
}

void reconciler_set_policy(struct reconciler *r, struct policy *policy)
{
	struct policy *old = r->policy;
	/* open waves are indices into the waves they were decided for: other waves open nothing
	 * until the fleet is looked at again */
	if (old->n_waves != policy->n_waves ||
	    memcmp(old->waves, policy->waves, policy->n_waves * sizeof(policy->waves[0]))) {
		r->open_through = -1;
		snprintf(
		    r->wave_why, sizeof(r->wave_why),
		    "the rollout waves changed: no wave opens before the fleet is looked at again");
	}
	r->policy = policy_ref(policy);
	policy_unref(old);
	guard_set_limits(r->guard, &policy->guard); /* halts and windows are kept */
}

void reconciler_set_replicas(struct reconciler *r, int replicas)
{
	guard_set_replicas(r->guard, replicas);
}

void reconciler_set_rollout(struct reconciler *r, int open_through, const char *why)
{
	r->open_through = open_through;
	snprintf(r->wave_why, sizeof(r->wave_why), "%s", why ? why : "");
}

int reconciler_rollout(const struct reconciler *r, char *why, size_t why_len)
{
	if (why_len)
		snprintf(why, why_len, "%s", r->wave_why);
	return r->open_through;
}

struct guard *reconciler_guard(struct reconciler *r)
{
	return r->guard;
}

void reconciler_on_halt(struct reconciler *r, void (*on_halt)(void *ud, const struct guard_halt *h),
			void *ud)
{
	r->on_halt = on_halt;
	r->on_halt_ud = ud;
}

const struct policy *reconciler_policy(const struct reconciler *r)
{
	return r->policy;
}

void reconciler_set_timing(struct reconciler *r, double poll_s, double wait_timeout_s)
{
	r->poll_s = poll_s;
	r->wait_timeout_s = wait_timeout_s;
}

static uint32_t target_hash(const char *account, const char *region)
{
	return ds_hash(ds_hash(ds_hash(DS_HASH_SEED, account), "/"), region) % TARGET_BUCKETS;
}

static struct rc_target *target_get(struct reconciler *r, const char *account, const char *region,
				    bool create)
{
	uint32_t b = target_hash(account, region);
	for (struct rc_target *t = r->targets[b]; t; t = t->next)
		if (!strcmp(t->account, account) && !strcmp(t->region, region))
			return t;
	if (!create)
		return NULL;
	struct rc_target *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	snprintf(t->account, sizeof(t->account), "%s", account);
	snprintf(t->region, sizeof(t->region), "%s", region);
	t->next = r->targets[b];
	r->targets[b] = t;
	return t;
}

int reconciler_stops_running(struct reconciler *r, const char *account, const char *region)
{
	struct rc_target *t = target_get(r, account, region, false);
	return t ? t->stops_running : 0;
}

/* ---- the run ---- */

/* True when vpc failed already within the guard's window (its failure is counted once); else
 * remembers it. */
static bool failed_again(struct reconcile_run *run, const char *vpc)
{
	uint32_t h = ds_hash(DS_HASH_SEED, vpc);
	time_t now = run->r->clock(run->r->clock_ud);
	struct rc_target *t = run->target;
	size_t slot = h % (sizeof(t->failed_lately) / sizeof(t->failed_lately[0]));
	if (t->failed_lately[slot].vpc == h && t->failed_lately[slot].at &&
	    now - t->failed_lately[slot].at < run->policy->guard.window_s)
		return true;
	t->failed_lately[slot].vpc = h;
	t->failed_lately[slot].at = now;
	return false;
}

static void guard_note(struct reconcile_run *run, const struct guard_counts *c)
{
	struct reconciler *r = run->r;
	struct guard_halt h;
	if (guard_record(r->guard, run->target->account, run->target->region, r->clock(r->clock_ud),
			 c, &h) &&
	    r->on_halt)
		r->on_halt(r->on_halt_ud, &h);
}

bool reconcile_vpc_resizing(const struct reconcile_vpc *v)
{
	for (size_t i = 0; i < v->plan.actions.n; i++)
		if (v->plan.actions.v[i].kind == ACT_RESIZE_INSTANCE && v->plan.actions.v[i].resume)
			return true;
	return false;
}

/* Calls beyond the converged-at tag. */
static bool has_work(const struct plan *p)
{
	for (size_t i = 0; i < p->actions.n; i++)
		if (p->actions.v[i].kind != ACT_TAG_VPC_CONVERGED)
			return true;
	return false;
}

static bool was_held(const struct reconcile_vpc *v)
{
	for (size_t k = 0; v->results && k < v->executed.actions.n; k++)
		if (v->results[k].held)
			return true;
	return false;
}

static void finish(struct reconcile_run *run)
{
	struct guard_counts runs = {0};
	for (size_t i = 0; i < run->n_vpcs; i++) {
		struct reconcile_vpc *v = &run->vpcs[i];
		if (v->outcome == RC_GONE)
			continue;
		if (v->plan.actions.n && run->held && was_held(v))
			v->outcome = RC_HALTED;
		else if (v->waiting && has_work(&v->plan))
			v->outcome = RC_WAITING;
		else if (v->plan.actions.n)
			v->outcome = run->execute && run->policy->mode == POLICY_ENFORCE
					 ? RC_FAILED
					 : RC_PENDING;
		else
			v->outcome = plan_blocked(&v->plan) ? RC_BLOCKED : RC_CONVERGED;
		if (v->rounds && !run->cancelled) { /* it wrote, or tried to; a handover or a
						      * drain stopped it: no failure of EC2's */
			if (v->outcome == RC_FAILED && !v->failure_seen) {
				v->failure_seen = true;
				v->failed_again = failed_again(run, v->vpc_id);
			}
			runs.runs += !v->failed_again;
			runs.runs_failed += v->outcome == RC_FAILED && !v->failed_again;
		}
	}
	if (runs.runs)
		guard_note(run, &runs);
	run->done(run->ud, run);
}

static void on_deferred_finish(void *ud)
{
	finish(ud);
}

/* Ends the run from a place that may be inside reconcile_start. */
static void fail_run(struct reconcile_run *run, int rc, const char *code, const char *msg)
{
	run->rc = rc;
	if (code) {
		snprintf(run->err.code, sizeof(run->err.code), "%s", code);
		snprintf(run->err.message, sizeof(run->err.message), "%s", msg ? msg : "");
	}
	if (run->port->after(run->port->ctx, 0, on_deferred_finish, run))
		finish(run);
}

static void plan_all(struct reconcile_run *run)
{
	time_t now = run->r->clock(run->r->clock_ud);
	for (size_t i = 0; i < run->n_vpcs; i++) {
		struct reconcile_vpc *v = &run->vpcs[i];
		if (v->outcome == RC_GONE)
			continue;
		plan_cleanup(&v->plan);
		plan_init(&v->plan);
		struct plan_input in = {run->policy, &run->obs, v->vpc_id, now};
		struct revert_input rin = {.policy = run->policy,
					   .obs = &run->obs,
					   .vpc_id = v->vpc_id,
					   .steps = run->revert_steps,
					   .now = now,
					   .audit = run->audit};
		int rc =
		    run->revert_steps ? revert_build(&rin, &v->plan) : plan_build(&in, &v->plan);
		if (rc == DS_ENOTFOUND) {
			v->outcome = RC_GONE;
			snprintf(v->plan.vpc_id, sizeof(v->plan.vpc_id), "%s", v->vpc_id);
		} else {
			if (rc) /* half a plan (out of memory, a dependency it could not hold) */
				plan_refuse(&v->plan, rc);
			plan_progress(&run->obs, run->policy, v->vpc_id, &v->plan, &v->progress);
			const struct vpc *o = NULL;
			for (size_t k = 0; !o && k < run->obs.vpcs.n; k++)
				if (!strcmp(run->obs.vpcs.v[k].vpc_id, v->vpc_id))
					o = &run->obs.vpcs.v[k];
			v->wave = o ? rollout_wave_of(run->policy, run->target->account, o)
				    : ROLLOUT_NO_WAVE;
			v->converged_at = o ? rollout_converged_at(o) : 0;
		}
	}
}

static void read_all(struct reconcile_run *run);

static void on_executed(void *ud, const struct exec_report *rep);

struct exec_slot {
	struct reconcile_run *run;
	size_t vpc;
};

/* Mutating calls an action makes when it goes well: what max_changes_per_hour counts. An item
 * that rides in another action's request (a mark, a group's permission) makes none. */
static int action_calls(const struct plan_action *a)
{
	if (a->rides_with >= 0)
		return 0;
	switch (a->kind) {
	case ACT_RESIZE_INSTANCE: return 5; /* tag, stop, retype, start, untag */
	case ACT_GUEST_DHCPV6: return 2;    /* SendCommand, then a tag */
	default: return 1;
	}
}

/* A resize that an earlier run began (or a rollback): the guard never strands an instance. */
static bool resize_under_way(const struct observed *obs, const struct plan_action *a)
{
	if (a->kind != ACT_RESIZE_INSTANCE)
		return false;
	if (a->resize_mode != RESIZE_FORWARD)
		return true;
	for (size_t i = 0; i < obs->instances.n; i++)
		if (!strcmp(obs->instances.v[i].instance_id, a->resource_id))
			return tag_get(&obs->instances.v[i].tags, TAG_RESIZE_FROM) != NULL;
	return false;
}

/* exec_options.may_start: the blast-radius guard, asked as each action is about to start. */
static bool may_start(void *ud, const struct plan_action *a, char *why, size_t why_len)
{
	struct reconcile_run *run = ud;
	struct reconciler *r = run->r;
	if (resize_under_way(&run->obs, a))
		return true;
	struct guard_halt h;
	bool halted_now = false;
	if (guard_allows(r->guard, run->target->account, run->target->region, r->clock(r->clock_ud),
			 action_calls(a), why, why_len, &h, &halted_now)) {
		/* counted as it starts, so in-flight calls count against the hourly cap */
		guard_record(r->guard, run->target->account, run->target->region,
			     r->clock(r->clock_ud),
			     &(struct guard_counts){.changes = action_calls(a)}, NULL);
		return true;
	}
	run->held = true;
	if (halted_now && r->on_halt)
		r->on_halt(r->on_halt_ud, &h);
	return false;
}

/* What a VPC whose wave is not open may still do: write its converged-at tag (metadata the
 * rollout needs, not a change to the network) and drive a resize an earlier run began to its end
 * (an instance is never left stopped because a wave closed). The rest waits. */
static void wave_closed_plan(struct reconcile_run *run, const struct plan *full, struct plan *out)
{
	plan_init(out);
	snprintf(out->vpc_id, sizeof(out->vpc_id), "%s", full->vpc_id);
	for (size_t i = 0; i < full->actions.n; i++) {
		const struct plan_action *a = &full->actions.v[i];
		if (a->kind != ACT_TAG_VPC_CONVERGED && !resize_under_way(&run->obs, a))
			continue;
		struct plan_action *c = vec_push(&out->actions, sizeof(*c));
		if (!c)
			break;
		*c = *a;
		c->n_deps = 0; /* alone in this plan: it waits for nothing that stays held */
		c->rides_with = -1;
	}
}

/* Executes every pending plan at once; false when there is nothing to execute. */
static bool execute_round(struct reconcile_run *run)
{
	struct exec_options opt = {.max_concurrent_stops = run->policy->max_concurrent_stops,
				   .poll_s = run->r->poll_s,
				   .wait_timeout_s = run->r->wait_timeout_s,
				   .shared_stops = &run->target->stops_running,
				   .poller = run->poller,
				   .policy = run->policy,
				   .clock = run->r->clock,
				   .clock_ud = run->r->clock_ud,
				   .may_start = may_start,
				   .may_start_ud = run};
	bool any = false;
	run->executing = 1; /* held until every executor is started */
	for (size_t i = 0; i < run->n_vpcs; i++) {
		struct reconcile_vpc *v = &run->vpcs[i];
		executor_free(run->executors[i]);
		run->executors[i] = NULL;
		if (v->outcome == RC_GONE || !v->plan.actions.n)
			continue;
		/* the plan about to run becomes `executed`; a fresh one is built after */
		plan_cleanup(&v->executed);
		v->waiting = run->policy->n_waves && !run->revert_steps &&
			     (v->wave == ROLLOUT_NO_WAVE || v->wave > run->r->open_through);
		if (v->waiting) {
			wave_closed_plan(run, &v->plan, &v->executed);
			if (!v->executed.actions.n)
				continue;
		} else {
			v->executed = v->plan;
			plan_init(&v->plan);
		}
		free(v->results);
		v->results = NULL;
		v->rounds++;
		struct exec_slot *s = malloc(sizeof(*s));
		if (!s)
			continue;
		s->run = run;
		s->vpc = i;
		any = true;
		run->executing++;
		run->executors[i] = executor_start(run->port, &v->executed, &opt, on_executed, s);
		if (!run->executors[i]) {
			free(s);
			run->executing--;
		}
	}
	run->executing--;
	return any;
}

static void after_round(struct reconcile_run *run)
{
	bool failures = false;
	for (size_t i = 0; i < run->n_vpcs; i++) {
		struct reconcile_vpc *v = &run->vpcs[i];
		for (size_t k = 0; v->results && k < v->executed.actions.n; k++)
			failures |= v->results[k].status == ACTION_FAILED ||
				    v->results[k].status == ACTION_SKIPPED;
	}
	run->round++;
	/* failures need the next reconcile (with its backoff) or an operator, not a tight loop;
	 * the re-read still runs so the outcome is what EC2 holds now */
	if (failures || run->cancelled)
		run->round = RECONCILE_MAX_ROUNDS;
	read_all(run);
}

static void on_round_over(void *ud)
{
	after_round(ud);
}

static void on_executed(void *ud, const struct exec_report *rep)
{
	struct exec_slot *s = ud;
	struct reconcile_run *run = s->run;
	struct reconcile_vpc *v = &run->vpcs[s->vpc];
	size_t n = v->executed.actions.n;
	free(s);
	v->mutating_calls += rep->mutating_calls;
	v->results = calloc(n + 1, sizeof(*v->results));
	if (v->results)
		memcpy(v->results, rep->results, n * sizeof(*v->results));
	struct guard_counts c = {0};
	for (size_t k = 0; k < n; k++) { /* actions that ended for good; held ones did not run */
		c.calls += rep->results[k].status == ACTION_DONE ||
			   rep->results[k].status == ACTION_FAILED;
		c.calls_failed += rep->results[k].status == ACTION_FAILED;
	}
	if (c.calls_failed && !v->failure_seen) {
		v->failure_seen = true;
		v->failed_again = failed_again(run, v->vpc_id);
	}
	if (c.calls && !v->failed_again)
		guard_note(run, &c);
	/* on the loop's next turn: this executor's callback is still on the stack, and the next
	 * round frees it */
	if (--run->executing == 0 && run->port->after(run->port->ctx, 0, on_round_over, run))
		after_round(run);
}

static void on_read(void *ud, int rc, const struct ec2_error *err)
{
	struct reconcile_run *run = ud;
	if (rc) {
		run->rc = rc;
		if (err)
			run->err = *err;
		finish(run);
		return;
	}
	plan_all(run);
	if (!run->execute || run->policy->mode == POLICY_DRY_RUN ||
	    run->round >= RECONCILE_MAX_ROUNDS || !execute_round(run))
		finish(run);
	else if (run->executing == 0 && run->port->after(run->port->ctx, 0, on_round_over, run))
		after_round(run); /* every executor ended at once */
}

/* A revert reads every interface of the VPCs (a /64 that one of them uses stays), and with
 * --resize-back step 4's facts. */
static unsigned read_extra(const struct reconcile_run *run)
{
	if (!run->revert_steps)
		return 0;
	return READ_INTERFACES | (run->revert_steps & REVERT_RESIZE_BACK ? READ_RESIZE_BACK : 0);
}

static void read_all(struct reconcile_run *run)
{
	observed_cleanup(&run->obs);
	observed_init(&run->obs);
	const char **ids = calloc(run->n_vpcs + 1, sizeof(*ids));
	size_t n = 0;
	for (size_t i = 0; ids && i < run->n_vpcs; i++)
		if (run->vpcs[i].outcome != RC_GONE)
			ids[n++] = run->vpcs[i].vpc_id;
	int rc = !ids ? DS_ENOMEM
		 : n  ? reader_read(run->port, run->policy, read_extra(run), ids, n, &run->obs,
				    on_read, run)
		      : DS_OK;
	free(ids);
	if (rc)
		fail_run(run, rc, "ClientError", ds_strerror(rc));
	else if (!n)
		fail_run(run, DS_OK, NULL, NULL);
}

static int add_vpc(struct reconcile_run *run, const char *id)
{
	struct reconcile_vpc *p = realloc(run->vpcs, (run->n_vpcs + 1) * sizeof(*p));
	if (!p)
		return DS_ENOMEM;
	run->vpcs = p;
	struct reconcile_vpc *v = &p[run->n_vpcs++];
	memset(v, 0, sizeof(*v));
	snprintf(v->vpc_id, sizeof(v->vpc_id), "%s", id);
	v->wave = ROLLOUT_NO_WAVE;
	plan_init(&v->plan);
	plan_init(&v->executed);
	return DS_OK;
}

static int make_executors(struct reconcile_run *run)
{
	run->executors = calloc(run->n_vpcs + 1, sizeof(*run->executors));
	return run->executors ? DS_OK : DS_ENOMEM;
}

static void on_listed(void *ud, int rc, const struct ec2_error *err)
{
	struct reconcile_run *run = ud;
	run->listing = false;
	for (size_t i = 0; !rc && i < run->obs.vpcs.n; i++)
		if (policy_vpc_in_scope(run->policy, &run->obs.vpcs.v[i]))
			rc = add_vpc(run, run->obs.vpcs.v[i].vpc_id);
	if (!rc)
		rc = make_executors(run);
	if (rc) {
		run->rc = rc;
		if (err)
			run->err = *err;
		finish(run);
		return;
	}
	read_all(run);
}

struct reconcile_run *reconcile_start(struct reconciler *r, const struct reconcile_request *req,
				      reconcile_done_fn done, void *ud)
{
	struct reconcile_run *run = calloc(1, sizeof(*run));
	if (!run)
		return NULL;
	run->r = r;
	run->policy = policy_ref(r->policy);
	run->target =
	    target_get(r, req->account ? req->account : "", req->region ? req->region : "", true);
	run->port = req->port;
	run->execute = req->execute;
	run->revert_steps = req->revert_steps;
	run->audit = req->audit;
	run->done = done;
	run->ud = ud;
	observed_init(&run->obs);
	int rc = run->target ? DS_OK : DS_ENOMEM;
	if (!rc && req->shared_port) {
		if (!run->target->poller)
			run->target->poller = poller_new(req->shared_port, POLL_GAP_S);
		run->poller = run->target->poller;
	} else if (!rc) {
		run->poller = run->own_poller = poller_new(req->port, POLL_GAP_S);
	}
	if (!rc && !run->poller)
		rc = DS_ENOMEM;
	for (size_t i = 0; !rc && i < req->n_vpc_ids; i++)
		rc = add_vpc(run, req->vpc_ids[i]);
	if (rc) {
		reconcile_run_free(run);
		return NULL;
	}
	if (req->n_vpc_ids) {
		if (make_executors(run)) {
			reconcile_run_free(run);
			return NULL;
		}
		read_all(run);
		return run;
	}
	struct ec2_read q = {.kind = OBS_VPCS};
	run->listing = true;
	rc = run->port->read(run->port->ctx, &q, &run->obs, on_listed, run);
	if (rc)
		fail_run(run, rc, "ClientError", ds_strerror(rc));
	return run;
}

void reconcile_run_free(struct reconcile_run *run)
{
	if (!run)
		return;
	for (size_t i = 0; i < run->n_vpcs; i++) {
		if (run->executors)
			executor_free(run->executors[i]);
		plan_cleanup(&run->vpcs[i].plan);
		plan_cleanup(&run->vpcs[i].executed);
		free(run->vpcs[i].results);
	}
	free(run->executors);
	free(run->vpcs);
	observed_cleanup(&run->obs);
	poller_free(run->own_poller);
	policy_unref(run->policy);
	free(run);
}

void reconcile_cancel(struct reconcile_run *run)
{
	if (!run || run->cancelled)
		return;
	run->cancelled = true;
	run->round = RECONCILE_MAX_ROUNDS;
	for (size_t i = 0; run->executors && i < run->n_vpcs; i++)
		executor_cancel(run->executors[i]);
}

bool reconcile_run_cancelled(const struct reconcile_run *run)
{
	return run->cancelled;
}

size_t reconcile_run_count(const struct reconcile_run *run)
{
	return run->n_vpcs;
}

struct reconcile_vpc *reconcile_run_vpc(struct reconcile_run *run, size_t i)
{
	return i < run->n_vpcs ? &run->vpcs[i] : NULL;
}

int reconcile_run_error(const struct reconcile_run *run, const struct ec2_error **err)
{
	if (err)
		*err = &run->err;
	return run->rc;
}

const struct policy *reconcile_run_policy(const struct reconcile_run *run)
{
	return run->policy;
}
