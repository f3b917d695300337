/* progress.h - how far one VPC is along the guide's steps, for the readiness report.
 * Owns: per step, the in-scope resources counted as done (nothing planned, nothing found),
 * pending (an action of the plan), blocked (a blocking finding, or a warning that leaves the
 * step short: an unmapped CIDR, a foreign ::/0 route). A pure function of an observation and
 * the plan built from it.
 * Not: what to do about a blocker (plan_finding.fix) or how it is shown (cmd_report.c). */
#ifndef DS_PROGRESS_H
#define DS_PROGRESS_H

#include "model.h"
#include "plan.h"
#include "policy.h"

enum progress_step {
	PS_VPC_BLOCKS,	    /* step 1: the VPC has its IPv6 block */
	PS_SUBNETS,	    /* step 1: in-scope subnets with a /64 */
	PS_ROUTE_TABLES,    /* step 2: in-scope route tables with the ::/0 they need */
	PS_SECURITY_GROUPS, /* step 3: groups whose rules are mirrored */
	PS_NETWORK_ACLS,    /* step 3: network ACLs whose entries are mirrored */
	PS_INSTANCE_TYPES,  /* step 4: in-scope instances of a type with IPv6 */
	PS_ADDRESSES,	    /* step 5: in-scope instances with an IPv6 address on eth0 */
	PS_GUESTS,	    /* step 6: guests configured (only when guest_config is on) */
	PS_COUNT
};

struct progress_count {
	int done, pending, blocked, total;
};

struct vpc_progress {
	struct progress_count step[PS_COUNT];
};

/* The stable name of a step in JSON ("vpc_blocks", "subnets", ...) and a label for people. */
const char *progress_step_name(enum progress_step s);
const char *progress_step_label(enum progress_step s);

/* Counts vpc_id's resources in obs against the plan built from obs. */
void plan_progress(const struct observed *obs, const struct policy *pol, const char *vpc_id,
		   const struct plan *plan, struct vpc_progress *out);

#endif
