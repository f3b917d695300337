/* fake_ec2.h - an in-memory EC2 behind the core's port, for executor and reconcile tests.
 * Owns: a small account (one VPC with its /56, one subnet with its /64, instances with tags,
 * types and states that change over fake time), a fake clock and timer queue that tests run
 * like a loop, every mutating call recorded, and faults: any action can answer any class
 * (throttled, transient, ambiguous, state, fatal, capacity) once or every time.
 * Not: XML or HTTP - the port's answers are the model structs themselves. */
#ifndef DS_FAKE_EC2_H
#define DS_FAKE_EC2_H

#include <stdbool.h>

#include "../../reconcile/ec2_ops.h"
#include "../../reconcile/model.h"
#include "../../reconcile/plan.h"

#define FAKE_MAX_INSTANCES 16
#define FAKE_MAX_CALLS	   256
#define FAKE_MAX_TIMERS	   256
#define FAKE_MAX_FAULTS	   8

enum fake_fault {
	FAULT_NONE,
	FAULT_THROTTLED,      /* RequestLimitExceeded: nothing happened */
	FAULT_TRANSIENT,      /* 503 Unavailable: nothing happened */
	FAULT_AMBIGUOUS,      /* the call took effect, its answer was lost */
	FAULT_STATE,	      /* IncorrectInstanceState: nothing happened */
	FAULT_FATAL,	      /* UnauthorizedOperation: nothing happened */
	FAULT_CAPACITY,	      /* InsufficientInstanceCapacity: nothing happened */
	FAULT_START_NO_PLACE, /* StartInstances accepted; the instance falls back to stopped
				 with Server.InsufficientInstanceCapacity */
};

struct fake_instance {
	char id[DS_ID_LEN];
	char type[DS_ID_LEN];
	char state[DS_STATE_LEN];
	char target_state[DS_STATE_LEN]; /* where a transition ends */
	double settles_at;		 /* fake time the transition ends */
	char state_reason[DS_ID_LEN];
	struct tag tags[12];
	int n_tags;
	bool no_place_on_start; /* FAULT_START_NO_PLACE armed */
	bool unassigned;	/* UnassignIpv6Addresses took eth0's one address */
};

struct fake_call {
	char action[48];
	char params[512];
	double at;
	bool failed;
};

struct fake_timer {
	double at;
	ec2_timer_fn fn;
	void *ud;
	bool live;
};

struct fake_rule {
	char action[48];
	enum fake_fault fault;
	int times;		   /* -1: every call */
	char only_type[DS_ID_LEN]; /* the instance's type must be this ("" any) */
};

struct fake_ec2 {
	struct ec2_port port;
	double now;
	struct fake_instance inst[FAKE_MAX_INSTANCES];
	int n_inst;
	struct fake_call calls[FAKE_MAX_CALLS];
	int n_calls;
	struct fake_timer timers[FAKE_MAX_TIMERS];
	struct fake_rule rules[FAKE_MAX_FAULTS];
	int n_rules;
	int max_stopped; /* most instances stopped by our calls at one time */
	int crash_after; /* > 0: after this many mutating calls, everything stops (a crash) */
	bool crashed;
	double transition_s; /* how long stopping/pending take (2 s) */
};

void fake_ec2_init(struct fake_ec2 *f);
struct fake_instance *fake_ec2_add_instance(struct fake_ec2 *f, const char *id, const char *type,
					    const char *state);
void fake_ec2_tag(struct fake_instance *in, const char *key, const char *value);
const char *fake_ec2_tag_get(const struct fake_instance *in, const char *key);
void fake_ec2_fault(struct fake_ec2 *f, const char *action, enum fake_fault fault, int times);
/* The same, only while the instance named by the call has type only_type. */
void fake_ec2_fault_type(struct fake_ec2 *f, const char *action, enum fake_fault fault, int times,
			 const char *only_type);
/* Runs timers in time order until *done, the clock passes limit_s, or nothing is left. */
void fake_ec2_run(struct fake_ec2 *f, const int *done, double limit_s);
/* What crashed "processes" left behind, kept reachable for valgrind. */
extern void *fake_ec2_graveyard[4096];
extern int fake_ec2_n_graveyard;
/* Drops every pending timer (what a process exit does to them). */
void fake_ec2_crash(struct fake_ec2 *f);
int fake_ec2_count(const struct fake_ec2 *f, const char *action);
/* Fills obs with everything the planner reads (VPC, subnet, instances, types, facts). */
/* Executes plan on the fake to its end (its own poller, one stop at a time, pol's window);
 * true when the executor finished. */
bool fake_ec2_execute(struct fake_ec2 *f, const struct plan *plan, const struct policy *pol);
void fake_ec2_observe(struct fake_ec2 *f, struct observed *obs);

#endif
