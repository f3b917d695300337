/* workqueue.h - the reconcile queue: one item per (account, region, VPC).
 * Owns: dedup and coalescing (work for a key that is queued joins it; work for a key that is
 * running marks it dirty for one more run), per-key exponential backoff after failures (5 ms
 * doubling to WQ_BACKOFF_MAX_S, which a key that keeps failing does reach), the work-topic
 * partition each key came from (a handover drops the partition's queued keys), a bound on
 * items and on runs at once, and the offset tickets each run releases when it is finished.
 * A key that fails max_failures times in a row gets its tickets released (its offsets may be
 * committed: nothing waits on it for ever) and keeps being retried at its backoff.
 * Keys with nothing left to do are freed, so distinct VPCs over time cost no memory.
 * Not: running reconciles or timers - callers pass the time and ask when to wake. Pure. */
#ifndef DS_WORKQUEUE_H
#define DS_WORKQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../handlers/work_key.h"

#define WQ_BACKOFF_FIRST_S 0.005
#define WQ_BACKOFF_MAX_S   1000.0

enum wq_outcome { WQ_CONVERGED, WQ_BLOCKED, WQ_FAILED };

/* What wq_done did with a run's tickets. */
enum wq_fate {
	WQ_FINISHED,	/* the work is finished: tickets released */
	WQ_RETRY,	/* failed: tickets kept, retried after the backoff */
	WQ_RETRY_FREED, /* failed max_failures times: tickets released, still retried */
};

struct wq_item;
struct wq;

struct wq *wq_new(size_t max_items, int max_running, int max_failures);
void wq_free(struct wq *q);

/* Adds work for key, from a work-topic partition, with an offset ticket (0: none).
 * DS_ETOOBIG when full (an existing key always fits). */
int wq_add(struct wq *q, const struct work_key *key, int32_t partition, uint64_t ticket,
	   double now);
/* The next item ready to run (marked running), or NULL; *wake_s says when one will be. */
struct wq_item *wq_next(struct wq *q, double now, double *wake_s);
const struct work_key *wq_key(const struct wq_item *it);
int32_t wq_partition(const struct wq_item *it);

/* A run finished. */
enum wq_fate wq_done(struct wq *q, struct wq_item *it, enum wq_outcome outcome, double now,
		     void (*release)(void *ud, uint64_t ticket), void *ud);
/* The partition was handed over: its queued items are dropped (their tickets with them - the
 * offsets of a revoked partition are dropped too); running ones end without a requeue.
 * Returns how many of its items are running. */
int wq_drop_partition(struct wq *q, int32_t partition);

size_t wq_depth(const struct wq *q); /* items queued (not running) */
size_t wq_running(const struct wq *q);
size_t wq_items(const struct wq *q);
size_t wq_max_items(const struct wq *q);
/* The backoff after n consecutive failures. */
double wq_backoff_s(int failures);

#endif
