/* executor.h - applies a plan through the EC2 port, safely and without blocking.
 * Owns: running the plan's DAG (an action starts when its deps are done; one that fails
 * skips its dependants), resolving what earlier actions created (the /56, the egress-only
 * gateway), waiting out "associating" and instance state changes on timers, the step-4 resize
 * state machine, and max_concurrent_stops.
 * Not: deciding what to do (plan.c) or verifying convergence (the caller re-reads and
 * re-plans after execution: an empty plan is the proof).
 * Step 4 never leaves an instance worse off: the window is checked as the stop is sent, a
 * retype or start that fails for good is rolled back (original type, running as it was,
 * recorded with a tag), and every intermediate state is tagged so any later run finishes it.
 * Idempotency: read before write is the plan's; ClientToken on the egress-only gateway;
 * "already exists" answers count as done (the re-plan confirms); a non-idempotent call that
 * fails ambiguously is re-read before anything else is decided. */
#ifndef DS_EXECUTOR_H
#define DS_EXECUTOR_H

#include "ec2_ops.h"
#include "plan.h"
#include "policy.h"

enum action_status { ACTION_PENDING, ACTION_RUNNING, ACTION_DONE, ACTION_FAILED, ACTION_SKIPPED };

struct action_result {
	enum action_status status;
	char detail[384]; /* the error, or what was created */
	int calls;	  /* mutating calls made for it */
	bool held;	  /* not started: may_start said no (the blast-radius guard) */
};

struct exec_report {
	size_t done, failed, skipped;
	int mutating_calls;
	struct action_result *results; /* one per plan action */
};

typedef void (*exec_done_fn)(void *ud, const struct exec_report *rep);

struct poller;

struct exec_options {
	int max_concurrent_stops;    /* per account and region */
	double poll_s;		     /* first wait between re-reads of a changing state */
	double wait_timeout_s;	     /* give up waiting for a state after this long */
	int *shared_stops;	     /* stops in flight, shared by the executors of one account
				     and region (NULL: this executor's own count) */
	struct poller *poller;	     /* batched re-reads of the account and region (required) */
	const struct policy *policy; /* the run's: the maintenance window at the moment of a stop */
	time_t (*clock)(void *ud);   /* wall clock for the window; NULL: time() */
	void *clock_ud;
	/* asked as each action is about to start: false holds it (skipped, `held`, why in its
	 * detail) - the blast-radius guard. NULL: every action may start. */
	bool (*may_start)(void *ud, const struct plan_action *a, char *why, size_t why_len);
	void *may_start_ud;
};

struct executor;

/* Starts executing plan (which must outlive the executor). done is called once, on the loop. */
struct executor *executor_start(const struct ec2_port *port, const struct plan *plan,
				const struct exec_options *opt, exec_done_fn done, void *ud);
/* Starts nothing new; what runs finishes (a resize under way is driven until the instance is
 * running again), then done is called. For a revoked partition or a drain. */
void executor_cancel(struct executor *e);
void executor_free(struct executor *e);

/* The parameters of an action as the EC2 form the executor sends ("K=V&..."), with symbolic
 * references resolved from res_* (NULL: unresolved is an error). */
int executor_form_params(const struct plan_action *a, const char *vpc_block56, const char *new_eigw,
			 struct buf *out);

#endif
