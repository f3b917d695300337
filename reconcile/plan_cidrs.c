/* Step 1: one IPv6 block on the VPC (an Amazon /56 when it has none), one /64 per in-scope
 * subnet carved from it at a deterministic index, and AssignIpv6AddressOnCreation on the subnets
 * dualstackd numbered. A block that is not an Amazon /56 (BYOIP or an IPAM pool, /44 to /60) is
 * numbered by its real length; with several blocks the first associated one is used; a subnet in
 * a Local or Wavelength Zone takes its /64 from the block of the zone's network border group.
 * A subnet that cannot be numbered (its block is full, or its zone has no block) is a finding,
 * never a silent skip. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan_internal.h"

/* One IPv6 block subnets are numbered from. */
struct numbering {
	char group[DS_ID_LEN];	       /* network border group; "" for the region's own */
	const struct cidr_assoc *live; /* NULL: the /56 this plan associates */
	struct cidr cidr;
	bool known; /* cidr holds the block (else it comes from the plan's association) */
	long size;  /* /64s it holds */
	unsigned char *used;
};

/* The network border group of an Availability Zone: the region for a zone of the region
 * ("us-east-1a" -> ""), the zone's group for a Local Zone ("us-west-2-lax-1a" ->
 * "us-west-2-lax-1") or Wavelength Zone (named after its group). */
static void zone_group(const char *az, char *out, size_t size)
{
	int dashes = 0;
	for (const char *p = az; *p; p++)
		dashes += *p == '-';
	size_t n = strlen(az);
	if (n && az[n - 1] >= 'a' && az[n - 1] <= 'z')
		n--;
	if (dashes <= 2 || !n) { /* us-east-1a: a zone of the region */
		out[0] = '\0';
		return;
	}
	snprintf(out, size, "%.*s", (int)n, az);
}

/* Whether an association belongs to group ("" = the region's own). */
static bool in_group(const struct cidr_assoc *a, const char *group)
{
	char g[DS_ID_LEN];
	if (!group[0]) {
		int dashes = 0;
		for (const char *p = a->network_border_group; *p; p++)
			dashes += *p == '-';
		return dashes <= 2; /* "", or the region's own name */
	}
	snprintf(g, sizeof(g), "%s", a->network_border_group);
	return !strcmp(g, group);
}

/* The group's live block: the first associated one, else the first live one. */
static const struct cidr_assoc *live_block(const struct vpc *v, const char *group, int *n_live)
{
	const struct cidr_assoc *first = NULL;
	*n_live = 0;
	for (size_t i = 0; i < v->ipv6_assocs.n; i++) {
		const struct cidr_assoc *a = &v->ipv6_assocs.v[i];
		if (!plan_live_assoc(a) || !in_group(a, group))
			continue;
		(*n_live)++;
		if (!first || (strcmp(first->state, "associated") != 0 &&
			       strcmp(a->state, "associated") == 0))
			first = a;
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

static bool bit_get(const unsigned char *b, long i)
{
	return (b[i / 8] >> (i % 8)) & 1;
}

static void bit_set(unsigned char *b, long i)
{
	b[i / 8] |= (unsigned char)(1u << (i % 8));
}

static long lowest_free(const struct numbering *n)
{
	for (long i = 0; i < n->size; i++)
		if (!bit_get(n->used, i))
			return i;
	return -1;
}

static void give_subnet_block(struct plan_ctx *c, struct subnet_state *st, long index,
			      const struct numbering *n, const char *how)
{
	const struct subnet *s = st->s;
	/* The mark comes first: after a crash between the /64 and the attribute, it is what tells
	 * the next run that dualstackd numbered this subnet, and it is what revert goes by. */
	int tag = plan_mark(c, 1, s->subnet_id, &s->tags, NULL);
	int a =
	    plan_add_action(c, ACT_ASSOCIATE_SUBNET_IPV6, 1, s->subnet_id,
			    "subnet %s has no IPv6 /64; index %ld (%s)", s->cidr_block, index, how);
	if (a < 0)
		return;
	struct plan_action *act = &c->out->actions.v[a];
	if (n->known) {
		struct cidr sub;
		cidr_subnet64(&n->cidr, index, &sub);
		act->cidr.kind = REF_LITERAL;
		cidr_format(&sub, act->cidr.literal);
	} else {
		act->cidr.kind = REF_SUBNET_BLOCK;
		act->cidr.index = (int)index;
	}
	plan_add_dep(c, a, n->live ? -1 : c->vpc_assoc_action);
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

/* Sets up a numbering over a live block; false (with a finding) when it cannot be used. */
static bool numbering_of(struct plan_ctx *c, struct numbering *n, const struct cidr_assoc *live)
{
	n->live = live;
	if (!live) { /* the plan associates an Amazon /56 */
		n->size = 256;
	} else if (live->cidr[0] && !cidr_parse(live->cidr, &n->cidr) && n->cidr.family == 6) {
		n->size = cidr_subnets64(&n->cidr);
		n->known = n->size > 0;
		if (!n->known) {
			plan_add_finding(
			    c, FIND_BLOCKED, 1, c->vpc->vpc_id, "ipv6-block-size-unsupported",
			    "IPv6 block %s is not /%d to /64: subnets are not numbered", live->cidr,
			    CIDR_BLOCK_MIN_LEN);
			plan_set_fix(c, "associate an IPv6 block of /%d to /64 with the VPC",
				     CIDR_BLOCK_MIN_LEN);
			return false;
		}
	} else {
		/* EC2 has not told the CIDR yet (associating): the next reconcile numbers */
		plan_add_finding(c, FIND_BLOCKED, 1, c->vpc->vpc_id, "vpc-block-pending",
				 "IPv6 block %s is %s; subnets are numbered once it is associated",
				 live->association_id, live->state);
		return false;
	}
	n->used = calloc((size_t)(n->size + 7) / 8, 1);
	if (!n->used) {
		c->rc = DS_ENOMEM;
		return false;
	}
	return true;
}

void plan_step_cidrs(struct plan_ctx *c)
{
	const struct vpc *v = c->vpc;
	int n_live = 0;
	const struct cidr_assoc *live = live_block(v, "", &n_live);
	struct numbering region = {0};
	bool numbered = false;

	if (live) {
		/* rules and routes that need the block wait with it when it is not usable yet */
		numbered = numbering_of(c, &region, live);
		c->vpc_has_block = numbered;
		if (numbered) {
			c->vpc_block.kind = REF_LITERAL;
			cidr_format(&region.cidr, c->vpc_block.literal);
		}
		if (n_live > 1)
			plan_add_finding(c, FIND_INFO, 1, v->vpc_id, "vpc-several-blocks",
					 "%d IPv6 blocks; subnets are numbered from %s", n_live,
					 live->cidr[0] ? live->cidr : live->association_id);
	} else if (c->pol->subnets_enabled) {
		int mark = plan_mark(c, 1, v->vpc_id, &v->tags, NULL);
		c->vpc_assoc_action = plan_add_action(c, ACT_ASSOCIATE_VPC_IPV6, 1, v->vpc_id,
						      "the VPC has no IPv6 block");
		plan_add_dep(c, c->vpc_assoc_action, mark);
		c->vpc_has_block = true;
		c->vpc_block.kind = REF_VPC_BLOCK;
		numbered = numbering_of(c, &region, NULL);
	}

	/* Local and Wavelength Zone groups that subnets of the VPC sit in */
	struct numbering *zones = calloc(c->n_subnets + 1, sizeof(*zones));
	size_t n_zones = 0;
	if (!zones) {
		c->rc = DS_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < c->n_subnets; i++) {
		char g[DS_ID_LEN];
		zone_group(c->subnets[i].s->availability_zone, g, sizeof(g));
		bool seen = !g[0];
		for (size_t k = 0; k < n_zones && !seen; k++)
			seen = !strcmp(zones[k].group, g);
		if (seen)
			continue;
		struct numbering *z = &zones[n_zones++];
		snprintf(z->group, sizeof(z->group), "%s", g);
		int nz = 0;
		const struct cidr_assoc *zl = live_block(v, g, &nz);
		if (zl && !numbering_of(c, z, zl))
			z->size = 0;
		else if (!zl)
			z->size = 0; /* no block in the group: its subnets get a finding */
	}

	/* subnets that already hold a /64 */
	for (size_t i = 0; i < c->n_subnets; i++) {
		struct subnet_state *st = &c->subnets[i];
		const struct cidr_assoc *b = subnet_live_block(st->s);
		if (!b)
			continue;
		struct cidr sub;
		st->has_v6 = true;
		st->block.kind = REF_LITERAL;
		snprintf(st->block.literal, sizeof(st->block.literal), "%s", b->cidr);
		for (size_t k = 0; !cidr_parse(b->cidr, &sub) && k <= n_zones; k++) {
			struct numbering *n = k < n_zones ? &zones[k] : &region;
			long idx = n->known ? cidr_index_in_block(&n->cidr, &sub) : -1;
			if (idx >= 0)
				bit_set(n->used, idx);
		}
		/* numbered by dualstackd earlier but the attribute never set (a crash between) */
		const char *marker = tag_get(&st->s->tags, TAG_MANAGED);
		if (st->in_scope && c->pol->subnets_enabled && c->pol->assign_ipv6_on_create &&
		    marker && !st->s->assign_ipv6_on_creation && plan_live_assoc(b))
			plan_add_action(
			    c, ACT_SET_SUBNET_ASSIGN_IPV6, 1, st->s->subnet_id,
			    "numbered by dualstackd; new instances get an IPv6 address");
	}
	if (!c->pol->subnets_enabled || !c->vpc_has_block)
		goto out;

	/* the rest: by third octet when asked, then lowest free; in subnet order */
	size_t *pending = calloc(c->n_subnets + 1, sizeof(*pending));
	size_t n_pending = 0;
	if (!pending) {
		c->rc = DS_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < c->n_subnets; i++) {
		struct subnet_state *st = &c->subnets[i];
		if (st->has_v6)
			continue;
		if (!st->in_scope) {
			plan_add_finding(c, FIND_INFO, 1, st->s->subnet_id, "opted-out",
					 "opted out: no IPv6 /64");
			continue;
		}
		pending[n_pending++] = i;
	}
	for (int pass = 0; pass < 2; pass++) {
		for (size_t k = 0; k < n_pending; k++) {
			struct subnet_state *st = &c->subnets[pending[k]];
			if (st->has_v6)
				continue;
			char g[DS_ID_LEN];
			zone_group(st->s->availability_zone, g, sizeof(g));
			struct numbering *n = g[0] ? NULL : (numbered ? &region : NULL);
			for (size_t z = 0; g[0] && z < n_zones; z++)
				if (!strcmp(zones[z].group, g) && zones[z].size)
					n = &zones[z];
			if (!n) {
				if (pass == 1 && g[0])
					plan_add_finding(
					    c, FIND_BLOCKED, 1, st->s->subnet_id,
					    "zone-needs-block",
					    "subnet in %s needs an IPv6 block of network border "
					    "group %s (AssociateVpcCidrBlock "
					    "NetworkBorderGroup=%s)",
					    st->s->availability_zone, g, g);
				if (pass == 1 && g[0])
					plan_set_fix(c,
						     "associate an IPv6 block of network border "
						     "group %s with the VPC",
						     g);
				continue;
			}
			if (pass == 0) {
				int idx = c->pol->subnet_index == INDEX_IPV4_THIRD_OCTET
					      ? cidr_v4_third_octet(&st->v4)
					      : -1;
				if (idx >= 0 && idx < n->size && !bit_get(n->used, idx)) {
					bit_set(n->used, idx);
					give_subnet_block(c, st, idx, n, "ipv4-third-octet");
				}
				continue;
			}
			long idx = lowest_free(n);
			if (idx < 0) {
				plan_add_finding(
				    c, FIND_BLOCKED, 1, st->s->subnet_id, "no-free-subnet-index",
				    "all %ld /64s of %s are in use: subnet %s not numbered",
				    n->size, n->known ? n->live->cidr : "the VPC's IPv6 block",
				    st->s->cidr_block);
				plan_set_fix(
				    c, "associate a larger (or a second) IPv6 block with the VPC");
				continue;
			}
			bit_set(n->used, idx);
			give_subnet_block(c, st, idx, n,
					  c->pol->subnet_index == INDEX_IPV4_THIRD_OCTET
					      ? "lowest-free after a third-octet collision"
					      : "lowest-free");
		}
	}
	free(pending);
out:
	free(region.used);
	for (size_t k = 0; zones && k < n_zones; k++)
		free(zones[k].used);
	free(zones);
}
