/* plan.h - the plan: the EC2 calls that make one VPC dual-stack, and what stands in the way.
 * Owns: the action and finding types, the pure plan_build() (policy + observed state + a time
 * given as data -> actions and findings), and the plan's text and JSON forms.
 * Not: executing actions (executor.c). plan_build has no clock, no network and no globals, so
 * every migration rule is a table-driven unit test (tests/unit/test_plan.c).
 *
 * A plan is a DAG in one pass: an action may refer to something an earlier action creates
 * (the VPC's new /56, a subnet's new /64, the new egress-only gateway) and names it in deps, so
 * a dry run lists exactly the calls an enforce run then makes. */
#ifndef DS_PLAN_H
#define DS_PLAN_H

#include <stdbool.h>
#include <time.h>

#include "buf.h"
#include "model.h"
#include "policy.h"

enum action_kind {
	ACT_ASSOCIATE_VPC_IPV6, /* AssociateVpcCidrBlock AmazonProvidedIpv6CidrBlock=true */
	ACT_TAG_MANAGED, /* CreateTags dualstack:ipv6-by=dualstackd: the mark written before the
			    first IPv6 write on a VPC, subnet, route table, NACL or instance, so
			    `revert` can tell what dualstackd added (revert.h) */
	ACT_ASSOCIATE_SUBNET_IPV6,  /* AssociateSubnetCidrBlock */
	ACT_SET_SUBNET_ASSIGN_IPV6, /* ModifySubnetAttribute AssignIpv6AddressOnCreation */
	ACT_CREATE_EIGW,	    /* CreateEgressOnlyInternetGateway (+ ClientToken, tag) */
	ACT_CREATE_ROUTE_V6,	    /* CreateRoute ::/0 */
	ACT_REPLACE_ROUTE_V6,	    /* ReplaceRoute ::/0 (a blackhole whose target is clear) */
	ACT_AUTHORIZE_SG_INGRESS,   /* AuthorizeSecurityGroupIngress, one IPv6 range */
	ACT_AUTHORIZE_SG_EGRESS,    /* AuthorizeSecurityGroupEgress, one IPv6 range */
	ACT_CREATE_NACL_ENTRY,	    /* CreateNetworkAclEntry, IPv6 */
	ACT_RESIZE_INSTANCE,	    /* the step-4 state machine (tag, stop, modify, start) */
	ACT_ASSIGN_IPV6_ADDRESS,    /* AssignIpv6Addresses Ipv6AddressCount=1 */
	ACT_GUEST_DHCPV6,	    /* SSM SendCommand (the guide's step 6), then a tag */
	ACT_TAG_VPC_CONVERGED, /* CreateTags dualstack:converged-at=TIME (rollout waves only) */
	/* revert (revert.h): each undoes one kind above */
	ACT_UNSET_SUBNET_ASSIGN_IPV6, /* ModifySubnetAttribute AssignIpv6AddressOnCreation=false */
	ACT_DELETE_ROUTE_V6,	      /* DeleteRoute ::/0 */
	ACT_REVOKE_SG_INGRESS,	      /* RevokeSecurityGroupIngress, one IPv6 range */
	ACT_REVOKE_SG_EGRESS,	      /* RevokeSecurityGroupEgress, one IPv6 range */
	ACT_DELETE_NACL_ENTRY,	      /* DeleteNetworkAclEntry */
	ACT_UNASSIGN_IPV6_ADDRESS,    /* UnassignIpv6Addresses, the one address (target_id) */
	ACT_DELETE_EIGW,	      /* DeleteEgressOnlyInternetGateway (target_id) */
	ACT_DISASSOCIATE_SUBNET_IPV6, /* DisassociateSubnetCidrBlock (target_id: association) */
	ACT_DISASSOCIATE_VPC_IPV6,    /* DisassociateVpcCidrBlock (target_id: association) */
	ACT_UNTAG_MANAGED,	      /* DeleteTags dualstack:ipv6-by and dualstack:converged-at */
	ACT_TAG_VPC_REVERTED,	      /* CreateTags dualstack:reverted-at=TIME (revert.h) */
	ACT_KIND_COUNT
};

/* An IPv6 CIDR that is known, or that an action of this plan creates. */
enum v6_ref_kind {
	REF_NONE,
	REF_LITERAL,	  /* literal */
	REF_VPC_BLOCK,	  /* the /56 that deps' AssociateVpcCidrBlock gives vpc_id */
	REF_SUBNET_BLOCK, /* the /64 at index `index` of that /56 */
};

struct v6_ref {
	enum v6_ref_kind kind;
	char literal[DS_CIDR_LEN];
	int index;
};

enum target_kind { TARGET_NONE, TARGET_GATEWAY, TARGET_EIGW, TARGET_TGW, TARGET_NEW_EIGW };

/* What a step-4 action does with an instance. */
enum resize_mode {
	RESIZE_FORWARD,	 /* tag, stop, retype, start, untag (or finish an interrupted one) */
	RESIZE_RESTORE,	 /* an interrupted resize the policy no longer backs: no stop and no
			    retype; start it if it was running, then untag */
	RESIZE_ROLLBACK, /* an interrupted rollback: back to the original type, running as it
			    was, then recorded as failed */
};

#define PLAN_MAX_DEPS 4

struct plan_action {
	enum action_kind kind;
	int step; /* 1..6, the guide's step */
	char vpc_id[DS_ID_LEN];
	char resource_id[DS_ID_LEN]; /* the VPC, subnet, route table, group, ACL, instance, ENI */
	struct v6_ref cidr;	     /* the IPv6 CIDR written (subnet /64, rule range, entry) */
	int deps[PLAN_MAX_DEPS];     /* indices of actions that must finish first */
	int n_deps;
	int phase; /* starts once every action of a lower phase succeeded (skipped if one did
		      not): revert's fan-in - a /56 goes after all of its /64s (0 in apply) */

	/* routes */
	enum target_kind target_kind;
	char target_id[DS_ID_LEN];
	/* security group rules and NACL entries */
	char protocol[16]; /* SG: "tcp", "udp", "icmpv6", "-1", a number; NACL: a number */
	bool has_ports;
	int from_port, to_port; /* SG: ports, or ICMP type/code */
	char description[DS_DESC_LEN];
	int rule_number;
	bool egress;
	char rule_action[8]; /* allow | deny */
	bool has_icmp;
	int icmp_type, icmp_code;
	/* resize */
	char instance_id[DS_ID_LEN];
	char from_type[DS_ID_LEN];
	char to_type[DS_ID_LEN];
	bool was_running;
	bool resume; /* an interrupted resize (tags present) being driven to completion */
	enum resize_mode resize_mode;
	bool retype_back; /* ROLLBACK: the policy backs `to`, so retyping back to `from` is ours */
	bool resize_back; /* revert --resize-back: to the type dualstackd resized it from */
	int guest_os;	  /* step 6: enum guest_os */
	int calls;	  /* the mutating EC2 calls this action makes (a resize makes several) */
	int rides_with;	  /* -1, or the action whose request carries this one's item: EC2 takes
			     a group's permissions, and one tag on many resources, as one list
			     (the client merges calls waiting side by side; calls is then 0) */

	char reason[256];
};

enum finding_severity { FIND_BLOCKED, FIND_WARNING, FIND_INFO };

struct plan_finding {
	enum finding_severity severity;
	int step;
	char resource_id[DS_ID_LEN];
	char code[48]; /* stable: "unmapped-cidr", "nacl-order-conflict", ... */
	char detail[320];
	char fix[200]; /* what the operator does about it, the same text for every resource the
			  same fix clears (the report groups by it); "" when nothing is to do */
};

struct plan {
	char vpc_id[DS_ID_LEN];
	DS_VEC(struct plan_action) actions;
	DS_VEC(struct plan_finding) findings;
};

struct plan_input {
	const struct policy *policy;
	const struct observed *obs; /* may hold other VPCs too; only vpc_id is planned */
	const char *vpc_id;
	time_t now; /* for the maintenance window: time as data, not a clock */
};

void plan_init(struct plan *p);
void plan_cleanup(struct plan *p);

/* Builds the plan of in->vpc_id. An out-of-scope VPC gives an empty plan with one finding. */
int plan_build(const struct plan_input *in, struct plan *out);

/* Instance types whose facts the planner needs (the VPC's, and every candidate successor and
 * type_map target): appended to names (caller frees each). */
int plan_wanted_instance_types(const struct policy *pol, const struct observed *obs, char ***names,
			       size_t *n);

/* What step 4 needs read before it may stop anything: the AMIs, Availability Zones and
 * candidate types of the instances a resize could touch, and those instances (stop
 * protection); with resize_back, also the instances revert --resize-back would resize. Each
 * list is owned (strdup'ed); plan_resize_reads_cleanup frees them. */
struct plan_resize_reads {
	char **images, **zones, **types, **instances;
	size_t n_images, n_zones, n_types, n_instances;
};
int plan_resize_reads(const struct policy *pol, const struct observed *obs, bool resize_back,
		      struct plan_resize_reads *out);
void plan_resize_reads_cleanup(struct plan_resize_reads *r);

/* The ICMPv6 twins of an ICMPv4 (type, code) (-1: all); how many, 0 when there is none (the
 * table is in plan_rules.c, RFC 4443 / RFC 4890). */
struct icmp_twin {
	int type, code;
};
int plan_icmp_twins(int type, int code, struct icmp_twin out[2]);

/* Empties a plan whose building failed with rc and says so in a BLOCKED finding
 * (plan-failed): half a plan is never executed. */
void plan_refuse(struct plan *p, int rc);

/* Counts. */
size_t plan_blocked(const struct plan *p);
size_t plan_calls(const struct plan *p); /* mutating EC2 calls the plan makes */

/* One line per action and finding: the form tests compare and `plan` prints. */
int plan_format_text(const struct plan *p, struct buf *out);
/* The EC2 action name and parameters of an action, as the executor sends them (symbolic
 * references print as "<new /56 of vpc-...>"). */
const char *plan_action_api(enum action_kind kind);
int plan_format_params(const struct plan_action *a, struct buf *out);

/* Tag keys dualstackd writes. */
#define TAG_MANAGED "dualstack:ipv6-by" /* the mark (ACT_TAG_MANAGED), MARK_VALUE */
#define MARK_VALUE  "dualstackd"
/* A NACL that held IPv6 entries before dualstackd's: the mark lists them ("i100 e101"), or says
 * "unknown" when the list does not fit a tag value - those entries are the owner's. */
#define MARK_KEPT_PREFIX    "dualstackd kept="
#define TAG_RESIZE_FROM	    "dualstack:resize-from"
#define TAG_RESIZE_TO	    "dualstack:resize-to"
#define TAG_RESIZE_WAS	    "dualstack:resize-was"
#define TAG_RESIZED_FROM    "dualstack:resized-from" /* the type before step 4 (revert) */
#define TAG_CREATED_BY	    "dualstack:created-by"
#define TAG_CONVERGED_AT    "dualstack:converged-at"	/* when a VPC first converged (waves) */
#define TAG_RESIZE_ROLLBACK "dualstack:resize-rollback" /* a rollback is under way: why */
#define TAG_RESIZE_FAILED   "dualstack:resize-failed"	/* rolled back: why; remove to retry */
#define TAG_INSTANCE_STORE  "dualstack:instance-store"	/* the owner's word: none | present */

/* What marks a security group rule's IPv6 range as dualstackd's: its description ends with it
 * (the twin carries its IPv4 original's description before it). */
#define SG_MARK "[dualstackd]"
/* A security group protocol by one name ("6" -> "tcp", "58" -> "icmpv6", "all" -> "-1"):
 * Describe answers and what dualstackd sends may spell it differently. */
const char *plan_sg_protocol(const char *p);
/* Whether a description carries SG_MARK. */
bool plan_sg_marked(const char *description);

#endif
