/* The work topic (keyed account/region/vpc: one partition, one replica per VPC) feeds the work
 * queue; each run reconciles one VPC through the shared reconciler, with every mutating call
 * audited. A full queue pauses the work topic instead of losing or wedging anything; a
 * handover (a revoked partition) drops its queued keys and cancels its running reconciles at
 * their next safe point, and the revoke completes only when they have ended. */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../handlers/event.h"
#include "daemon_internal.h"
#include "log.h"

/* Per-VPC state series are kept only for VPCs that are not converged, at most this many; the
 * per-state totals always count every VPC. */
#define VPC_STATE_SERIES_MAX 2000

struct run {
	struct daemon *d;
	struct wq_item *item;
	struct work_key key;
	int32_t partition;
	struct target *target;
	struct ec2_port audit; /* target's port, with every mutating call audited */
	struct reconcile_run *rr;
	bool cancelled; /* a handover or a drain stopped it: unfinished, not failed */
	double started;
	struct run *prev, *next; /* the running ones */
};

/* Messages that found the queue full: held (the work topic paused) until there is room. */
struct held {
	struct work_key key;
	int32_t partition;
	uint64_t ticket;
	struct held *next;
};

/* ---- the audited port ---- */

struct audit_call {
	struct run *run;
	ec2_call_fn done;
	void *ud;
	char action[64];
	char *params;
};

static void on_audited(void *ud, const struct ec2_answer *ans)
{
	struct audit_call *a = ud;
	struct daemon *d = a->run->d;
	const char *outcome = ans->rc ? ec2_class_name(ans->err.cls) : "ok";
	char ts[40];
	struct timespec now;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	size_t tn = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + tn, sizeof(ts) - tn, ".%03ldZ", now.tv_nsec / 1000000);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "time", ts);
	cJSON_AddStringToObject(o, "replica", d->replica);
	cJSON_AddStringToObject(o, "account", a->run->key.account);
	cJSON_AddStringToObject(o, "region", a->run->key.region);
	cJSON_AddStringToObject(o, "vpc", a->run->key.vpc_id);
	cJSON_AddStringToObject(o, "action", a->action);
	cJSON_AddStringToObject(o, "parameters", a->params ? a->params : "");
	cJSON_AddStringToObject(o, "request_id", ans->request_id ? ans->request_id : "");
	cJSON_AddStringToObject(o, "outcome", outcome);
	if (ans->rc)
		cJSON_AddStringToObject(o, "error", ans->err.code);
	char *text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!text || producer_send(d->producer, d->cfg->audit_topic, a->run->key.vpc_id, text,
				   strlen(text), NULL, 0, 0))
		log_kv("error", "audit record not produced", "vpc", a->run->key.vpc_id, "action",
		       a->action, "request_id", ans->request_id ? ans->request_id : "", NULL);
	free(text);
	a->done(a->ud, ans);
	free(a->params);
	free(a);
}

/* Sends a mutating call through the target's port (EC2 or SSM) and audits its answer. */
static int audited(struct run *run, bool ssm, const char *op, const char *body, size_t len,
		   unsigned flags, ec2_call_fn done, void *ud)
{
	const struct ec2_port *p = &run->target->port.port;
	struct audit_call *a = calloc(1, sizeof(*a));
	if (!a)
		return DS_ENOMEM;
	a->run = run;
	a->done = done;
	a->ud = ud;
	snprintf(a->action, sizeof(a->action), "%s", op);
	a->params = strndup(body, len);
	int rc = ssm ? p->ssm_call(p->ctx, op, body, len, flags, on_audited, a)
		     : p->call(p->ctx, op, body, len, flags, on_audited, a);
	if (rc) {
		free(a->params);
		free(a);
	}
	return rc;
}

static int audit_call(void *ctx, const char *action, const char *params, size_t len, unsigned flags,
		      ec2_call_fn done, void *ud)
{
	return audited(ctx, false, action, params, len, flags, done, ud);
}

static int audit_ssm_call(void *ctx, const char *operation, const char *json, size_t len,
			  unsigned flags, ec2_call_fn done, void *ud)
{
	struct run *run = ctx;
	const struct ec2_port *p = &run->target->port.port;
	if (!strcmp(operation, "DescribeInstanceInformation") ||
	    !strcmp(operation, "GetCommandInvocation")) /* reads: not audited */
		return p->ssm_call(p->ctx, operation, json, len, flags, done, ud);
	return audited(run, true, operation, json, len, flags, done, ud);
}

static int audit_read(void *ctx, const struct ec2_read *r, struct observed *obs, ec2_read_fn fn,
		      void *ud)
{
	struct run *run = ctx;
	const struct ec2_port *p = &run->target->port.port;
	return p->read(p->ctx, r, obs, fn, ud);
}

static int audit_after(void *ctx, double s, ec2_timer_fn fn, void *ud)
{
	struct run *run = ctx;
	const struct ec2_port *p = &run->target->port.port;
	return p->after(p->ctx, s, fn, ud);
}

static double audit_now(void *ctx)
{
	struct run *run = ctx;
	const struct ec2_port *p = &run->target->port.port;
	return p->now(p->ctx);
}

/* ---- runs ---- */

/* The per-VPC state series: only for a VPC that is not converged, and a bounded number. */
static void vpc_state(struct daemon *d, const struct work_key *k, enum wq_outcome outcome)
{
	char vpc[160];
	snprintf(vpc, sizeof(vpc), "%s/%s/%s", k->account, k->region, k->vpc_id);
	bool had = metrics_get(d->metrics, "dualstackd_vpc_state", "vpc", vpc, NULL) > 0;
	if (outcome == WQ_CONVERGED) {
		if (had) {
			metrics_remove(d->metrics, "dualstackd_vpc_state", "vpc", vpc, NULL);
			d->work.vpc_series--;
		}
		return;
	}
	if (!had && d->work.vpc_series >= VPC_STATE_SERIES_MAX) {
		if (!d->work.vpc_untracked_logged++)
			log_kv("warn",
			       "per-VPC state series at their bound; further VPCs are counted in "
			       "dualstackd_reconciles_total only",
			       NULL);
		metrics_add(d->metrics, "dualstackd_vpc_state_untracked_total", 1, NULL);
		return;
	}
	/* 1 blocked, 2 failed (0 would be converged, which has no series) */
	metrics_set(d->metrics, "dualstackd_vpc_state", (double)outcome, "vpc", vpc, NULL);
	d->work.vpc_series += !had;
}

static void drain_held(struct daemon *d);

static void finish_run(struct run *run, enum wq_outcome outcome, const char *why)
{
	struct daemon *d = run->d;
	static const char *const names[] = {"converged", "blocked", "failed"};
	/* a cancelled run keeps its offsets like a failed one (the next owner redoes it), but
	 * it is not a failure: neither logged nor counted as one */
	bool cancelled = run->cancelled && outcome == WQ_FAILED;
	const char *name = cancelled ? "cancelled" : names[outcome];
	double secs = ev_now(d->loop) - run->started;
	metrics_add(d->metrics, "dualstackd_reconciles_total", 1, "outcome", name, NULL);
	metrics_observe(d->metrics, "dualstackd_reconcile_seconds", secs);
	char secs_s[32];
	snprintf(secs_s, sizeof(secs_s), "%.3f", secs);
	log_kv(outcome == WQ_FAILED && !cancelled ? "warn" : "info", "reconciled", "account",
	       run->key.account, "region", run->key.region, "vpc", run->key.vpc_id, "outcome", name,
	       "detail", cancelled ? "cancelled at a safe point; the next owner goes on" : why,
	       "seconds", secs_s, NULL);
	if (!cancelled)
		vpc_state(d, &run->key, outcome);
	enum wq_fate fate =
	    wq_done(d->wq, run->item, outcome, ev_now(d->loop), daemon_release_ticket, d);
	if (fate == WQ_RETRY_FREED) {
		log_kv("warn", "a VPC keeps failing: its offsets are released, retries go on",
		       "vpc", run->key.vpc_id, NULL);
		metrics_add(d->metrics, "dualstackd_reconcile_offsets_released_total", 1, NULL);
	}
	d->running--;
	if (run->prev)
		run->prev->next = run->next;
	else
		d->work.runs = run->next;
	if (run->next)
		run->next->prev = run->prev;
	bool handover = daemon_revoking(d, run->partition);
	reconcile_run_free(run->rr);
	free(run);
	if (handover && d->revoke_waiting > 0 && --d->revoke_waiting == 0) {
		log_kv("info", "handover: the revoked partitions' reconciles have ended", NULL);
		ev_timer_stop(d->loop, &d->revoke_timer);
		d->n_revoking = 0;
		kafka_revoke_done(d->kafka);
	}
	drain_held(d);
	work_pump(d);
}

/* The reconcile of one VPC ended: its outcome decides the key's fate in the queue. */
static void on_reconciled(void *ud, struct reconcile_run *rr)
{
	struct run *run = ud;
	const struct ec2_error *err;
	run->rr = rr;
	run->cancelled = reconcile_run_cancelled(rr);
	int rc = reconcile_run_error(rr, &err);
	struct reconcile_vpc *v = reconcile_run_vpc(rr, 0);
	if (rc || !v) {
		finish_run(run, WQ_FAILED, rc && err->code[0] ? err->code : ds_strerror(rc));
		return;
	}
	for (size_t i = 0; v->results && i < v->executed.actions.n; i++)
		if (v->results[i].status == ACTION_FAILED)
			log_kv("warn", "action failed", "vpc", run->key.vpc_id, "action",
			       plan_action_api(v->executed.actions.v[i].kind), "resource",
			       v->executed.actions.v[i].resource_id, "error", v->results[i].detail,
			       NULL);
	switch (v->outcome) {
	case RC_CONVERGED: finish_run(run, WQ_CONVERGED, ""); break;
	case RC_GONE: finish_run(run, WQ_CONVERGED, "the VPC no longer exists"); break;
	case RC_BLOCKED: finish_run(run, WQ_BLOCKED, v->plan.findings.v[0].code); break;
	case RC_PENDING: {
		struct buf t;
		buf_init(&t, 0);
		plan_format_text(&v->plan, &t);
		log_kv("info", "dry-run plan", "vpc", run->key.vpc_id, "plan", t.data, NULL);
		buf_cleanup(&t);
		finish_run(run, WQ_BLOCKED, "dry-run");
		break;
	}
	case RC_WAITING: {
		/* its wave opens later: the rollout scan brings it back (daemon_rollout.c) */
		char why[300];
		reconciler_rollout(run->d->rc, why, sizeof(why));
		finish_run(run, WQ_BLOCKED, why[0] ? why : "waiting for its rollout wave");
		break;
	}
	case RC_HALTED:
		/* held, not failed: no retry storm while halted; the resume's resync comes back.
		 * But a resize begun earlier is driven to its end in a halt too: retried (with the
		 * failure backoff) until its instance carries no resize tags. */
		if (reconcile_vpc_resizing(v))
			finish_run(run, WQ_FAILED, "halted, with a resize under way");
		else
			finish_run(run, WQ_BLOCKED, "halted");
		break;
	case RC_FAILED:
		finish_run(run, WQ_FAILED,
			   v->results && v->executed.actions.n ? "actions failed or not converged"
							       : "not converged");
		break;
	}
}

static void start_run(struct daemon *d, struct wq_item *it)
{
	struct run *run = calloc(1, sizeof(*run));
	const struct work_key *k = wq_key(it);
	struct target *t = run ? daemon_target(d, k->account, k->region) : NULL;
	if (!run || !t) {
		free(run);
		log_kv("error", "out of memory: a reconcile did not start", "vpc", k->vpc_id, NULL);
		wq_done(d->wq, it, WQ_FAILED, ev_now(d->loop), daemon_release_ticket, d);
		return;
	}
	d->running++;
	run->d = d;
	run->item = it;
	run->key = *k;
	run->partition = wq_partition(it);
	run->target = t;
	run->started = ev_now(d->loop);
	run->audit = (struct ec2_port){.ctx = run,
				       .read = audit_read,
				       .call = audit_call,
				       .ssm_call = audit_ssm_call,
				       .after = audit_after,
				       .now = audit_now,
				       .decode_eigw = t->port.port.decode_eigw};
	run->next = d->work.runs;
	if (d->work.runs)
		d->work.runs->prev = run;
	d->work.runs = run;
	const char *vpc = run->key.vpc_id;
	struct reconcile_request req = {.port = &run->audit,
					.shared_port = &t->port.port,
					.account = run->key.account,
					.region = run->key.region,
					.vpc_ids = &vpc,
					.n_vpc_ids = 1,
					.execute = true};
	run->rr = reconcile_start(d->rc, &req, on_reconciled, run);
	if (!run->rr)
		finish_run(run, WQ_FAILED, "out of memory");
}

void work_pump(struct daemon *d)
{
	double wake;
	struct wq_item *it;
	while (!d->draining && (it = wq_next(d->wq, ev_now(d->loop), &wake)) != NULL) {
		if (daemon_revoking(d, wq_partition(it))) { /* not ours any more */
			wq_done(d->wq, it, WQ_CONVERGED, ev_now(d->loop), daemon_release_ticket, d);
			continue;
		}
		start_run(d, it);
	}
	metrics_set(d->metrics, "dualstackd_queue_depth", (double)wq_depth(d->wq), NULL);
	metrics_set(d->metrics, "dualstackd_reconciles_running", (double)d->running, NULL);
	ev_timer_stop(d->loop, &d->wq_timer);
	if (!d->draining && wake >= 0) {
		ev_timer_set(&d->wq_timer, wake, 0.);
		ev_timer_start(d->loop, &d->wq_timer);
	}
}

/* ---- the work topic ---- */

static void hold(struct daemon *d, const struct work_key *k, int32_t partition, uint64_t ticket)
{
	struct held *h = calloc(1, sizeof(*h));
	if (!h) {
		log_kv("error", "out of memory: a work record is left to the resync", "vpc",
		       k->vpc_id, NULL);
		daemon_release_ticket(d, ticket);
		return;
	}
	h->key = *k;
	h->partition = partition;
	h->ticket = ticket;
	if (d->work.held_last)
		d->work.held_last->next = h;
	else
		d->work.held_first = h;
	d->work.held_last = h;
	d->work.n_held++;
	if (!d->work.paused) {
		/* backpressure: what was fetched is held, nothing more is fetched */
		d->work.paused = true;
		kafka_pause_topic(d->kafka, d->cfg->work_topic, true);
		if (!d->work.full_logged) {
			d->work.full_logged = true;
			log_kv("warn",
			       "work queue full: the work topic is paused until there is room",
			       NULL);
		}
		metrics_add(d->metrics, "dualstackd_queue_full_total", 1, NULL);
	}
	metrics_set(d->metrics, "dualstackd_queue_held", (double)d->work.n_held, NULL);
}

static void drain_held(struct daemon *d)
{
	while (d->work.held_first) {
		struct held *h = d->work.held_first;
		if (daemon_revoking(d, h->partition)) {
			daemon_release_ticket(d, h->ticket);
		} else if (wq_add(d->wq, &h->key, h->partition, h->ticket, ev_now(d->loop))) {
			break; /* still full */
		}
		d->work.held_first = h->next;
		if (!d->work.held_first)
			d->work.held_last = NULL;
		d->work.n_held--;
		free(h);
	}
	metrics_set(d->metrics, "dualstackd_queue_held", (double)d->work.n_held, NULL);
	if (d->work.paused && !d->work.held_first) {
		d->work.paused = false;
		d->work.full_logged = false;
		kafka_pause_topic(d->kafka, d->cfg->work_topic, false);
		log_kv("info", "work queue has room: the work topic resumes", NULL);
	}
}

void work_message(struct daemon *d, const rd_kafka_message_t *m, uint64_t ticket)
{
	struct work_key k;
	char why[160];
	bool ok = !work_record_decode(m->payload ? m->payload : "", m->len, &k, why, sizeof(why));
	if (!ok) {
		dead_letter(d, m, why, ticket);
		daemon_release_ticket(d, ticket);
		return;
	}
	if (daemon_revoking(d, m->partition)) { /* the next owner replays it */
		daemon_release_ticket(d, ticket);
		return;
	}
	if (d->work.held_first || wq_add(d->wq, &k, m->partition, ticket, ev_now(d->loop))) {
		hold(d, &k, m->partition, ticket); /* in order, behind what is already held */
		return;
	}
	work_pump(d);
}

void work_cancel_all(struct daemon *d)
{
	for (struct run *r = d->work.runs; r; r = r->next)
		if (r->rr)
			reconcile_cancel(r->rr);
}

int work_revoke(struct daemon *d, int32_t partition)
{
	int running = wq_drop_partition(d->wq, partition);
	for (struct run *r = d->work.runs; r; r = r->next)
		if (r->partition == partition && r->rr)
			reconcile_cancel(r->rr); /* starts nothing new; what runs finishes */
	return running;
}
