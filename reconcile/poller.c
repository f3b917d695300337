/* Waiters sit in one list per kind with the time they are due. A timer fires at the earliest
 * due time (never sooner than gap_s after the kind's last read, so waiters pile up into one
 * read); the read takes every waiter due within the next tick, and its answer goes to each. */
#include "poller.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

#define POLL_KINDS 3 /* VPCs, subnets, instances */

struct waiter {
	char id[DS_ID_LEN];
	double due; /* in poller time (seconds since it was made, by the port's timers) */
	poll_fn fn;
	void *ud;
	struct waiter *next;
};

/* One read in flight: its waiters, and the snapshot it fills. */
struct poll_read {
	struct poller *p;
	int kind;
	struct waiter *waiters;
	struct observed snap;
	const char **ids;
};

/* Outlives the poller while its timers are pending, so a late timer does nothing. */
struct poller_life {
	bool alive;
	int timers;
};

struct poller {
	const struct ec2_port *port;
	double gap_s;
	struct waiter *waiting[POLL_KINDS];
	double last_read[POLL_KINDS];
	double timer_at; /* the earliest pending timer, or -1 */
	unsigned long reads;
	struct poller_life *life;
};

static const enum obs_kind kind_of[POLL_KINDS] = {OBS_VPCS, OBS_SUBNETS, OBS_INSTANCES};
static const char *const filter_of[POLL_KINDS] = {"vpc-id", "subnet-id", "instance-id"};

static int slot_of(enum obs_kind k)
{
	for (int i = 0; i < POLL_KINDS; i++)
		if (kind_of[i] == k)
			return i;
	return -1;
}

struct poller *poller_new(const struct ec2_port *port, double gap_s)
{
	struct poller *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->life = calloc(1, sizeof(*p->life));
	if (!p->life) {
		free(p);
		return NULL;
	}
	p->life->alive = true;
	p->timer_at = -1;
	p->port = port;
	p->gap_s = gap_s > 0 ? gap_s : 1;
	for (int i = 0; i < POLL_KINDS; i++)
		p->last_read[i] = -1e9;
	return p;
}

static void drop(struct waiter *w)
{
	while (w) {
		struct waiter *n = w->next;
		free(w);
		w = n;
	}
}

void poller_free(struct poller *p)
{
	if (!p)
		return;
	for (int i = 0; i < POLL_KINDS; i++)
		drop(p->waiting[i]);
	/* pending timers still hold `life`: the last one frees it */
	p->life->alive = false;
	if (!p->life->timers)
		free(p->life);
	free(p);
}

unsigned long poller_reads(const struct poller *p)
{
	return p->reads;
}

static double now_of(const struct poller *p)
{
	return p->port->now(p->port->ctx);
}

static void arm(struct poller *p);

/* When the kind's next read may start. */
static double next_read_at(const struct poller *p, int k)
{
	double due = -1;
	for (const struct waiter *w = p->waiting[k]; w; w = w->next)
		if (due < 0 || w->due < due)
			due = w->due;
	if (due < 0)
		return -1;
	double earliest = p->last_read[k] + p->gap_s;
	return due > earliest ? due : earliest;
}

static void on_read(void *ud, int rc, const struct ec2_error *err)
{
	struct poll_read *r = ud;
	/* the waiters' callbacks may register new waiters, even free the poller */
	struct waiter *w = r->waiters;
	while (w) {
		struct waiter *n = w->next;
		w->fn(w->ud, rc, err, &r->snap);
		free(w);
		w = n;
	}
	observed_cleanup(&r->snap);
	free(r->ids);
	free(r);
}

static void start_read(struct poller *p, int k)
{
	struct poll_read *r = calloc(1, sizeof(*r));
	const char **ids = calloc(POLLER_MAX_IDS, sizeof(*ids));
	size_t n = 0;
	if (!r || !ids) {
		free(r);
		free(ids);
		return; /* the waiters stay; the next timer tries again */
	}
	r->p = p;
	r->kind = k;
	r->ids = ids;
	observed_init(&r->snap);
	/* every waiter due within the next tick joins this read (distinct ids, up to the
	 * filter's limit; the rest wait for the next one) */
	double now = now_of(p);
	double horizon = now + p->gap_s;
	struct waiter **pp = &p->waiting[k];
	while (*pp) {
		struct waiter *w = *pp;
		bool listed = false;
		for (size_t i = 0; i < n && !listed; i++)
			listed = !strcmp(ids[i], w->id);
		if (w->due <= horizon && (listed || n < POLLER_MAX_IDS)) {
			if (!listed)
				ids[n++] = w->id;
			*pp = w->next;
			w->next = r->waiters;
			r->waiters = w;
		} else {
			pp = &w->next;
		}
	}
	p->last_read[k] = now;
	p->reads++;
	struct ec2_read q = {.kind = kind_of[k],
			     .filter_name = filter_of[k],
			     .filter_values = ids,
			     .n_filter_values = n};
	int rc = p->port->read(p->port->ctx, &q, &r->snap, on_read, r);
	if (rc) {
		struct ec2_error e;
		memset(&e, 0, sizeof(e));
		snprintf(e.code, sizeof(e.code), "ClientError");
		snprintf(e.message, sizeof(e.message), "%s", ds_strerror(rc));
		e.cls = EC2_FATAL;
		on_read(r, rc, &e);
	}
}

struct tick {
	struct poller *p;
	struct poller_life *life;
	double at;
};

static void on_tick(void *ud)
{
	struct tick *t = ud;
	struct poller *p = t->p;
	struct poller_life *life = t->life;
	double at = t->at;
	free(t);
	life->timers--;
	if (!life->alive) {
		if (!life->timers)
			free(life);
		return;
	}
	if (p->timer_at == at)
		p->timer_at = -1;
	double now = now_of(p) + 1e-3; /* a timer may fire a hair early */
	for (int k = 0; k < POLL_KINDS; k++) {
		double when = next_read_at(p, k);
		if (when >= 0 && when <= now)
			start_read(p, k);
	}
	arm(p);
}

/* Sets the timer for the earliest read any kind needs. */
static void arm(struct poller *p)
{
	double when = -1;
	for (int k = 0; k < POLL_KINDS; k++) {
		double w = next_read_at(p, k);
		if (w >= 0 && (when < 0 || w < when))
			when = w;
	}
	if (when < 0 || (p->timer_at >= 0 && p->timer_at <= when))
		return;
	struct tick *t = malloc(sizeof(*t));
	if (!t)
		return;
	t->p = p;
	t->life = p->life;
	t->at = when;
	double now = now_of(p);
	/* an earlier timer takes over; a later one still fires and finds nothing due */
	if (p->port->after(p->port->ctx, when > now ? when - now : 0, on_tick, t)) {
		free(t);
		return;
	}
	p->life->timers++;
	p->timer_at = when;
}

int poller_wait(struct poller *p, enum obs_kind kind, const char *id, double delay_s, poll_fn fn,
		void *ud)
{
	int k = slot_of(kind);
	if (k < 0 || !id || !*id)
		return DS_EINVAL;
	struct waiter *w = calloc(1, sizeof(*w));
	if (!w)
		return DS_ENOMEM;
	snprintf(w->id, sizeof(w->id), "%s", id);
	w->due = now_of(p) + (delay_s > 0 ? delay_s : 0);
	w->fn = fn;
	w->ud = ud;
	w->next = p->waiting[k];
	p->waiting[k] = w;
	arm(p);
	return DS_OK;
}
