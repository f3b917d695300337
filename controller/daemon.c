/* The daemon's pipeline, all on one loop:
 *
 *   input topic --decode--> reject: dead-letter topic (reason + original bytes)
 *                       \-> none / out of scope: counted, done
 *                        \-> keys --resolve resources (batched, cached)--> work topic,
 *                                 keyed account/region/vpc (one partition, one replica)
 *   work topic --> work queue (dedup, backoff) --> reconcile: read, plan, execute, re-read
 *
 * An input message's offset is stored only when its dead-letter or work records are
 * acknowledged; a work message's only when the reconcile it joined is finished. */
#include "daemon.h"

#include <cJSON.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../handlers/event.h"
#include "../reconcile/plan.h"
#include "../reconcile/policy.h"
#include "../reconcile/reconcile.h"
#include "creds.h"
#include "ec2_client.h"
#include "ec2_port.h"
#include "http.h"
#include "kafka.h"
#include "log.h"
#include "metrics.h"
#include "msk_iam.h"
#include "offsets.h"
#include "policy_file.h"
#include "workqueue.h"

#define MAX_TARGETS	      256
#define RESOLVE_BATCH_S	      0.02
#define DRAIN_LIMIT_S	      8.0
#define DEAD_LETTER_MAX_BYTES (8 * 1024 * 1024)

struct target {
	char account[24];
	char region[40];
	struct ec2_port_impl port;
};

/* A resource waiting to be resolved to its VPC. */
struct pending_resolve {
	char account[24];
	char region[40];
	char resource[WK_ID_LEN];
	uint64_t ticket;
	struct pending_resolve *next;
};

struct cache_entry {
	char resource[WK_ID_LEN];
	char vpc[WK_ID_LEN];
	struct cache_entry *next;
};

#define CACHE_BUCKETS 8192

struct daemon {
	const struct daemon_config *cfg;
	struct ev_loop *loop;
	struct reconciler *rc; /* holds the current policy; each run holds its own */
	struct http_client *http;
	struct creds_cache *creds;
	struct ec2_client *ec2;
	struct ec2_target home; /* region and endpoint from the environment */
	struct target targets[MAX_TARGETS];
	size_t n_targets;
	struct kafka *kafka;
	struct offsets *offsets;
	struct wq *wq;
	struct metrics *metrics;
	struct ev_timer wq_timer, resolve_timer, resync_timer, drain_timer, metrics_timer;
	struct ev_signal sigterm, sigint, sighup;
	struct pending_resolve *resolving;
	struct cache_entry *cache[CACHE_BUCKETS];
	int running;
	char replica[128]; /* host:pid, in audit records */
	bool resync_owner; /* holds partition 0 of the work topic */
	bool draining;
	double drain_started;
	int exit_status;
};

/* ---- helpers ---- */

static struct target *target_for(struct daemon *d, const char *account, const char *region)
{
	for (size_t i = 0; i < d->n_targets; i++)
		if (!strcmp(d->targets[i].account, account) &&
		    !strcmp(d->targets[i].region, region))
			return &d->targets[i];
	if (d->n_targets == MAX_TARGETS)
		return NULL;
	struct target *t = &d->targets[d->n_targets++];
	struct ec2_target et = d->home;
	snprintf(t->account, sizeof(t->account), "%s", account);
	snprintf(t->region, sizeof(t->region), "%s", region);
	snprintf(et.account_id, sizeof(et.account_id), "%s", account);
	ec2_target_set_region(&et, region);
	policy_role_arn(reconciler_policy(d->rc), account, et.role_arn, sizeof(et.role_arn));
	ec2_port_init(&t->port, d->ec2, &et, d->loop);
	return t;
}

static void store_offset(void *ud, const char *topic, int32_t partition, int64_t offset)
{
	struct daemon *d = ud;
	kafka_store_offset(d->kafka, topic, partition, offset);
}

static void release_ticket(void *ud, uint64_t ticket)
{
	struct daemon *d = ud;
	if (!ticket)
		return;
	offsets_release(d->offsets, ticket);
	offsets_each_committable(d->offsets, store_offset, d);
}

static void label(char *out, size_t size, const char *k1, const char *v1, const char *k2,
		  const char *v2)
{
	if (k2)
		snprintf(out, size, "%s=\"%s\",%s=\"%s\"", k1, v1, k2, v2);
	else
		snprintf(out, size, "%s=\"%s\"", k1, v1);
}

/* ---- producing work ---- */

static void produce_work(struct daemon *d, const struct work_key *k, const char *cause,
			 uint64_t ticket)
{
	char key[160];
	snprintf(key, sizeof(key), "%s/%s/%s", k->account, k->region, k->vpc_id);
	cJSON *v = cJSON_CreateObject();
	cJSON_AddStringToObject(v, "account", k->account);
	cJSON_AddStringToObject(v, "region", k->region);
	cJSON_AddStringToObject(v, "vpc", k->vpc_id);
	cJSON_AddStringToObject(v, "cause", cause);
	char *text = cJSON_PrintUnformatted(v);
	cJSON_Delete(v);
	if (ticket)
		offsets_ref(d->offsets, ticket);
	if (!text || kafka_produce(d->kafka, d->cfg->work_topic, key, text, strlen(text), NULL, 0,
				   (void *)(uintptr_t)ticket)) {
		/* not acknowledged: the ticket stays taken, so the offset is never committed
		 * past this message and a restart redoes it */
		log_kv("error", "work record not produced", "key", key, NULL);
	}
	free(text);
}

static void on_delivered(void *ud, void *opaque, rd_kafka_resp_err_t err)
{
	struct daemon *d = ud;
	uint64_t ticket = (uint64_t)(uintptr_t)opaque;
	if (err) {
		log_kv("error", "kafka delivery failed; the message will be redone after a restart",
		       "error", rd_kafka_err2str(err), NULL);
		metrics_add(d->metrics, "dualstackd_kafka_delivery_failures_total", "", 1);
		return;
	}
	release_ticket(d, ticket);
}

/* ---- resolving resources to VPCs ---- */

static uint32_t hash_str(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

static const char *cache_get(struct daemon *d, const char *resource)
{
	for (struct cache_entry *e = d->cache[hash_str(resource) % CACHE_BUCKETS]; e; e = e->next)
		if (!strcmp(e->resource, resource))
			return e->vpc;
	return NULL;
}

static void cache_put(struct daemon *d, const char *resource, const char *vpc)
{
	if (cache_get(d, resource))
		return;
	struct cache_entry *e = calloc(1, sizeof(*e));
	if (!e)
		return;
	snprintf(e->resource, sizeof(e->resource), "%s", resource);
	snprintf(e->vpc, sizeof(e->vpc), "%s", vpc);
	uint32_t b = hash_str(resource) % CACHE_BUCKETS;
	e->next = d->cache[b];
	d->cache[b] = e;
}

static const struct {
	const char *prefix;
	enum obs_kind kind;
	const char *filter;
} resolvable[] = {
    {"subnet-", OBS_SUBNETS, "subnet-id"},	  {"sg-", OBS_SECURITY_GROUPS, "group-id"},
    {"rtb-", OBS_ROUTE_TABLES, "route-table-id"}, {"acl-", OBS_NETWORK_ACLS, "network-acl-id"},
    {"i-", OBS_INSTANCES, "instance-id"},
};

struct resolve_batch {
	struct daemon *d;
	struct pending_resolve *items;
	struct observed obs;
	int kind;
	const char **ids;
};

/* The VPC of the item whose id is `id` in an array of n items of `size` bytes. */
static const char *find_vpc(const void *items, size_t n, size_t size, size_t id_off, size_t vpc_off,
			    const char *id)
{
	for (size_t i = 0; i < n; i++) {
		const char *item = (const char *)items + i * size;
		if (!strcmp(item + id_off, id))
			return item + vpc_off;
	}
	return NULL;
}

#define FIND_VPC(vec, type, id_member, id)                                  \
	find_vpc((vec).v, (vec).n, sizeof(type), offsetof(type, id_member), \
		 offsetof(type, vpc_id), id)

static const char *vpc_in(const struct observed *o, const char *id)
{
	const char *v = FIND_VPC(o->subnets, struct subnet, subnet_id, id);
	if (!v)
		v = FIND_VPC(o->security_groups, struct security_group, group_id, id);
	if (!v)
		v = FIND_VPC(o->route_tables, struct route_table, route_table_id, id);
	if (!v)
		v = FIND_VPC(o->network_acls, struct network_acl, network_acl_id, id);
	if (!v)
		v = FIND_VPC(o->instances, struct instance, instance_id, id);
	return v;
}

static void on_resolved(void *ud, int rc, const struct ec2_error *err)
{
	struct resolve_batch *b = ud;
	struct daemon *d = b->d;
	for (struct pending_resolve *p = b->items, *next; p; p = next) {
		next = p->next;
		const char *vpc = rc ? NULL : vpc_in(&b->obs, p->resource);
		if (vpc && *vpc) {
			cache_put(d, p->resource, vpc);
			struct work_key k = {0};
			snprintf(k.account, sizeof(k.account), "%s", p->account);
			snprintf(k.region, sizeof(k.region), "%s", p->region);
			snprintf(k.vpc_id, sizeof(k.vpc_id), "%s", vpc);
			produce_work(d, &k, p->resource, p->ticket);
		} else {
			log_kv(rc ? "warn" : "info",
			       rc ? "cannot resolve a resource to its VPC" : "resource not found",
			       "resource", p->resource, "error", rc && err ? err->code : "", NULL);
			metrics_add(d->metrics, "dualstackd_resolve_misses_total", "", 1);
		}
		release_ticket(d, p->ticket); /* the resolve's own reference */
		free(p);
	}
	observed_cleanup(&b->obs);
	free(b->ids);
	free(b);
}

/* One read per (account, region, kind) for everything that waited RESOLVE_BATCH_S. */
static void flush_resolves(struct ev_loop *loop, struct ev_timer *w, int revents)
{
	struct daemon *d = w->data;
	(void)loop;
	(void)revents;
	while (d->resolving) {
		struct pending_resolve *first = d->resolving, **pp = &d->resolving;
		int kind = -1;
		for (size_t i = 0; i < sizeof(resolvable) / sizeof(resolvable[0]); i++)
			if (!strncmp(first->resource, resolvable[i].prefix,
				     strlen(resolvable[i].prefix)))
				kind = (int)i;
		struct resolve_batch *b = calloc(1, sizeof(*b));
		size_t n = 0;
		b->d = d;
		b->kind = kind;
		b->ids = calloc(200, sizeof(char *));
		observed_init(&b->obs);
		while (*pp) {
			struct pending_resolve *p = *pp;
			bool same_kind = !strncmp(p->resource, resolvable[kind].prefix,
						  strlen(resolvable[kind].prefix));
			if (n < 200 && same_kind && !strcmp(p->account, first->account) &&
			    !strcmp(p->region, first->region)) {
				*pp = p->next;
				p->next = b->items;
				b->items = p;
				b->ids[n++] = p->resource;
			} else {
				pp = &p->next;
			}
		}
		struct target *t = target_for(d, first->account, first->region);
		struct ec2_read r = {.kind = resolvable[kind].kind,
				     .filter_name = resolvable[kind].filter,
				     .filter_values = b->ids,
				     .n_filter_values = n};
		if (!t || t->port.port.read(t->port.port.ctx, &r, &b->obs, on_resolved, b))
			on_resolved(b, DS_ENOMEM, NULL);
	}
}

static void resolve(struct daemon *d, const struct work_key *k, uint64_t ticket)
{
	const char *vpc = cache_get(d, k->resource_id);
	if (vpc) {
		struct work_key w = *k;
		snprintf(w.vpc_id, sizeof(w.vpc_id), "%s", vpc);
		produce_work(d, &w, k->resource_id, ticket);
		return;
	}
	bool known = false;
	for (size_t i = 0; i < sizeof(resolvable) / sizeof(resolvable[0]); i++)
		known |=
		    !strncmp(k->resource_id, resolvable[i].prefix, strlen(resolvable[i].prefix));
	if (!known)
		return;
	struct pending_resolve *p = calloc(1, sizeof(*p));
	if (!p)
		return;
	snprintf(p->account, sizeof(p->account), "%s", k->account);
	snprintf(p->region, sizeof(p->region), "%s", k->region);
	snprintf(p->resource, sizeof(p->resource), "%s", k->resource_id);
	p->ticket = ticket;
	if (ticket)
		offsets_ref(d->offsets, ticket);
	p->next = d->resolving;
	d->resolving = p;
	if (!ev_is_active(&d->resolve_timer)) {
		ev_timer_set(&d->resolve_timer, RESOLVE_BATCH_S, 0.);
		ev_timer_start(d->loop, &d->resolve_timer);
	}
}

/* ---- input events ---- */

static void dead_letter(struct daemon *d, const rd_kafka_message_t *m, const char *reason,
			uint64_t ticket)
{
	char source[256], off[32];
	snprintf(source, sizeof(source), "%s/%d", rd_kafka_topic_name(m->rkt), m->partition);
	snprintf(off, sizeof(off), "%lld", (long long)m->offset);
	struct kafka_header h[] = {
	    {"dualstackd-reason", reason},
	    {"dualstackd-source", source},
	    {"dualstackd-offset", off},
	};
	offsets_ref(d->offsets, ticket);
	/* The original bytes, up to what a record may hold; beyond that a prefix, marked, so a
	 * huge message can never wedge the partition. */
	size_t len = m->len;
	char truncated[64] = "";
	if (len > DEAD_LETTER_MAX_BYTES) {
		snprintf(truncated, sizeof(truncated), "%zu bytes, first %d kept", m->len,
			 DEAD_LETTER_MAX_BYTES);
		len = DEAD_LETTER_MAX_BYTES;
	}
	struct kafka_header hh[4] = {h[0], h[1], h[2], {"dualstackd-truncated", truncated}};
	if (kafka_produce(d->kafka, d->cfg->dead_letter_topic, NULL, m->payload, len, hh,
			  truncated[0] ? 4 : 3, (void *)(uintptr_t)ticket))
		log_kv("error", "dead-letter record not produced", "reason", reason, NULL);
	metrics_add(d->metrics, "dualstackd_dead_letters_total", "", 1);
	log_kv("warn", "event dead-lettered", "reason", reason, "source", source, "offset", off,
	       NULL);
}

static void on_input(struct daemon *d, const rd_kafka_message_t *m, uint64_t ticket)
{
	struct event_result *r = malloc(sizeof(*r));
	char l[128];
	if (!r)
		return;
	event_decode(m->payload ? m->payload : "", m->len, r);
	static const char *const verdicts[] = {"work", "none", "reject"};
	label(l, sizeof(l), "verdict", verdicts[r->verdict], NULL, NULL);
	metrics_add(d->metrics, "dualstackd_events_total", l, 1);
	if (r->verdict == EVENT_REJECT) {
		dead_letter(d, m, r->reason, ticket);
	} else {
		for (size_t i = 0; i < r->n_keys; i++) {
			const struct work_key *k = &r->keys[i];
			const struct policy *pol = reconciler_policy(d->rc);
			if (!policy_account_in_scope(pol, k->account) ||
			    !policy_region_in_scope(pol, k->region)) {
				metrics_add(d->metrics, "dualstackd_events_out_of_scope_total", "",
					    1);
				continue;
			}
			if (k->vpc_id[0])
				produce_work(d, k, r->source, ticket);
			else
				resolve(d, k, ticket);
		}
	}
	free(r);
}

/* ---- reconciles ---- */

struct run {
	struct daemon *d;
	struct wq_item *item;
	struct work_key key;
	struct target *target;
	struct ec2_port audit; /* target's port, with every mutating call audited */
	struct reconcile_run *rr;
	double started;
};

static void pump(struct daemon *d);

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
	if (text)
		kafka_produce(d->kafka, d->cfg->audit_topic, a->run->key.vpc_id, text, strlen(text),
			      NULL, 0, NULL);
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

static void finish_run(struct run *run, enum wq_outcome outcome, const char *why)
{
	struct daemon *d = run->d;
	static const char *const names[] = {"converged", "blocked", "failed"};
	char l[64];
	double secs = ev_now(d->loop) - run->started;
	label(l, sizeof(l), "outcome", names[outcome], NULL, NULL);
	metrics_add(d->metrics, "dualstackd_reconciles_total", l, 1);
	metrics_observe(d->metrics, "dualstackd_reconcile_seconds", secs);
	char secs_s[32];
	snprintf(secs_s, sizeof(secs_s), "%.3f", secs);
	log_kv(outcome == WQ_FAILED ? "warn" : "info", "reconciled", "account", run->key.account,
	       "region", run->key.region, "vpc", run->key.vpc_id, "outcome", names[outcome],
	       "detail", why, "seconds", secs_s, NULL);
	/* fleet gauges: the last outcome of each VPC */
	char fl[160];
	snprintf(fl, sizeof(fl), "vpc=\"%s/%s/%s\"", run->key.account, run->key.region,
		 run->key.vpc_id);
	metrics_set(d->metrics, "dualstackd_vpc_state", fl, (double)outcome);
	wq_done(d->wq, run->item, outcome, ev_now(d->loop), release_ticket, d);
	d->running--;
	reconcile_run_free(run->rr);
	free(run);
	pump(d);
}

/* The reconcile of one VPC ended: its outcome decides the key's fate in the queue. */
static void on_reconciled(void *ud, struct reconcile_run *rr)
{
	struct run *run = ud;
	const struct ec2_error *err;
	run->rr = rr;
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
	struct target *t = run ? target_for(d, k->account, k->region) : NULL;
	d->running++;
	if (!run || !t) {
		free(run);
		d->running--;
		wq_done(d->wq, it, WQ_FAILED, ev_now(d->loop), release_ticket, d);
		return;
	}
	run->d = d;
	run->item = it;
	run->key = *k;
	run->target = t;
	run->started = ev_now(d->loop);
	run->audit = (struct ec2_port){.ctx = run,
				       .read = audit_read,
				       .call = audit_call,
				       .ssm_call = audit_ssm_call,
				       .after = audit_after,
				       .now = audit_now,
				       .decode_eigw = t->port.port.decode_eigw};
	const char *vpc = run->key.vpc_id;
	struct reconcile_request req = {.port = &run->audit,
					.shared_port = &t->port.port,
					.account = run->key.account,
					.region = run->key.region,
					.vpc_ids = &vpc,
					.n_vpc_ids = 1,
					.execute = true};
	if (!reconcile_start(d->rc, &req, on_reconciled, run)) {
		d->running--;
		free(run);
		wq_done(d->wq, it, WQ_FAILED, ev_now(d->loop), release_ticket, d);
	}
}

static void pump(struct daemon *d)
{
	double wake;
	struct wq_item *it;
	while (!d->draining && (it = wq_next(d->wq, ev_now(d->loop), &wake)) != NULL)
		start_run(d, it);
	metrics_set(d->metrics, "dualstackd_queue_depth", "", (double)wq_depth(d->wq));
	metrics_set(d->metrics, "dualstackd_reconciles_running", "", (double)d->running);
	ev_timer_stop(d->loop, &d->wq_timer);
	if (!d->draining && wake >= 0) {
		ev_timer_set(&d->wq_timer, wake, 0.);
		ev_timer_start(d->loop, &d->wq_timer);
	}
}

static void on_wq_timer(struct ev_loop *loop, struct ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	pump(w->data);
}

static void on_work(struct daemon *d, const rd_kafka_message_t *m, uint64_t ticket)
{
	cJSON *j = cJSON_ParseWithLength(m->payload ? m->payload : "", m->len);
	const char *acc = ev_str(j, "account"), *reg = ev_str(j, "region"), *vpc = ev_str(j, "vpc");
	if (!acc || !reg || !vpc) {
		dead_letter(d, m, "work record without account, region and vpc", ticket);
		release_ticket(d, ticket);
		cJSON_Delete(j);
		return;
	}
	struct work_key k = {0};
	snprintf(k.account, sizeof(k.account), "%s", acc);
	snprintf(k.region, sizeof(k.region), "%s", reg);
	snprintf(k.vpc_id, sizeof(k.vpc_id), "%s", vpc);
	cJSON_Delete(j);
	if (wq_add(d->wq, &k, ticket, ev_now(d->loop))) {
		/* full: the ticket stays, so this offset is not committed and comes back */
		log_kv("error", "work queue full", "vpc", k.vpc_id, NULL);
		return;
	}
	pump(d);
}

static void on_message(void *ud, const rd_kafka_message_t *m)
{
	struct daemon *d = ud;
	const char *topic = rd_kafka_topic_name(m->rkt);
	uint64_t ticket = offsets_begin(d->offsets, topic, m->partition, m->offset);
	if (!strcmp(topic, d->cfg->work_topic)) {
		on_work(d, m, ticket); /* the reconcile it joins releases the ticket */
	} else {
		on_input(d, m, ticket);
		release_ticket(d, ticket); /* the message's own reference; work holds its own */
	}
}

/* The replica that owns partition 0 of the work topic runs the periodic resync, so a fleet is
 * listed once per interval, not once per replica. */
static bool resync_partition(const struct daemon *d, const char *topic, int32_t partition)
{
	return partition == 0 && !strcmp(topic, d->cfg->work_topic);
}

static void on_revoked(void *ud, const char *topic, int32_t partition)
{
	struct daemon *d = ud;
	offsets_drop_partition(d->offsets, topic, partition);
	if (resync_partition(d, topic, partition))
		d->resync_owner = false;
}

static void on_assigned(void *ud, const char *topic, int32_t partition)
{
	struct daemon *d = ud;
	char s[32];
	snprintf(s, sizeof(s), "%d", (int)partition);
	log_kv("info", "partitions assigned", "topic", topic, "partition", s, NULL);
	if (resync_partition(d, topic, partition) && !d->resync_owner) {
		/* a new owner lists the fleet soon (the initial delay, jittered), not when a
		 * timer set before it owned anything next fires - up to an interval later */
		d->resync_owner = true;
		ev_timer_stop(d->loop, &d->resync_timer);
		ev_timer_set(&d->resync_timer,
			     d->cfg->resync_initial_delay_s *
				 (1.0 + 0.2 * (arc4random() / 4294967296.0)),
			     0.);
		ev_timer_start(d->loop, &d->resync_timer);
	}
	metrics_set_ready(d->metrics, true);
}

/* ---- resync ---- */

struct resync {
	struct daemon *d;
	struct observed obs;
	char account[24];
	char region[40];
};

static void on_resync_read(void *ud, int rc, const struct ec2_error *err)
{
	struct resync *r = ud;
	struct daemon *d = r->d;
	size_t n = 0;
	for (size_t i = 0; !rc && i < r->obs.vpcs.n; i++) {
		if (!policy_vpc_in_scope(reconciler_policy(d->rc), &r->obs.vpcs.v[i]))
			continue;
		struct work_key k = {0};
		snprintf(k.account, sizeof(k.account), "%s", r->account);
		snprintf(k.region, sizeof(k.region), "%s", r->region);
		snprintf(k.vpc_id, sizeof(k.vpc_id), "%s", r->obs.vpcs.v[i].vpc_id);
		/* through the work topic, so only the VPC's owner reconciles it */
		produce_work(d, &k, "resync", 0);
		n++;
	}
	char s[32];
	snprintf(s, sizeof(s), "%zu", n);
	metrics_set(d->metrics, "dualstackd_vpcs_in_scope", "", (double)n);
	log_kv(rc ? "warn" : "info", "resync", "account", r->account, "region", r->region, "vpcs",
	       s, "error", rc && err ? err->code : "", NULL);
	observed_cleanup(&r->obs);
	free(r);
}

static void on_resync(struct ev_loop *loop, struct ev_timer *w, int revents)
{
	struct daemon *d = w->data;
	(void)revents;
	const struct policy *pol = reconciler_policy(d->rc);
	size_t na = pol->n_accounts ? pol->n_accounts : 1;
	size_t nr = pol->n_regions ? pol->n_regions : 1;
	if (!d->resync_owner)
		na = 0; /* another replica lists the fleet this time */
	for (size_t a = 0; a < na && !d->draining; a++)
		for (size_t g = 0; g < nr; g++) {
			const char *acc = pol->n_accounts ? pol->accounts[a] : "";
			const char *reg = pol->n_regions ? pol->regions[g] : d->home.region;
			struct target *t = target_for(d, acc, reg);
			struct resync *r = calloc(1, sizeof(*r));
			if (!t || !r) {
				free(r);
				continue;
			}
			r->d = d;
			snprintf(r->account, sizeof(r->account), "%s", acc);
			snprintf(r->region, sizeof(r->region), "%s", reg);
			observed_init(&r->obs);
			struct ec2_read q = {.kind = OBS_VPCS};
			if (t->port.port.read(t->port.port.ctx, &q, &r->obs, on_resync_read, r))
				free(r);
		}
	/* the next one, jittered by +-10% so replicas and restarts spread out */
	double next = d->cfg->resync_interval_s * (0.9 + 0.2 * (arc4random() / 4294967296.0));
	ev_timer_set(w, next, 0.);
	ev_timer_start(loop, w);
}

/* ---- signals ---- */

static void on_drain_check(struct ev_loop *loop, struct ev_timer *w, int revents)
{
	struct daemon *d = w->data;
	(void)revents;
	bool timeout = ev_now(loop) - d->drain_started > DRAIN_LIMIT_S;
	if (d->running > 0 && !timeout)
		return;
	if (d->running > 0)
		log_kv("warn", "drain deadline: unfinished reconciles are left to the next owner",
		       NULL);
	ev_timer_stop(loop, w);
	offsets_each_committable(d->offsets, store_offset, d);
	kafka_close(d->kafka, 1000);
	log_kv("info", "stopped", NULL);
	ev_break(loop, EVBREAK_ALL);
}

static void on_sigterm(struct ev_loop *loop, struct ev_signal *w, int revents)
{
	struct daemon *d = w->data;
	(void)revents;
	if (d->draining)
		return;
	log_kv("info", "draining: no new work; finishing what runs", NULL);
	d->draining = true;
	d->drain_started = ev_now(loop);
	metrics_set_ready(d->metrics, false);
	kafka_pause(d->kafka);
	ev_timer_init(&d->drain_timer, on_drain_check, 0., 0.1);
	d->drain_timer.data = d;
	ev_timer_start(loop, &d->drain_timer);
}

static void on_sighup(struct ev_loop *loop, struct ev_signal *w, int revents)
{
	struct daemon *d = w->data;
	(void)loop;
	(void)revents;
	struct buf errors;
	buf_init(&errors, 0);
	struct policy *p = policy_file_load(d->cfg->policy_path, &errors);
	if (!p) {
		log_kv("error", "policy reload failed; keeping the current policy", "error",
		       errors.data ? errors.data : "", NULL);
		metrics_add(d->metrics, "dualstackd_policy_reload_failures_total", "", 1);
		buf_cleanup(&errors);
		return;
	}
	buf_cleanup(&errors);
	/* Runs in flight keep the policy they started with (their own reference). */
	reconciler_set_policy(d->rc, p);
	policy_unref(p);
	for (size_t i = 0; i < d->n_targets; i++) /* role templates may have changed */
		policy_role_arn(p, d->targets[i].account, d->targets[i].port.target.role_arn,
				sizeof(d->targets[i].port.target.role_arn));
	log_kv("info", "policy reloaded", "mode", policy_mode_name(p->mode), NULL);
}

/* ---- EC2 metrics ---- */

static void on_ec2_call(void *ud, const char *action, const char *outcome)
{
	struct daemon *d = ud;
	char l[160];
	label(l, sizeof(l), "action", action, "outcome", outcome);
	metrics_add(d->metrics, "dualstackd_ec2_calls_total", l, 1);
}

static void on_bucket(void *ud, const char *account, const char *region, const char *category,
		      double level, double rate)
{
	struct daemon *d = ud;
	char l[200];
	snprintf(l, sizeof(l), "account=\"%s\",region=\"%s\",category=\"%s\"", account, region,
		 category);
	metrics_set(d->metrics, "dualstackd_ec2_bucket_tokens", l, level);
	metrics_set(d->metrics, "dualstackd_ec2_bucket_refill_per_second", l, rate);
}

static void on_metrics_tick(struct ev_loop *loop, struct ev_timer *w, int revents)
{
	struct daemon *d = w->data;
	(void)loop;
	(void)revents;
	ec2_client_each_bucket(d->ec2, on_bucket, d);
	const struct ec2_client_stats *st = ec2_client_stats(d->ec2);
	metrics_set(d->metrics, "dualstackd_ec2_throttled_answers", "",
		    (double)st->throttled_answers);
	metrics_set(d->metrics, "dualstackd_ec2_retries", "", (double)st->retries);
	metrics_set(d->metrics, "dualstackd_offsets_in_flight", "",
		    (double)offsets_in_flight(d->offsets));
}

/* ---- MSK IAM ---- */

static int msk_token(void *ud, char *token, size_t size, int64_t *expiry_ms, char *principal,
		     size_t principal_size, char *err, size_t err_len)
{
	struct daemon *d = ud;
	const struct aws_creds *creds;
	if (creds_cache_base(d->creds, &creds, err, err_len))
		return -1;
	struct buf b;
	buf_init(&b, size);
	const char *region = d->cfg->msk_region[0] ? d->cfg->msk_region : d->home.region;
	int rc = msk_iam_token(creds, region, time(NULL), "dualstackd/1.0", &b, expiry_ms, NULL);
	if (!rc && b.len < size)
		memcpy(token, b.data, b.len + 1);
	else if (!rc)
		rc = DS_ETOOBIG;
	if (rc)
		snprintf(err, err_len, "MSK IAM token: %s", ds_strerror(rc));
	snprintf(principal, principal_size, "%s", creds->access_key_id);
	buf_cleanup(&b);
	return rc ? -1 : 0;
}

/* ---- main ---- */

int daemon_run(const struct daemon_config *cfg)
{
	struct daemon *d = calloc(1, sizeof(*d));
	char err[2048];
	int status = 1;
	if (!d)
		return 1;
	d->cfg = cfg;
	d->loop = ev_default_loop(0);
	char host[64] = "";
	gethostname(host, sizeof(host) - 1);
	snprintf(d->replica, sizeof(d->replica), "%s:%d", host, (int)getpid());
	struct buf perr;
	buf_init(&perr, 0);
	struct policy *pol = policy_file_load(cfg->policy_path, &perr);
	if (!pol) {
		fprintf(stderr, "%s", perr.data ? perr.data : "cannot load the policy\n");
		buf_cleanup(&perr);
		goto out;
	}
	buf_cleanup(&perr);
	d->rc = reconciler_new(pol, NULL, NULL);
	policy_unref(pol);
	if (!d->rc)
		goto out;
	if (ec2_target_from_env(&creds_env_default, &d->home, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	d->metrics = metrics_new();
	d->http = http_client_new(d->loop);
	d->creds = creds_cache_new(&creds_env_default, d->home.region);
	struct ec2_client_options opt = {.budget = reconciler_policy(d->rc)->api_budget,
					 .max_attempts = 3};
	const char *scale = getenv("DUALSTACKD_BUCKET_SCALE"); /* emulators only */
	if (scale)
		opt.bucket_scale = strtod(scale, NULL);
	d->ec2 = ec2_client_new(d->http, d->creds, &opt);
	d->offsets = offsets_new();
	d->wq = wq_new(cfg->max_queued_vpcs, cfg->max_concurrent_reconciles, 8);
	if (!d->metrics || !d->http || !d->creds || !d->ec2 || !d->offsets || !d->wq)
		goto out;
	if (metrics_serve(d->metrics, cfg->listen, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	const char *topics[9];
	size_t nt = 0;
	for (size_t i = 0; i < cfg->n_input_topics; i++)
		topics[nt++] = cfg->input_topics[i];
	topics[nt++] = cfg->work_topic;
	const char *ensure[12];
	size_t ne = 0;
	for (size_t i = 0; i < nt; i++)
		ensure[ne++] = topics[i];
	ensure[ne++] = cfg->dead_letter_topic;
	ensure[ne++] = cfg->audit_topic;
	struct kafka_options ko = {cfg->brokers, cfg->group, topics, nt,   cfg->kafka_properties,
				   ensure,	 ne,	     -1,     NULL, NULL};
	if (!strcmp(cfg->sasl_mechanism, "AWS_MSK_IAM")) {
		ko.oauth_token = msk_token;
		ko.oauth_ud = d;
	}
	struct kafka_callbacks kc = {d, on_message, on_delivered, on_revoked, on_assigned};
	d->kafka = kafka_new(d->loop, &ko, &kc, err, sizeof(err));
	if (!d->kafka) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	char port[16];
	snprintf(port, sizeof(port), "%d", metrics_port(d->metrics));
	log_kv("info", "started", "brokers", kafka_bootstrap(d->kafka), "group", cfg->group,
	       "metrics_port", port, "mode", policy_mode_name(reconciler_policy(d->rc)->mode),
	       NULL);

	ec2_client_observe(d->ec2, on_ec2_call, d);
	ev_timer_init(&d->metrics_timer, on_metrics_tick, 1., 5.);
	d->metrics_timer.data = d;
	ev_timer_start(d->loop, &d->metrics_timer);
	ev_timer_init(&d->wq_timer, on_wq_timer, 0., 0.);
	d->wq_timer.data = d;
	ev_timer_init(&d->resolve_timer, flush_resolves, RESOLVE_BATCH_S, 0.);
	d->resolve_timer.data = d;
	ev_timer_init(&d->resync_timer, on_resync,
		      cfg->resync_initial_delay_s * (1.0 + 0.2 * (arc4random() / 4294967296.0)),
		      0.);
	d->resync_timer.data = d;
	ev_timer_start(d->loop, &d->resync_timer);
	ev_signal_init(&d->sigterm, on_sigterm, SIGTERM);
	ev_signal_init(&d->sigint, on_sigterm, SIGINT);
	ev_signal_init(&d->sighup, on_sighup, SIGHUP);
	d->sigterm.data = d->sigint.data = d->sighup.data = d;
	ev_signal_start(d->loop, &d->sigterm);
	ev_signal_start(d->loop, &d->sigint);
	ev_signal_start(d->loop, &d->sighup);
	signal(SIGPIPE, SIG_IGN);

	ev_run(d->loop, 0);
	status = 0;
out:
	if (d->kafka)
		kafka_free(d->kafka);
	metrics_free(d->metrics);
	wq_free(d->wq);
	offsets_free(d->offsets);
	ec2_client_free(d->ec2);
	creds_cache_free(d->creds);
	http_client_free(d->http);
	for (size_t b = 0; b < CACHE_BUCKETS; b++)
		for (struct cache_entry *e = d->cache[b], *n; e; e = n) {
			n = e->next;
			free(e);
		}
	reconciler_free(d->rc);
	free(d);
	return status;
}
