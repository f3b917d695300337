/* Step 2: for each route table an in-scope subnet uses, mirror the IPv4 default route:
 * internet gateway -> ::/0 to the same gateway; NAT gateway or NAT instance/ENI -> ::/0 to the
 * VPC's one egress-only gateway (NAT does not carry IPv6); transit gateway -> the same TGW.
 * Isolated tables, VGW and peering defaults get nothing; an existing ::/0 elsewhere is left. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan_internal.h"
#include "revert.h"

/* A ::/0 whose target is gone (state blackhole). */
static const struct route *blackhole_v6(const struct route_table *t)
{
	for (size_t i = 0; i < t->routes.n; i++)
		if (!strcmp(t->routes.v[i].dest_ipv6_cidr, "::/0") &&
		    !strcmp(t->routes.v[i].state, "blackhole"))
			return &t->routes.v[i];
	return NULL;
}

static const struct route *default_route(const struct route_table *t, bool v6)
{
	for (size_t i = 0; i < t->routes.n; i++) {
		const struct route *r = &t->routes.v[i];
		const char *dest = v6 ? r->dest_ipv6_cidr : r->dest_cidr;
		/* a blackhole default counts as absent */
		if (strcmp(dest, v6 ? "::/0" : "0.0.0.0/0") == 0 &&
		    strcmp(r->state, "blackhole") != 0)
			return r;
	}
	return NULL;
}

static const struct route_table *table_of(const struct plan_ctx *c, const char *subnet_id)
{
	const struct route_table *main_table = NULL;
	for (size_t i = 0; i < c->obs->route_tables.n; i++) {
		const struct route_table *t = &c->obs->route_tables.v[i];
		if (strcmp(t->vpc_id, c->vpc->vpc_id) != 0)
			continue;
		for (size_t k = 0; k < t->assocs.n; k++) {
			if (strcmp(t->assocs.v[k].subnet_id, subnet_id) == 0)
				return t;
			if (t->assocs.v[k].main)
				main_table = t;
		}
	}
	return main_table;
}

/* The VPC's attached egress-only gateway, preferring one dualstackd created; several are
 * reported (a VPC needs one). */
static void find_eigw(struct plan_ctx *c)
{
	const struct gateway *best = NULL;
	char ids[256] = "";
	int n = 0;
	for (size_t i = 0; i < c->obs->egress_only_gateways.n; i++) {
		const struct gateway *g = &c->obs->egress_only_gateways.v[i];
		for (size_t a = 0; a < g->attachments.n; a++) {
			if (strcmp(g->attachments.v[a].vpc_id, c->vpc->vpc_id) != 0 ||
			    strcmp(g->attachments.v[a].state, "detached") == 0)
				continue;
			n++;
			size_t l = strlen(ids);
			snprintf(ids + l, sizeof(ids) - l, "%s%s", l ? ", " : "", g->gateway_id);
			if (!best ||
			    (tag_get(&g->tags, TAG_CREATED_BY) &&
			     !tag_get(&best->tags, TAG_CREATED_BY)) ||
			    (!!tag_get(&g->tags, TAG_CREATED_BY) ==
				 !!tag_get(&best->tags, TAG_CREATED_BY) &&
			     strcmp(g->gateway_id, best->gateway_id) < 0))
				best = g;
		}
	}
	if (best)
		snprintf(c->eigw_id, sizeof(c->eigw_id), "%s", best->gateway_id);
	if (n > 1)
		plan_add_finding(c, FIND_WARNING, 2, c->vpc->vpc_id, "several-egress-only-gateways",
				 "%d egress-only gateways are attached (%s); IPv6 routes use %s%s",
				 n, ids, best->gateway_id,
				 tag_get(&best->tags, TAG_CREATED_BY) ? ", the one dualstackd made"
								      : "");
}

static int cmp_table_ptr(const void *a, const void *b)
{
	const struct route_table *const *x = a, *const *y = b;
	return strcmp((*x)->route_table_id, (*y)->route_table_id);
}

static void plan_table(struct plan_ctx *c, const struct route_table *t)
{
	const char *id = t->route_table_id;
	if (policy_opted_out(c->pol, &t->tags)) {
		plan_add_finding(c, FIND_INFO, 2, id, "opted-out", "opted out: routes unchanged");
		return;
	}
	const struct route *v4 = default_route(t, false);
	const struct route *v6 = default_route(t, true);
	const struct route *dead = v6 ? NULL : blackhole_v6(t);
	enum target_kind want = TARGET_NONE;
	const char *want_id = "";
	const char *why = "";
	if (!v4) { /* isolated: no IPv6 default route either */
		if (dead)
			plan_add_finding(c, FIND_WARNING, 2, id, "ipv6-default-route-blackhole",
					 "::/0 is a blackhole (its target is gone) and there is no "
					 "IPv4 default route to tell its replacement: left");
		return;
	}
	if (strncmp(v4->gateway_id, "igw-", 4) == 0) {
		want = TARGET_GATEWAY;
		want_id = v4->gateway_id;
		why = "IPv4 default route goes to the internet gateway";
	} else if (v4->nat_gateway_id[0] || v4->instance_id[0] || v4->network_interface_id[0]) {
		want = c->eigw_id[0] ? TARGET_EIGW : TARGET_NEW_EIGW;
		want_id = c->eigw_id;
		why = v4->nat_gateway_id[0]
			  ? "IPv4 default route goes to a NAT gateway; NAT does not "
			    "carry IPv6"
			  : "IPv4 default route goes to a NAT instance; NAT does not "
			    "carry IPv6";
	} else if (v4->transit_gateway_id[0]) {
		want = TARGET_TGW;
		want_id = v4->transit_gateway_id;
		why = "IPv4 default route goes to the transit gateway";
	} else {
		plan_add_finding(c, FIND_INFO, 2, id, "default-route-not-mirrored",
				 "IPv4 default route via %s gets no IPv6 twin",
				 v4->gateway_id[0] ? v4->gateway_id : v4->peering_id);
		return;
	}
	if (v6) {
		const char *have = v6->egress_only_igw_id[0]   ? v6->egress_only_igw_id
				   : v6->transit_gateway_id[0] ? v6->transit_gateway_id
							       : v6->gateway_id;
		bool same = (want == TARGET_NEW_EIGW && strncmp(have, "eigw-", 5) == 0) ||
			    strcmp(have, want_id) == 0;
		if (!same)
			plan_add_finding(c, FIND_WARNING, 2, id, "ipv6-default-route-other-target",
					 "::/0 goes to %s, not %s: left as the operator's choice",
					 have[0] ? have : "another target",
					 want_id[0] ? want_id : "an egress-only gateway");
		return;
	}
	if (want == TARGET_NEW_EIGW && c->eigw_action < 0) {
		c->eigw_action = plan_add_action(c, ACT_CREATE_EIGW, 2, c->vpc->vpc_id,
						 "private subnets route through NAT; IPv6 needs an "
						 "egress-only internet gateway");
		/* after a revert deleted the first one, EC2 would answer its ClientToken with
		 * that (deleted) gateway: the token then carries when the revert was */
		const char *rev = tag_get(&c->vpc->tags, TAG_REVERTED_AT);
		if (c->eigw_action >= 0 && rev) { /* a tag value: only its letters and digits */
			char *d = c->out->actions.v[c->eigw_action].description;
			for (size_t k = 0, n = 0; rev[k] && n < 24; k++)
				if (isalnum((unsigned char)rev[k]))
					d[n++] = rev[k], d[n] = '\0';
		}
	}
	int mark = plan_mark(c, 2, id, &t->tags, NULL);
	/* a blackhole ::/0 is replaced, not created again: EC2 would answer "already exists" */
	int a = plan_add_action(c, dead ? ACT_REPLACE_ROUTE_V6 : ACT_CREATE_ROUTE_V6, 2, id, "%s%s",
				why, dead ? " (::/0 is a blackhole: its target is gone)" : "");
	if (a < 0)
		return;
	struct plan_action *act = &c->out->actions.v[a];
	act->target_kind = want;
	snprintf(act->target_id, sizeof(act->target_id), "%s", want_id);
	act->cidr.kind = REF_LITERAL;
	snprintf(act->cidr.literal, sizeof(act->cidr.literal), "::/0");
	if (want == TARGET_NEW_EIGW)
		plan_add_dep(c, a, c->eigw_action);
	/* IPv6 routes need the VPC's IPv6 block */
	plan_add_dep(c, a, c->vpc_assoc_action);
	plan_add_dep(c, a, mark);
}

void plan_step_routes(struct plan_ctx *c)
{
	find_eigw(c);
	const struct route_table **tables = calloc(c->n_subnets + 1, sizeof(*tables));
	size_t n = 0;
	if (!tables) {
		c->rc = DS_ENOMEM;
		return;
	}
	for (size_t i = 0; i < c->n_subnets; i++) {
		if (!c->subnets[i].in_scope)
			continue;
		const struct route_table *t = table_of(c, c->subnets[i].s->subnet_id);
		bool seen = false;
		for (size_t k = 0; k < n; k++)
			seen |= tables[k] == t;
		if (t && !seen)
			tables[n++] = t;
	}
	qsort(tables, n, sizeof(*tables), cmp_table_ptr);
	for (size_t i = 0; i < n; i++)
		plan_table(c, tables[i]);
	free(tables);
}
