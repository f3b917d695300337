/* One call's life: wait in its bucket's queue (urgent calls first) until the bucket - and for
 * Start/Stop the instances' resource bucket - has its tokens; ride in a merged request with the
 * calls waiting beside it when EC2 takes them as one list; sign, send; on a throttled or
 * transient answer tell the bucket, take retry quota, back off with jitter and queue again;
 * otherwise hand the answer to the caller. A merged request that fails for good goes again
 * one call at a time, so each caller gets its own answer.
 * At most SEND_WINDOW requests are out at once (what http.c gives curl): a token is taken only
 * when its request can go on the wire, so the bucket here and EC2's see the same moments - a
 * token taken for a request that then waits in a queue behind hundreds would let later ones
 * arrive faster than EC2 refills. When the window frees, the bucket with the longest backlog
 * beyond its tokens sends first (urgent calls before all): the one that bounds how fast the
 * fleet can go is kept busy, and work that waits on nothing EC2 limits fills the gaps. */
#include "ec2_client.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws_query.h"
#include "ec2_batch.h"
#include "ec2_xml.h"
#include "log.h"

#define N_CLASSES	   2	/* waiting calls: 0 urgent, 1 the rest */
#define SWEEP_ABOVE	   1024 /* buckets held before idle ones are dropped */
#define SWEEP_EVERY_S	   10.0
#define IDLE_BEFORE_DROP_S 60.0
#define MAX_MERGED_BODY	   ((size_t)256 << 10)
#define SEND_WINDOW	   HTTP_ACTIVE /* requests out at once */
#define TARGET_TABLE	   64	       /* hash heads of the shared targets */

struct ec2_call_state;
struct shared_target;

struct bucket_slot {
	struct bucket_slot *hnext;
	struct ec2_client *c;
	uint32_t hash;
	char account_id[16];
	char region[32];
	char action[64];
	enum ec2_category cat;
	struct rate_bucket bucket;
	bool has_resource; /* Start/Stop: a token per instance as well */
	struct rate_bucket resource;
	struct ec2_call_state *head[N_CLASSES], *tail[N_CLASSES];
	size_t waiting;
	struct ev_timer timer; /* the next dispatch */
	double last_used;
	bool blocked;		   /* has tokens and calls, and waits for the send window */
	struct bucket_slot *bnext; /* in the client's blocked list */
};

struct ec2_client {
	struct http_client *http;
	struct ev_loop *loop;
	struct creds_cache *creds;
	struct sigv4_signer *signer;
	struct ec2_client_options opt;
	struct retry_policy retry;
	struct bucket_slot **table; /* hash of (account, region, action, category) */
	size_t table_size, n_slots;
	double last_sweep;
	struct ec2_client_stats stats;
	size_t pending;
	void (*observer)(void *ud, const char *action, const char *outcome);
	void *observer_ud;
	void (*creds_error)(void *ud, const char *err);
	void *creds_error_ud;
	double skew_s; /* server time - ours, learnt from a RequestTimeTooSkewed answer's Date */
	struct shared_target *targets[TARGET_TABLE]; /* the targets queued calls share */
	struct bucket_slot *blocked;		     /* buckets waiting for the send window */
	struct ev_timer pump;			     /* the window freed: blocked buckets go on */
};

/* A target as the calls queued for it share it: one copy per distinct target (accounts x
 * regions), not 800 bytes in every call waiting for a token. */
struct shared_target {
	struct shared_target *next;
	uint32_t hash;
	size_t refs;
	struct ec2_target t;
};

struct ec2_call_state {
	struct ec2_client *c;
	const struct ec2_target *target; /* a shared_target's */
	char action[64];
	char amz_target[96]; /* "" for the EC2 Query protocol; else an SSM JSON call */
	enum ec2_category cat;
	unsigned flags;
	struct buf params;		/* the caller's form pairs (a merged request: everyone's) */
	struct buf fixed;		/* params less the list items: what merged calls share */
	const struct batch_rule *rule;	/* NULL: never merged */
	int items;			/* list items (instances, for the resource bucket) */
	bool alone;			/* split from a failed merged request: goes on its own */
	struct ec2_call_state *qnext;	/* in its bucket's queue */
	struct ec2_call_state *members; /* a merged request: the calls riding in it */
	struct ec2_call_state *mnext;
	int n_members;
	struct buf body;
	int attempt;
	int retry_cost;
	bool backing_off;     /* the timer is a backoff: the call queues again after it */
	bool creds_refreshed; /* ExpiredToken/RequestExpired: refreshed once and sent again */
	bool in_window;	      /* counted in c->stats.requests_out */
	bool skew_fixed;      /* RequestTimeTooSkewed: the clock corrected once */
	double started;
	struct ev_timer timer; /* backoff */
	ec2_done_fn done;
	void *ud;
};

static double default_rand01(void)
{
	return arc4random() / 4294967296.0;
}

static void on_pump(struct ev_loop *loop, struct ev_timer *w, int revents);

static uint32_t target_hash(const struct ec2_target *t)
{
	uint32_t h = DS_HASH_SEED;
	const char *parts[] = {t->account_id, t->region, t->endpoint, t->ssm_endpoint, t->role_arn};
	for (int i = 0; i < 5; i++)
		h = ds_hash(ds_hash(h, parts[i]), "|");
	return h;
}

static bool same_target(const struct ec2_target *a, const struct ec2_target *b)
{
	return !strcmp(a->account_id, b->account_id) && !strcmp(a->region, b->region) &&
	       !strcmp(a->endpoint, b->endpoint) && !strcmp(a->ssm_endpoint, b->ssm_endpoint) &&
	       !strcmp(a->role_arn, b->role_arn);
}

/* The shared copy of t, with a reference taken; NULL when out of memory. */
static const struct ec2_target *target_hold(struct ec2_client *c, const struct ec2_target *t)
{
	uint32_t h = target_hash(t);
	struct shared_target **head = &c->targets[h % TARGET_TABLE];
	for (struct shared_target *x = *head; x; x = x->next)
		if (x->hash == h && same_target(&x->t, t)) {
			x->refs++;
			return &x->t;
		}
	struct shared_target *x = calloc(1, sizeof(*x));
	if (!x)
		return NULL;
	x->hash = h;
	x->refs = 1;
	x->t = *t;
	x->next = *head;
	*head = x;
	return &x->t;
}

/* Another reference to a target already shared. */
static const struct ec2_target *target_ref(const struct ec2_target *t)
{
	struct shared_target *x =
	    (struct shared_target *)((char *)t - offsetof(struct shared_target, t));
	x->refs++;
	return t;
}

static void target_release(struct ec2_client *c, const struct ec2_target *t)
{
	if (!t)
		return;
	struct shared_target *x =
	    (struct shared_target *)((char *)t - offsetof(struct shared_target, t));
	if (--x->refs)
		return;
	for (struct shared_target **pp = &c->targets[x->hash % TARGET_TABLE]; *pp;
	     pp = &(*pp)->next)
		if (*pp == x) {
			*pp = x->next;
			break;
		}
	free(x);
}

struct ec2_client *ec2_client_new(struct http_client *http, struct creds_cache *creds,
				  const struct ec2_client_options *opt)
{
	struct ec2_client *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->http = http;
	c->loop = http_client_loop(http);
	c->creds = creds;
	c->signer = sigv4_signer_new();
	if (opt)
		c->opt = *opt;
	if (c->opt.budget <= 0 || c->opt.budget > 1)
		c->opt.budget = 0.5;
	if (c->opt.bucket_scale <= 0)
		c->opt.bucket_scale = 1;
	if (c->opt.timeout_ms <= 0)
		c->opt.timeout_ms = 20000;
	if (!c->opt.rand01)
		c->opt.rand01 = default_rand01;
	retry_policy_init(&c->retry, c->opt.max_attempts);
	ev_timer_init(&c->pump, on_pump, 0., 0.);
	c->pump.data = c;
	c->table_size = 256;
	c->table = calloc(c->table_size, sizeof(*c->table));
	if (!c->signer || !c->table) {
		sigv4_signer_free(c->signer);
		free(c->table);
		free(c);
		return NULL;
	}
	return c;
}

static void call_free(struct ec2_call_state *st)
{
	target_release(st->c, st->target);
	buf_cleanup(&st->params);
	buf_cleanup(&st->fixed);
	buf_cleanup(&st->body);
	free(st);
}

void ec2_client_free(struct ec2_client *c)
{
	if (!c)
		return;
	ev_timer_stop(c->loop, &c->pump);
	for (size_t i = 0; i < c->table_size; i++)
		for (struct bucket_slot *s = c->table[i], *next; s; s = next) {
			next = s->hnext;
			ev_timer_stop(c->loop, &s->timer);
			for (int k = 0; k < N_CLASSES; k++)
				for (struct ec2_call_state *q = s->head[k], *qn; q; q = qn) {
					qn = q->qnext;
					call_free(q); /* callers drain first; never called back */
				}
			free(s);
		}
	free(c->table);
	sigv4_signer_free(c->signer);
	free(c);
}

const struct ec2_client_stats *ec2_client_stats(const struct ec2_client *c)
{
	return &c->stats;
}

size_t ec2_client_pending(const struct ec2_client *c)
{
	return c->pending;
}

/* ---- buckets: one per (account, region, action) ---- */

static uint32_t slot_hash(const char *account, const char *region, const char *action,
			  enum ec2_category cat)
{
	uint32_t h = DS_HASH_SEED;
	const char *parts[] = {account, region, action};
	for (int i = 0; i < 3; i++)
		h = ds_hash(ds_hash(h, parts[i]), "|");
	return (h ^ (uint32_t)cat) * 16777619u;
}

static struct ec2_bucket_spec scaled(const struct ec2_client *c, struct ec2_bucket_spec spec)
{
	spec.size *= c->opt.bucket_scale;
	spec.refill_per_s *= c->opt.bucket_scale;
	return spec;
}

static void on_slot_timer(struct ev_loop *loop, struct ev_timer *w, int revents);

static bool slot_idle(struct bucket_slot *s, double now)
{
	return s->waiting == 0 && !ev_is_active(&s->timer) &&
	       now - s->last_used > IDLE_BEFORE_DROP_S &&
	       rate_bucket_level(&s->bucket, now) >= s->bucket.size &&
	       !s->bucket.adaptive_enabled &&
	       (!s->has_resource || rate_bucket_level(&s->resource, now) >= s->resource.size);
}

/* A full, idle bucket is the same as a new one: dropping it keeps an org of thousands of
 * (account, region) pairs from holding every action's bucket for ever. */
static void sweep(struct ec2_client *c, double now)
{
	c->last_sweep = now;
	for (size_t i = 0; i < c->table_size; i++)
		for (struct bucket_slot **pp = &c->table[i]; *pp;) {
			struct bucket_slot *s = *pp;
			if (slot_idle(s, now)) {
				*pp = s->hnext;
				free(s);
				c->n_slots--;
			} else {
				pp = &s->hnext;
			}
		}
}

static void grow(struct ec2_client *c)
{
	size_t size = c->table_size * 2;
	struct bucket_slot **t = calloc(size, sizeof(*t));
	if (!t)
		return; /* longer chains, still correct */
	for (size_t i = 0; i < c->table_size; i++)
		for (struct bucket_slot *s = c->table[i], *next; s; s = next) {
			next = s->hnext;
			s->hnext = t[s->hash & (size - 1)];
			t[s->hash & (size - 1)] = s;
		}
	free(c->table);
	c->table = t;
	c->table_size = size;
}

static struct bucket_slot *get_slot(struct ec2_client *c, const struct ec2_target *t,
				    const char *action, enum ec2_category cat)
{
	uint32_t h = slot_hash(t->account_id, t->region, action, cat);
	double now = ev_now(c->loop);
	for (struct bucket_slot *s = c->table[h & (c->table_size - 1)]; s; s = s->hnext)
		if (s->hash == h && s->cat == cat && !strcmp(s->action, action) &&
		    !strcmp(s->account_id, t->account_id) && !strcmp(s->region, t->region)) {
			s->last_used = now;
			return s;
		}
	if (c->n_slots >= SWEEP_ABOVE && now - c->last_sweep > SWEEP_EVERY_S)
		sweep(c, now);
	if (c->n_slots >= c->table_size)
		grow(c);
	struct bucket_slot *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->c = c;
	s->hash = h;
	snprintf(s->account_id, sizeof(s->account_id), "%s", t->account_id);
	snprintf(s->region, sizeof(s->region), "%s", t->region);
	snprintf(s->action, sizeof(s->action), "%s", action);
	s->cat = cat;
	s->last_used = now;
	rate_bucket_init(&s->bucket, scaled(c, ec2_bucket_spec_of(cat)), c->opt.budget, now);
	struct ec2_bucket_spec rs;
	if ((s->has_resource = ec2_resource_bucket_of(action, &rs)))
		rate_bucket_init(&s->resource, scaled(c, rs), c->opt.budget, now);
	ev_timer_init(&s->timer, on_slot_timer, 0., 0.);
	s->timer.data = s;
	s->hnext = c->table[h & (c->table_size - 1)];
	c->table[h & (c->table_size - 1)] = s;
	c->n_slots++;
	return s;
}

void ec2_client_set_budget(struct ec2_client *c, double budget)
{
	if (budget <= 0 || budget > 1)
		return;
	c->opt.budget = budget;
	double now = ev_now(c->loop);
	for (size_t i = 0; i < c->table_size; i++)
		for (struct bucket_slot *s = c->table[i]; s; s = s->hnext) {
			rate_bucket_set_budget(&s->bucket, scaled(c, ec2_bucket_spec_of(s->cat)),
					       budget, now);
			struct ec2_bucket_spec rs;
			if (s->has_resource && ec2_resource_bucket_of(s->action, &rs))
				rate_bucket_set_budget(&s->resource, scaled(c, rs), budget, now);
		}
}

void ec2_client_on_credentials_error(struct ec2_client *c, void (*fn)(void *ud, const char *err),
				     void *ud)
{
	c->creds_error = fn;
	c->creds_error_ud = ud;
}

void ec2_client_observe(struct ec2_client *c,
			void (*fn)(void *ud, const char *action, const char *outcome), void *ud)
{
	c->observer = fn;
	c->observer_ud = ud;
}

void ec2_client_each_bucket(struct ec2_client *c,
			    void (*fn)(void *ud, const struct ec2_bucket_view *b), void *ud)
{
	double now = ev_now(c->loop);
	c->stats.buckets = c->n_slots;
	for (size_t i = 0; i < c->table_size; i++)
		for (struct bucket_slot *s = c->table[i]; s; s = s->hnext) {
			struct ec2_bucket_view v = {
			    .account = s->account_id,
			    .region = s->region,
			    .action = s->action,
			    .tokens = rate_bucket_level(&s->bucket, now),
			    .rate_per_s = rate_bucket_rate(&s->bucket),
			    .documented_per_s = s->bucket.refill_per_s,
			    .waiting = s->waiting,
			};
			fn(ud, &v);
		}
}

/* ---- the queue of each bucket ---- */

static void enqueue(struct bucket_slot *s, struct ec2_call_state *st, bool front)
{
	int k = st->flags & EC2_F_URGENT ? 0 : 1;
	st->qnext = NULL;
	if (front) {
		st->qnext = s->head[k];
		s->head[k] = st;
		if (!s->tail[k])
			s->tail[k] = st;
	} else {
		if (s->tail[k])
			s->tail[k]->qnext = st;
		else
			s->head[k] = st;
		s->tail[k] = st;
	}
	s->waiting++;
	/* not at once: calls issued in the same turn of the loop get to wait side by side, so
	 * the ones EC2 takes as a list go as one */
	if (!ev_is_active(&s->timer)) {
		ev_timer_set(&s->timer, 0., 0.);
		ev_timer_start(s->c->loop, &s->timer);
	}
}

/* Unlinks the call after prev (NULL: the head) from class k. */
static struct ec2_call_state *unlink_after(struct bucket_slot *s, int k,
					   struct ec2_call_state *prev)
{
	struct ec2_call_state *st = prev ? prev->qnext : s->head[k];
	if (prev)
		prev->qnext = st->qnext;
	else
		s->head[k] = st->qnext;
	if (s->tail[k] == st)
		s->tail[k] = prev;
	st->qnext = NULL;
	s->waiting--;
	return st;
}

static bool mergeable(const struct ec2_call_state *st)
{
	return st->rule && !st->alone && st->n_members == 0 && st->items > 0;
}

static void send_attempt(struct ec2_call_state *st);
static int build_form(const struct ec2_call_state *st, struct buf *body);

/* The calls waiting beside `first` that can ride in its request: same fixed part, same
 * flags, within the rule's item limit and the resource tokens there are now. Returns the
 * request to send: `first` alone, or a new merged request carrying them all. */
static struct ec2_call_state *gather(struct bucket_slot *s, struct ec2_call_state *first,
				     double resource_tokens)
{
	struct ec2_client *c = s->c;
	if (!mergeable(first) || !s->waiting)
		return first;
	int items = first->items;
	size_t body = first->params.len;
	struct ec2_call_state *riders = NULL, **tail = &riders;
	int n = 0;
	for (int k = 0; k < N_CLASSES; k++)
		for (struct ec2_call_state *prev = NULL, *q = s->head[k]; q;) {
			bool fits = mergeable(q) &&
				    (q->flags & ~EC2_F_URGENT) == (first->flags & ~EC2_F_URGENT) &&
				    q->fixed.len == first->fixed.len &&
				    (!q->fixed.len || /* an empty buf has no data */
				     !memcmp(q->fixed.data, first->fixed.data, q->fixed.len)) &&
				    items + q->items <= first->rule->max_items &&
				    body + q->params.len <= MAX_MERGED_BODY &&
				    (!s->has_resource || items + q->items <= resource_tokens);
			if (!fits) {
				prev = q;
				q = q->qnext;
				continue;
			}
			struct ec2_call_state *next = q->qnext;
			unlink_after(s, k, prev);
			items += q->items;
			body += q->params.len;
			*tail = q;
			tail = &q->mnext;
			n++;
			q = next;
		}
	if (!n)
		return first;
	struct ec2_call_state *m = calloc(1, sizeof(*m));
	if (!m) { /* no merge then: the riders wait for their own turn */
		for (struct ec2_call_state *q = riders, *qn; q; q = qn) {
			qn = q->mnext;
			q->mnext = NULL;
			enqueue(s, q, true);
		}
		return first;
	}
	m->c = c;
	m->target = target_ref(first->target);
	memcpy(m->action, first->action, sizeof(m->action));
	m->cat = first->cat;
	m->flags = first->flags;
	m->rule = first->rule;
	m->items = items;
	m->started = ev_now(c->loop);
	buf_init(&m->params, 0);
	buf_init(&m->fixed, 0);
	buf_init(&m->body, 0);
	first->mnext = riders;
	m->members = first;
	m->n_members = n + 1;
	int base = 0;
	int rc =
	    buf_append(&m->params, first->fixed.data ? first->fixed.data : "", first->fixed.len);
	for (struct ec2_call_state *q = m->members; !rc && q; q = q->mnext)
		rc = batch_append_items(m->rule, q->params.data, q->params.len, &base, &m->params);
	if (rc) { /* cannot happen for bodies batch_split took; never merge on a doubt */
		for (struct ec2_call_state *q = riders, *qn; q; q = qn) {
			qn = q->mnext;
			q->mnext = NULL;
			enqueue(s, q, true);
		}
		first->mnext = NULL;
		call_free(m);
		return first;
	}
	c->stats.merged += (unsigned long)n;
	return m;
}

/* ---- the send window ---- */

/* The limit is reached: logged once per process, counted every time. */
static void block(struct bucket_slot *s)
{
	static bool logged;
	if (s->blocked)
		return;
	if (!logged) {
		char window[16];
		snprintf(window, sizeof(window), "%d", SEND_WINDOW);
		logged = true;
		log_kv("info", "EC2 send window full: further calls wait for a place",
		       "requests_out", window, "metric", "dualstackd_ec2_send_window_waits", NULL);
	}
	s->c->stats.window_waits++;
	s->blocked = true;
	s->bnext = s->c->blocked;
	s->c->blocked = s;
}

static void enter_window(struct ec2_call_state *st)
{
	st->in_window = true;
	st->c->stats.requests_out++;
}

/* The request is answered (or never went): its place in the window goes to a blocked bucket,
 * on the next turn of the loop - not from inside the answer's callbacks. */
static void leave_window(struct ec2_call_state *st)
{
	struct ec2_client *c = st->c;
	if (!st->in_window)
		return;
	st->in_window = false;
	c->stats.requests_out--;
	if (c->blocked && !ev_is_active(&c->pump)) {
		ev_timer_set(&c->pump, 0., 0.);
		ev_timer_start(c->loop, &c->pump);
	}
}

/* How long a bucket's waiting calls need beyond the tokens it has: the backlog that bounds
 * the run if it is not kept sending. Urgent calls (what unblocks other work) rank above all. */
static double backlog_s(struct bucket_slot *s, double now)
{
	if (s->head[0])
		return 1e9;
	double rate = rate_bucket_rate(&s->bucket);
	double over = (double)s->waiting - rate_bucket_level(&s->bucket, now);
	return rate > 0 ? over / rate : over;
}

static void dispatch(struct bucket_slot *s);

static void on_pump(struct ev_loop *loop, struct ev_timer *w, int revents)
{
	struct ec2_client *c = w->data;
	(void)loop;
	(void)revents;
	double now = ev_now(c->loop);
	while (c->stats.requests_out < SEND_WINDOW && c->blocked) {
		struct bucket_slot **best = &c->blocked;
		double best_s = backlog_s(*best, now);
		for (struct bucket_slot **pp = &(*best)->bnext; *pp; pp = &(*pp)->bnext) {
			double b = backlog_s(*pp, now);
			if (b > best_s) {
				best = pp;
				best_s = b;
			}
		}
		struct bucket_slot *s = *best;
		*best = s->bnext;
		s->bnext = NULL;
		s->blocked = false;
		dispatch(s);
	}
}

/* Sends what the bucket's tokens and the send window allow, urgent calls first; sleeps until
 * the next token, or waits in the blocked list for the window. */
static void dispatch(struct bucket_slot *s)
{
	struct ec2_client *c = s->c;
	double now = ev_now(c->loop);
	while (s->waiting) {
		if (c->stats.requests_out >= SEND_WINDOW) {
			block(s);
			return;
		}
		int k = s->head[0] ? 0 : 1;
		struct ec2_call_state *head = s->head[k];
		double wait = rate_bucket_wait(&s->bucket, now, 1);
		if (s->has_resource) {
			double rw = rate_bucket_wait(&s->resource, now, head->items);
			wait = rw > wait ? rw : wait;
		}
		if (wait > 0) {
			ev_timer_stop(c->loop, &s->timer);
			ev_timer_set(&s->timer, wait, 0.);
			ev_timer_start(c->loop, &s->timer);
			return;
		}
		unlink_after(s, k, NULL);
		double rt = s->has_resource ? rate_bucket_level(&s->resource, now) : 0;
		struct ec2_call_state *req = gather(s, head, rt);
		rate_bucket_spend(&s->bucket, now, 1);
		if (s->has_resource)
			rate_bucket_spend(&s->resource, now, req->items);
		s->last_used = now;
		enter_window(req);
		send_attempt(req);
	}
}

static void on_slot_timer(struct ev_loop *loop, struct ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	dispatch(w->data);
}

static void fail_local(struct ec2_call_state *st, const char *code, const char *msg);

/* Queues a call (or a retry) for its bucket. */
static void queue_call(struct ec2_call_state *st, bool front)
{
	struct bucket_slot *s = get_slot(st->c, st->target, st->action, st->cat);
	if (!s) {
		fail_local(st, "ClientError", "out of memory for a rate bucket");
		return;
	}
	enqueue(s, st, front);
}

/* ---- answers ---- */

static void deliver(struct ec2_call_state *st, struct ec2_result *res)
{
	struct ec2_client *c = st->c;
	res->elapsed_s = ev_now(c->loop) - st->started;
	if (res->rc == DS_OK)
		c->stats.ok++;
	else
		c->stats.final_errors++;
	c->pending--;
	st->done(st->ud, res);
	call_free(st);
}

static void finish(struct ec2_call_state *st, struct ec2_result *res)
{
	struct ec2_client *c = st->c;
	res->attempts = st->attempt;
	if (res->rc == DS_OK)
		retry_release(&c->retry, st->retry_cost);
	if (c->observer)
		c->observer(c->observer_ud, st->action,
			    res->rc == DS_OK ? "ok" : ec2_class_name(res->err.cls));
	if (!st->n_members) {
		deliver(st, res);
		return;
	}
	/* a merged request: its answer is everyone's - unless it failed, when no one can tell
	 * whose item it was (a duplicate permission, an instance in the wrong state, no
	 * capacity for one type): then each call goes again alone and gets its own answer */
	bool split = res->rc != DS_OK;
	if (split)
		c->stats.split++;
	for (struct ec2_call_state *q = st->members, *next; q; q = next) {
		next = q->mnext;
		q->mnext = NULL;
		if (split) {
			q->alone = true;
			queue_call(q, true);
		} else {
			q->attempt = st->attempt;
			deliver(q, res);
		}
	}
	st->members = NULL;
	call_free(st);
}

static void fail_local(struct ec2_call_state *st, const char *code, const char *msg)
{
	leave_window(st);
	struct ec2_result res;
	memset(&res, 0, sizeof(res));
	res.rc = DS_EAWS;
	snprintf(res.err.code, sizeof(res.err.code), "%s", code);
	snprintf(res.err.message, sizeof(res.err.message), "%s", msg);
	/* no credentials now is a passing state (a refresh failed, STS is down): the call was
	 * not sent, and the caller retries later - it never rolls a resize back */
	bool creds = !strcmp(code, "CredentialsError");
	res.err.cls = creds ? EC2_TRANSIENT : EC2_FATAL;
	if (creds && st->c->creds_error)
		st->c->creds_error(st->c->creds_error_ud, msg);
	finish(st, &res);
}

static void on_backoff(struct ev_loop *loop, struct ev_timer *w, int revents)
{
	struct ec2_call_state *st = w->data;
	(void)loop;
	(void)revents;
	st->backing_off = false;
	queue_call(st, true); /* a retry waits for a token like any call, ahead of new ones */
}

static void on_http_done(void *ud, struct http_response *resp)
{
	struct ec2_call_state *st = ud;
	struct ec2_client *c = st->c;
	struct ec2_result res;
	memset(&res, 0, sizeof(res));
	memcpy(res.request_id, resp->request_id, sizeof(res.request_id));
	leave_window(st);

	if (resp->transport_error) {
		res.rc = DS_EAWS;
		res.err.http_status = 0;
		snprintf(res.err.code, sizeof(res.err.code), "%s",
			 resp->transport_error == DS_ETIMEOUT ? "RequestTimeout"
							      : "ConnectionError");
		snprintf(res.err.message, sizeof(res.err.message), "%s", resp->transport_msg);
		res.err.cls = EC2_TRANSIENT;
	} else if (resp->status == 200) {
		res.rc = DS_OK;
		res.body = resp->body.data ? resp->body.data : "";
		res.body_len = resp->body.len;
	} else {
		res.rc = DS_EAWS;
		ec2_xml_decode_error((int)resp->status, resp->body.data, resp->body.len, &res.err);
		if (!res.request_id[0])
			memcpy(res.request_id, res.err.request_id, sizeof(res.request_id));
	}

	/* Our side of an auth failure, fixed once per call: expired credentials are refreshed,
	 * a clock that drifted is corrected from the server's Date; then the call goes again
	 * (it was refused, so it did not happen). */
	if (res.rc && !resp->transport_error &&
	    (!strcmp(res.err.code, "ExpiredToken") ||
	     !strcmp(res.err.code, "ExpiredTokenException") ||
	     !strcmp(res.err.code, "RequestExpired")) &&
	    !st->creds_refreshed) {
		st->creds_refreshed = true;
		creds_cache_invalidate(c->creds, st->target->role_arn);
		if (resp->server_date)
			c->skew_s = (double)resp->server_date - (double)time(NULL);
		enter_window(st);
		send_attempt(st);
		return;
	}
	if (res.rc && !resp->transport_error && !strcmp(res.err.code, "RequestTimeTooSkewed") &&
	    resp->server_date && !st->skew_fixed) {
		st->skew_fixed = true;
		c->skew_s = (double)resp->server_date - (double)time(NULL);
		enter_window(st);
		send_attempt(st);
		return;
	}
	bool throttled = res.rc && res.err.cls == EC2_THROTTLED;
	struct bucket_slot *s = get_slot(c, st->target, st->action, st->cat);
	if (s)
		rate_bucket_on_response(&s->bucket, throttled, ev_now(c->loop));
	if (throttled)
		c->stats.throttled_answers++;
	if (res.rc && res.err.cls == EC2_TRANSIENT)
		c->stats.transient_answers++;

	/* A throttled answer or a refused connection means the call did not happen; a 5xx, a
	 * reset or a timeout may hide one that did. */
	bool not_done = throttled || (resp->transport_error && !resp->maybe_sent);
	res.ambiguous = res.rc && !not_done && res.err.cls == EC2_TRANSIENT;
	bool may_resend = not_done || (res.ambiguous && (st->flags & EC2_F_IDEMPOTENT));
	if (res.rc && may_resend) {
		bool timeout = resp->transport_error == DS_ETIMEOUT;
		int cost = retry_acquire(&c->retry, st->attempt, timeout);
		if (cost) {
			st->retry_cost += cost;
			c->stats.retries++;
			double delay = retry_backoff_s(&c->retry, st->attempt, c->opt.rand01());
			ev_timer_init(&st->timer, on_backoff, delay, 0.);
			st->timer.data = st;
			st->backing_off = true;
			ev_timer_start(c->loop, &st->timer);
			return;
		}
	}
	finish(st, &res);
}

static void sign_and_send(void *ud, int rc, const struct aws_creds *creds, const char *err);

/* Wall-clock time for SigV4, corrected by what the server said when it found ours skewed. */
static time_t signing_time(const struct ec2_client *c)
{
	return (time_t)((double)time(NULL) + c->skew_s);
}

/* Credentials first: a member account's session is refreshed on the loop when due. */
static void send_attempt(struct ec2_call_state *st)
{
	int rc = creds_cache_role_async(st->c->creds, st->c->http, st->target->role_arn,
					sign_and_send, st);
	if (rc)
		fail_local(st, "CredentialsError", ds_strerror(rc));
}

static void sign_and_send(void *ud, int rc, const struct aws_creds *creds, const char *err)
{
	struct ec2_call_state *st = ud;
	struct ec2_client *c = st->c;
	if (rc) {
		fail_local(st, "CredentialsError", err && *err ? err : ds_strerror(rc));
		return;
	}
	struct aws_signed signed_req;
	aws_signed_init(&signed_req);
	bool ssm = st->amz_target[0] != '\0';
	if (!st->body.len) { /* the first attempt: the caller's pairs (or the merged ones) */
		rc = ssm ? buf_append(&st->body, st->params.data, st->params.len)
			 : build_form(st, &st->body);
		if (rc) {
			fail_local(st, "ClientError", ds_strerror(rc));
			return;
		}
	}
	const char *url = ssm ? st->target->ssm_endpoint : st->target->endpoint;
	if (ssm)
		rc = aws_json_sign(c->signer, creds, "ssm", st->target->region, url, st->amz_target,
				   st->body.data, st->body.len, signing_time(c), &signed_req);
	else
		rc = aws_query_sign(c->signer, creds, "ec2", st->target->region, url, st->body.data,
				    st->body.len, signing_time(c), &signed_req);
	if (!rc) {
		struct http_request req = {
		    .method = "POST",
		    .url = url,
		    .headers = signed_req.headers,
		    .n_headers = signed_req.n_headers,
		    .body = st->body.data,
		    .body_len = st->body.len,
		    .timeout_ms = c->opt.timeout_ms,
		    .max_body = (size_t)64 << 20,
		    .fresh_connection = !(st->flags & EC2_F_IDEMPOTENT),
		};
		st->attempt++;
		c->stats.attempts++;
		rc = http_submit(c->http, &req, on_http_done, st);
	}
	aws_signed_cleanup(&signed_req);
	if (rc)
		fail_local(st, "ClientError", ds_strerror(rc));
}

/* Action, Version, then the caller's pairs. */
static int build_form(const struct ec2_call_state *st, struct buf *body)
{
	int rc = aws_form_add(body, "Action", st->action);
	if (!rc)
		rc = aws_form_add(body, "Version", "2016-11-15");
	if (!rc && st->params.len)
		rc = buf_putc(body, '&');
	if (!rc && st->params.len)
		rc = buf_append(body, st->params.data, st->params.len);
	return rc;
}

static struct ec2_call_state *new_call(struct ec2_client *c, const struct ec2_target *t,
				       const char *action, unsigned flags, ec2_done_fn done,
				       void *ud)
{
	struct ec2_call_state *st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	st->c = c;
	st->target = target_hold(c, t);
	if (!st->target) {
		free(st);
		return NULL;
	}
	snprintf(st->action, sizeof(st->action), "%s", action);
	st->flags = flags;
	st->done = done;
	st->ud = ud;
	st->started = ev_now(c->loop);
	st->items = 1;
	buf_init(&st->params, (size_t)1 << 20);
	buf_init(&st->fixed, (size_t)1 << 20);
	buf_init(&st->body, (size_t)2 << 20);
	return st;
}

int ec2_call(struct ec2_client *c, const struct ec2_target *t, const char *action, unsigned flags,
	     const char *params, size_t params_len, ec2_done_fn done, void *ud)
{
	struct ec2_call_state *st = new_call(c, t, action, flags, done, ud);
	if (!st)
		return DS_ENOMEM;
	st->cat = ec2_category_of(action, flags & EC2_F_FILTERED);
	/* application/x-www-form-urlencoded writes a space as '+', as botocore sends it; EC2
	 * takes either, but emulators that re-encode the form to check the signature do not */
	int rc = DS_OK;
	for (size_t i = 0; !rc && i < params_len; i++) {
		if (params[i] == '%' && i + 2 < params_len && params[i + 1] == '2' &&
		    params[i + 2] == '0') {
			rc = buf_putc(&st->params, '+');
			i += 2;
		} else {
			rc = buf_putc(&st->params, params[i]);
		}
	}
	/* a call EC2 takes as a list may ride with others; its items are also its cost in a
	 * resource bucket (Start/Stop: one token per instance) */
	if (!rc && (st->rule = batch_rule_of(action)) != NULL) {
		st->items = batch_split(st->rule, st->params.data ? st->params.data : "",
					st->params.len, &st->fixed);
		if (st->items <= 0) { /* nothing to merge by: it goes alone */
			st->rule = NULL;
			st->items = 1;
		}
	}
	if (rc) {
		call_free(st);
		return rc;
	}
	c->stats.calls++;
	c->pending++;
	queue_call(st, false);
	return DS_OK;
}

int ec2_call_ssm(struct ec2_client *c, const struct ec2_target *t, const char *operation,
		 unsigned flags, const char *json, size_t len, ec2_done_fn done, void *ud)
{
	struct ec2_call_state *st = new_call(c, t, operation, flags, done, ud);
	if (!st)
		return DS_ENOMEM;
	snprintf(st->amz_target, sizeof(st->amz_target), "AmazonSSM.%s", operation);
	st->cat = EC2_CAT_SSM;
	if (buf_append(&st->params, json, len)) {
		call_free(st);
		return DS_ETOOBIG;
	}
	c->stats.calls++;
	c->pending++;
	queue_call(st, false);
	return DS_OK;
}

void ec2_target_set_region(struct ec2_target *t, const char *region)
{
	snprintf(t->region, sizeof(t->region), "%s", region);
	creds_endpoint(&creds_env_default, "ec2", t->region, t->endpoint, sizeof(t->endpoint));
	creds_endpoint(&creds_env_default, "ssm", t->region, t->ssm_endpoint,
		       sizeof(t->ssm_endpoint));
}

int ec2_target_from_env(const struct creds_env *env, struct ec2_target *t, char *err,
			size_t err_len)
{
	char region[64];
	memset(t, 0, sizeof(*t));
	if (!creds_region(env, region, sizeof(region))) {
		snprintf(err, err_len, "no region: set AWS_REGION");
		return DS_EINVAL;
	}
	if (strlen(region) >= sizeof(t->region)) {
		snprintf(err, err_len, "region too long: %s", region);
		return DS_EINVAL;
	}
	memcpy(t->region, region, strlen(region) + 1);
	creds_endpoint(env, "ec2", t->region, t->endpoint, sizeof(t->endpoint));
	creds_endpoint(env, "ssm", t->region, t->ssm_endpoint, sizeof(t->ssm_endpoint));
	return DS_OK;
}
