/* guard.h - the blast-radius guard: whether new mutating work may start.
 * Owns: sliding windows of finished work (mutating calls made and failed, reconciles ended and
 * failed) per account/region and for the whole process, an hourly count of mutating calls, and
 * the halts they trigger: a scope whose failure ratio passes the policy's limit, or a fleet
 * about to pass (this replica's share of) max_changes_per_hour, is halted until an operator clears it (guard_resume).
 * Not: the clock (every call takes `now`), persisting a halt or telling anyone (the caller
 * does both with what guard_record and guard_allows report), or stopping what already runs. */
#ifndef DS_GUARD_H
#define DS_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "model.h"

struct guard_limits {
	double max_failure_ratio; /* failed/total over the window that halts; 0: never */
	int window_s;		  /* the sliding window of the ratios */
	int min_samples;	  /* fewer calls (or reconciles) in the window prove nothing */
	int max_changes_per_hour; /* mutating calls in any hour, fleet-wide; 0: no cap */
};

/* Work that finished (or, for changes, started). */
struct guard_counts {
	int calls, calls_failed; /* mutating actions that ended: done, or failed for good */
	int runs, runs_failed;	 /* VPC reconciles that wrote or tried to */
	int changes;		 /* mutating calls started: what max_changes_per_hour counts */
};

#define GUARD_FLEET "fleet" /* the scope of the whole process */

/* A halted scope: "fleet" or "ACCOUNT/REGION". */
struct guard_halt {
	char scope[2 * DS_ID_LEN];
	char reason[256];
	time_t since;
};

struct guard;

struct guard *guard_new(const struct guard_limits *limits);
void guard_free(struct guard *g); /* NULL is a no-op */
/* A policy reload: windows and halts are kept. */
void guard_set_limits(struct guard *g, const struct guard_limits *limits);
/* How many replicas share the fleet (the daemon's live group members; 1 by default): each
 * allows its share of max_changes_per_hour, rounded up, so the group stays under the cap. */
void guard_set_replicas(struct guard *g, int replicas);

/* Records finished work of account/region. Returns true when this halted a scope that was not
 * halted; *halt (when given) then says which and why. */
bool guard_record(struct guard *g, const char *account, const char *region, time_t now,
		  const struct guard_counts *c, struct guard_halt *halt);

/* May new mutating work of account/region start, `planned` calls of it? False when its scope or
 * the fleet is halted (why says which and since when), or when the calls would pass
 * max_changes_per_hour - which halts the fleet (*new_halt set, returns false). */
bool guard_allows(struct guard *g, const char *account, const char *region, time_t now, int planned,
		  char *why, size_t why_len, struct guard_halt *new_halt, bool *halted_now);

/* Halts a scope (a halt restored from where the caller keeps it); an existing halt stays. */
void guard_halt(struct guard *g, const struct guard_halt *h);
/* The operator's word: clears every halt and the windows that caused them. */
void guard_resume(struct guard *g);
/* The halts, in the order they happened; returns how many there are (may exceed max). */
size_t guard_halts(const struct guard *g, struct guard_halt *out, size_t max);
/* Mutating calls made in the last hour, fleet-wide. */
int guard_changes_last_hour(const struct guard *g, time_t now);

#endif
