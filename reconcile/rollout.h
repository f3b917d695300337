/* rollout.h - rollout waves (policy rollout.waves): which wave a VPC belongs to, and which waves
 * are open. A wave opens when every wave before it has converged - each of its VPCs, none
 * pending, failing or blocked - and soaked for its soak_s since its last VPC converged; a VPC of
 * an earlier wave that fails again closes every later wave until it converges again.
 * Owns: the selector (accounts, VPC tags, a share of VPCs by a hash of the VPC id) and the
 * decision over a fleet view the caller fills from plans (rollout_add).
 * Not: reading EC2, or any state of its own: a VPC's convergence time is its
 * dualstack:converged-at tag (the planner writes it when waves are configured), so every replica
 * and every later run reaches the same answer. */
#ifndef DS_ROLLOUT_H
#define DS_ROLLOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "model.h"
#include "plan.h"
#include "policy.h"

#define ROLLOUT_NO_WAVE (-1)

/* The first wave whose selector admits the VPC of account; ROLLOUT_NO_WAVE when none does (or
 * the policy has no waves). */
int rollout_wave_of(const struct policy *p, const char *account, const struct vpc *v);
/* The VPC's dualstack:converged-at, 0 when absent or not a time. */
time_t rollout_converged_at(const struct vpc *v);

struct rollout_wave_count {
	int vpcs;
	int converged; /* nothing left to do (the converged-at tag may still be due) */
	int pending;   /* calls planned: not there yet, or failing */
	int blocked;   /* findings an operator must resolve */
	time_t last_converged;
};

struct rollout {
	struct rollout_wave_count wave[POLICY_MAX_WAVES];
	int outside; /* VPCs no wave admits: never changed while waves are configured */
};

void rollout_init(struct rollout *r);
/* Counts one VPC of `wave` by its plan. now: when the plan was made (an untagged converged VPC
 * converged then). */
void rollout_add(struct rollout *r, int wave, const struct plan *plan, time_t converged_at,
		 time_t now);
/* The last open wave (waves up to it may write); why says what the next one waits for ("" when
 * every wave is open). */
int rollout_open_through(const struct rollout *r, const struct policy *p, time_t now, char *why,
			 size_t why_len);
/* "canary: 5 VPCs, 3 converged, 2 pending, 0 blocked" lines, one per wave, for plan and report. */
int rollout_format(const struct rollout *r, const struct policy *p, int open_through,
		   const char *why, struct buf *out);

#endif
