/* Step 3: IPv6 twins of security group rules and network ACL entries. A rule's IPv4 range is
 * mirrored only through an explicit mapping (plan_map_cidr): 0.0.0.0/0 -> ::/0, the VPC's and
 * subnets' own CIDRs -> their IPv6 blocks, the policy's cidr_map; anything else is reported,
 * never guessed - a specific IPv4 range never becomes ::/0. ICMP maps to ICMPv6 by the guide's
 * table; other types are reported. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan_internal.h"

/* ICMPv4 (type, code) -> its ICMPv6 twins; -1 means "all". Type numbers per RFC 4443; what
 * must pass per RFC 4890: path-MTU discovery needs Packet Too Big (2), which IPv4 signals
 * with destination unreachable / fragmentation needed (3/4) - so "unreachable, all codes"
 * brings both 1 and 2. Returns how many twins (0: reported, never guessed).
 *   v4 -1          -> v6 -1             (all)
 *   v4 8 (0|-1)    -> v6 128 (same)     echo request
 *   v4 0 (0|-1)    -> v6 129 (same)     echo reply
 *   v4 11 (0|1|-1) -> v6 3 (same)       time exceeded (codes mean the same)
 *   v4 3 -1        -> v6 1 -1, 2 0      destination unreachable, and packet too big
 *   v4 3 4         -> v6 2 0            fragmentation needed = packet too big
 * Other codes of 3 differ between the families, and other types have no twin. */
int plan_icmp_twins(int type, int code, struct icmp_twin out[2])
{
	switch (type) {
	case -1: out[0] = (struct icmp_twin){-1, -1}; return 1;
	case 8: out[0] = (struct icmp_twin){128, code}; return code == -1 || code == 0;
	case 0: out[0] = (struct icmp_twin){129, code}; return code == -1 || code == 0;
	case 11: out[0] = (struct icmp_twin){3, code}; return code == -1 || code == 0 || code == 1;
	case 3:
		if (code == 4) {
			out[0] = (struct icmp_twin){2, 0};
			return 1;
		}
		out[0] = (struct icmp_twin){1, -1};
		out[1] = (struct icmp_twin){2, 0};
		return code == -1 ? 2 : 0;
	default: return 0;
	}
}

const char *plan_sg_protocol(const char *p)
{
	if (!strcmp(p, "6"))
		return "tcp";
	if (!strcmp(p, "17"))
		return "udp";
	if (!strcmp(p, "1"))
		return "icmp";
	if (!strcmp(p, "58"))
		return "icmpv6";
	if (!strcmp(p, "all"))
		return "-1";
	return p;
}

static bool refs_equal(const struct v6_ref *a, const struct v6_ref *b)
{
	if (a->kind != b->kind)
		return false;
	if (a->kind == REF_LITERAL) {
		char x[DS_CIDR_LEN], y[DS_CIDR_LEN];
		if (cidr_canonical(a->literal, x) || cidr_canonical(b->literal, y))
			return strcmp(a->literal, b->literal) == 0;
		return strcmp(x, y) == 0;
	}
	return a->index == b->index;
}

/* ---- security groups ---- */

struct sg_twin {
	const char *proto;
	bool has_ports;
	int from, to;
	struct v6_ref cidr;
};

static bool sg_has(const struct sg_permission_vec *perms, const struct sg_twin *t)
{
	for (size_t i = 0; i < perms->n; i++) {
		const struct sg_permission *p = &perms->v[i];
		if (strcmp(plan_sg_protocol(p->protocol), t->proto) != 0)
			continue;
		if (t->has_ports &&
		    (!p->has_ports || p->from_port != t->from || p->to_port != t->to))
			continue;
		for (size_t k = 0; k < p->ipv6_ranges.n; k++) {
			struct v6_ref have = {.kind = REF_LITERAL};
			snprintf(have.literal, sizeof(have.literal), "%s",
				 p->ipv6_ranges.v[k].cidr);
			if (refs_equal(&have, &t->cidr))
				return true;
		}
	}
	return false;
}

static bool planned(const struct plan_ctx *c, enum action_kind kind, const char *group,
		    const struct sg_twin *t)
{
	for (size_t i = 0; i < c->out->actions.n; i++) {
		const struct plan_action *a = &c->out->actions.v[i];
		if (a->kind == kind && !strcmp(a->resource_id, group) &&
		    !strcmp(a->protocol, t->proto) && a->has_ports == t->has_ports &&
		    (!t->has_ports || (a->from_port == t->from && a->to_port == t->to)) &&
		    refs_equal(&a->cidr, &t->cidr))
			return true;
	}
	return false;
}

/* Plans one IPv6 permission unless the group has it or the plan already adds it; non-zero
 * on allocation failure. */
static int add_sg_twin(struct plan_ctx *c, const struct security_group *g,
		       const struct sg_permission_vec *perms, const struct sg_permission *p,
		       const struct sg_range *range, const struct sg_twin *t, int dep, bool egress)
{
	enum action_kind kind = egress ? ACT_AUTHORIZE_SG_EGRESS : ACT_AUTHORIZE_SG_INGRESS;
	if (sg_has(perms, t) || planned(c, kind, g->group_id, t))
		return 0;
	int a = plan_add_action(c, kind, 3, g->group_id, "%s twin of %s %s%s%s",
				egress ? "egress" : "ingress", p->protocol, range->cidr,
				range->description[0] ? " - " : "", range->description);
	if (a < 0)
		return -1;
	struct plan_action *act = &c->out->actions.v[a];
	snprintf(act->protocol, sizeof(act->protocol), "%s", t->proto);
	act->has_ports = t->has_ports;
	act->from_port = t->from;
	act->to_port = t->to;
	act->cidr = t->cidr;
	act->egress = egress;
	/* the twin says whose it is: its original's description, then the mark */
	int keep = (int)(sizeof(act->description) - sizeof(" " SG_MARK));
	snprintf(act->description, sizeof(act->description), "%.*s%s" SG_MARK, keep,
		 range->description, range->description[0] ? " " : "");
	plan_add_dep(c, a, dep);
	return 0;
}

static void plan_permissions(struct plan_ctx *c, const struct security_group *g,
			     const struct sg_permission_vec *perms, bool egress)
{
	const char *dir = egress ? "egress" : "ingress";
	for (size_t i = 0; i < perms->n; i++) {
		const struct sg_permission *p = &perms->v[i];
		for (size_t r = 0; r < p->ipv4_ranges.n; r++) {
			const struct sg_range *range = &p->ipv4_ranges.v[r];
			struct sg_twin t = {plan_sg_protocol(p->protocol),
					    p->has_ports,
					    p->from_port,
					    p->to_port,
					    {0}};
			int dep = -1;
			if (!plan_map_cidr(c, range->cidr, &t.cidr, &dep)) {
				plan_add_finding(c, FIND_WARNING, 3, g->group_id, "unmapped-cidr",
						 "%s %s %s %s: no IPv6 mapping (add it to "
						 "security_groups.cidr_map); not mirrored",
						 dir, p->protocol, egress ? "to" : "from",
						 range->cidr);
				plan_set_fix(c,
					     "map %s to its IPv6 range in security_groups.cidr_map",
					     range->cidr);
				continue;
			}
			struct sg_twin twins[2] = {t, t};
			int n_twins = 1;
			if (!strcmp(t.proto, "icmp")) {
				struct icmp_twin it[2];
				n_twins = plan_icmp_twins(p->has_ports ? p->from_port : -1,
							  p->has_ports ? p->to_port : -1, it);
				if (!n_twins) {
					plan_add_finding(c, FIND_WARNING, 3, g->group_id,
							 "unmapped-icmp",
							 "%s ICMP type %d code %d %s %s has no "
							 "ICMPv6 twin; not mirrored",
							 dir, p->from_port, p->to_port,
							 egress ? "to" : "from", range->cidr);
					continue;
				}
				for (int k = 0; k < n_twins; k++) {
					twins[k].proto = "icmpv6";
					twins[k].has_ports = true;
					twins[k].from = it[k].type;
					twins[k].to = it[k].code;
				}
			}
			for (int k = 0; k < n_twins; k++)
				if (add_sg_twin(c, g, perms, p, range, &twins[k], dep, egress))
					return;
		}
	}
}

static int cmp_group_ptr(const void *a, const void *b)
{
	const struct security_group *const *x = a, *const *y = b;
	return strcmp((*x)->group_id, (*y)->group_id);
}

void plan_step_security_groups(struct plan_ctx *c)
{
	const struct observed *o = c->obs;
	const struct security_group **gs = calloc(o->security_groups.n + 1, sizeof(*gs));
	size_t n = 0;
	if (!gs) {
		c->rc = DS_ENOMEM;
		return;
	}
	for (size_t i = 0; i < o->security_groups.n; i++)
		if (!strcmp(o->security_groups.v[i].vpc_id, c->vpc->vpc_id))
			gs[n++] = &o->security_groups.v[i];
	qsort(gs, n, sizeof(*gs), cmp_group_ptr);
	for (size_t i = 0; i < n; i++) {
		if (policy_opted_out(c->pol, &gs[i]->tags)) {
			plan_add_finding(c, FIND_INFO, 3, gs[i]->group_id, "opted-out",
					 "opted out: rules unchanged");
			continue;
		}
		plan_permissions(c, gs[i], &gs[i]->ingress, false);
		plan_permissions(c, gs[i], &gs[i]->egress, true);
	}
	free(gs);
}

/* ---- network ACLs ---- */

struct nacl_twin {
	const struct nacl_entry *src;
	struct nacl_entry want; /* protocol, action, ports, icmp; cidr in ref */
	struct v6_ref cidr;
	int dep;
	int number; /* existing twin's number, or the one placed */
	bool exists;
};

static int cmp_entry_ptr(const void *a, const void *b)
{
	const struct nacl_entry *const *x = a, *const *y = b;
	return (*x)->rule_number - (*y)->rule_number;
}

static bool entry_matches(const struct nacl_entry *have, const struct nacl_twin *t)
{
	if (!have->ipv6_cidr_block[0] || t->cidr.kind != REF_LITERAL)
		return false;
	struct v6_ref h = {.kind = REF_LITERAL};
	snprintf(h.literal, sizeof(h.literal), "%s", have->ipv6_cidr_block);
	if (!refs_equal(&h, &t->cidr) || strcmp(have->protocol, t->want.protocol) != 0 ||
	    strcmp(have->rule_action, t->want.rule_action) != 0)
		return false;
	if (t->want.has_ports && (!have->has_ports || have->port_from != t->want.port_from ||
				  have->port_to != t->want.port_to))
		return false;
	/* moto 5.2.1 drops Icmp.Type/Code on CreateNetworkAclEntry (its parser's key mismatch);
	 * an ICMPv6 entry read back without them matches on the rest. EC2 always returns them. */
	if (t->want.has_icmp && have->has_icmp &&
	    (have->icmp_type != t->want.icmp_type || have->icmp_code != t->want.icmp_code))
		return false;
	return true;
}

static bool same_twin(const struct nacl_twin *a, const struct nacl_twin *b)
{
	const struct nacl_entry *x = &a->want, *y = &b->want;
	return refs_equal(&a->cidr, &b->cidr) && !strcmp(x->protocol, y->protocol) &&
	       !strcmp(x->rule_action, y->rule_action) && x->has_ports == y->has_ports &&
	       (!x->has_ports || (x->port_from == y->port_from && x->port_to == y->port_to)) &&
	       x->has_icmp == y->has_icmp &&
	       (!x->has_icmp || (x->icmp_type == y->icmp_type && x->icmp_code == y->icmp_code));
}

static bool same_twin_before(const struct nacl_twin *tw, size_t n, const struct nacl_twin *t)
{
	for (size_t i = 0; i < n; i++)
		if (same_twin(&tw[i], t))
			return true;
	return false;
}

/* The NACL's mark: MARK_VALUE, or the IPv6 entries it holds before dualstackd writes any (they
 * are the owner's; revert leaves them). A tag value is at most 256 characters. */
static void nacl_mark_value(const struct network_acl *acl, char *out, size_t size)
{
	struct buf b;
	buf_init(&b, 0);
	int rc = 0;
	for (size_t i = 0; i < acl->entries.n && !rc; i++) {
		const struct nacl_entry *e = &acl->entries.v[i];
		if (e->ipv6_cidr_block[0] && e->rule_number < 32767)
			rc = buf_printf(&b, "%s%c%d", b.len ? " " : MARK_KEPT_PREFIX,
					e->egress ? 'e' : 'i', e->rule_number);
	}
	if (rc || b.len >= 256 || b.len >= size)
		snprintf(out, size, "%sunknown", MARK_KEPT_PREFIX);
	else
		snprintf(out, size, "%s", b.len ? b.data : MARK_VALUE);
	buf_cleanup(&b);
}

static void plan_direction(struct plan_ctx *c, const struct network_acl *acl, bool egress)
{
	const char *dir = egress ? "egress" : "ingress";
	size_t n = acl->entries.n;
	const struct nacl_entry **v4 = calloc(n + 1, sizeof(*v4));
	struct nacl_twin *tw = calloc(2 * n + 1, sizeof(*tw)); /* an ICMP entry can have two */
	bool *taken = calloc(32768, sizeof(bool));
	size_t nv4 = 0, nt = 0;
	if (!v4 || !tw || !taken) {
		c->rc = DS_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const struct nacl_entry *e = &acl->entries.v[i];
		if (e->egress != egress)
			continue;
		if (e->rule_number >= 0 && e->rule_number < 32768)
			taken[e->rule_number] = true;
		if (e->cidr_block[0] &&
		    e->rule_number != 32767) /* the '*' rule is never mirrored */
			v4[nv4++] = e;
	}
	qsort(v4, nv4, sizeof(*v4), cmp_entry_ptr);

	for (size_t i = 0; i < nv4; i++) {
		const struct nacl_entry *e = v4[i];
		struct nacl_twin *t = &tw[nt];
		t->src = e;
		if (!plan_map_cidr(c, e->cidr_block, &t->cidr, &t->dep)) {
			plan_add_finding(c, FIND_WARNING, 3, acl->network_acl_id, "unmapped-cidr",
					 "%s rule %d %s %s: no IPv6 mapping (add it to "
					 "security_groups.cidr_map); not mirrored",
					 dir, e->rule_number, e->rule_action, e->cidr_block);
			plan_set_fix(c, "map %s to its IPv6 range in security_groups.cidr_map",
				     e->cidr_block);
			continue;
		}
		t->want = *e;
		struct icmp_twin it[2];
		int n_twins = 1;
		if (!strcmp(e->protocol, "1")) {
			n_twins = plan_icmp_twins(e->has_icmp ? e->icmp_type : -1,
						  e->has_icmp ? e->icmp_code : -1, it);
			if (!n_twins) {
				plan_add_finding(
				    c, FIND_WARNING, 3, acl->network_acl_id, "unmapped-icmp",
				    "%s rule %d ICMP type %d code %d has no ICMPv6 twin; "
				    "not mirrored",
				    dir, e->rule_number, e->icmp_type, e->icmp_code);
				continue;
			}
		}
		for (int k = 0; k < n_twins; k++) {
			struct nacl_twin *tk = &tw[nt];
			if (k)
				*tk = tw[nt - 1];
			if (!strcmp(e->protocol, "1")) {
				snprintf(tk->want.protocol, sizeof(tk->want.protocol), "58");
				tk->want.has_icmp = true;
				tk->want.icmp_type = it[k].type;
				tk->want.icmp_code = it[k].code;
			}
			/* Two IPv4 entries can have one twin (a secondary CIDR and the primary both
			 * map to the /56; two cidr_map keys with one value). NACLs stop at the first
			 * match, so the later one is shadowed in IPv6: it needs no twin of its own. */
			if (same_twin_before(tw, nt, tk))
				continue;
			tk->number = -1;
			tk->exists = false;
			for (size_t h = 0; h < n; h++) {
				const struct nacl_entry *have = &acl->entries.v[h];
				if (have->egress == egress && entry_matches(have, tk)) {
					tk->exists = true;
					tk->number = have->rule_number;
					break;
				}
			}
			nt++;
		}
	}

	/* Place the new twins: n + offset, else the next free number, always below the next
	 * twin, so the twins keep their IPv4 originals' order. All or nothing. */
	int prev = 0;
	const char *conflict = NULL;
	for (size_t i = 0; i < nt && !conflict; i++) {
		int limit = 32767;
		for (size_t k = i + 1; k < nt; k++)
			if (tw[k].exists) {
				limit = tw[k].number;
				break;
			}
		if (tw[i].exists) {
			if (tw[i].number <= prev)
				conflict = "existing IPv6 twins are out of their IPv4 order";
			prev = tw[i].number;
			continue;
		}
		int num = tw[i].src->rule_number + c->pol->nacl_offset;
		if (num <= prev)
			num = prev + 1;
		while (num < limit && num <= 32766 && taken[num])
			num++;
		if (num >= limit || num > 32766) {
			conflict = "no free rule number keeps the twins in their IPv4 order";
			break;
		}
		tw[i].number = num;
		taken[num] = true;
		prev = num;
	}
	if (conflict) {
		plan_add_finding(c, FIND_BLOCKED, 3, acl->network_acl_id, "nacl-order-conflict",
				 "%s: %s; no %s twin written (writing some could drop a deny)", dir,
				 conflict, dir);
		plan_set_fix(c, "renumber the NACL's rules so a free number follows each IPv4 rule "
				"(or change network_acls.offset)");
		goto out;
	}
	/* Written in rule order, each after the one before it: a twin that fails stops the rest
	 * of the direction, so an allow is never written when the deny before it failed. */
	int prev_action = -1;
	for (size_t i = 0; i < nt; i++) {
		const struct nacl_twin *t = &tw[i];
		if (t->exists)
			continue;
		char kept[DS_DESC_LEN];
		nacl_mark_value(acl, kept, sizeof(kept));
		int mark = plan_mark(c, 3, acl->network_acl_id, &acl->tags, kept);
		int a = plan_add_action(c, ACT_CREATE_NACL_ENTRY, 3, acl->network_acl_id,
					"%s twin of rule %d (%s %s)", dir, t->src->rule_number,
					t->src->rule_action, t->src->cidr_block);
		if (a < 0)
			goto out;
		struct plan_action *act = &c->out->actions.v[a];
		act->rule_number = t->number;
		act->egress = egress;
		snprintf(act->protocol, sizeof(act->protocol), "%s", t->want.protocol);
		snprintf(act->rule_action, sizeof(act->rule_action), "%s", t->want.rule_action);
		act->has_ports = t->want.has_ports;
		act->from_port = t->want.port_from;
		act->to_port = t->want.port_to;
		act->has_icmp = t->want.has_icmp;
		act->icmp_type = t->want.icmp_type;
		act->icmp_code = t->want.icmp_code;
		act->cidr = t->cidr;
		plan_add_dep(c, a, t->dep);
		plan_add_dep(c, a, prev_action);
		plan_add_dep(c, a, mark);
		prev_action = a;
	}
out:
	free(v4);
	free(tw);
	free(taken);
}

static int cmp_acl_ptr(const void *a, const void *b)
{
	const struct network_acl *const *x = a, *const *y = b;
	return strcmp((*x)->network_acl_id, (*y)->network_acl_id);
}

void plan_step_network_acls(struct plan_ctx *c)
{
	const struct observed *o = c->obs;
	const struct network_acl **acls = calloc(o->network_acls.n + 1, sizeof(*acls));
	size_t n = 0;
	if (!acls) {
		c->rc = DS_ENOMEM;
		return;
	}
	for (size_t i = 0; i < o->network_acls.n; i++)
		if (!strcmp(o->network_acls.v[i].vpc_id, c->vpc->vpc_id))
			acls[n++] = &o->network_acls.v[i];
	qsort(acls, n, sizeof(*acls), cmp_acl_ptr);
	for (size_t i = 0; i < n; i++) {
		if (policy_opted_out(c->pol, &acls[i]->tags)) {
			plan_add_finding(c, FIND_INFO, 3, acls[i]->network_acl_id, "opted-out",
					 "opted out: entries unchanged");
			continue;
		}
		plan_direction(c, acls[i], false);
		plan_direction(c, acls[i], true);
	}
	free(acls);
}
