/* The guard counts finished work in rings of GUARD_SLOTS time slots (a slot is window_s /
 * GUARD_SLOTS seconds; one that is older than the window is reused, never summed), so memory per
 * account/region is fixed whatever the rate. A halt is sticky: only guard_resume clears it. */
#include "guard.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GUARD_SLOTS   60
#define GUARD_BUCKETS 256
#define HOUR_SLOT_S   60 /* the hourly change count: 60 one-minute slots */

struct window {
	int64_t epoch[GUARD_SLOTS]; /* which slot of time each entry holds (+1; 0 = empty) */
	struct guard_counts c[GUARD_SLOTS];
};

struct gtarget {
	char scope[2 * DS_ID_LEN];
	struct window w;
	struct gtarget *next;
};

struct guard {
	struct guard_limits lim;
	int replicas; /* sharing max_changes_per_hour; 0 or 1: this process alone */
	struct window fleet;
	struct window hour; /* calls only, HOUR_SLOT_S slots */
	struct gtarget *targets[GUARD_BUCKETS];
	struct guard_halt *halts;
	size_t n_halts, cap_halts;
};

static int slot_s(const struct guard *g)
{
	int s = g->lim.window_s / GUARD_SLOTS;
	return s > 0 ? s : 1;
}

static void window_add(struct window *w, int slot_len, time_t now, const struct guard_counts *c)
{
	int64_t e = (int64_t)now / slot_len + 1;
	size_t i = (size_t)(e % GUARD_SLOTS);
	if (w->epoch[i] != e) {
		w->epoch[i] = e;
		memset(&w->c[i], 0, sizeof(w->c[i]));
	}
	w->c[i].calls += c->calls;
	w->c[i].calls_failed += c->calls_failed;
	w->c[i].runs += c->runs;
	w->c[i].runs_failed += c->runs_failed;
	w->c[i].changes += c->changes;
}

static struct guard_counts window_sum(const struct window *w, int slot_len, time_t now)
{
	struct guard_counts sum = {0};
	int64_t e = (int64_t)now / slot_len + 1;
	for (size_t i = 0; i < GUARD_SLOTS; i++) {
		if (!w->epoch[i] || w->epoch[i] <= e - GUARD_SLOTS || w->epoch[i] > e)
			continue;
		sum.calls += w->c[i].calls;
		sum.calls_failed += w->c[i].calls_failed;
		sum.runs += w->c[i].runs;
		sum.runs_failed += w->c[i].runs_failed;
		sum.changes += w->c[i].changes;
	}
	return sum;
}

static void scope_of(const char *account, const char *region, char *out, size_t size)
{
	snprintf(out, size, "%s/%s", account, region);
}

static uint32_t scope_hash(const char *scope)
{
	return ds_hash(DS_HASH_SEED, scope) % GUARD_BUCKETS;
}

static struct gtarget *target_get(struct guard *g, const char *scope)
{
	uint32_t b = scope_hash(scope);
	for (struct gtarget *t = g->targets[b]; t; t = t->next)
		if (!strcmp(t->scope, scope))
			return t;
	struct gtarget *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	snprintf(t->scope, sizeof(t->scope), "%s", scope);
	t->next = g->targets[b];
	g->targets[b] = t;
	return t;
}

static void reset_windows(struct guard *g)
{
	memset(&g->fleet, 0, sizeof(g->fleet));
	for (size_t b = 0; b < GUARD_BUCKETS; b++)
		for (struct gtarget *t = g->targets[b]; t; t = t->next)
			memset(&t->w, 0, sizeof(t->w));
}

struct guard *guard_new(const struct guard_limits *limits)
{
	struct guard *g = calloc(1, sizeof(*g));
	if (g)
		g->lim = *limits;
	return g;
}

void guard_set_replicas(struct guard *g, int replicas)
{
	g->replicas = replicas;
}

void guard_free(struct guard *g)
{
	if (!g)
		return;
	for (size_t b = 0; b < GUARD_BUCKETS; b++)
		for (struct gtarget *t = g->targets[b], *n; t; t = n) {
			n = t->next;
			free(t);
		}
	free(g->halts);
	free(g);
}

void guard_set_limits(struct guard *g, const struct guard_limits *limits)
{
	bool same_slots = limits->window_s / GUARD_SLOTS == g->lim.window_s / GUARD_SLOTS;
	g->lim = *limits;
	if (!same_slots) /* the rings' slots changed length: what they held means nothing now */
		reset_windows(g);
}

static const struct guard_halt *halt_find(const struct guard *g, const char *scope)
{
	for (size_t i = 0; i < g->n_halts; i++)
		if (!strcmp(g->halts[i].scope, scope))
			return &g->halts[i];
	return NULL;
}

void guard_halt(struct guard *g, const struct guard_halt *h)
{
	if (halt_find(g, h->scope))
		return;
	if (g->n_halts == g->cap_halts) {
		size_t cap = g->cap_halts ? 2 * g->cap_halts : 4;
		struct guard_halt *p = realloc(g->halts, cap * sizeof(*p));
		if (!p)
			return;
		g->halts = p;
		g->cap_halts = cap;
	}
	g->halts[g->n_halts++] = *h;
}

/* Halts scope when a ratio of sum passes the limit; true when it did now. */
static bool check_ratio(struct guard *g, const char *scope, const struct guard_counts *sum,
			time_t now, struct guard_halt *out)
{
	double limit = g->lim.max_failure_ratio;
	if (limit <= 0 || halt_find(g, scope))
		return false;
	struct guard_halt h = {.since = now};
	snprintf(h.scope, sizeof(h.scope), "%s", scope);
	if (sum->calls >= g->lim.min_samples && sum->calls_failed > limit * sum->calls)
		snprintf(h.reason, sizeof(h.reason),
			 "%d of %d mutating calls failed in the last %d s (%.0f%%, limit %.0f%%)",
			 sum->calls_failed, sum->calls, g->lim.window_s,
			 100.0 * sum->calls_failed / sum->calls, 100 * limit);
	else if (sum->runs >= g->lim.min_samples && sum->runs_failed > limit * sum->runs)
		snprintf(h.reason, sizeof(h.reason),
			 "%d of %d reconciles failed in the last %d s (%.0f%%, limit %.0f%%)",
			 sum->runs_failed, sum->runs, g->lim.window_s,
			 100.0 * sum->runs_failed / sum->runs, 100 * limit);
	else
		return false;
	guard_halt(g, &h);
	if (out)
		*out = h;
	return true;
}

bool guard_record(struct guard *g, const char *account, const char *region, time_t now,
		  const struct guard_counts *c, struct guard_halt *halt)
{
	char scope[2 * DS_ID_LEN];
	scope_of(account, region, scope, sizeof(scope));
	struct gtarget *t = target_get(g, scope);
	int len = slot_s(g);
	window_add(&g->fleet, len, now, c);
	window_add(&g->hour, HOUR_SLOT_S, now, &(struct guard_counts){.changes = c->changes});
	bool halted = false;
	if (t) {
		window_add(&t->w, len, now, c);
		struct guard_counts sum = window_sum(&t->w, len, now);
		halted = check_ratio(g, scope, &sum, now, halt);
	}
	struct guard_counts fleet = window_sum(&g->fleet, len, now);
	if (!halted)
		halted = check_ratio(g, GUARD_FLEET, &fleet, now, halt);
	else /* the fleet may pass too; it is reported by the next record */
		check_ratio(g, GUARD_FLEET, &fleet, now, NULL);
	return halted;
}

int guard_changes_last_hour(const struct guard *g, time_t now)
{
	return window_sum(&g->hour, HOUR_SLOT_S, now).changes;
}

bool guard_allows(struct guard *g, const char *account, const char *region, time_t now, int planned,
		  char *why, size_t why_len, struct guard_halt *new_halt, bool *halted_now)
{
	char scope[2 * DS_ID_LEN];
	scope_of(account, region, scope, sizeof(scope));
	if (halted_now)
		*halted_now = false;
	const struct guard_halt *h = halt_find(g, GUARD_FLEET);
	if (!h)
		h = halt_find(g, scope);
	if (!h && g->lim.max_changes_per_hour > 0) {
		int made = guard_changes_last_hour(g, now);
		int cap = g->lim.max_changes_per_hour, n = g->replicas > 1 ? g->replicas : 1;
		int share = (cap + n - 1) / n;
		if (made + planned > share) {
			struct guard_halt nh = {.since = now};
			char whose[64] = "", group[32] = "";
			if (n > 1) {
				snprintf(whose, sizeof(whose), "this replica's share %d of ",
					 share);
				snprintf(group, sizeof(group), " (%d replicas)", n);
			}
			snprintf(nh.scope, sizeof(nh.scope), GUARD_FLEET);
			snprintf(nh.reason, sizeof(nh.reason),
				 "%d mutating calls in the last hour and %d more planned would "
				 "pass %smax_changes_per_hour %d%s",
				 made, planned, whose, cap, group);
			guard_halt(g, &nh);
			h = halt_find(g, GUARD_FLEET);
			if (new_halt)
				*new_halt = nh;
			if (halted_now)
				*halted_now = h != NULL;
		}
	}
	if (!h)
		return true;
	char since[32] = "";
	struct tm tm;
	if (gmtime_r(&h->since, &tm))
		strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(why, why_len, "halted (%s, since %s): %s; 'dualstackd resume' clears it", h->scope,
		 since, h->reason);
	return false;
}

void guard_resume(struct guard *g)
{
	g->n_halts = 0;
	reset_windows(g);
	memset(&g->hour, 0, sizeof(g->hour));
}

size_t guard_halts(const struct guard *g, struct guard_halt *out, size_t max)
{
	for (size_t i = 0; i < g->n_halts && i < max; i++)
		out[i] = g->halts[i];
	return g->n_halts;
}
