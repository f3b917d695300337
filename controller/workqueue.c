/* Items live in a hash by key; the queued ones also sit in a FIFO, skipped over while their
 * backoff lasts. Sizes are small (keys per replica), so the FIFO scan is linear. */
#include "workqueue.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../reconcile/err.h"
#include "../reconcile/model.h"

enum wq_state { WQ_IDLE, WQ_QUEUED, WQ_RUNNING };

struct tickets {
	uint64_t *v;
	size_t n, cap;
};

struct wq_item {
	struct work_key key;
	int32_t partition;
	enum wq_state state;
	bool dirty;
	bool dropped; /* its partition was handed over while it ran */
	int failures;
	double not_before;
	double queued_at;
	struct tickets next;	/* attached to the next run */
	struct tickets running; /* attached to the current run */
	struct wq_item *hnext;
};

#define WQ_BUCKETS 4096

struct wq {
	struct wq_item *buckets[WQ_BUCKETS];
	struct wq_item **fifo;
	size_t n_fifo, cap_fifo;
	size_t items, max_items;
	size_t running;
	int max_running;
	int max_failures;
};

static uint32_t hash_key(const struct work_key *k)
{
	return ds_hash(ds_hash(ds_hash(DS_HASH_SEED, k->account), k->region), k->vpc_id);
}

static bool same(const struct work_key *a, const struct work_key *b)
{
	return !strcmp(a->vpc_id, b->vpc_id) && !strcmp(a->region, b->region) &&
	       !strcmp(a->account, b->account);
}

struct wq *wq_new(size_t max_items, int max_running, int max_failures)
{
	struct wq *q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	q->max_items = max_items ? max_items : 100000;
	q->max_running = max_running > 0 ? max_running : 8;
	q->max_failures = max_failures > 0 ? max_failures : 8;
	return q;
}

static void item_free(struct wq_item *it)
{
	free(it->next.v);
	free(it->running.v);
	free(it);
}

void wq_free(struct wq *q)
{
	if (!q)
		return;
	for (size_t b = 0; b < WQ_BUCKETS; b++) {
		struct wq_item *it = q->buckets[b];
		while (it) {
			struct wq_item *n = it->hnext;
			item_free(it);
			it = n;
		}
	}
	free(q->fifo);
	free(q);
}

/* Unlinks an item from the hash and frees it. */
static void forget(struct wq *q, struct wq_item *it)
{
	for (struct wq_item **pp = &q->buckets[hash_key(&it->key) % WQ_BUCKETS]; *pp;
	     pp = &(*pp)->hnext)
		if (*pp == it) {
			*pp = it->hnext;
			break;
		}
	q->items--;
	item_free(it);
}

double wq_backoff_s(int failures)
{
	if (failures <= 0)
		return 0;
	if (failures > 40)
		return WQ_BACKOFF_MAX_S;
	double d = WQ_BACKOFF_FIRST_S * ldexp(1, failures - 1);
	return d > WQ_BACKOFF_MAX_S ? WQ_BACKOFF_MAX_S : d;
}

static int tickets_add(struct tickets *t, uint64_t v)
{
	if (!v)
		return DS_OK;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 4;
		uint64_t *p = realloc(t->v, cap * sizeof(*p));
		if (!p)
			return DS_ENOMEM;
		t->v = p;
		t->cap = cap;
	}
	t->v[t->n++] = v;
	return DS_OK;
}

static int enqueue(struct wq *q, struct wq_item *it, double now)
{
	if (q->n_fifo == q->cap_fifo) {
		size_t cap = q->cap_fifo ? q->cap_fifo * 2 : 64;
		struct wq_item **p = realloc(q->fifo, cap * sizeof(*p));
		if (!p)
			return DS_ENOMEM;
		q->fifo = p;
		q->cap_fifo = cap;
	}
	q->fifo[q->n_fifo++] = it;
	it->state = WQ_QUEUED;
	it->queued_at = now;
	return DS_OK;
}

int wq_add(struct wq *q, const struct work_key *key, int32_t partition, uint64_t ticket, double now)
{
	uint32_t b = hash_key(key) % WQ_BUCKETS;
	struct wq_item *it = q->buckets[b];
	while (it && !same(&it->key, key))
		it = it->hnext;
	if (!it) {
		if (q->items >= q->max_items)
			return DS_ETOOBIG;
		it = calloc(1, sizeof(*it));
		if (!it)
			return DS_ENOMEM;
		it->key = *key;
		it->hnext = q->buckets[b];
		q->buckets[b] = it;
		q->items++;
	}
	it->partition = partition; /* the latest: a topic's partition count may change */
	it->dropped = false;
	int rc = tickets_add(&it->next, ticket);
	if (rc)
		return rc;
	if (it->state == WQ_RUNNING)
		it->dirty = true; /* changed while being reconciled: once more afterwards */
	else if (it->state == WQ_IDLE)
		rc = enqueue(q, it, now);
	/* WQ_QUEUED: coalesced into the queued run */
	return rc;
}

struct wq_item *wq_next(struct wq *q, double now, double *wake_s)
{
	*wake_s = -1;
	if ((int)q->running >= q->max_running)
		return NULL;
	for (size_t i = 0; i < q->n_fifo; i++) {
		struct wq_item *it = q->fifo[i];
		if (it->not_before > now) {
			double w = it->not_before - now;
			if (*wake_s < 0 || w < *wake_s)
				*wake_s = w;
			continue;
		}
		memmove(q->fifo + i, q->fifo + i + 1, (q->n_fifo - i - 1) * sizeof(*q->fifo));
		q->n_fifo--;
		it->state = WQ_RUNNING;
		it->dirty = false;
		/* the run covers everything attached so far */
		for (size_t k = 0; k < it->next.n; k++)
			tickets_add(&it->running, it->next.v[k]);
		it->next.n = 0;
		q->running++;
		return it;
	}
	return NULL;
}

const struct work_key *wq_key(const struct wq_item *it)
{
	return &it->key;
}

int32_t wq_partition(const struct wq_item *it)
{
	return it->partition;
}

static void release_all(struct tickets *t, void (*release)(void *, uint64_t), void *ud)
{
	for (size_t k = 0; k < t->n; k++)
		release(ud, t->v[k]);
	t->n = 0;
}

enum wq_fate wq_done(struct wq *q, struct wq_item *it, enum wq_outcome outcome, double now,
		     void (*release)(void *ud, uint64_t ticket), void *ud)
{
	q->running--;
	it->state = WQ_IDLE;
	if (it->dropped) { /* handed over while it ran: the next owner has it */
		it->running.n = 0;
		it->next.n = 0;
		forget(q, it);
		return WQ_FINISHED;
	}
	if (outcome == WQ_FAILED) {
		enum wq_fate fate = WQ_RETRY;
		if (++it->failures >= q->max_failures && (it->running.n || it->next.n)) {
			/* the caller reports it: offsets move on, the retries go on */
			release_all(&it->running, release, ud);
			release_all(&it->next, release, ud);
			fate = WQ_RETRY_FREED;
		}
		for (size_t k = 0; k < it->running.n; k++)
			tickets_add(&it->next, it->running.v[k]);
		it->running.n = 0;
		it->not_before = now + wq_backoff_s(it->failures);
		enqueue(q, it, now);
		return fate;
	}
	/* converged or blocked */
	it->failures = 0;
	it->not_before = 0;
	release_all(&it->running, release, ud);
	if (it->dirty || it->next.n)
		enqueue(q, it, now);
	else
		forget(q, it); /* nothing left: distinct keys over time cost no memory */
	return WQ_FINISHED;
}

int wq_drop_partition(struct wq *q, int32_t partition)
{
	int running = 0;
	size_t keep = 0;
	for (size_t i = 0; i < q->n_fifo; i++) {
		struct wq_item *it = q->fifo[i];
		if (it->partition == partition)
			forget(q, it);
		else
			q->fifo[keep++] = it;
	}
	q->n_fifo = keep;
	for (size_t b = 0; b < WQ_BUCKETS; b++)
		for (struct wq_item *it = q->buckets[b]; it; it = it->hnext)
			if (it->state == WQ_RUNNING && it->partition == partition) {
				it->dropped = true;
				running++;
			}
	return running;
}

size_t wq_depth(const struct wq *q)
{
	return q->n_fifo;
}

size_t wq_running(const struct wq *q)
{
	return q->running;
}

size_t wq_items(const struct wq *q)
{
	return q->items;
}

size_t wq_max_items(const struct wq *q)
{
	return q->max_items;
}
