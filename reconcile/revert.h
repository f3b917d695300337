/* revert.h - the undo: the EC2 calls that remove what dualstackd added to one VPC, and nothing
 * else.
 * Owns: revert_build(), pure like plan_build() (observed state + what to revert + a time given
 * as data -> a plan of removals and findings), executed by the same executor.
 * Not: how the fleet is read or the plan executed (cmd_revert.c, reconcile.c).
 *
 * What is dualstackd's is decided from marks, never from looks:
 *   - the dualstack:ipv6-by tag written before the first IPv6 write on a VPC (its /56), a subnet
 *     (its /64 and AssignIpv6AddressOnCreation), a route table (its ::/0), a NACL (its IPv6
 *     twins of IPv4 entries) or an instance (the one address of its eth0);
 *   - security group ranges whose description ends with SG_MARK;
 *   - egress-only gateways tagged dualstack:created-by=dualstackd, and the ::/0 routes to them.
 * What dualstackd wrote before marks existed is recognised from its audit topic when the
 * records are given (audit.h). Anything IPv6 that only looks like dualstackd's work (a twin
 * with neither a mark nor a record) is listed as "not provably ours: left". IPv4 is never
 * touched.
 * Opt-out tags do not stop a revert: opting a VPC out is how an operator keeps the daemon from
 * putting back what revert removes.
 *
 * Order, in phases (plan_action.phase): rules, routes, addresses and the subnet attribute;
 * then gateways and the subnets' /64s; then the VPC's /56; then the marks come off - each phase
 * only after everything before it succeeded, so a revert that stops half-way keeps the marks
 * that the next revert goes by. */
#ifndef DS_REVERT_H
#define DS_REVERT_H

#include <time.h>

#include "audit.h"
#include "plan.h"

#define TAG_REVERTED_AT "dualstack:reverted-at" /* when revert removed a gateway: see below */

/* Steps revert may undo (bit N = the guide's step N); REVERT_ALL_STEPS by default. Step 4 (a
 * resize) is undone only when asked: REVERT_RESIZE_BACK takes an instance back to its
 * dualstack:resized-from type under step 4's rules, after its address is gone. */
#define REVERT_ALL_STEPS   ((1u << 1) | (1u << 2) | (1u << 3) | (1u << 5))
#define REVERT_RESIZE_BACK (1u << 4)

struct revert_input {
	const struct policy *policy;
	const struct observed *obs;
	const char *vpc_id;
	unsigned steps; /* REVERT_ALL_STEPS or some of its bits, maybe | REVERT_RESIZE_BACK */
	time_t now;	/* written as dualstack:reverted-at when a gateway is deleted */
	const struct audit_log *audit; /* NULL: marks only */
};

/* Builds the removals of in->vpc_id into out (plan_init'ed by the caller); a VPC with no mark
 * left gives an empty plan. When it deletes an egress-only gateway it tags the
 * VPC dualstack:reverted-at: EC2 answers a ClientToken it has seen with the gateway it created
 * then, so the next apply's CreateEgressOnlyInternetGateway needs a token it has not seen. */
int revert_build(const struct revert_input *in, struct plan *out);

#endif
