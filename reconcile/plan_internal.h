/* plan_internal.h - what the per-step planners share while one plan is built.
 * Owns: the planning context (what step 1 decided, for steps 2-5 to refer to) and the helpers
 * that append actions and findings. Not part of the public API. */
#ifndef DS_PLAN_INTERNAL_H
#define DS_PLAN_INTERNAL_H

#include "cidr.h"
#include "plan.h"

/* What the plan knows, or will create, about one subnet of the VPC. */
struct subnet_state {
	const struct subnet *s;
	bool in_scope;
	bool has_v6;	     /* holds a /64 now, or the plan gives it one */
	struct v6_ref block; /* its /64 (literal, or REF_SUBNET_BLOCK) */
	int assoc_action;    /* the AssociateSubnetCidrBlock action, or -1 */
	struct cidr v4;
};

struct plan_ctx {
	const struct plan_input *in;
	const struct policy *pol;
	const struct observed *obs;
	const struct vpc *vpc;
	struct plan *out;
	int rc;

	/* step 1 */
	bool vpc_has_block; /* a live /56, or one the plan associates */
	struct v6_ref vpc_block;
	int vpc_assoc_action;	      /* or -1 */
	struct subnet_state *subnets; /* the VPC's subnets, sorted by IPv4 CIDR */
	size_t n_subnets;

	/* step 2 */
	char eigw_id[DS_ID_LEN]; /* an attached egress-only gateway, if any */
	int eigw_action;	 /* the CreateEgressOnlyInternetGateway action, or -1 */

	/* step 4 */
	struct {
		const struct instance *inst;
		int resize_action;	    /* or -1 */
		char final_type[DS_ID_LEN]; /* after any planned resize (a copy: actions move) */
		bool v6_after;		    /* eth0 holds, or the plan gives it, an IPv6 address */
		int address_action;	    /* or -1 */
	} * instances;
	size_t n_instances;
};

int plan_add_action(struct plan_ctx *c, enum action_kind kind, int step, const char *resource,
		    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Adds dep to action's deps (-1: none); more than PLAN_MAX_DEPS fails the plan (c->rc). */
void plan_add_dep(struct plan_ctx *c, int action, int dep);
/* The ACT_TAG_MANAGED action marking resource (one per resource; marks of one value ride in one
 * request), or -1 when the resource carries the mark already. value: NULL for MARK_VALUE.
 * Callers make their first write depend on it. */
int plan_mark(struct plan_ctx *c, int step, const char *resource, const struct tag_vec *tags,
	      const char *value);
void plan_add_finding(struct plan_ctx *c, enum finding_severity sev, int step, const char *resource,
		      const char *code, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* Sets the fix of the finding added last (plan_finding.fix). */
void plan_set_fix(struct plan_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

const struct subnet_state *plan_subnet(const struct plan_ctx *c, const char *subnet_id);
/* The IPv6 counterpart of an IPv4 CIDR: ::/0 for 0.0.0.0/0, the VPC's /56 for its own CIDRs,
 * a subnet's /64 for the subnet's CIDR, the policy's cidr_map; false when none. The returned
 * ref's deps (the action creating it) go to *dep (-1 for none). */
bool plan_map_cidr(const struct plan_ctx *c, const char *v4, struct v6_ref *out, int *dep);
bool plan_live_assoc(const struct cidr_assoc *a);
const struct instance_type_info *plan_type_info(const struct observed *o, const char *type);

void plan_step_cidrs(struct plan_ctx *c);
void plan_step_routes(struct plan_ctx *c);
void plan_step_security_groups(struct plan_ctx *c);
void plan_step_network_acls(struct plan_ctx *c);
void plan_step_resize(struct plan_ctx *c);
/* Step 4 in a revert (plan_resize.c): settle an interrupted resize; with back_asked, resize an
 * instance back to its dualstack:resized-from type. The action, or -1. */
int plan_resize_revert(struct plan_ctx *c, const struct instance *in, bool back_asked);
void plan_step_addresses(struct plan_ctx *c);
void plan_step_guest(struct plan_ctx *c);

#endif
