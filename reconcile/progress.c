#include "progress.h"

#include <string.h>

#include "guest.h"
#include "plan_internal.h"

static const struct {
	const char *name, *label;
} steps[PS_COUNT] = {
    [PS_VPC_BLOCKS] = {"vpc_blocks", "VPCs with an IPv6 block"},
    [PS_SUBNETS] = {"subnets", "subnets with a /64"},
    [PS_ROUTE_TABLES] = {"route_tables", "route tables with their IPv6 default route"},
    [PS_SECURITY_GROUPS] = {"security_groups", "security groups mirrored"},
    [PS_NETWORK_ACLS] = {"network_acls", "network ACLs mirrored"},
    [PS_INSTANCE_TYPES] = {"instance_types", "instances of a type with IPv6 (resizes)"},
    [PS_ADDRESSES] = {"addresses", "instances with an IPv6 address"},
    [PS_GUESTS] = {"guests", "guests configured for DHCPv6"},
};

const char *progress_step_name(enum progress_step s)
{
	return (unsigned)s < PS_COUNT ? steps[s].name : "?";
}

const char *progress_step_label(enum progress_step s)
{
	return (unsigned)s < PS_COUNT ? steps[s].label : "?";
}

/* Whether the plan has an action of one of kinds for resource id (the instance, for
 * actions on an instance's interface). */
static bool planned(const struct plan *p, const char *id, const enum action_kind *kinds, int n)
{
	for (size_t i = 0; i < p->actions.n; i++) {
		const struct plan_action *a = &p->actions.v[i];
		for (int k = 0; k < n; k++)
			if (a->kind == kinds[k] &&
			    (!strcmp(a->resource_id, id) || !strcmp(a->instance_id, id)))
				return true;
	}
	return false;
}

/* Whether a finding of the step on id leaves the step short (blocked, or a warning). */
static bool found(const struct plan *p, const char *id, int step)
{
	for (size_t i = 0; i < p->findings.n; i++) {
		const struct plan_finding *f = &p->findings.v[i];
		if (f->step == step && f->severity != FIND_INFO && !strcmp(f->resource_id, id))
			return true;
	}
	return false;
}

static void count(struct progress_count *c, const struct plan *p, const char *id, int step,
		  const enum action_kind *kinds, int n)
{
	c->total++;
	if (planned(p, id, kinds, n))
		c->pending++;
	else if (found(p, id, step))
		c->blocked++;
	else
		c->done++;
}

static bool subnet_in_scope(const struct observed *o, const struct policy *pol, const char *id)
{
	for (size_t i = 0; i < o->subnets.n; i++)
		if (!strcmp(o->subnets.v[i].subnet_id, id))
			return !policy_opted_out(pol, &o->subnets.v[i].tags);
	return false;
}

void plan_progress(const struct observed *obs, const struct policy *pol, const char *vpc_id,
		   const struct plan *plan, struct vpc_progress *out)
{
	memset(out, 0, sizeof(*out));
	static const enum action_kind vpc_k[] = {ACT_ASSOCIATE_VPC_IPV6};
	static const enum action_kind subnet_k[] = {ACT_ASSOCIATE_SUBNET_IPV6};
	static const enum action_kind route_k[] = {ACT_CREATE_ROUTE_V6, ACT_REPLACE_ROUTE_V6};
	static const enum action_kind sg_k[] = {ACT_AUTHORIZE_SG_INGRESS, ACT_AUTHORIZE_SG_EGRESS};
	static const enum action_kind acl_k[] = {ACT_CREATE_NACL_ENTRY};
	static const enum action_kind type_k[] = {ACT_RESIZE_INSTANCE};
	static const enum action_kind addr_k[] = {ACT_ASSIGN_IPV6_ADDRESS};
	static const enum action_kind guest_k[] = {ACT_GUEST_DHCPV6};

	count(&out->step[PS_VPC_BLOCKS], plan, vpc_id, 1, vpc_k, 1);
	/* a VPC-wide blocker of step 1 (block pending, unsupported size) holds its subnets */
	bool vpc_blocked = found(plan, vpc_id, 1);
	for (size_t i = 0; i < obs->subnets.n; i++) {
		const struct subnet *s = &obs->subnets.v[i];
		if (strcmp(s->vpc_id, vpc_id) || policy_opted_out(pol, &s->tags))
			continue;
		struct progress_count *c = &out->step[PS_SUBNETS];
		if (vpc_blocked && !planned(plan, s->subnet_id, subnet_k, 1)) {
			bool has = false;
			for (size_t k = 0; k < s->ipv6_assocs.n; k++)
				has |= plan_live_assoc(&s->ipv6_assocs.v[k]);
			c->total++;
			if (has)
				c->done++;
			else
				c->blocked++;
			continue;
		}
		count(c, plan, s->subnet_id, 1, subnet_k, 1);
	}
	for (size_t i = 0; i < obs->route_tables.n; i++) {
		const struct route_table *t = &obs->route_tables.v[i];
		if (!strcmp(t->vpc_id, vpc_id) && !policy_opted_out(pol, &t->tags))
			count(&out->step[PS_ROUTE_TABLES], plan, t->route_table_id, 2, route_k, 2);
	}
	for (size_t i = 0; i < obs->security_groups.n; i++) {
		const struct security_group *g = &obs->security_groups.v[i];
		if (!strcmp(g->vpc_id, vpc_id) && !policy_opted_out(pol, &g->tags))
			count(&out->step[PS_SECURITY_GROUPS], plan, g->group_id, 3, sg_k, 2);
	}
	for (size_t i = 0; i < obs->network_acls.n; i++) {
		const struct network_acl *a = &obs->network_acls.v[i];
		if (!strcmp(a->vpc_id, vpc_id) && !policy_opted_out(pol, &a->tags))
			count(&out->step[PS_NETWORK_ACLS], plan, a->network_acl_id, 3, acl_k, 1);
	}
	for (size_t i = 0; i < obs->instances.n; i++) {
		const struct instance *in = &obs->instances.v[i];
		if (strcmp(in->vpc_id, vpc_id) || policy_opted_out(pol, &in->tags) ||
		    !subnet_in_scope(obs, pol, in->subnet_id) ||
		    (strcmp(in->state, "running") && strcmp(in->state, "stopped")))
			continue;
		count(&out->step[PS_INSTANCE_TYPES], plan, in->instance_id, 4, type_k, 1);
		struct progress_count *a = &out->step[PS_ADDRESSES];
		bool has = false;
		for (size_t k = 0; k < in->interfaces.n; k++)
			if (in->interfaces.v[k].device_index == 0)
				has = in->interfaces.v[k].ipv6_addresses.n > 0;
		a->total++;
		if (has)
			a->done++;
		else if (planned(plan, in->instance_id, addr_k, 1))
			a->pending++;
		else
			a->blocked++; /* its type, its subnet or a finding holds it */
		if (pol->guest_config == GUEST_SSM)
			count(&out->step[PS_GUESTS], plan, in->instance_id, 6, guest_k, 1);
	}
}
