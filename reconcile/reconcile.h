/* reconcile.h - one reconcile of a group of VPCs of one account and region: read, plan,
 * execute, re-read and plan again, until the plans are empty or a round fails.
 * Owns: the rounds, the executor options taken from the policy, the state every run of one
 * (account, region) shares in this process (max_concurrent_stops slots, the batched poller),
 * and the policy reference each run holds from start to end (a reload never pulls a policy
 * from under a running reconcile). `apply`, `plan`, `report` and the daemon all reconcile
 * through this object, so each guarantee holds once for all of them.
 * Not: where the VPCs come from, how calls are made (the port) or what is printed. */
#ifndef DS_RECONCILE_H
#define DS_RECONCILE_H

#include <stdbool.h>
#include <time.h>

#include "audit.h"
#include "ec2_ops.h"
#include "executor.h"
#include "guard.h"
#include "plan.h"
#include "policy.h"
#include "progress.h"
#include "rollout.h"

#define RECONCILE_MAX_ROUNDS 4

enum reconcile_outcome {
	RC_CONVERGED, /* the last plan is empty and nothing is blocked */
	RC_BLOCKED,   /* nothing left to call, but findings block convergence */
	RC_PENDING,   /* calls planned and not made: a plan-only run, or dry-run mode */
	RC_FAILED,    /* calls failed, or the rounds ran out */
	RC_GONE,      /* the VPC does not exist (any more) */
	RC_HALTED,    /* calls planned and held by the blast-radius guard (guard.h) */
	RC_WAITING,   /* calls planned; the VPC's rollout wave is not open yet (rollout.h) */
};

const char *reconcile_outcome_name(enum reconcile_outcome o);

/* What one VPC came to. */
struct reconcile_vpc {
	char vpc_id[DS_ID_LEN];
	enum reconcile_outcome outcome;
	struct plan plan;	       /* the latest plan (empty when converged) */
	struct plan executed;	       /* the last plan that was executed (empty if none) */
	struct action_result *results; /* one per action of `executed` */
	int mutating_calls;	       /* over every round */
	int rounds;
	struct vpc_progress progress; /* along the steps, as of the latest plan */
	int wave;		      /* its rollout wave (ROLLOUT_NO_WAVE without waves) */
	time_t converged_at;	      /* its dualstack:converged-at (0: none) */
	bool waiting;		      /* its wave was not open: only metadata was written */
	bool failed_again;	      /* it failed within the guard's window before: counted once */
	bool failure_seen;	      /* (this run's failure was looked up) */
};

/* Whether the VPC's latest plan still drives a resize begun earlier (its instance carries the
 * resize tags): work that must go on even while the guard holds everything else. */
bool reconcile_vpc_resizing(const struct reconcile_vpc *v);

struct reconciler;
struct reconcile_run;

/* The process-wide reconciler; takes a reference to policy. clock may be NULL (time()). */
struct reconciler *reconciler_new(struct policy *policy, time_t (*clock)(void *ud), void *clock_ud);
void reconciler_free(struct reconciler *r);
/* A reload: new runs use policy (a reference is taken); running ones keep theirs. */
void reconciler_set_policy(struct reconciler *r, struct policy *policy);
/* The replicas sharing the fleet (the daemon's live group members): the guard allows each its
 * share of max_changes_per_hour (guard_set_replicas). */
void reconciler_set_replicas(struct reconciler *r, int replicas);
const struct policy *reconciler_policy(const struct reconciler *r);
/* Tuning for tests (defaults: poll 1 s, wait 900 s). */
void reconciler_set_timing(struct reconciler *r, double poll_s, double wait_timeout_s);
/* Stops in flight for an account and region, over every run of this process. */
int reconciler_stops_running(struct reconciler *r, const char *account, const char *region);
/* The blast-radius guard every run of this process answers to (limits from the policy): each
 * action asks it before it starts, and finished work feeds it. While a scope is halted its runs
 * still read and plan, and a resize under way is still driven to its end; nothing else that
 * writes starts. on_halt is called (on the loop) when a scope becomes halted. */
struct guard *reconciler_guard(struct reconciler *r);
/* With rollout waves, runs write only to VPCs of waves up to open_through (rollout.h); why is
 * what the next wave waits for. Until a caller sets it, no wave is open: nothing is written
 * before the fleet has been looked at. */
void reconciler_set_rollout(struct reconciler *r, int open_through, const char *why);
int reconciler_rollout(const struct reconciler *r, char *why, size_t why_len);
void reconciler_on_halt(struct reconciler *r, void (*on_halt)(void *ud, const struct guard_halt *h),
			void *ud);

struct reconcile_request {
	const struct ec2_port *port; /* every read and call of the run */
	/* a port as long-lived as the reconciler, for the reads every run of the target shares
	 * (the batched poller); NULL: the run polls through `port` on its own */
	const struct ec2_port *shared_port;
	const char *account; /* the target: the key of the shared state */
	const char *region;
	const char *const *vpc_ids; /* none: every VPC of the target that the policy admits */
	size_t n_vpc_ids;
	bool execute; /* false: read and plan only (plan, report) */
	/* non-zero: undo instead (revert.h) - the steps to undo (REVERT_ALL_STEPS or some); rounds,
	 * guard, dry-run and shared state are the same, rollout waves do not apply */
	unsigned revert_steps;
	const struct audit_log *audit; /* revert: the audit records that recognise older writes */
};

typedef void (*reconcile_done_fn)(void *ud, struct reconcile_run *run);

/* Starts a run; done is called once, on the loop (never from inside reconcile_start). */
struct reconcile_run *reconcile_start(struct reconciler *r, const struct reconcile_request *req,
				      reconcile_done_fn done, void *ud);
void reconcile_run_free(struct reconcile_run *run);
/* Starts no new action and no new round; what runs finishes (a resize under way is driven
 * until its instance runs again), then done is called. */
void reconcile_cancel(struct reconcile_run *run);
bool reconcile_run_cancelled(const struct reconcile_run *run);

/* After done: the VPCs, an error that stopped the run before planning (rc != 0, err set). */
size_t reconcile_run_count(const struct reconcile_run *run);
struct reconcile_vpc *reconcile_run_vpc(struct reconcile_run *run, size_t i);
int reconcile_run_error(const struct reconcile_run *run, const struct ec2_error **err);
const struct policy *reconcile_run_policy(const struct reconcile_run *run);

#endif
