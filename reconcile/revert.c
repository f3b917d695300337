/* The undo planner: what dualstackd added to one VPC, found by its marks or its audit records
 * (revert.h), removed in phases. Pure: no clock, no network. */
#include "revert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan_internal.h"

enum { PHASE_ITEMS, PHASE_CONTAINERS, PHASE_VPC_BLOCK, PHASE_MARKS };

struct revert_ctx {
	struct plan_ctx c; /* for plan_add_action and plan_add_finding */
	const struct revert_input *in;
	bool incomplete; /* something of ours stays (a finding says why): every mark stays too */
};

static bool step_on(const struct revert_ctx *r, int step)
{
	return (r->in->steps >> step) & 1u;
}

static bool marked(const struct tag_vec *tags)
{
	return tag_get(tags, TAG_MANAGED) != NULL;
}

/* Marked, or written by dualstackd per its audit records. */
static bool ours(const struct revert_ctx *r, const struct tag_vec *tags, enum audit_kind kind,
		 const char *id)
{
	return marked(tags) || audit_has(r->in->audit, kind, id);
}

static int add(struct revert_ctx *r, enum action_kind kind, int step, int phase,
	       const char *resource, const char *why)
{
	int a = plan_add_action(&r->c, kind, step, resource, "%s", why);
	if (a >= 0)
		r->c.out->actions.v[a].phase = phase;
	return a;
}

static void left(struct revert_ctx *r, int step, const char *resource, const char *code,
		 const char *detail)
{
	plan_add_finding(&r->c, FIND_INFO, step, resource, code, "%s", detail);
}

/* ---- step 3: security group ranges with the mark ---- */

static void revert_permissions(struct revert_ctx *r, const struct security_group *g,
			       const struct sg_permission_vec *perms, bool egress)
{
	for (size_t i = 0; i < perms->n; i++) {
		const struct sg_permission *p = &perms->v[i];
		for (size_t k = 0; k < p->ipv6_ranges.n; k++) {
			const struct sg_range *range = &p->ipv6_ranges.v[k];
			if (!plan_sg_marked(range->description) &&
			    !audit_has_range(r->in->audit, g->group_id, egress, p->protocol,
					     p->has_ports, p->from_port, p->to_port, range->cidr)) {
				if (p->ipv4_ranges.n) {
					char d[320];
					snprintf(d, sizeof(d),
						 "not provably ours: left (%s %s %s has an IPv4 "
						 "twin but no %s mark or audit record)",
						 egress ? "egress" : "ingress", p->protocol,
						 range->cidr, SG_MARK);
					left(r, 3, g->group_id, "not-provably-ours", d);
				}
				continue;
			}
			int a = add(r, egress ? ACT_REVOKE_SG_EGRESS : ACT_REVOKE_SG_INGRESS, 3,
				    PHASE_ITEMS, g->group_id, "an IPv6 twin dualstackd wrote");
			if (a < 0)
				return;
			struct plan_action *act = &r->c.out->actions.v[a];
			snprintf(act->protocol, sizeof(act->protocol), "%.15s", p->protocol);
			act->has_ports = p->has_ports;
			act->from_port = p->from_port;
			act->to_port = p->to_port;
			act->egress = egress;
			act->cidr.kind = REF_LITERAL;
			snprintf(act->cidr.literal, sizeof(act->cidr.literal), "%s", range->cidr);
		}
	}
}

static void revert_security_groups(struct revert_ctx *r)
{
	const struct observed *o = r->in->obs;
	for (size_t i = 0; i < o->security_groups.n; i++) {
		const struct security_group *g = &o->security_groups.v[i];
		if (strcmp(g->vpc_id, r->in->vpc_id))
			continue;
		revert_permissions(r, g, &g->ingress, false);
		revert_permissions(r, g, &g->egress, true);
	}
}

/* ---- step 3: NACL twins on a marked NACL ---- */

/* Whether IPv6 entry e is a twin of an IPv4 entry of its direction, as step 3 writes them:
 * same action, protocol (ICMP -> ICMPv6) and ports, ::/0 exactly for 0.0.0.0/0. */
static bool nacl_twin(const struct network_acl *acl, const struct nacl_entry *e)
{
	bool any6 = !strcmp(e->ipv6_cidr_block, "::/0");
	for (size_t i = 0; i < acl->entries.n; i++) {
		const struct nacl_entry *v4 = &acl->entries.v[i];
		if (v4->egress != e->egress || !v4->cidr_block[0] || v4->rule_number == 32767)
			continue;
		bool proto = !strcmp(v4->protocol, e->protocol) ||
			     (!strcmp(v4->protocol, "1") && !strcmp(e->protocol, "58"));
		bool ports =
		    v4->has_ports == e->has_ports &&
		    (!e->has_ports || (v4->port_from == e->port_from && v4->port_to == e->port_to));
		if (proto && ports && !strcmp(v4->rule_action, e->rule_action) &&
		    any6 == !strcmp(v4->cidr_block, "0.0.0.0/0"))
			return true;
	}
	return false;
}

/* Whether the NACL's mark says entry e was there before dualstackd wrote any (the owner's). */
static bool kept_by_mark(const char *mark, const struct nacl_entry *e)
{
	size_t n = strlen(MARK_KEPT_PREFIX);
	if (strncmp(mark, MARK_KEPT_PREFIX, n))
		return false;
	char want[16];
	snprintf(want, sizeof(want), "%c%d", e->egress ? 'e' : 'i', e->rule_number);
	for (const char *p = mark + n; *p;) {
		size_t len = strcspn(p, " ");
		if (len == strlen(want) && !strncmp(p, want, len))
			return true;
		p += len + (p[len] == ' ');
	}
	return false;
}

static void revert_network_acls(struct revert_ctx *r)
{
	const struct observed *o = r->in->obs;
	for (size_t i = 0; i < o->network_acls.n; i++) {
		const struct network_acl *acl = &o->network_acls.v[i];
		if (strcmp(acl->vpc_id, r->in->vpc_id))
			continue;
		const char *mark = tag_get(&acl->tags, TAG_MANAGED);
		for (size_t k = 0; k < acl->entries.n; k++) {
			const struct nacl_entry *e = &acl->entries.v[k];
			/* 32768 is EC2's own '*' rule of IPv6 */
			if (!e->ipv6_cidr_block[0] || e->rule_number >= 32767)
				continue;
			bool recorded = audit_has_entry(r->in->audit, acl->network_acl_id,
							e->rule_number, e->egress);
			if (!recorded && !nacl_twin(acl, e))
				continue; /* the owner's: not a twin */
			if (!recorded && mark && kept_by_mark(mark, e))
				continue; /* the owner's: listed in the mark, there before it */
			const char *unproven =
			    recorded ? NULL
			    : !mark  ? "the NACL has no " TAG_MANAGED " mark or audit record"
			    : !strcmp(mark, MARK_KEPT_PREFIX "unknown")
				? "the NACL's mark could not list the entries there before it"
				: NULL;
			if (unproven) {
				char d[320];
				snprintf(
				    d, sizeof(d),
				    "not provably ours: left (%s rule %d %s %s is an IPv6 twin, "
				    "but %s)",
				    e->egress ? "egress" : "ingress", e->rule_number,
				    e->rule_action, e->ipv6_cidr_block, unproven);
				left(r, 3, acl->network_acl_id, "not-provably-ours", d);
				r->incomplete |=
				    mark != NULL; /* some of them may be ours: keep it */
				continue;
			}
			int a = add(r, ACT_DELETE_NACL_ENTRY, 3, PHASE_ITEMS, acl->network_acl_id,
				    "an IPv6 twin dualstackd wrote");
			if (a < 0)
				return;
			struct plan_action *act = &r->c.out->actions.v[a];
			act->rule_number = e->rule_number;
			act->egress = e->egress;
			act->cidr.kind = REF_LITERAL;
			snprintf(act->cidr.literal, sizeof(act->cidr.literal), "%s",
				 e->ipv6_cidr_block);
		}
	}
}

/* ---- step 2: ::/0 routes and egress-only gateways ---- */

static const struct gateway *find_gateway(const struct gateway *v, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].gateway_id, id))
			return &v[i];
	return NULL;
}

static bool attached_to(const struct gateway *g, const char *vpc_id)
{
	for (size_t i = 0; g && i < g->attachments.n; i++)
		if (!strcmp(g->attachments.v[i].vpc_id, vpc_id))
			return true;
	return false;
}

static bool our_eigw(const struct gateway *g)
{
	const char *by = g ? tag_get(&g->tags, TAG_CREATED_BY) : NULL;
	return by && !strcmp(by, "dualstackd");
}

/* Whether the ::/0 route r of table t is dualstackd's: on a marked table to the VPC's internet
 * gateway, to one of our egress-only gateways, or a blackhole whose gateway is gone; anywhere
 * to one of our egress-only gateways (the gateway's tag says it was made for such routes). */
static bool our_route(const struct revert_ctx *r, const struct route_table *t,
		      const struct route *rt)
{
	const struct observed *o = r->in->obs;
	if (audit_has(r->in->audit, AUDIT_ROUTE, t->route_table_id))
		return true; /* the one ::/0 of the table, written by dualstackd */
	if (rt->egress_only_igw_id[0]) {
		const struct gateway *g = find_gateway(
		    o->egress_only_gateways.v, o->egress_only_gateways.n, rt->egress_only_igw_id);
		return our_eigw(g) || (!g && marked(&t->tags));
	}
	if (!marked(&t->tags))
		return false;
	if (!strncmp(rt->gateway_id, "igw-", 4))
		return attached_to(find_gateway(o->internet_gateways.v, o->internet_gateways.n,
						rt->gateway_id),
				   r->in->vpc_id) ||
		       !strcmp(rt->state, "blackhole");
	return rt->transit_gateway_id[0] != '\0';
}

static void revert_routes(struct revert_ctx *r)
{
	const struct observed *o = r->in->obs;
	for (size_t i = 0; i < o->route_tables.n; i++) {
		const struct route_table *t = &o->route_tables.v[i];
		if (strcmp(t->vpc_id, r->in->vpc_id))
			continue;
		for (size_t k = 0; k < t->routes.n; k++) {
			const struct route *rt = &t->routes.v[k];
			if (strcmp(rt->dest_ipv6_cidr, "::/0"))
				continue;
			const char *target = rt->egress_only_igw_id[0]	 ? rt->egress_only_igw_id
					     : rt->gateway_id[0]	 ? rt->gateway_id
					     : rt->transit_gateway_id[0] ? rt->transit_gateway_id
									 : "another target";
			if (!our_route(r, t, rt)) {
				char d[320];
				snprintf(d, sizeof(d), "not provably ours: left (::/0 to %s)",
					 target);
				left(r, 2, t->route_table_id, "not-provably-ours", d);
				continue;
			}
			int a = add(r, ACT_DELETE_ROUTE_V6, 2, PHASE_ITEMS, t->route_table_id,
				    "a ::/0 dualstackd added");
			if (a < 0)
				return;
			snprintf(r->c.out->actions.v[a].target_id, DS_ID_LEN, "%s", target);
		}
	}
	/* our gateways go once no route of the VPC uses them (the routes above go first) */
	for (size_t i = 0; i < o->egress_only_gateways.n; i++) {
		const struct gateway *g = &o->egress_only_gateways.v[i];
		if (!our_eigw(g) || !attached_to(g, r->in->vpc_id))
			continue;
		int a = add(r, ACT_DELETE_EIGW, 2, PHASE_CONTAINERS, r->in->vpc_id,
			    "the egress-only gateway dualstackd created");
		if (a >= 0) {
			snprintf(r->c.out->actions.v[a].target_id, DS_ID_LEN, "%s", g->gateway_id);
			/* EC2 remembers the ClientToken it was made with (revert.h) */
			int t = add(r, ACT_TAG_VPC_REVERTED, 2, PHASE_MARKS, r->in->vpc_id,
				    "the next apply's gateway needs a new ClientToken");
			struct tm tm;
			if (t >= 0 && gmtime_r(&r->in->now, &tm))
				strftime(r->c.out->actions.v[t].description, DS_DESC_LEN,
					 "%Y%m%dT%H%M%SZ", &tm);
		}
	}
}

/* ---- step 5: the one address of a marked instance's eth0 ---- */

/* Addresses this plan unassigns in a subnet, and those it leaves. */
static void revert_addresses(struct revert_ctx *r)
{
	const struct observed *o = r->in->obs;
	for (size_t i = 0; i < o->instances.n; i++) {
		const struct instance *in = &o->instances.v[i];
		if (strcmp(in->vpc_id, r->in->vpc_id) || !strcmp(in->state, "terminated") ||
		    !strcmp(in->state, "shutting-down"))
			continue;
		const struct network_interface *eth0 = NULL;
		for (size_t k = 0; k < in->interfaces.n; k++)
			if (in->interfaces.v[k].device_index == 0)
				eth0 = &in->interfaces.v[k];
		if (!eth0 || !eth0->ipv6_addresses.n)
			continue;
		bool mine = ours(r, &in->tags, AUDIT_ADDRESS, eth0->network_interface_id);
		if (!mine || eth0->ipv6_addresses.n > 1) {
			char d[320];
			snprintf(d, sizeof(d),
				 "not provably ours: left (eth0 holds %zu IPv6 address%s%s)",
				 eth0->ipv6_addresses.n, eth0->ipv6_addresses.n > 1 ? "es" : "",
				 mine ? "; dualstackd assigned one of them"
				      : " and the instance has no mark or audit record");
			left(r, 5, in->instance_id, "not-provably-ours", d);
			r->incomplete |= mine;
			continue;
		}
		int a = add(r, ACT_UNASSIGN_IPV6_ADDRESS, 5, PHASE_ITEMS,
			    eth0->network_interface_id, "the address dualstackd assigned");
		if (a < 0)
			return;
		struct plan_action *act = &r->c.out->actions.v[a];
		snprintf(act->instance_id, sizeof(act->instance_id), "%s", in->instance_id);
		snprintf(act->target_id, sizeof(act->target_id), "%s",
			 eth0->ipv6_addresses.v[0].address);
	}
}

/* ---- step 4, when asked: back to the type before dualstackd ---- */

static int unassign_action(const struct revert_ctx *r, const char *instance_id)
{
	for (size_t a = 0; a < r->c.out->actions.n; a++)
		if (r->c.out->actions.v[a].kind == ACT_UNASSIGN_IPV6_ADDRESS &&
		    !strcmp(r->c.out->actions.v[a].instance_id, instance_id))
			return (int)a;
	return -1;
}

/* Every revert settles an interrupted resize (an instance is never left stopped); with
 * --resize-back, resized instances go back to their type before dualstackd. */
static void revert_resizes(struct revert_ctx *r)
{
	const struct observed *o = r->in->obs;
	bool asked = step_on(r, 4);
	for (size_t i = 0; i < o->instances.n; i++) {
		const struct instance *in = &o->instances.v[i];
		const char *back = tag_get(&in->tags, TAG_RESIZED_FROM);
		bool under_way = tag_get(&in->tags, TAG_RESIZE_FROM) != NULL;
		if (strcmp(in->vpc_id, r->in->vpc_id) || !strcmp(in->state, "terminated") ||
		    !(under_way || (asked && back)))
			continue;
		/* the old type has no IPv6: the instance's addresses go first (this plan's) */
		size_t held = 0;
		for (size_t k = 0; k < in->interfaces.n; k++)
			held += in->interfaces.v[k].ipv6_addresses.n;
		int unassign = unassign_action(r, in->instance_id);
		if (!under_way && held > (unassign >= 0) && strcmp(back, in->instance_type)) {
			plan_add_finding(&r->c, FIND_BLOCKED, 4, in->instance_id,
					 "resize-back-held",
					 "%s -> %s needs the instance without IPv6 addresses; %zu "
					 "stay%s",
					 in->instance_type, back, held - (unassign >= 0),
					 step_on(r, 5) ? "" : " (revert step 5 too)");
			plan_set_fix(&r->c,
				     "remove the instance's IPv6 addresses, then revert again");
			continue;
		}
		int a = plan_resize_revert(&r->c, in, asked);
		if (a >= 0 && r->c.out->actions.v[a].resize_back)
			plan_add_dep(&r->c, a, unassign);
	}
}

static bool observed_instance(const struct observed *o, const char *instance_id)
{
	for (size_t i = 0; instance_id[0] && i < o->instances.n; i++)
		if (!strcmp(o->instances.v[i].instance_id, instance_id))
			return true;
	return false;
}

/* IPv6 addresses that stay in a subnet after this plan: the instances' (less those this plan
 * unassigns) and those of every other interface there - a load balancer, an endpoint, Lambda -
 * which revert never touches and EC2 will not take the /64 from. holder names the first
 * interface that is no instance's. */
static size_t addresses_left(const struct revert_ctx *r, const char *subnet_id, char *holder,
			     size_t holder_size)
{
	const struct observed *o = r->in->obs;
	size_t n = 0;
	for (size_t i = 0; i < o->instances.n; i++) {
		const struct instance *in = &o->instances.v[i];
		for (size_t k = 0; k < in->interfaces.n; k++) {
			const struct network_interface *ni = &in->interfaces.v[k];
			if (strcmp(ni->subnet_id, subnet_id) &&
			    (ni->subnet_id[0] || strcmp(in->subnet_id, subnet_id)))
				continue;
			size_t gone = 0;
			for (size_t a = 0; a < r->c.out->actions.n; a++) {
				const struct plan_action *act = &r->c.out->actions.v[a];
				gone += act->kind == ACT_UNASSIGN_IPV6_ADDRESS &&
					!strcmp(act->resource_id, ni->network_interface_id);
			}
			n += ni->ipv6_addresses.n > gone ? ni->ipv6_addresses.n - gone : 0;
		}
	}
	holder[0] = '\0';
	for (size_t i = 0; i < o->interfaces.n; i++) {
		const struct vpc_interface *ni = &o->interfaces.v[i];
		if (strcmp(ni->subnet_id, subnet_id) || !ni->ipv6_addresses.n ||
		    observed_instance(o, ni->instance_id))
			continue; /* elsewhere, none, or counted with its instance above */
		if (!holder[0])
			snprintf(holder, holder_size, "%s (%s%s%s%s)", ni->network_interface_id,
				 ni->interface_type[0] ? ni->interface_type : "interface",
				 ni->description[0] ? ": " : "", ni->description,
				 ni->requester_managed ? ", managed by an AWS service" : "");
		n += ni->ipv6_addresses.n;
	}
	return n;
}

/* ---- step 1: the subnets' /64s and their attribute, then the VPC's /56 ---- */

static const struct cidr_assoc *live_assoc(const struct cidr_assoc_vec *v, int *n_live)
{
	const struct cidr_assoc *first = NULL;
	*n_live = 0;
	for (size_t i = 0; i < v->n; i++)
		if (plan_live_assoc(&v->v[i])) {
			(*n_live)++;
			if (!first)
				first = &v->v[i];
		}
	return first;
}

/* A /64 of ours that cannot go yet: BLOCKED with why and the fix, and the marks stay for the
 * next revert. Returns 1 (a subnet that keeps a /64). */
static int keep_64(struct revert_ctx *r, const char *subnet_id, const char *detail, const char *fix)
{
	plan_add_finding(&r->c, FIND_BLOCKED, 1, subnet_id, "ipv6-block-in-use", "%s", detail);
	plan_set_fix(&r->c, "%s", fix);
	r->incomplete = true;
	return 1;
}

/* Returns how many subnets keep a /64 (ours that cannot go yet, and the owner's). */
static int revert_subnets(struct revert_ctx *r)
{
	const struct observed *o = r->in->obs;
	int kept = 0;
	for (size_t i = 0; i < o->subnets.n; i++) {
		const struct subnet *s = &o->subnets.v[i];
		if (strcmp(s->vpc_id, r->in->vpc_id))
			continue;
		int n_live = 0;
		const struct cidr_assoc *b = live_assoc(&s->ipv6_assocs, &n_live);
		bool mine = ours(r, &s->tags, AUDIT_SUBNET_BLOCK, s->subnet_id);
		if (!mine) {
			kept += b != NULL;
			if (b)
				left(r, 1, s->subnet_id, "not-provably-ours",
				     "not provably ours: left (an IPv6 /64 on a subnet without "
				     "dualstackd's mark or audit record)");
			continue;
		}
		bool attr_ours = ours(r, &s->tags, AUDIT_SUBNET_ATTR, s->subnet_id);
		if (s->assign_ipv6_on_creation && attr_ours)
			add(r, ACT_UNSET_SUBNET_ASSIGN_IPV6, 1, PHASE_ITEMS, s->subnet_id,
			    "dualstackd turned it on with the /64");
		if (!b)
			continue;
		if (s->assign_ipv6_on_creation && !attr_ours) {
			/* EC2 keeps a /64 while its subnet assigns IPv6 on creation
			 * (InvalidCidrBlock.InUse), and the setting is the owner's */
			char d[160];
			snprintf(d, sizeof(d),
				 "the /64 %s stays: AssignIpv6AddressOnCreation is on, and "
				 "dualstackd did not turn it on",
				 b->cidr);
			kept += keep_64(r, s->subnet_id, d,
					"turn the subnet's AssignIpv6AddressOnCreation off, then "
					"revert again");
			continue;
		}
		char holder[DS_ID_LEN + DS_STATE_LEN + DS_DESC_LEN + 48];
		size_t users = addresses_left(r, s->subnet_id, holder, sizeof(holder));
		if (users) {
			char d[640];
			snprintf(d, sizeof(d),
				 "the /64 %s stays: %zu IPv6 address%s in the subnet %s not "
				 "dualstackd's to remove%s%s",
				 b->cidr, users, users > 1 ? "es" : "", users > 1 ? "are" : "is",
				 !holder[0]  ? ""
				 : users > 1 ? "; one is on "
					     : "; it is on ",
				 holder);
			kept += keep_64(r, s->subnet_id, d,
					"unassign those addresses (or delete what holds them: an "
					"endpoint, a load balancer), then revert again");
			continue;
		}
		int a = add(r, ACT_DISASSOCIATE_SUBNET_IPV6, 1, PHASE_CONTAINERS, s->subnet_id,
			    "the /64 dualstackd associated");
		if (a < 0)
			return kept;
		struct plan_action *act = &r->c.out->actions.v[a];
		snprintf(act->target_id, sizeof(act->target_id), "%s", b->association_id);
		act->cidr.kind = REF_LITERAL;
		snprintf(act->cidr.literal, sizeof(act->cidr.literal), "%s", b->cidr);
	}
	return kept;
}

static void revert_vpc_block(struct revert_ctx *r, const struct vpc *v, int subnets_kept)
{
	int n_live = 0;
	const struct cidr_assoc *b = live_assoc(&v->ipv6_assocs, &n_live);
	if (!b)
		return;
	if (!ours(r, &v->tags, AUDIT_VPC_BLOCK, v->vpc_id)) {
		left(r, 1, v->vpc_id, "not-provably-ours",
		     "not provably ours: left (an IPv6 block on a VPC without dualstackd's mark or "
		     "audit record)");
		return;
	}
	if (n_live > 1 || (b->ipv6_pool[0] && strcmp(b->ipv6_pool, "Amazon"))) {
		/* dualstackd associates one Amazon block on a VPC that had none */
		left(r, 1, v->vpc_id, "not-provably-ours",
		     "not provably ours: left (more than one IPv6 block, or one from a pool)");
		r->incomplete = true;
		return;
	}
	if (subnets_kept) {
		plan_add_finding(&r->c, FIND_BLOCKED, 1, v->vpc_id, "ipv6-block-in-use",
				 "the block %s stays: %d subnet%s a /64 of it", b->cidr,
				 subnets_kept, subnets_kept > 1 ? "s keep" : " keeps");
		plan_set_fix(&r->c, "remove those subnets' /64s, then revert again");
		r->incomplete = true;
		return;
	}
	int a = add(r, ACT_DISASSOCIATE_VPC_IPV6, 1, PHASE_VPC_BLOCK, v->vpc_id,
		    "the /56 dualstackd associated");
	if (a < 0)
		return;
	struct plan_action *act = &r->c.out->actions.v[a];
	snprintf(act->target_id, sizeof(act->target_id), "%s", b->association_id);
	act->cidr.kind = REF_LITERAL;
	snprintf(act->cidr.literal, sizeof(act->cidr.literal), "%s", b->cidr);
}

/* ---- the marks come off last ---- */

static void unmark(struct revert_ctx *r, int step, const char *id, const struct tag_vec *tags)
{
	if (!step_on(r, step) || !(marked(tags) || tag_get(tags, TAG_CONVERGED_AT)))
		return;
	add(r, ACT_UNTAG_MANAGED, step, PHASE_MARKS, id, "nothing of dualstackd's is left on it");
}

static void revert_marks(struct revert_ctx *r, const struct vpc *v)
{
	const struct observed *o = r->in->obs;
	/* a resource whose removal was held back keeps its mark (a finding names it) */
	for (size_t i = 0; i < r->c.out->findings.n; i++)
		if (r->c.out->findings.v[i].severity == FIND_BLOCKED)
			r->incomplete = true;
	if (r->incomplete)
		return;
	if ((r->in->steps & REVERT_ALL_STEPS) == REVERT_ALL_STEPS)
		unmark(r, 1, v->vpc_id, &v->tags);
	for (size_t i = 0; i < o->subnets.n; i++)
		if (!strcmp(o->subnets.v[i].vpc_id, v->vpc_id))
			unmark(r, 1, o->subnets.v[i].subnet_id, &o->subnets.v[i].tags);
	for (size_t i = 0; i < o->route_tables.n; i++)
		if (!strcmp(o->route_tables.v[i].vpc_id, v->vpc_id))
			unmark(r, 2, o->route_tables.v[i].route_table_id,
			       &o->route_tables.v[i].tags);
	for (size_t i = 0; i < o->network_acls.n; i++)
		if (!strcmp(o->network_acls.v[i].vpc_id, v->vpc_id))
			unmark(r, 3, o->network_acls.v[i].network_acl_id,
			       &o->network_acls.v[i].tags);
	for (size_t i = 0; i < o->instances.n; i++)
		if (!strcmp(o->instances.v[i].vpc_id, v->vpc_id))
			unmark(r, 5, o->instances.v[i].instance_id, &o->instances.v[i].tags);
}

/* Which actions ride in one request: the marks come off in one DeleteTags. */
static void share_untags(struct plan *p)
{
	int first = -1, items = 0;
	for (size_t i = 0; i < p->actions.n; i++) {
		struct plan_action *a = &p->actions.v[i];
		if (a->kind != ACT_UNTAG_MANAGED)
			continue;
		if (first < 0 || items >= 500) {
			first = (int)i;
			items = 1;
			continue;
		}
		a->rides_with = first;
		a->calls = 0;
		items++;
	}
}

int revert_build(const struct revert_input *in, struct plan *out)
{
	struct revert_ctx r;
	struct plan_input pin = {in->policy, in->obs, in->vpc_id, in->now};
	memset(&r, 0, sizeof(r));
	r.in = in;
	r.c.in = &pin; /* step 4's rules read the time from it */
	r.c.pol = in->policy;
	r.c.obs = in->obs;
	r.c.out = out;
	r.c.vpc_assoc_action = -1;
	r.c.eigw_action = -1;
	snprintf(out->vpc_id, sizeof(out->vpc_id), "%s", in->vpc_id);
	for (size_t i = 0; i < in->obs->vpcs.n; i++)
		if (!strcmp(in->obs->vpcs.v[i].vpc_id, in->vpc_id))
			r.c.vpc = &in->obs->vpcs.v[i];
	if (!r.c.vpc)
		return DS_ENOTFOUND;
	if (policy_vpc_in_scope(in->policy, r.c.vpc)) {
		plan_add_finding(
		    &r.c, FIND_WARNING, 0, in->vpc_id, "revert-in-scope",
		    "the VPC is in the policy's scope: a running daemon puts back what "
		    "revert removes");
		plan_set_fix(&r.c,
			     "opt the VPC out (the policy's exclude tag, e.g. "
			     "dualstack:opt-out=true) or take it out of the scope, then revert");
	}
	if (step_on(&r, 3)) {
		revert_security_groups(&r);
		revert_network_acls(&r);
	}
	if (step_on(&r, 2))
		revert_routes(&r);
	if (step_on(&r, 5))
		revert_addresses(&r);
	revert_resizes(&r);
	if (step_on(&r, 1))
		revert_vpc_block(&r, r.c.vpc, revert_subnets(&r));
	revert_marks(&r, r.c.vpc);
	share_untags(out);
	return r.c.rc;
}
