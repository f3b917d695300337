/* workqueue.h - the reconcile queue: one item per (account, region, VPC).
 * Owns: dedup and coalescing (work for a key that is queued joins it; work for a key that is
 * running marks it dirty for one more run), per-key exponential backoff (5 ms doubling to
 * 1000 s) after failures, requeue-after for waits, a bound on items (memory) and on runs at
 * once, and the offset tickets each run must release when it is finished.
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

struct wq_item;
struct wq;

struct wq *wq_new(size_t max_items, int max_running, int max_failures);
void wq_free(struct wq *q);

/* Adds work for key with an offset ticket (0: none, e.g. a resync). DS_ETOOBIG when full. */
int wq_add(struct wq *q, const struct work_key *key, uint64_t ticket, double now);
/* The next item ready to run (marked running), or NULL; *wake_s says when one will be. */
struct wq_item *wq_next(struct wq *q, double now, double *wake_s);
const struct work_key *wq_key(const struct wq_item *it);

/* A run finished. Tickets whose work is finished (converged, blocked, or failed for the last
 * time) are handed to release(); a failure before that keeps them and backs the key off. */
void wq_done(struct wq *q, struct wq_item *it, enum wq_outcome outcome, double now,
	     void (*release)(void *ud, uint64_t ticket), void *ud);
/* The run is waiting on something (an instance stopping): run again after delay_s. */
void wq_requeue_after(struct wq *q, struct wq_item *it, double delay_s, double now);

size_t wq_depth(const struct wq *q); /* items queued (not running) */
size_t wq_running(const struct wq *q);
size_t wq_items(const struct wq *q);
/* The backoff after n consecutive failures. */
double wq_backoff_s(int failures);

#endif
