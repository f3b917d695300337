/* Step 1: one Amazon-provided /56 on the VPC, one /64 per in-scope subnet carved from it at a
 * deterministic index, and AssignIpv6AddressOnCreation on the subnets dualstackd numbered. */
#include <stdio.h>
#include <string.h>

#include "plan_internal.h"

/* The VPC's live /56: its text, or "" while EC2 has not told it yet (associating). */
static const struct cidr_assoc *vpc_live_block(const struct vpc *v, int *n_live)
{
	const struct cidr_assoc *first = NULL;
	*n_live = 0;
	for (size_t i = 0; i < v->ipv6_assocs.n; i++) {
		if (!plan_live_assoc(&v->ipv6_assocs.v[i]))
			continue;
		(*n_live)++;
		/* prefer an associated block when there are several */
		if (!first || (strcmp(first->state, "associated") != 0 &&
			       strcmp(v->ipv6_assocs.v[i].state, "associated") == 0))
			first = &v->ipv6_assocs.v[i];
	}
	return first;
}

static const struct cidr_assoc *subnet_live_block(const struct subnet *s)
{
	for (size_t i = 0; i < s->ipv6_assocs.n; i++)
		if (plan_live_assoc(&s->ipv6_assocs.v[i]))
			return &s->ipv6_assocs.v[i];
	return NULL;
}

static int lowest_free(const bool used[256])
{
	for (int i = 0; i < 256; i++)
		if (!used[i])
			return i;
	return -1;
}

static void give_subnet_block(struct plan_ctx *c, struct subnet_state *st, int index,
			      const struct cidr *block56, const char *how)
{
	const struct subnet *s = st->s;
	int tag = -1;
	if (c->pol->assign_ipv6_on_create) {
		/* The marker comes first: after a crash between the /64 and the attribute, it is
		 * what tells the next run that dualstackd numbered this subnet. */
		tag = plan_add_action(c, ACT_TAG_SUBNET_MANAGED, 1, s->subnet_id,
				      "marks the subnet as numbered by dualstackd");
	}
	int a =
	    plan_add_action(c, ACT_ASSOCIATE_SUBNET_IPV6, 1, s->subnet_id,
			    "subnet %s has no IPv6 /64; index %d (%s)", s->cidr_block, index, how);
	if (a < 0)
		return;
	struct plan_action *act = &c->out->actions.v[a];
	if (block56) {
		struct cidr sub;
		cidr_subnet64(block56, index, &sub);
		act->cidr.kind = REF_LITERAL;
		cidr_format(&sub, act->cidr.literal);
	} else {
		act->cidr.kind = REF_SUBNET_BLOCK;
		act->cidr.index = index;
	}
	plan_add_dep(c, a, c->vpc_assoc_action);
	plan_add_dep(c, a, tag);
	st->has_v6 = true;
	st->block = act->cidr;
	st->assoc_action = a;
	if (c->pol->assign_ipv6_on_create && !s->assign_ipv6_on_creation) {
		int m = plan_add_action(c, ACT_SET_SUBNET_ASSIGN_IPV6, 1, s->subnet_id,
					"new instances in the subnet get an IPv6 address");
		plan_add_dep(c, m, a);
	}
}

void plan_step_cidrs(struct plan_ctx *c)
{
	const struct vpc *v = c->vpc;
	int n_live = 0;
	const struct cidr_assoc *live = vpc_live_block(v, &n_live);
	struct cidr block56;
	bool block_known = false;

	if (live) {
		c->vpc_has_block = true;
		if (live->cidr[0] && !cidr_parse(live->cidr, &block56) && block56.family == 6 &&
		    block56.len == 56) {
			block_known = true;
			c->vpc_block.kind = REF_LITERAL;
			cidr_format(&block56, c->vpc_block.literal);
		} else {
			/* an association still in progress: its CIDR comes later */
			c->vpc_block.kind = REF_VPC_BLOCK;
		}
		if (strcmp(live->state, "associated") != 0)
			plan_add_finding(c, FIND_INFO, 1, v->vpc_id, "vpc-block-pending",
					 "IPv6 block %s is %s", live->association_id, live->state);
		if (n_live > 1)
			plan_add_finding(c, FIND_INFO, 1, v->vpc_id, "vpc-several-blocks",
					 "%d IPv6 blocks; subnets are numbered from %s", n_live,
					 live->cidr[0] ? live->cidr : live->association_id);
	} else if (c->pol->subnets_enabled) {
		c->vpc_assoc_action = plan_add_action(c, ACT_ASSOCIATE_VPC_IPV6, 1, v->vpc_id,
						      "the VPC has no IPv6 block");
		c->vpc_has_block = true;
		c->vpc_block.kind = REF_VPC_BLOCK;
	}

	/* subnets that already hold a /64 */
	bool used[256] = {false};
	for (size_t i = 0; i < c->n_subnets; i++) {
		struct subnet_state *st = &c->subnets[i];
		const struct cidr_assoc *b = subnet_live_block(st->s);
		if (!b)
			continue;
		struct cidr sub;
		st->has_v6 = true;
		st->block.kind = REF_LITERAL;
		snprintf(st->block.literal, sizeof(st->block.literal), "%s", b->cidr);
		if (block_known && !cidr_parse(b->cidr, &sub)) {
			int idx = cidr_index_in56(&block56, &sub);
			if (idx >= 0)
				used[idx] = true;
		}
		/* numbered by dualstackd earlier but the attribute never set (a crash between) */
		const char *marker = tag_get(&st->s->tags, TAG_SUBNET_MANAGED);
		if (st->in_scope && c->pol->subnets_enabled && c->pol->assign_ipv6_on_create &&
		    marker && !st->s->assign_ipv6_on_creation && plan_live_assoc(b))
			plan_add_action(
			    c, ACT_SET_SUBNET_ASSIGN_IPV6, 1, st->s->subnet_id,
			    "numbered by dualstackd; new instances get an IPv6 address");
	}
	if (!c->pol->subnets_enabled || !c->vpc_has_block)
		return;

	/* the rest, first by third octet when asked, then lowest free */
	int pending[256];
	size_t n_pending = 0;
	for (size_t i = 0; i < c->n_subnets; i++) {
		struct subnet_state *st = &c->subnets[i];
		if (st->has_v6)
			continue;
		if (!st->in_scope) {
			plan_add_finding(c, FIND_INFO, 1, st->s->subnet_id, "opted-out",
					 "opted out: no IPv6 /64");
			continue;
		}
		if (c->pol->subnet_index == INDEX_IPV4_THIRD_OCTET) {
			int idx = cidr_v4_third_octet(&st->v4);
			if (idx >= 0 && !used[idx]) {
				used[idx] = true;
				give_subnet_block(c, st, idx, block_known ? &block56 : NULL,
						  "ipv4-third-octet");
				continue;
			}
		}
		if (n_pending < 256)
			pending[n_pending++] = (int)i;
	}
	for (size_t k = 0; k < n_pending; k++) {
		struct subnet_state *st = &c->subnets[pending[k]];
		int idx = lowest_free(used);
		if (idx < 0) {
			plan_add_finding(c, FIND_BLOCKED, 1, st->s->subnet_id,
					 "no-free-subnet-index",
					 "all 256 /64s of the VPC's /56 are in use");
			continue;
		}
		used[idx] = true;
		give_subnet_block(c, st, idx, block_known ? &block56 : NULL,
				  c->pol->subnet_index == INDEX_IPV4_THIRD_OCTET
				      ? "lowest-free after a third-octet collision"
				      : "lowest-free");
	}
}
