/* Each action runs as a small asynchronous state machine over the port: a call, then (where EC2
 * changes state in the background) re-reads on a timer until the state is reached. Nothing
 * here sleeps or blocks; every wait is port->after(). */
#include "executor.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>

#include "cidr.h"
#include "guest.h"
#include "poller.h"
#include "revert.h"

struct executor {
	const struct ec2_port *port;
	const struct plan *plan;
	struct exec_options opt;
	struct action_result *results;
	char vpc_block[DS_CIDR_LEN]; /* the /56, once known */
	char new_eigw[DS_ID_LEN];
	int running;
	int own_stops;
	int *stops_running; /* opt.shared_stops, or &own_stops */
	int mutating_calls;
	bool scheduling, again, finished, cancelled;
	bool slot_timer; /* a re-check for a free stop slot is due */
	exec_done_fn done;
	void *ud;
};

/* Where a resize stands, beyond what the instance's state and tags say. */
struct resize_state {
	bool tagged;	   /* the crash-safety tags are on the instance */
	bool start_sent;   /* StartInstances was accepted for the new type */
	bool rolling_back; /* a retype or start failed for good: back to `from` */
	bool rollback_tagged;
	bool failed_tagged;
	bool deferred; /* the window closed before the stop: untag, then wait for the next */
	bool retype_back_failed; /* the original type was refused too: start as it is */
	int step;		 /* the enum rz_step of the call in flight */
	char why[200];		 /* what made it roll back */
};

/* One running action. */
struct act {
	struct executor *e;
	int i;
	const struct plan_action *a;
	double waited_s;
	double next_wait_s;
	bool ambiguous; /* the write failed ambiguously: the re-read decides */
	bool counts_stop;
	struct resize_state rz;
	char guest_cmd[96]; /* step 6: the SSM command id */
};

static void schedule(struct executor *e);

static void act_free(struct act *x)
{
	free(x);
}

static void finish_action(struct act *x, enum action_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void finish_action(struct act *x, enum action_status st, const char *fmt, ...)
{
	struct executor *e = x->e;
	struct action_result *r = &e->results[x->i];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
	va_end(ap);
	r->status = st;
	e->running--;
	if (x->counts_stop)
		(*e->stops_running)--;
	act_free(x);
	schedule(e);
}

/* ---- calls ---- */

typedef void (*answer_fn)(struct act *x, const struct ec2_answer *ans);

struct call_ud {
	struct act *x;
	answer_fn fn;
};

static void on_answer(void *ud, const struct ec2_answer *ans)
{
	struct call_ud *cu = ud;
	struct act *x = cu->x;
	answer_fn fn = cu->fn;
	free(cu);
	fn(x, ans);
}

/* Whether other actions wait for plan action i (its VPC block, gateway or /64 unblocks them). */
static bool unblocks_others(const struct plan *plan, int i)
{
	for (size_t k = 0; k < plan->actions.n; k++)
		for (int d = 0; d < plan->actions.v[k].n_deps; d++)
			if (plan->actions.v[k].deps[d] == i)
				return true;
	return false;
}

static void call(struct act *x, const char *action, struct buf *params, unsigned flags,
		 answer_fn fn)
{
	/* the critical path first: an action others wait for, or a resize - its instance is
	 * down, or about to be, until the calls of its state machine are through */
	if (x->a->kind == ACT_RESIZE_INSTANCE || unblocks_others(x->e->plan, x->i))
		flags |= EC2_PORT_URGENT;
	struct call_ud *cu = malloc(sizeof(*cu));
	int rc = cu ? DS_OK : DS_ENOMEM;
	if (cu) {
		cu->x = x;
		cu->fn = fn;
		x->e->mutating_calls++;
		x->e->results[x->i].calls++;
		rc = x->e->port->call(x->e->port->ctx, action, params->data ? params->data : "",
				      params->len, flags, on_answer, cu);
	}
	buf_cleanup(params);
	if (rc) {
		free(cu);
		finish_action(x, ACTION_FAILED, "%s: %s", action, ds_strerror(rc));
	}
}

/* ---- waits and re-reads ---- */

typedef void (*reread_fn)(struct act *x, int rc, const struct ec2_error *err,
			  const struct observed *snap);

struct read_ud {
	struct act *x;
	reread_fn fn;
};

static void on_read(void *ud, int rc, const struct ec2_error *err, const struct observed *snap)
{
	struct read_ud *ru = ud;
	struct act *x = ru->x;
	reread_fn fn = ru->fn;
	free(ru);
	fn(x, rc, err, snap);
}

/* Re-reads one resource of kind through the batched poller, after at least delay_s. */
static void reread_after(struct act *x, enum obs_kind kind, const char *id, double delay_s,
			 reread_fn fn)
{
	struct read_ud *ru = malloc(sizeof(*ru));
	int rc = ru ? DS_OK : DS_ENOMEM;
	if (ru) {
		ru->x = x;
		ru->fn = fn;
		rc = poller_wait(x->e->opt.poller, kind, id, delay_s, on_read, ru);
	}
	if (rc) {
		free(ru);
		finish_action(x, ACTION_FAILED, "re-read failed: %s", ds_strerror(rc));
	}
}

static void reread(struct act *x, enum obs_kind kind, const char *id, reread_fn fn)
{
	reread_after(x, kind, id, 0, fn);
}

#define POLL_MAX_S 1.0
/* a resize waiting for a stop slot held by another executor looks again this often (a timer,
 * no call): the next wave starts within it of the slot coming free */
#define SLOT_RECHECK_S 0.2

/* The next wait of a poll: poll_s doubling to POLL_MAX_S; false when the wait timeout is
 * spent. The cap is short because polls are cheap - every waiter of an account and region
 * shares one Describe per kind per tick (poller.h) - and a long gap would add its length to
 * every stop and start a resize waits for. */
static bool next_wait(struct act *x, double *delay_s)
{
	if (x->waited_s >= x->e->opt.wait_timeout_s)
		return false;
	double d = x->next_wait_s > 0 ? x->next_wait_s : x->e->opt.poll_s;
	x->next_wait_s = d * 2 > POLL_MAX_S ? POLL_MAX_S : d * 2;
	x->waited_s += d;
	*delay_s = d;
	return true;
}

/* Polls kind/id again after the next backoff step; false when the wait timed out. */
static bool poll_later(struct act *x, enum obs_kind kind, const char *id, reread_fn fn)
{
	double d;
	if (!next_wait(x, &d))
		return false;
	reread_after(x, kind, id, d, fn);
	return true;
}

/* ---- parameters ---- */

static int resolve(const struct v6_ref *r, const char *block56, char out[DS_CIDR_LEN])
{
	struct cidr b, sub;
	switch (r->kind) {
	case REF_LITERAL: snprintf(out, DS_CIDR_LEN, "%s", r->literal); return DS_OK;
	case REF_VPC_BLOCK:
		if (!block56 || !*block56)
			return DS_EINVAL;
		snprintf(out, DS_CIDR_LEN, "%s", block56);
		return DS_OK;
	case REF_SUBNET_BLOCK:
		if (!block56 || cidr_parse(block56, &b) || cidr_subnet64(&b, r->index, &sub))
			return DS_EINVAL;
		cidr_format(&sub, out);
		return DS_OK;
	default: return DS_EINVAL;
	}
}

int executor_form_params(const struct plan_action *a, const char *block56, const char *new_eigw,
			 struct buf *out)
{
	char cidr[DS_CIDR_LEN];
	int rc = DS_OK;
	switch (a->kind) {
	case ACT_ASSOCIATE_VPC_IPV6:
		rc = buf_put_pairf(out, "VpcId", "%s", a->resource_id);
		if (!rc)
			rc = buf_put_pairf(out, "AmazonProvidedIpv6CidrBlock", "true");
		break;
	case ACT_TAG_MANAGED:
		rc = buf_put_pairf(out, "ResourceId.1", "%s", a->resource_id);
		if (!rc)
			rc = buf_put_pairf(out, "Tag.1.Key", TAG_MANAGED);
		if (!rc)
			rc = buf_put_pairf(out, "Tag.1.Value", "%s",
					   a->description[0] ? a->description : MARK_VALUE);
		break;
	case ACT_TAG_VPC_CONVERGED:
		rc = buf_put_pairf(out, "ResourceId.1", "%s", a->resource_id);
		if (!rc)
			rc = buf_put_pairf(out, "Tag.1.Key", TAG_CONVERGED_AT);
		if (!rc)
			rc = buf_put_pairf(out, "Tag.1.Value", "%s", a->description);
		break;
	case ACT_ASSOCIATE_SUBNET_IPV6:
		rc = resolve(&a->cidr, block56, cidr);
		if (!rc)
			rc = buf_put_pairf(out, "SubnetId", "%s", a->resource_id);
		if (!rc)
			rc = buf_put_pairf(out, "Ipv6CidrBlock", "%s", cidr);
		break;
	case ACT_SET_SUBNET_ASSIGN_IPV6:
		rc = buf_put_pairf(out, "SubnetId", "%s", a->resource_id);
		if (!rc)
			rc = buf_put_pairf(out, "AssignIpv6AddressOnCreation.Value", "true");
		break;
	case ACT_CREATE_EIGW:
		rc = buf_put_pairf(out, "VpcId", "%s", a->resource_id);
		if (!rc)
			rc = buf_put_pairf(out, "ClientToken", "dualstackd-eigw-%s%s%s",
					   a->resource_id, a->description[0] ? "-" : "",
					   a->description);
		if (!rc)
			rc = buf_put_pairf(out, "TagSpecification.1.ResourceType",
					   "egress-only-internet-gateway");
		if (!rc)
			rc = buf_put_pairf(out, "TagSpecification.1.Tag.1.Key", TAG_CREATED_BY);
		if (!rc)
			rc = buf_put_pairf(out, "TagSpecification.1.Tag.1.Value", "dualstackd");
		break;
	case ACT_CREATE_ROUTE_V6:
	case ACT_REPLACE_ROUTE_V6: {
		const char *target = a->target_kind == TARGET_NEW_EIGW ? new_eigw : a->target_id;
		const char *key =
		    a->target_kind == TARGET_TGW ? "TransitGatewayId"
		    : (a->target_kind == TARGET_EIGW || a->target_kind == TARGET_NEW_EIGW)
			? "EgressOnlyInternetGatewayId"
			: "GatewayId";
		if (!target || !*target)
			return DS_EINVAL;
		rc = buf_put_pairf(out, "RouteTableId", "%s", a->resource_id);
		if (!rc)
			rc = buf_put_pairf(out, "DestinationIpv6CidrBlock", "::/0");
		if (!rc)
			rc = buf_put_pairf(out, key, "%s", target);
		break;
	}
	case ACT_AUTHORIZE_SG_INGRESS:
	case ACT_AUTHORIZE_SG_EGRESS:
	case ACT_REVOKE_SG_INGRESS: /* the same permission; a revoke names no description */
	case ACT_REVOKE_SG_EGRESS:
		rc = resolve(&a->cidr, block56, cidr);
		if (!rc)
			rc = buf_put_pairf(out, "GroupId", "%s", a->resource_id);
		if (!rc)
			rc = buf_put_pairf(out, "IpPermissions.1.IpProtocol", "%s", a->protocol);
		if (!rc && a->has_ports)
			rc = buf_put_pairf(out, "IpPermissions.1.FromPort", "%d", a->from_port);
		if (!rc && a->has_ports)
			rc = buf_put_pairf(out, "IpPermissions.1.ToPort", "%d", a->to_port);
		if (!rc)
			rc =
			    buf_put_pairf(out, "IpPermissions.1.Ipv6Ranges.1.CidrIpv6", "%s", cidr);
		if (!rc && a->description[0])
			rc = buf_put_pairf(out, "IpPermissions.1.Ipv6Ranges.1.Description", "%s",
					   a->description);
		break;
	case ACT_CREATE_NACL_ENTRY:
		rc = resolve(&a->cidr, block56, cidr);
		if (!rc)
			rc = buf_put_pairf(out, "NetworkAclId", "%s", a->resource_id);
		if (!rc)
			rc = buf_put_pairf(out, "RuleNumber", "%d", a->rule_number);
		if (!rc)
			rc = buf_put_pairf(out, "Protocol", "%s", a->protocol);
		if (!rc)
			rc = buf_put_pairf(out, "RuleAction", "%s", a->rule_action);
		if (!rc)
			rc = buf_put_pairf(out, "Egress", "%s", a->egress ? "true" : "false");
		if (!rc)
			rc = buf_put_pairf(out, "Ipv6CidrBlock", "%s", cidr);
		if (!rc && a->has_ports)
			rc = buf_put_pairf(out, "PortRange.From", "%d", a->from_port);
		if (!rc && a->has_ports)
			rc = buf_put_pairf(out, "PortRange.To", "%d", a->to_port);
		if (!rc && a->has_icmp)
			rc = buf_put_pairf(out, "Icmp.Type", "%d", a->icmp_type);
		if (!rc && a->has_icmp)
			rc = buf_put_pairf(out, "Icmp.Code", "%d", a->icmp_code);
		break;
	case ACT_ASSIGN_IPV6_ADDRESS:
		rc = buf_put_pairf(out, "NetworkInterfaceId", "%s", a->resource_id);
		if (!rc)
			rc = buf_put_pairf(out, "Ipv6AddressCount", "1");
		break;
	/* revert */
	case ACT_UNTAG_MANAGED:
		rc = buf_put_pairf(out, "ResourceId.1", "%s", a->resource_id);
		if (!rc)
			rc = buf_put_pairf(out, "Tag.1.Key", TAG_MANAGED);
		if (!rc)
			rc = buf_put_pairf(out, "Tag.2.Key", TAG_CONVERGED_AT);
		break;
	case ACT_TAG_VPC_REVERTED:
		rc = buf_put_pairf(out, "ResourceId.1", "%s", a->resource_id);
		if (!rc)
			rc = buf_put_pairf(out, "Tag.1.Key", TAG_REVERTED_AT);
		if (!rc)
			rc = buf_put_pairf(out, "Tag.1.Value", "%s", a->description);
		break;
	case ACT_UNSET_SUBNET_ASSIGN_IPV6:
		rc = buf_put_pairf(out, "SubnetId", "%s", a->resource_id);
		if (!rc)
			rc = buf_put_pairf(out, "AssignIpv6AddressOnCreation.Value", "false");
		break;
	case ACT_DELETE_ROUTE_V6:
		rc = buf_put_pairf(out, "RouteTableId", "%s", a->resource_id);
		if (!rc)
			rc = buf_put_pairf(out, "DestinationIpv6CidrBlock", "::/0");
		break;
	case ACT_DELETE_NACL_ENTRY:
		rc = buf_put_pairf(out, "NetworkAclId", "%s", a->resource_id);
		if (!rc)
			rc = buf_put_pairf(out, "RuleNumber", "%d", a->rule_number);
		if (!rc)
			rc = buf_put_pairf(out, "Egress", "%s", a->egress ? "true" : "false");
		break;
	case ACT_UNASSIGN_IPV6_ADDRESS:
		rc = buf_put_pairf(out, "NetworkInterfaceId", "%s", a->resource_id);
		if (!rc)
			rc = buf_put_pairf(out, "Ipv6Addresses.1", "%s", a->target_id);
		break;
	case ACT_DELETE_EIGW:
		rc = buf_put_pairf(out, "EgressOnlyInternetGatewayId", "%s", a->target_id);
		break;
	case ACT_DISASSOCIATE_SUBNET_IPV6:
	case ACT_DISASSOCIATE_VPC_IPV6:
		rc = buf_put_pairf(out, "AssociationId", "%s", a->target_id);
		break;
	default: rc = DS_EINVAL;
	}
	return rc;
}

/* ---- step 1: the VPC's /56 and the subnets' /64s ---- */

static const struct cidr_assoc *live_v6(const struct cidr_assoc_vec *v)
{
	const struct cidr_assoc *best = NULL;
	for (size_t i = 0; i < v->n; i++) {
		const struct cidr_assoc *a = &v->v[i];
		if (strcmp(a->state, "disassociated") && strcmp(a->state, "failed") &&
		    (!best || !strcmp(a->state, "associated")))
			best = a;
	}
	return best;
}

static void on_vpc_read(struct act *x, int rc, const struct ec2_error *err,
			const struct observed *o)
{
	const struct cidr_assoc *a = NULL;
	if (rc && err && err->cls != EC2_NOT_FOUND) {
		finish_action(x, ACTION_FAILED, "DescribeVpcs: %s: %s", err->code, err->message);
		return;
	}
	for (size_t i = 0; !rc && i < o->vpcs.n; i++)
		if (!strcmp(o->vpcs.v[i].vpc_id, x->a->vpc_id))
			a = live_v6(&o->vpcs.v[i].ipv6_assocs);
	if (a && !strcmp(a->state, "associated") && a->cidr[0]) {
		snprintf(x->e->vpc_block, sizeof(x->e->vpc_block), "%s", a->cidr);
		finish_action(x, ACTION_DONE, "%s %s", a->association_id, a->cidr);
		return;
	}
	if (!a && x->ambiguous && x->waited_s > 10) {
		finish_action(x, ACTION_FAILED,
			      "AssociateVpcCidrBlock failed and no block appeared");
		return;
	}
	if (!poll_later(x, OBS_VPCS, x->a->vpc_id, on_vpc_read))
		finish_action(x, ACTION_FAILED, "the VPC's IPv6 block is still %s",
			      a ? a->state : "absent");
}

static void on_vpc_assoc(struct act *x, const struct ec2_answer *ans)
{
	if (ans->rc && !ans->ambiguous) {
		finish_action(x, ACTION_FAILED, "AssociateVpcCidrBlock: %s: %s", ans->err.code,
			      ans->err.message);
		return;
	}
	/* No client token: an ambiguous failure is settled by reading, never by resending. */
	x->ambiguous = ans->rc != 0;
	reread(x, OBS_VPCS, x->a->vpc_id, on_vpc_read);
}

static void on_subnet_read(struct act *x, int rc, const struct ec2_error *err,
			   const struct observed *o)
{
	const struct cidr_assoc *a = NULL;
	if (rc) {
		finish_action(x, ACTION_FAILED, "DescribeSubnets: %s", err ? err->code : "error");
		return;
	}
	for (size_t i = 0; i < o->subnets.n; i++)
		if (!strcmp(o->subnets.v[i].subnet_id, x->a->resource_id))
			a = live_v6(&o->subnets.v[i].ipv6_assocs);
	if (a && !strcmp(a->state, "associated")) {
		finish_action(x, ACTION_DONE, "%s %s", a->association_id, a->cidr);
		return;
	}
	if (!a && x->ambiguous && x->waited_s > 10) {
		finish_action(x, ACTION_FAILED,
			      "AssociateSubnetCidrBlock failed and no /64 appeared");
		return;
	}
	if (!poll_later(x, OBS_SUBNETS, x->a->resource_id, on_subnet_read))
		finish_action(x, ACTION_FAILED, "the subnet's /64 is still %s",
			      a ? a->state : "absent");
}

static void on_subnet_assoc(struct act *x, const struct ec2_answer *ans)
{
	if (ans->rc && !ans->ambiguous) {
		finish_action(x, ACTION_FAILED, "AssociateSubnetCidrBlock: %s: %s", ans->err.code,
			      ans->err.message);
		return;
	}
	x->ambiguous = ans->rc != 0;
	reread(x, OBS_SUBNETS, x->a->resource_id, on_subnet_read);
}

/* ---- simple idempotent writes ---- */

static void on_simple(struct act *x, const struct ec2_answer *ans)
{
	const char *api = plan_action_api(x->a->kind);
	if (!ans->rc)
		finish_action(x, ACTION_DONE, "ok");
	else if (ans->err.cls == EC2_DUPLICATE)
		/* already there: the re-read after execution confirms the intended state */
		finish_action(x, ACTION_DONE, "already existed (%s)", ans->err.code);
	else
		finish_action(x, ACTION_FAILED, "%s: %s: %s", api, ans->err.code, ans->err.message);
}

static void on_eigw(struct act *x, const struct ec2_answer *ans)
{
	char id[DS_ID_LEN] = "";
	if (ans->rc) {
		finish_action(x, ACTION_FAILED, "CreateEgressOnlyInternetGateway: %s: %s",
			      ans->err.code, ans->err.message);
		return;
	}
	if (x->e->port->decode_eigw(ans->body, ans->body_len, id, sizeof(id)) || !id[0]) {
		finish_action(x, ACTION_FAILED,
			      "CreateEgressOnlyInternetGateway: no id in the answer");
		return;
	}
	snprintf(x->e->new_eigw, sizeof(x->e->new_eigw), "%s", id);
	finish_action(x, ACTION_DONE, "%s", id);
}

/* ---- revert: removals ---- */

/* A removal that finds nothing to remove is done: an earlier run, a lost answer resent, or
 * the owner took it away first. */
static void on_removed(struct act *x, const struct ec2_answer *ans)
{
	const char *api = plan_action_api(x->a->kind);
	if (!ans->rc)
		finish_action(x, ACTION_DONE, "ok");
	else if (ans->err.cls == EC2_NOT_FOUND)
		finish_action(x, ACTION_DONE, "already gone (%s)", ans->err.code);
	else
		finish_action(x, ACTION_FAILED, "%s: %s: %s", api, ans->err.code, ans->err.message);
}

/* Whether an association id is still live (not disassociated) in v. */
static bool assoc_live(const struct cidr_assoc_vec *v, const char *id, const char **state)
{
	for (size_t i = 0; i < v->n; i++)
		if (!strcmp(v->v[i].association_id, id) && strcmp(v->v[i].state, "disassociated") &&
		    strcmp(v->v[i].state, "failed")) {
			*state = v->v[i].state;
			return true;
		}
	return false;
}

/* A block is gone once its association is disassociated (or no longer listed): the VPC's /56
 * can go only after every /64 of it has. */
static void on_disassoc_read(struct act *x, int rc, const struct ec2_error *err,
			     const struct observed *o)
{
	bool vpc = x->a->kind == ACT_DISASSOCIATE_VPC_IPV6;
	const char *state = "";
	bool live = false;
	if (rc && err && err->cls != EC2_NOT_FOUND) {
		finish_action(x, ACTION_FAILED, "%s: %s: %s",
			      vpc ? "DescribeVpcs" : "DescribeSubnets", err->code, err->message);
		return;
	}
	for (size_t i = 0; !rc && vpc && i < o->vpcs.n; i++)
		if (!strcmp(o->vpcs.v[i].vpc_id, x->a->resource_id))
			live = assoc_live(&o->vpcs.v[i].ipv6_assocs, x->a->target_id, &state);
	for (size_t i = 0; !rc && !vpc && i < o->subnets.n; i++)
		if (!strcmp(o->subnets.v[i].subnet_id, x->a->resource_id))
			live = assoc_live(&o->subnets.v[i].ipv6_assocs, x->a->target_id, &state);
	if (!live) {
		finish_action(x, ACTION_DONE, "%s disassociated", x->a->target_id);
		return;
	}
	if (!poll_later(x, vpc ? OBS_VPCS : OBS_SUBNETS, x->a->resource_id, on_disassoc_read))
		finish_action(x, ACTION_FAILED, "%s is still %s", x->a->target_id, state);
}

static void on_disassociate(struct act *x, const struct ec2_answer *ans)
{
	bool vpc = x->a->kind == ACT_DISASSOCIATE_VPC_IPV6;
	if (ans->rc && ans->err.cls != EC2_NOT_FOUND && !ans->ambiguous) {
		finish_action(x, ACTION_FAILED, "%s: %s: %s", plan_action_api(x->a->kind),
			      ans->err.code, ans->err.message);
		return;
	}
	reread(x, vpc ? OBS_VPCS : OBS_SUBNETS, x->a->resource_id, on_disassoc_read);
}

/* Unassigning an address that is not there fails; whether it is there decides. */
static void on_unassign_reread(struct act *x, int rc, const struct ec2_error *err,
			       const struct observed *o)
{
	(void)err;
	bool still = false, seen = false;
	for (size_t i = 0; !rc && i < o->instances.n; i++)
		for (size_t k = 0; k < o->instances.v[i].interfaces.n; k++) {
			const struct network_interface *n = &o->instances.v[i].interfaces.v[k];
			if (strcmp(n->network_interface_id, x->a->resource_id))
				continue;
			seen = true;
			for (size_t j = 0; j < n->ipv6_addresses.n; j++)
				still |= !strcmp(n->ipv6_addresses.v[j].address, x->a->target_id);
		}
	if (seen && !still)
		finish_action(x, ACTION_DONE, "%s unassigned", x->a->target_id);
	else
		finish_action(x, ACTION_FAILED, "UnassignIpv6Addresses failed and %s is %s",
			      x->a->target_id, seen ? "still assigned" : "not readable");
}

static void on_unassign(struct act *x, const struct ec2_answer *ans)
{
	if (!ans->rc)
		finish_action(x, ACTION_DONE, "ok");
	else
		reread(x, OBS_INSTANCES, x->a->instance_id, on_unassign_reread);
}

/* ---- step 5: one IPv6 address ---- */

static void on_address_reread(struct act *x, int rc, const struct ec2_error *err,
			      const struct observed *o)
{
	(void)err;
	for (size_t i = 0; !rc && i < o->instances.n; i++)
		for (size_t k = 0; k < o->instances.v[i].interfaces.n; k++) {
			const struct network_interface *n = &o->instances.v[i].interfaces.v[k];
			if (!strcmp(n->network_interface_id, x->a->resource_id) &&
			    n->ipv6_addresses.n) {
				finish_action(x, ACTION_DONE, "%s", n->ipv6_addresses.v[0].address);
				return;
			}
		}
	finish_action(x, ACTION_FAILED,
		      "AssignIpv6Addresses failed ambiguously and eth0 has no "
		      "address; the next reconcile retries");
}

static void on_address(struct act *x, const struct ec2_answer *ans)
{
	if (!ans->rc) {
		finish_action(x, ACTION_DONE, "ok");
	} else if (ans->ambiguous) {
		/* additive and without a client token: read, never resend */
		reread(x, OBS_INSTANCES, x->a->instance_id, on_address_reread);
	} else {
		finish_action(x, ACTION_FAILED, "AssignIpv6Addresses: %s: %s", ans->err.code,
			      ans->err.message);
	}
}

/* ---- step 6: DHCPv6 in the guest, through SSM Run Command ----
 * SendCommand, then GetCommandInvocation until the command ends. Only Success is recorded
 * (the tag that makes it once); Failed, TimedOut or Cancelled fail the action, so the next
 * reconcile (with its backoff) sends it again - the scripts check before they edit. */

static void ssm_send(struct act *x, const char *op, cJSON *req, answer_fn fn, bool mutating)
{
	char *json = cJSON_PrintUnformatted(req);
	cJSON_Delete(req);
	struct call_ud *cu = malloc(sizeof(*cu));
	int rc = json && cu ? DS_OK : DS_ENOMEM;
	if (!rc) {
		cu->x = x;
		cu->fn = fn;
		if (mutating) {
			x->e->mutating_calls++;
			x->e->results[x->i].calls++;
		}
		rc = x->e->port->ssm_call(x->e->port->ctx, op, json, strlen(json),
					  mutating ? 0 : EC2_PORT_IDEMPOTENT, on_answer, cu);
	}
	free(json);
	if (rc) {
		free(cu);
		finish_action(x, ACTION_FAILED, "%s: %s", op, ds_strerror(rc));
	}
}

static void ask_invocation(void *ud);

static void on_invocation(struct act *x, const struct ec2_answer *ans)
{
	char status[48] = "", err[160] = "";
	if (!ans->rc) {
		cJSON *j = cJSON_ParseWithLength(ans->body, ans->body_len);
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "Status");
		const cJSON *se = cJSON_GetObjectItemCaseSensitive(j, "StandardErrorContent");
		snprintf(status, sizeof(status), "%s", cJSON_IsString(st) ? st->valuestring : "");
		snprintf(err, sizeof(err), "%.*s",
			 cJSON_IsString(se) ? (int)strcspn(se->valuestring, "\n") : 0,
			 cJSON_IsString(se) ? se->valuestring : "");
		cJSON_Delete(j);
	}
	if (!strcmp(status, "Success")) {
		struct buf p;
		buf_init(&p, 0);
		buf_put_pairf(&p, "ResourceId.1", "%s", x->a->instance_id);
		buf_put_pairf(&p, "Tag.1.Key", TAG_GUEST_CONFIG);
		/* the record that makes it once: which command, and that it succeeded */
		buf_put_pairf(&p, "Tag.1.Value", "%s Success", x->guest_cmd);
		call(x, "CreateTags", &p, EC2_PORT_IDEMPOTENT, on_simple);
		return;
	}
	if (status[0] && strcmp(status, "Pending") && strcmp(status, "InProgress") &&
	    strcmp(status, "Delayed")) {
		finish_action(x, ACTION_FAILED,
			      "SendCommand %s: %s%s%s; sent again by a later "
			      "reconcile",
			      x->guest_cmd, status, err[0] ? ": " : "", err);
		return;
	}
	/* running, or not visible yet (InvocationDoesNotExist), or a failed read: ask again */
	double d;
	if (!next_wait(x, &d) || x->e->port->after(x->e->port->ctx, d, ask_invocation, x))
		finish_action(x, ACTION_FAILED, "SendCommand %s: no outcome (%s)", x->guest_cmd,
			      ans->rc ? ans->err.code : status);
}

static void ask_invocation(void *ud)
{
	struct act *x = ud;
	cJSON *req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "CommandId", x->guest_cmd);
	cJSON_AddStringToObject(req, "InstanceId", x->a->instance_id);
	ssm_send(x, "GetCommandInvocation", req, on_invocation, false);
}

static void on_guest_sent(struct act *x, const struct ec2_answer *ans)
{
	if (ans->rc) {
		/* the scripts check before they edit, so a later resend after an ambiguous
		 * failure is harmless; nothing is recorded until a command succeeded */
		finish_action(x, ACTION_FAILED, "SendCommand: %s: %s", ans->err.code,
			      ans->err.message);
		return;
	}
	cJSON *j = cJSON_ParseWithLength(ans->body, ans->body_len);
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(j, "Command"), "CommandId");
	bool ok = cJSON_IsString(id) && strlen(id->valuestring) < sizeof(x->guest_cmd);
	if (ok)
		snprintf(x->guest_cmd, sizeof(x->guest_cmd), "%s", id->valuestring);
	cJSON_Delete(j);
	if (!ok) {
		finish_action(x, ACTION_FAILED, "SendCommand: no CommandId in the answer");
		return;
	}
	x->next_wait_s = 0;
	ask_invocation(x);
}

static void send_guest_config(struct act *x)
{
	enum guest_os os = (enum guest_os)x->a->guest_os;
	const char *const *cmds = guest_commands(os);
	cJSON *req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "DocumentName", guest_document(os));
	cJSON *ids = cJSON_AddArrayToObject(req, "InstanceIds");
	cJSON_AddItemToArray(ids, cJSON_CreateString(x->a->instance_id));
	cJSON *params = cJSON_AddObjectToObject(req, "Parameters");
	cJSON *list = cJSON_AddArrayToObject(params, "commands");
	for (size_t i = 0; cmds && cmds[i]; i++)
		cJSON_AddItemToArray(list, cJSON_CreateString(cmds[i]));
	cJSON_AddStringToObject(req, "Comment", "dualstackd: DHCPv6 for IPv6 (step 6)");
	ssm_send(x, "SendCommand", req, on_guest_sent, true);
}

/* ---- step 4: the resize state machine ----
 * Every step is decided from a fresh read of the instance (state, type, tags) plus what this
 * action itself did, so whatever came before - this run, a crashed one, a lost answer - the
 * next call is the right one:
 *   forward   [window] tag -> [window] stop -> (stopped) retype -> start -> (running) untag
 *   rollback  tag why -> [retype back to from] -> start if it was running -> tag failed, untag
 *   restore   start if it was running -> untag          (no stop and no retype, ever)
 * A retype or start that fails for good rolls back; a window that closes before the stop
 * removes the tags again and leaves the instance as it was. */

enum rz_step {
	RZ_WAIT,	 /* pending/stopping: read again later */
	RZ_TAG,		 /* CreateTags from/to/was, before anything stops */
	RZ_STOP,	 /* StopInstances */
	RZ_RETYPE,	 /* ModifyInstanceAttribute InstanceType=to */
	RZ_START,	 /* StartInstances */
	RZ_TAG_ROLLBACK, /* CreateTags rollback=why: a crash now resumes the rollback */
	RZ_RETYPE_BACK,	 /* ModifyInstanceAttribute InstanceType=from */
	RZ_TAG_FAILED,	 /* CreateTags failed=why: no retry until an operator removes it */
	RZ_UNTAG,	 /* DeleteTags from/to/was/rollback */
	RZ_DONE,
};

#define START_RESEND_S 30 /* a start that left the instance stopped, with no reason given */

static bool window_open(const struct executor *e)
{
	if (!e->opt.policy)
		return true;
	time_t now = e->opt.clock ? e->opt.clock(e->opt.clock_ud) : time(NULL);
	return policy_in_window(e->opt.policy, now);
}

static enum rz_step resize_decide(const struct act *x, const struct instance *in, bool window)
{
	const struct plan_action *a = x->a;
	const struct resize_state *rz = &x->rz;
	bool stopped = !strcmp(in->state, "stopped"), running = !strcmp(in->state, "running");
	bool typed = !strcmp(in->instance_type, a->to_type);
	bool original = !strcmp(in->instance_type, a->from_type);
	bool tags = tag_get(&in->tags, TAG_RESIZE_TO) || tag_get(&in->tags, TAG_RESIZE_ROLLBACK);
	if (!stopped && !running)
		return RZ_WAIT;
	if (rz->rolling_back || a->resize_mode == RESIZE_ROLLBACK) {
		bool back = a->resize_mode != RESIZE_ROLLBACK || a->retype_back;
		if (stopped && !rz->rollback_tagged && !tag_get(&in->tags, TAG_RESIZE_ROLLBACK))
			return RZ_TAG_ROLLBACK;
		if (stopped && !original && back && typed && !rz->retype_back_failed)
			return RZ_RETYPE_BACK;
		if (stopped && a->was_running)
			return RZ_START;
		if (!rz->failed_tagged)
			return RZ_TAG_FAILED;
		return tags ? RZ_UNTAG : RZ_DONE;
	}
	if (a->resize_mode == RESIZE_RESTORE || rz->deferred) {
		if (stopped && a->was_running && !rz->deferred)
			return RZ_START;
		return tags || rz->tagged ? RZ_UNTAG : RZ_DONE;
	}
	if (typed) {
		if (stopped && a->was_running)
			return RZ_START;
		return tags || rz->tagged ? RZ_UNTAG : RZ_DONE;
	}
	if (!tags && !rz->tagged)
		return running && !window ? RZ_DONE : RZ_TAG;
	if (running)
		return RZ_STOP;
	return RZ_RETYPE;
}

static void resize_read(struct act *x);
static void on_resize_read(struct act *x, int rc, const struct ec2_error *err,
			   const struct observed *o);

static void resize_retry_later(struct act *x, const char *why)
{
	if (!poll_later(x, OBS_INSTANCES, x->a->instance_id, on_resize_read))
		finish_action(x, ACTION_FAILED,
			      "resize of %s: %s, and the wait timed out; the next reconcile "
			      "resumes it from its tags",
			      x->a->instance_id, why);
}

/* A retype or start failed for good (or the stop was refused): back to `from`. */
static void roll_back(struct act *x, const char *what, const struct ec2_error *err)
{
	if (!x->rz.rolling_back)
		snprintf(x->rz.why, sizeof(x->rz.why), "%s: %s", what, err->code);
	x->rz.rolling_back = true;
	x->next_wait_s = 0;
	resize_read(x);
}

static void on_resize_call(struct act *x, const struct ec2_answer *ans);

static void resize_call(struct act *x, const char *action, struct buf *p)
{
	call(x, action, p, EC2_PORT_IDEMPOTENT, on_resize_call);
}

static const char *step_action(enum rz_step st)
{
	switch (st) {
	case RZ_TAG:
	case RZ_TAG_ROLLBACK:
	case RZ_TAG_FAILED: return "CreateTags";
	case RZ_STOP: return "StopInstances";
	case RZ_RETYPE:
	case RZ_RETYPE_BACK: return "ModifyInstanceAttribute";
	case RZ_START: return "StartInstances";
	case RZ_UNTAG: return "DeleteTags";
	default: return "";
	}
}

static void resize_read(struct act *x)
{
	reread(x, OBS_INSTANCES, x->a->instance_id, on_resize_read);
}

static void resize_finish(struct act *x, const struct instance *in)
{
	const char *id = x->a->instance_id;
	if (x->rz.rolling_back || x->a->resize_mode == RESIZE_ROLLBACK)
		finish_action(x, ACTION_FAILED, "rolled back: %s is %s on %s again (%s)", id,
			      in->state, in->instance_type, x->rz.why[0] ? x->rz.why : "resumed");
	else if (x->rz.deferred)
		finish_action(x, ACTION_SKIPPED,
			      "deferred: the maintenance window closed before %s was stopped", id);
	else if (x->a->resize_mode == RESIZE_RESTORE)
		finish_action(x, ACTION_DONE, "restored: %s is %s on %s", id, in->state,
			      in->instance_type);
	else
		finish_action(x, ACTION_DONE, "%s is %s on %s", id, in->state, in->instance_type);
}

static void on_resize_read(struct act *x, int rc, const struct ec2_error *err,
			   const struct observed *o)
{
	const struct plan_action *a = x->a;
	const struct instance *in = NULL;
	struct buf p;
	if (rc) {
		resize_retry_later(x, err ? err->code : "read failed");
		return;
	}
	for (size_t i = 0; i < o->instances.n; i++)
		if (!strcmp(o->instances.v[i].instance_id, a->instance_id))
			in = &o->instances.v[i];
	if (!in || !strcmp(in->state, "terminated") || !strcmp(in->state, "shutting-down")) {
		finish_action(x, ACTION_FAILED, "instance %s is gone", a->instance_id);
		return;
	}
	bool window = window_open(x->e);
	enum rz_step st = resize_decide(x, in, window);
	/* running again and not about to be stopped: the slot goes to the next resize now, not
	 * after the bookkeeping (untag) - max_concurrent_stops counts instances down */
	if (x->counts_stop && !strcmp(in->state, "running") && st != RZ_TAG && st != RZ_STOP &&
	    st != RZ_WAIT) {
		x->counts_stop = false;
		(*x->e->stops_running)--;
		schedule(x->e);
	}
	/* started on the new type and back to stopped: EC2 could not place it */
	if (st == RZ_START && x->rz.start_sent && !x->rz.rolling_back) {
		if (!strncmp(in->state_reason, "Server.", 7)) {
			struct ec2_error e = {0};
			snprintf(e.code, sizeof(e.code), "%s", in->state_reason);
			roll_back(x, "StartInstances", &e);
			return;
		}
		if (x->waited_s < START_RESEND_S) {
			resize_retry_later(x, "start not visible yet");
			return;
		}
		x->waited_s = 0; /* no reason given for a while: StartInstances again */
	}
	if (st == RZ_STOP && !window) {
		/* checked as the stop is about to be sent: the tags come off, the instance stays
		 * as it is, and the resize waits for the next window */
		x->rz.deferred = true;
		st = resize_decide(x, in, window);
	}
	buf_init(&p, 0);
	switch (st) {
	case RZ_WAIT: resize_retry_later(x, in->state); return;
	case RZ_DONE: resize_finish(x, in); return;
	case RZ_TAG:
		buf_put_pairf(&p, "ResourceId.1", "%s", a->instance_id);
		buf_put_pairf(&p, "Tag.1.Key", TAG_RESIZE_FROM);
		buf_put_pairf(&p, "Tag.1.Value", "%s", a->from_type);
		buf_put_pairf(&p, "Tag.2.Key", TAG_RESIZE_TO);
		buf_put_pairf(&p, "Tag.2.Value", "%s", a->to_type);
		buf_put_pairf(&p, "Tag.3.Key", TAG_RESIZE_WAS);
		buf_put_pairf(&p, "Tag.3.Value", "%s", a->was_running ? "running" : "stopped");
		if (!a->resize_back) { /* what revert --resize-back goes back to; it stays */
			buf_put_pairf(&p, "Tag.4.Key", TAG_RESIZED_FROM);
			buf_put_pairf(&p, "Tag.4.Value", "%s", a->from_type);
		}
		break;
	case RZ_STOP: buf_put_pairf(&p, "InstanceId.1", "%s", a->instance_id); break;
	case RZ_RETYPE:
	case RZ_RETYPE_BACK:
		buf_put_pairf(&p, "InstanceId", "%s", a->instance_id);
		buf_put_pairf(&p, "InstanceType.Value", "%s",
			      st == RZ_RETYPE ? a->to_type : a->from_type);
		break;
	case RZ_START: buf_put_pairf(&p, "InstanceId.1", "%s", a->instance_id); break;
	case RZ_TAG_ROLLBACK:
	case RZ_TAG_FAILED:
		buf_put_pairf(&p, "ResourceId.1", "%s", a->instance_id);
		buf_put_pairf(&p, "Tag.1.Key",
			      st == RZ_TAG_ROLLBACK ? TAG_RESIZE_ROLLBACK : TAG_RESIZE_FAILED);
		/* a tag value holds 256 characters */
		buf_put_pairf(&p, "Tag.1.Value", "%.200s -> %.20s: %.120s", a->from_type,
			      a->to_type, x->rz.why[0] ? x->rz.why : "interrupted rollback");
		break;
	case RZ_UNTAG:
		buf_put_pairf(&p, "ResourceId.1", "%s", a->instance_id);
		buf_put_pairf(&p, "Tag.1.Key", TAG_RESIZE_FROM);
		buf_put_pairf(&p, "Tag.2.Key", TAG_RESIZE_TO);
		buf_put_pairf(&p, "Tag.3.Key", TAG_RESIZE_WAS);
		buf_put_pairf(&p, "Tag.4.Key", TAG_RESIZE_ROLLBACK);
		/* back on the type it had before dualstackd: nothing is left to go back to */
		if (a->resize_back && a->resize_mode == RESIZE_FORWARD && !x->rz.rolling_back &&
		    !x->rz.deferred && !strcmp(in->instance_type, a->to_type))
			buf_put_pairf(&p, "Tag.5.Key", TAG_RESIZED_FROM);
		break;
	}
	x->rz.step = st;
	resize_call(x, step_action(st), &p);
}

static void on_resize_call(struct act *x, const struct ec2_answer *ans)
{
	enum rz_step st = (enum rz_step)x->rz.step;
	if (!ans->rc) {
		x->next_wait_s = 0;
		switch (st) {
		case RZ_TAG: x->rz.tagged = true; break;
		case RZ_START: x->rz.start_sent = !x->rz.rolling_back; break;
		case RZ_TAG_ROLLBACK: x->rz.rollback_tagged = true; break;
		case RZ_TAG_FAILED: x->rz.failed_tagged = true; break;
		case RZ_UNTAG: x->rz.tagged = false; break;
		default: break;
		}
		/* a stop or a start takes a moment; a tag or a retype is there at once */
		if (st == RZ_STOP || st == RZ_START)
			resize_retry_later(x, "changing state");
		else
			resize_read(x);
		return;
	}
	enum ec2_class cls = ans->err.cls;
	bool for_good = cls == EC2_FATAL || cls == EC2_CAPACITY;
	if (for_good && !x->rz.rolling_back &&
	    (st == RZ_STOP || st == RZ_RETYPE || st == RZ_START)) {
		roll_back(x, step_action(st), &ans->err);
		return;
	}
	if (for_good && st == RZ_RETYPE_BACK) {
		/* the original type is refused too: the instance still has to run */
		x->rz.retype_back_failed = true;
		snprintf(x->rz.why + strlen(x->rz.why), sizeof(x->rz.why) - strlen(x->rz.why),
			 "; retype back: %s", ans->err.code);
		resize_read(x);
		return;
	}
	if (for_good && st == RZ_TAG) {
		finish_action(x, ACTION_FAILED,
			      "resize of %s: CreateTags: %s: %s (nothing stopped)",
			      x->a->instance_id, ans->err.code, ans->err.message);
		return;
	}
	if (for_good && st == RZ_TAG_ROLLBACK) {
		/* without the marker a crash would resume forward; getting the instance running
		 * again matters more */
		x->rz.rollback_tagged = true;
		resize_read(x);
		return;
	}
	if (for_good && (st == RZ_TAG_FAILED || st == RZ_UNTAG)) {
		finish_action(x, ACTION_FAILED, "resize of %s: %s: %s: %s", x->a->instance_id,
			      step_action(st), ans->err.code, ans->err.message);
		return;
	}
	/* throttled, transient, state, not yet visible, ambiguous: read and decide again */
	resize_retry_later(x, ans->err.code);
}

/* ---- scheduling ---- */

static bool takes_stop_slot(const struct plan_action *a);

static void start(struct executor *e, int i)
{
	const struct plan_action *a = &e->plan->actions.v[i];
	struct act *x = calloc(1, sizeof(*x));
	if (!x) {
		e->results[i].status = ACTION_FAILED;
		snprintf(e->results[i].detail, sizeof(e->results[i].detail), "out of memory");
		return;
	}
	x->e = e;
	x->i = i;
	x->a = a;
	e->results[i].status = ACTION_RUNNING;
	e->running++;
	if (a->kind == ACT_RESIZE_INSTANCE) {
		x->counts_stop = takes_stop_slot(a);
		*e->stops_running += x->counts_stop;
		x->rz.tagged = a->resume;
		resize_read(x);
		return;
	}
	if (a->kind == ACT_GUEST_DHCPV6) {
		send_guest_config(x);
		return;
	}
	struct buf p;
	buf_init(&p, 0);
	int rc = executor_form_params(a, e->vpc_block, e->new_eigw, &p);
	if (rc) {
		buf_cleanup(&p);
		finish_action(x, ACTION_FAILED, "cannot resolve the parameters (%s)",
			      ds_strerror(rc));
		return;
	}
	const char *api = plan_action_api(a->kind);
	switch (a->kind) {
	case ACT_ASSOCIATE_VPC_IPV6: call(x, api, &p, 0, on_vpc_assoc); break;
	case ACT_ASSOCIATE_SUBNET_IPV6: call(x, api, &p, 0, on_subnet_assoc); break;
	case ACT_CREATE_EIGW:
		call(x, api, &p, EC2_PORT_IDEMPOTENT, on_eigw); /* ClientToken */
		break;
	case ACT_ASSIGN_IPV6_ADDRESS: call(x, api, &p, 0, on_address); break;
	case ACT_DELETE_ROUTE_V6:
	case ACT_REVOKE_SG_INGRESS:
	case ACT_REVOKE_SG_EGRESS:
	case ACT_DELETE_NACL_ENTRY:
	case ACT_DELETE_EIGW: call(x, api, &p, EC2_PORT_IDEMPOTENT, on_removed); break;
	case ACT_DISASSOCIATE_SUBNET_IPV6:
	case ACT_DISASSOCIATE_VPC_IPV6:
		call(x, api, &p, EC2_PORT_IDEMPOTENT, on_disassociate);
		break;
	case ACT_UNASSIGN_IPV6_ADDRESS: call(x, api, &p, 0, on_unassign); break;
	default: call(x, api, &p, EC2_PORT_IDEMPOTENT, on_simple); break;
	}
}

/* Only a forward resize of a running instance stops it. */
static bool takes_stop_slot(const struct plan_action *a)
{
	return a->kind == ACT_RESIZE_INSTANCE && a->was_running && a->resize_mode == RESIZE_FORWARD;
}

static bool deps_state(const struct executor *e, const struct plan_action *a, int *failed_dep)
{
	bool all_done = true;
	*failed_dep = -1;
	for (size_t i = 0; a->phase && i < e->plan->actions.n; i++) {
		if (e->plan->actions.v[i].phase >= a->phase)
			continue;
		enum action_status st = e->results[i].status;
		if (st == ACTION_FAILED || st == ACTION_SKIPPED)
			*failed_dep = (int)i;
		if (st != ACTION_DONE)
			all_done = false;
	}
	for (int d = 0; d < a->n_deps; d++) {
		enum action_status st = e->results[a->deps[d]].status;
		if (st == ACTION_FAILED || st == ACTION_SKIPPED)
			*failed_dep = a->deps[d];
		if (st != ACTION_DONE)
			all_done = false;
	}
	return all_done;
}

static void on_slot_timer(void *ud)
{
	struct executor *e = ud;
	e->slot_timer = false;
	schedule(e);
}

static void schedule(struct executor *e)
{
	int waiting_for_slot = 0;
	if (e->scheduling) {
		e->again = true;
		return;
	}
	e->scheduling = true;
	do {
		e->again = false;
		for (size_t i = 0; i < e->plan->actions.n; i++) {
			const struct plan_action *a = &e->plan->actions.v[i];
			struct action_result *r = &e->results[i];
			int failed;
			if (r->status != ACTION_PENDING)
				continue;
			bool ready = deps_state(e, a, &failed);
			if (failed >= 0) {
				r->status = ACTION_SKIPPED;
				snprintf(r->detail, sizeof(r->detail),
					 "skipped: action %d did not succeed", failed + 1);
				e->again = true;
				continue;
			}
			if (!ready)
				continue;
			if (e->cancelled) {
				r->status = ACTION_SKIPPED;
				snprintf(r->detail, sizeof(r->detail),
					 "not started: the reconcile was cancelled");
				continue;
			}
			if (takes_stop_slot(a) &&
			    *e->stops_running >= e->opt.max_concurrent_stops) {
				waiting_for_slot++; /* max_concurrent_stops: a resize must end first */
				continue;
			}
			if (e->opt.may_start && !e->opt.may_start(e->opt.may_start_ud, a, r->detail,
								  sizeof(r->detail))) {
				r->status = ACTION_SKIPPED;
				r->held = true;
				e->again = true; /* its dependants are skipped too */
				continue;
			}
			start(e, (int)i);
		}
	} while (e->again);
	e->scheduling = false;
	if (e->running == 0 && !e->finished) {
		/* The slots are held by other executors of this account and region: look again
		 * shortly instead of ending with work undone. A pending timer holds the executor
		 * (it calls back into it), so nothing ends before it fired. */
		if (waiting_for_slot && !e->slot_timer &&
		    !e->port->after(e->port->ctx, SLOT_RECHECK_S, on_slot_timer, e))
			e->slot_timer = true;
		if (e->slot_timer)
			return;
		struct exec_report rep = {0};
		for (size_t i = 0; i < e->plan->actions.n; i++) {
			enum action_status st = e->results[i].status;
			if (st == ACTION_PENDING) { /* cannot happen in a DAG; never hang on it */
				e->results[i].status = st = ACTION_SKIPPED;
				snprintf(e->results[i].detail, sizeof(e->results[i].detail),
					 "never became ready");
			}
			rep.done += st == ACTION_DONE;
			rep.failed += st == ACTION_FAILED;
			rep.skipped += st == ACTION_SKIPPED;
		}
		rep.mutating_calls = e->mutating_calls;
		rep.results = e->results;
		e->finished = true;
		e->done(e->ud, &rep);
	}
}

void executor_cancel(struct executor *e)
{
	if (!e || e->finished || e->cancelled)
		return;
	e->cancelled = true;
	schedule(e);
}

struct executor *executor_start(const struct ec2_port *port, const struct plan *plan,
				const struct exec_options *opt, exec_done_fn done, void *ud)
{
	struct executor *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->results = calloc(plan->actions.n + 1, sizeof(*e->results));
	if (!e->results) {
		free(e);
		return NULL;
	}
	e->port = port;
	e->plan = plan;
	e->opt = *opt;
	if (e->opt.max_concurrent_stops < 1)
		e->opt.max_concurrent_stops = 1;
	if (e->opt.poll_s <= 0)
		e->opt.poll_s = 1;
	if (e->opt.wait_timeout_s <= 0)
		e->opt.wait_timeout_s = 900;
	e->stops_running = opt->shared_stops ? opt->shared_stops : &e->own_stops;
	e->done = done;
	e->ud = ud;
	schedule(e);
	return e;
}

void executor_free(struct executor *e)
{
	if (!e)
		return;
	free(e->results);
	free(e);
}
