/* poller.h - batched waits on EC2 state: everything of one account and region that waits for a
 * VPC block, a subnet's /64 or an instance's state is read back by one Describe per kind at a
 * time (ids as filter values, at most POLLER_MAX_IDS per call), never one per resource.
 * Owns: the waiters, the tick timer (through the port), the shared reads and their dispatch.
 * Not: what a waiter does with what it sees (the executor). */
#ifndef DS_POLLER_H
#define DS_POLLER_H

#include "ec2_ops.h"
#include "model.h"

#define POLLER_MAX_IDS 200 /* EC2's limit on one filter's values */

/* snap holds what the read found (rc == 0); it is valid during the call only. */
typedef void (*poll_fn)(void *ud, int rc, const struct ec2_error *err, const struct observed *snap);

struct poller;

/* gap_s: the shortest gap between two reads of a kind; waiters due within it join one read. */
struct poller *poller_new(const struct ec2_port *port, double gap_s);
/* Waiters still registered are dropped without a call. */
void poller_free(struct poller *p);

/* Calls fn once, after a read of kind (OBS_VPCS, OBS_SUBNETS or OBS_INSTANCES) that asked for
 * id and started at least delay_s from now. */
int poller_wait(struct poller *p, enum obs_kind kind, const char *id, double delay_s, poll_fn fn,
		void *ud);

/* Reads made so far (one per kind per tick, plus chunks): for tests and metrics. */
unsigned long poller_reads(const struct poller *p);

#endif
