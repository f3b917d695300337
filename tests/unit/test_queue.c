/* The work queue (dedup, coalescing, backoff, bounds) and the offset tracker, with a fake
 * clock. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../controller/offsets.h"
#include "../../controller/workqueue.h"
#include "../../reconcile/err.h"
#include "check.h"

static struct work_key key(const char *vpc)
{
	struct work_key k;
	memset(&k, 0, sizeof(k));
	snprintf(k.account, sizeof(k.account), "123456789012");
	snprintf(k.region, sizeof(k.region), "us-east-1");
	snprintf(k.vpc_id, sizeof(k.vpc_id), "%s", vpc);
	return k;
}

static uint64_t released[64];
static size_t n_released;

static void on_release(void *ud, uint64_t t)
{
	(void)ud;
	if (n_released < 64)
		released[n_released++] = t;
}

static void test_coalescing_and_dirty(void)
{
	struct wq *q = wq_new(10, 2, 3);
	struct work_key a = key("vpc-a"), b = key("vpc-b");
	double wake;
	n_released = 0;
	CHECK(wq_add(q, &a, 0, 1, 0) == 0);
	CHECK(wq_add(q, &a, 0, 2, 0) == 0); /* coalesced */
	CHECK(wq_add(q, &b, 0, 3, 0) == 0);
	CHECK_INT(wq_depth(q), 2);
	struct wq_item *ia = wq_next(q, 0, &wake);
	CHECK(ia && !strcmp(wq_key(ia)->vpc_id, "vpc-a"));
	CHECK(wq_add(q, &a, 0, 4, 0) == 0); /* arrives while running: one more run */
	CHECK_INT(wq_depth(q), 1);
	wq_done(q, ia, WQ_CONVERGED, 1, on_release, NULL);
	CHECK_INT(n_released, 2); /* tickets 1 and 2; 4 waits for the next run */
	CHECK(released[0] == 1 && released[1] == 2);
	CHECK_INT(wq_depth(q), 2); /* b, and a again */
	struct wq_item *ib = wq_next(q, 1, &wake);
	struct wq_item *ia2 = wq_next(q, 1, &wake);
	CHECK(ib && ia2 && !strcmp(wq_key(ia2)->vpc_id, "vpc-a"));
	CHECK(wq_next(q, 1, &wake) == NULL); /* max_running = 2 */
	wq_done(q, ia2, WQ_BLOCKED, 2, on_release, NULL);
	CHECK_INT(n_released, 3);
	CHECK(released[2] == 4);
	wq_done(q, ib, WQ_CONVERGED, 2, on_release, NULL);
	CHECK_INT(wq_items(q), 0); /* nothing left to do: both keys are freed */
	CHECK_INT(wq_running(q), 0);
	wq_free(q);
}

static void test_backoff(void)
{
	CHECK(wq_backoff_s(1) == 0.005);
	CHECK(wq_backoff_s(2) == 0.01);
	CHECK(wq_backoff_s(30) == 1000.0);
	struct wq *q = wq_new(10, 4, 3);
	struct work_key a = key("vpc-a");
	double wake;
	n_released = 0;
	wq_add(q, &a, 0, 7, 0);
	struct wq_item *it = wq_next(q, 0, &wake);
	wq_done(q, it, WQ_FAILED, 10, on_release, NULL);
	CHECK_INT(n_released, 0); /* not finished: the ticket stays */
	CHECK(wq_next(q, 10, &wake) == NULL);
	CHECK(wake > 0.004 && wake < 0.006);
	it = wq_next(q, 10.006, &wake);
	CHECK(it != NULL);
	wq_done(q, it, WQ_FAILED, 11, on_release, NULL);
	it = wq_next(q, 11.02, &wake);
	CHECK(it != NULL);
	/* the third failure: the ticket is released (its offset may be committed), and the key
	 * is still retried - with a backoff that keeps growing to its cap */
	CHECK(wq_done(q, it, WQ_FAILED, 12, on_release, NULL) == WQ_RETRY_FREED);
	CHECK_INT(n_released, 1);
	CHECK(released[0] == 7);
	CHECK_INT(wq_depth(q), 1);
	double t = 12;
	for (int f = 4; f <= 30; f++) {
		it = wq_next(q, t + 2000, &wake);
		CHECK(it != NULL);
		t += 2000;
		if (it)
			CHECK(wq_done(q, it, WQ_FAILED, t, on_release, NULL) == WQ_RETRY);
	}
	CHECK(wq_next(q, t + 999, &wake) == NULL);
	CHECK(wake > 0.9 && wake <= 1.0); /* the cap, 1000 s, is reached */
	it = wq_next(q, t + 1000, &wake);
	CHECK(it != NULL);
	if (it)
		CHECK(wq_done(q, it, WQ_CONVERGED, t + 1000, on_release, NULL) == WQ_FINISHED);
	CHECK_INT(wq_items(q), 0);
	wq_free(q);
}

/* A handover drops the partition's queued keys; a running one ends without a requeue. */
static void test_drop_partition(void)
{
	struct wq *q = wq_new(10, 4, 3);
	struct work_key a = key("vpc-a"), b = key("vpc-b"), c = key("vpc-c");
	double wake;
	n_released = 0;
	wq_add(q, &a, 1, 11, 0);
	wq_add(q, &b, 2, 12, 0);
	wq_add(q, &c, 1, 13, 0);
	struct wq_item *ia = wq_next(q, 0, &wake);
	CHECK(ia && wq_partition(ia) == 1);
	CHECK_INT(wq_drop_partition(q, 1), 1); /* a runs; c was queued */
	CHECK_INT(wq_depth(q), 1);	       /* only b is left */
	wq_add(q, &a, 1, 14, 0);	       /* a message of the revoked partition */
	wq_done(q, ia, WQ_CONVERGED, 1, on_release, NULL);
	CHECK_INT(wq_items(q), 2); /* b, and a - re-added after the drop, it is live again */
	wq_free(q);
	/* 1M distinct keys over time: memory stays bounded by what is queued */
	q = wq_new(100, 1, 3);
	char name[32];
	for (int i = 0; i < 1000000; i++) {
		snprintf(name, sizeof(name), "vpc-%08x", i);
		struct work_key k = key(name);
		wq_add(q, &k, 0, 0, i);
		struct wq_item *it = wq_next(q, i, &wake);
		if (it)
			wq_done(q, it, WQ_CONVERGED, i, on_release, NULL);
	}
	CHECK_INT(wq_items(q), 0);
	wq_free(q);
}

static void test_drop_partition(void);

static void test_bounded(void)
{
	struct wq *q = wq_new(3, 1, 3);
	char name[32];
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "vpc-%d", i);
		struct work_key k = key(name);
		CHECK(wq_add(q, &k, 0, 0, 0) == 0);
	}
	struct work_key extra = key("vpc-x");
	CHECK(wq_add(q, &extra, 0, 0, 0) == DS_ETOOBIG);
	struct work_key again = key("vpc-1");
	CHECK(wq_add(q, &again, 0, 0, 0) == 0); /* an existing key always fits */
	wq_free(q);
}

static void test_offsets(void)
{
	struct offsets *o = offsets_new();
	int64_t off;
	uint64_t t10 = offsets_begin(o, "events", 0, 10);
	uint64_t t11 = offsets_begin(o, "events", 0, 11);
	uint64_t t12 = offsets_begin(o, "events", 0, 12);
	uint64_t u5 = offsets_begin(o, "events", 1, 5);
	CHECK(t10 && t11 && t12 && u5);
	CHECK_INT(offsets_in_flight(o), 4);
	CHECK(offsets_committable(o, "events", 0, &off) && off == 10);
	CHECK(!offsets_committable(o, "events", 0, &off)); /* nothing new */
	offsets_ref(o, t11);				   /* two work items from message 11 */
	offsets_release(o, t11);
	offsets_release(o, t12);
	CHECK(!offsets_committable(o, "events", 0, &off)); /* 10 still in flight */
	offsets_release(o, t10);
	CHECK(offsets_committable(o, "events", 0, &off) && off == 11);
	offsets_release(o, t11);
	CHECK(offsets_committable(o, "events", 0, &off) && off == 13);
	offsets_release(o, t11); /* extra releases are harmless */
	CHECK_INT(offsets_in_flight(o), 1);
	offsets_drop_partition(o, "events", 1);
	CHECK_INT(offsets_in_flight(o), 0);
	offsets_release(o, u5); /* a ticket of a dropped partition */
	/* many messages: compaction keeps tickets valid */
	uint64_t ts[500];
	for (int i = 0; i < 500; i++)
		ts[i] = offsets_begin(o, "events", 2, 1000 + i);
	for (int i = 1; i < 500; i++)
		offsets_release(o, ts[i]);
	CHECK(offsets_committable(o, "events", 2, &off) && off == 1000);
	offsets_release(o, ts[0]);
	CHECK(offsets_committable(o, "events", 2, &off) && off == 1500);
	offsets_free(o);
}

void test_queue(void)
{
	test_coalescing_and_dirty();
	test_backoff();
	test_bounded();
	test_drop_partition();
	test_offsets();
}
