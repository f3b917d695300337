/* plan_build runs the step planners in the guide's order over one VPC; each appends actions
 * and findings, and later steps read what earlier ones decided from the context. */
#include "plan.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest.h"
#include "plan_internal.h"

void plan_init(struct plan *p)
{
	memset(p, 0, sizeof(*p));
}

void plan_cleanup(struct plan *p)
{
	vec_free(&p->actions);
	vec_free(&p->findings);
}

int plan_add_action(struct plan_ctx *c, enum action_kind kind, int step, const char *resource,
		    const char *fmt, ...)
{
	struct plan_action *a = vec_push(&c->out->actions, sizeof(*a));
	if (!a) {
		c->rc = DS_ENOMEM;
		return -1;
	}
	a->kind = kind;
	a->step = step;
	snprintf(a->vpc_id, sizeof(a->vpc_id), "%s", c->vpc->vpc_id);
	snprintf(a->resource_id, sizeof(a->resource_id), "%s", resource);
	a->calls = 1;
	a->rides_with = -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(a->reason, sizeof(a->reason), fmt, ap);
	va_end(ap);
	return (int)(c->out->actions.n - 1);
}

void plan_add_dep(struct plan_ctx *c, int action, int dep)
{
	if (action < 0 || dep < 0)
		return;
	struct plan_action *a = &c->out->actions.v[action];
	for (int i = 0; i < a->n_deps; i++)
		if (a->deps[i] == dep)
			return;
	if (a->n_deps < PLAN_MAX_DEPS)
		a->deps[a->n_deps++] = dep;
	else /* a dropped dependency could write before what it needs: the plan is refused */
		c->rc = DS_EINVAL;
}

int plan_mark(struct plan_ctx *c, int step, const char *resource, const struct tag_vec *tags,
	      const char *value)
{
	if (tags && tag_get(tags, TAG_MANAGED))
		return -1;
	for (size_t i = 0; i < c->out->actions.n; i++) {
		const struct plan_action *a = &c->out->actions.v[i];
		if (a->kind == ACT_TAG_MANAGED && !strcmp(a->resource_id, resource))
			return (int)i;
	}
	int a = plan_add_action(c, ACT_TAG_MANAGED, step, resource,
				"marks what dualstackd changes, for revert");
	if (a >= 0)
		snprintf(c->out->actions.v[a].description, DS_DESC_LEN, "%s",
			 value ? value : MARK_VALUE);
	return a;
}

bool plan_sg_marked(const char *description)
{
	size_t n = strlen(description), m = strlen(SG_MARK);
	return n >= m && !strcmp(description + n - m, SG_MARK);
}

void plan_add_finding(struct plan_ctx *c, enum finding_severity sev, int step, const char *resource,
		      const char *code, const char *fmt, ...)
{
	struct plan_finding *f = vec_push(&c->out->findings, sizeof(*f));
	if (!f) {
		c->rc = DS_ENOMEM;
		return;
	}
	f->severity = sev;
	f->step = step;
	snprintf(f->resource_id, sizeof(f->resource_id), "%s", resource);
	snprintf(f->code, sizeof(f->code), "%s", code);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f->detail, sizeof(f->detail), fmt, ap);
	va_end(ap);
}

void plan_set_fix(struct plan_ctx *c, const char *fmt, ...)
{
	if (!c->out->findings.n)
		return;
	struct plan_finding *f = &c->out->findings.v[c->out->findings.n - 1];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f->fix, sizeof(f->fix), fmt, ap);
	va_end(ap);
}

bool plan_live_assoc(const struct cidr_assoc *a)
{
	/* "A second block" means any association not disassociated or failed (spec §1). */
	return strcmp(a->state, "disassociated") != 0 && strcmp(a->state, "failed") != 0;
}

const struct subnet_state *plan_subnet(const struct plan_ctx *c, const char *subnet_id)
{
	for (size_t i = 0; i < c->n_subnets; i++)
		if (strcmp(c->subnets[i].s->subnet_id, subnet_id) == 0)
			return &c->subnets[i];
	return NULL;
}

bool plan_map_cidr(const struct plan_ctx *c, const char *v4, struct v6_ref *out, int *dep)
{
	struct cidr k;
	memset(out, 0, sizeof(*out));
	*dep = -1;
	if (cidr_parse(v4, &k) || k.family != 4)
		return false;
	if (cidr_is_any(&k)) {
		out->kind = REF_LITERAL;
		snprintf(out->literal, sizeof(out->literal), "::/0");
		return true;
	}
	/* the VPC's own IPv4 CIDRs (primary and secondary) -> its /56 */
	for (size_t i = 0; i < c->vpc->cidr_assocs.n; i++) {
		struct cidr v;
		const struct cidr_assoc *a = &c->vpc->cidr_assocs.v[i];
		if (!plan_live_assoc(a) || cidr_parse(a->cidr, &v) || !cidr_equal(&v, &k))
			continue;
		if (!c->vpc_has_block)
			return false;
		*out = c->vpc_block;
		*dep = c->vpc_assoc_action;
		return true;
	}
	struct cidr primary;
	if (!cidr_parse(c->vpc->cidr_block, &primary) && cidr_equal(&primary, &k)) {
		if (!c->vpc_has_block)
			return false;
		*out = c->vpc_block;
		*dep = c->vpc_assoc_action;
		return true;
	}
	/* a subnet's IPv4 CIDR -> its /64 */
	for (size_t i = 0; i < c->n_subnets; i++) {
		const struct subnet_state *s = &c->subnets[i];
		if (cidr_equal(&s->v4, &k)) {
			if (!s->has_v6)
				return false;
			*out = s->block;
			*dep = s->assoc_action;
			return true;
		}
	}
	/* the policy's map */
	for (size_t i = 0; i < c->pol->n_cidr_map; i++) {
		struct cidr m;
		if (!cidr_parse(c->pol->cidr_map[i].ipv4, &m) && cidr_equal(&m, &k)) {
			out->kind = REF_LITERAL;
			snprintf(out->literal, sizeof(out->literal), "%s",
				 c->pol->cidr_map[i].ipv6);
			return true;
		}
	}
	return false;
}

static int cmp_instance_ptr(const void *a, const void *b)
{
	const struct instance *const *x = a, *const *y = b;
	return strcmp((*x)->instance_id, (*y)->instance_id);
}

/* The VPC's in-scope instances (not in an opted-out subnet, not opted out), by id. */
static int collect_instances(struct plan_ctx *c)
{
	const struct observed *o = c->obs;
	const struct instance **list = calloc(o->instances.n + 1, sizeof(*list));
	size_t n = 0;
	if (!list)
		return DS_ENOMEM;
	for (size_t i = 0; i < o->instances.n; i++) {
		const struct instance *in = &o->instances.v[i];
		const struct subnet_state *s = plan_subnet(c, in->subnet_id);
		if (strcmp(in->vpc_id, c->vpc->vpc_id) != 0)
			continue;
		if (s && s->in_scope && !policy_opted_out(c->pol, &in->tags))
			list[n++] = in;
		else if (tag_get(&in->tags, TAG_RESIZE_FROM) && strcmp(in->state, "terminated"))
			/* hands off: but someone must know it may be stopped mid-resize */
			plan_add_finding(
			    c, FIND_BLOCKED, 4, in->instance_id, "interrupted-resize-opted-out",
			    "carries dualstackd's resize tags and is %s, but it is opted "
			    "out: start it if needed and remove the dualstack:resize-* tags",
			    in->state);
	}
	qsort(list, n, sizeof(*list), cmp_instance_ptr);
	for (size_t i = 0; i < n; i++) {
		c->instances[i].inst = list[i];
		c->instances[i].resize_action = -1;
		c->instances[i].address_action = -1;
		snprintf(c->instances[i].final_type, DS_ID_LEN, "%s", list[i]->instance_type);
	}
	c->n_instances = n;
	free(list);
	return DS_OK;
}

static int cmp_subnet_state(const void *a, const void *b)
{
	const struct subnet_state *x = a, *y = b;
	int c = memcmp(x->v4.addr, y->v4.addr, 4);
	if (c)
		return c;
	return strcmp(x->s->subnet_id, y->s->subnet_id);
}

/* How many items one request may carry when b's item can join a's (0: it cannot): one
 * group's permissions in one direction, one tag on many subnets. Mirrors the client's merge rules (controller/ec2_batch.c). */
static int shares_request(const struct plan_action *a, const struct plan_action *b)
{
	if (a->kind != b->kind || a->n_deps != b->n_deps ||
	    memcmp(a->deps, b->deps, sizeof(a->deps[0]) * (size_t)a->n_deps) != 0)
		return 0; /* only calls issued at the same moment wait side by side */
	switch (a->kind) {
	case ACT_TAG_MANAGED: /* the same tag: up to 500 resources */
		return strcmp(a->description, b->description) ? 0 : 500;
	case ACT_UNTAG_MANAGED: return 500;
	case ACT_AUTHORIZE_SG_INGRESS:
	case ACT_AUTHORIZE_SG_EGRESS: return strcmp(a->resource_id, b->resource_id) ? 0 : 50;
	default: return 0;
	}
}

/* Which actions ride in another's request: the plan's count of calls is then what goes to EC2
 * (at most: a merged request that fails goes again one call at a time). */
static void plan_share_requests(struct plan *p)
{
	for (size_t i = 0; i < p->actions.n; i++) {
		struct plan_action *a = &p->actions.v[i];
		if (a->rides_with >= 0)
			continue;
		int items = 1;
		for (size_t k = i + 1; k < p->actions.n; k++) {
			struct plan_action *b = &p->actions.v[k];
			int max = b->rides_with < 0 ? shares_request(a, b) : 0;
			if (max && items < max) {
				b->rides_with = (int)i;
				b->calls = 0;
				items++;
			}
		}
	}
}

int plan_build(const struct plan_input *in, struct plan *out)
{
	struct plan_ctx c;
	memset(&c, 0, sizeof(c));
	c.in = in;
	c.pol = in->policy;
	c.obs = in->obs;
	c.out = out;
	c.vpc_assoc_action = -1;
	c.eigw_action = -1;
	snprintf(out->vpc_id, sizeof(out->vpc_id), "%s", in->vpc_id);

	for (size_t i = 0; i < in->obs->vpcs.n; i++)
		if (strcmp(in->obs->vpcs.v[i].vpc_id, in->vpc_id) == 0)
			c.vpc = &in->obs->vpcs.v[i];
	if (!c.vpc)
		return DS_ENOTFOUND;
	if (!policy_vpc_in_scope(c.pol, c.vpc)) {
		plan_add_finding(&c, FIND_INFO, 0, c.vpc->vpc_id, "out-of-scope",
				 "the policy's scope or an opt-out tag excludes this VPC");
		return c.rc;
	}

	/* the VPC's subnets, in IPv4 order so index choices are deterministic */
	c.subnets = calloc(in->obs->subnets.n + 1, sizeof(*c.subnets));
	c.instances = calloc(in->obs->instances.n + 1, sizeof(*c.instances));
	if (!c.subnets || !c.instances) {
		free(c.subnets);
		free(c.instances);
		return DS_ENOMEM;
	}
	for (size_t i = 0; i < in->obs->subnets.n; i++) {
		const struct subnet *s = &in->obs->subnets.v[i];
		if (strcmp(s->vpc_id, c.vpc->vpc_id) != 0)
			continue;
		struct subnet_state *st = &c.subnets[c.n_subnets++];
		st->s = s;
		st->assoc_action = -1;
		st->in_scope = !policy_opted_out(c.pol, &s->tags);
		if (cidr_parse(s->cidr_block, &st->v4))
			memset(&st->v4, 0, sizeof(st->v4));
	}
	qsort(c.subnets, c.n_subnets, sizeof(*c.subnets), cmp_subnet_state);

	c.rc = collect_instances(&c);
	plan_step_cidrs(&c);
	if (c.pol->routes_enabled)
		plan_step_routes(&c);
	if (c.pol->security_groups_enabled)
		plan_step_security_groups(&c);
	if (c.pol->network_acls_enabled)
		plan_step_network_acls(&c);
	plan_step_resize(&c);
	if (c.pol->assign_ipv6)
		plan_step_addresses(&c);
	if (c.pol->guest_config == GUEST_SSM)
		plan_step_guest(&c);
	/* With rollout waves, a VPC's first convergence is written on it: the moment its wave's soak
	 * counts from, readable by every replica and every later run (rollout.h). */
	if (c.pol->n_waves && !out->actions.n && !plan_blocked(out) &&
	    !tag_get(&c.vpc->tags, TAG_CONVERGED_AT)) {
		int a = plan_add_action(&c, ACT_TAG_VPC_CONVERGED, 1, c.vpc->vpc_id,
					"converged: the rollout's soak counts from now");
		struct tm tm;
		if (a >= 0 && gmtime_r(&in->now, &tm))
			strftime(out->actions.v[a].description,
				 sizeof(out->actions.v[a].description), "%Y-%m-%dT%H:%M:%SZ", &tm);
	}
	plan_share_requests(out);

	free(c.subnets);
	free(c.instances);
	return c.rc;
}

void plan_refuse(struct plan *p, int rc)
{
	p->actions.n = 0;
	struct plan_finding *f = vec_push(&p->findings, sizeof(*f));
	if (!f)
		return; /* no memory for the finding: the empty plan still writes nothing */
	f->severity = FIND_BLOCKED;
	snprintf(f->resource_id, sizeof(f->resource_id), "%s", p->vpc_id);
	snprintf(f->code, sizeof(f->code), "plan-failed");
	snprintf(f->detail, sizeof(f->detail),
		 "the plan could not be built (%s): nothing is written", ds_strerror(rc));
}

size_t plan_calls(const struct plan *p)
{
	size_t n = 0;
	for (size_t i = 0; i < p->actions.n; i++)
		n += (size_t)p->actions.v[i].calls;
	return n;
}

size_t plan_blocked(const struct plan *p)
{
	size_t n = 0;
	for (size_t i = 0; i < p->findings.n; i++)
		n += p->findings.v[i].severity == FIND_BLOCKED;
	return n;
}

/* ---- formatting ---- */

static const char *const api_names[ACT_KIND_COUNT] = {
    [ACT_ASSOCIATE_VPC_IPV6] = "AssociateVpcCidrBlock",
    [ACT_TAG_MANAGED] = "CreateTags",
    [ACT_ASSOCIATE_SUBNET_IPV6] = "AssociateSubnetCidrBlock",
    [ACT_SET_SUBNET_ASSIGN_IPV6] = "ModifySubnetAttribute",
    [ACT_CREATE_EIGW] = "CreateEgressOnlyInternetGateway",
    [ACT_CREATE_ROUTE_V6] = "CreateRoute",
    [ACT_REPLACE_ROUTE_V6] = "ReplaceRoute",
    [ACT_AUTHORIZE_SG_INGRESS] = "AuthorizeSecurityGroupIngress",
    [ACT_AUTHORIZE_SG_EGRESS] = "AuthorizeSecurityGroupEgress",
    [ACT_CREATE_NACL_ENTRY] = "CreateNetworkAclEntry",
    [ACT_RESIZE_INSTANCE] = "ResizeInstance",
    [ACT_ASSIGN_IPV6_ADDRESS] = "AssignIpv6Addresses",
    [ACT_GUEST_DHCPV6] = "SendCommand",
    [ACT_TAG_VPC_CONVERGED] = "CreateTags",
    [ACT_UNSET_SUBNET_ASSIGN_IPV6] = "ModifySubnetAttribute",
    [ACT_DELETE_ROUTE_V6] = "DeleteRoute",
    [ACT_REVOKE_SG_INGRESS] = "RevokeSecurityGroupIngress",
    [ACT_REVOKE_SG_EGRESS] = "RevokeSecurityGroupEgress",
    [ACT_DELETE_NACL_ENTRY] = "DeleteNetworkAclEntry",
    [ACT_UNASSIGN_IPV6_ADDRESS] = "UnassignIpv6Addresses",
    [ACT_DELETE_EIGW] = "DeleteEgressOnlyInternetGateway",
    [ACT_DISASSOCIATE_SUBNET_IPV6] = "DisassociateSubnetCidrBlock",
    [ACT_DISASSOCIATE_VPC_IPV6] = "DisassociateVpcCidrBlock",
    [ACT_UNTAG_MANAGED] = "DeleteTags",
    [ACT_TAG_VPC_REVERTED] = "CreateTags",
};

const char *plan_action_api(enum action_kind kind)
{
	return (unsigned)kind < ACT_KIND_COUNT ? api_names[kind] : "?";
}

static int put_ref(struct buf *out, const struct v6_ref *r, const char *vpc_id)
{
	switch (r->kind) {
	case REF_LITERAL: return buf_puts(out, r->literal);
	case REF_VPC_BLOCK: return buf_printf(out, "<new /56 of %s>", vpc_id);
	case REF_SUBNET_BLOCK:
		return buf_printf(out, "<new /56 of %s, /64 #%02x>", vpc_id, r->index);
	default: return buf_puts(out, "-");
	}
}

static int put_target(struct buf *out, const struct plan_action *a)
{
	static const char *const names[] = {"", "GatewayId", "EgressOnlyInternetGatewayId",
					    "TransitGatewayId", "EgressOnlyInternetGatewayId"};
	if (a->target_kind == TARGET_NEW_EIGW)
		return buf_printf(out, " %s=<new egress-only gateway of %s>", names[a->target_kind],
				  a->vpc_id);
	return buf_printf(out, " %s=%s", names[a->target_kind], a->target_id);
}

int plan_format_params(const struct plan_action *a, struct buf *out)
{
	int rc = DS_OK;
	switch (a->kind) {
	case ACT_ASSOCIATE_VPC_IPV6:
		rc = buf_printf(out, "VpcId=%s AmazonProvidedIpv6CidrBlock=true", a->resource_id);
		break;
	case ACT_TAG_MANAGED:
		rc = buf_printf(out, "ResourceId=%s Tag=%s=%s", a->resource_id, TAG_MANAGED,
				a->description);
		break;
	case ACT_UNTAG_MANAGED:
		rc = buf_printf(out, "ResourceId=%s Tag=%s Tag=%s", a->resource_id, TAG_MANAGED,
				TAG_CONVERGED_AT);
		break;
	case ACT_TAG_VPC_REVERTED:
		rc = buf_printf(out, "ResourceId=%s Tag=dualstack:reverted-at=%s", a->resource_id,
				a->description);
		break;
	case ACT_UNSET_SUBNET_ASSIGN_IPV6:
		rc = buf_printf(out, "SubnetId=%s AssignIpv6AddressOnCreation=false",
				a->resource_id);
		break;
	case ACT_DELETE_ROUTE_V6:
		rc = buf_printf(out, "RouteTableId=%s DestinationIpv6CidrBlock=::/0 (to %s)",
				a->resource_id, a->target_id);
		break;
	case ACT_REVOKE_SG_INGRESS:
	case ACT_REVOKE_SG_EGRESS:
		rc = buf_printf(out, "GroupId=%s IpProtocol=%s", a->resource_id, a->protocol);
		if (!rc && a->has_ports)
			rc = buf_printf(out, " FromPort=%d ToPort=%d", a->from_port, a->to_port);
		if (!rc)
			rc = buf_printf(out, " CidrIpv6=%s", a->cidr.literal);
		break;
	case ACT_DELETE_NACL_ENTRY:
		rc = buf_printf(out, "NetworkAclId=%s RuleNumber=%d Egress=%s (%s)", a->resource_id,
				a->rule_number, a->egress ? "true" : "false", a->cidr.literal);
		break;
	case ACT_UNASSIGN_IPV6_ADDRESS:
		rc = buf_printf(out, "NetworkInterfaceId=%s Ipv6Addresses=%s (instance %s)",
				a->resource_id, a->target_id, a->instance_id);
		break;
	case ACT_DELETE_EIGW:
		rc = buf_printf(out, "EgressOnlyInternetGatewayId=%s", a->target_id);
		break;
	case ACT_DISASSOCIATE_SUBNET_IPV6:
	case ACT_DISASSOCIATE_VPC_IPV6:
		rc = buf_printf(out, "AssociationId=%s (%s %s)", a->target_id, a->resource_id,
				a->cidr.literal);
		break;
	case ACT_TAG_VPC_CONVERGED:
		rc = buf_printf(out, "ResourceId=%s Tag=%s=%s", a->resource_id, TAG_CONVERGED_AT,
				a->description);
		break;
	case ACT_ASSOCIATE_SUBNET_IPV6:
		rc = buf_printf(out, "SubnetId=%s Ipv6CidrBlock=", a->resource_id);
		if (!rc)
			rc = put_ref(out, &a->cidr, a->vpc_id);
		break;
	case ACT_SET_SUBNET_ASSIGN_IPV6:
		rc =
		    buf_printf(out, "SubnetId=%s AssignIpv6AddressOnCreation=true", a->resource_id);
		break;
	case ACT_CREATE_EIGW:
		rc =
		    buf_printf(out, "VpcId=%s ClientToken=dualstackd-eigw-%s%s%s Tag=%s=dualstackd",
			       a->resource_id, a->resource_id, a->description[0] ? "-" : "",
			       a->description, TAG_CREATED_BY);
		break;
	case ACT_CREATE_ROUTE_V6:
	case ACT_REPLACE_ROUTE_V6:
		rc = buf_printf(out, "RouteTableId=%s DestinationIpv6CidrBlock=::/0",
				a->resource_id);
		if (!rc)
			rc = put_target(out, a);
		break;
	case ACT_AUTHORIZE_SG_INGRESS:
	case ACT_AUTHORIZE_SG_EGRESS:
		rc = buf_printf(out, "GroupId=%s IpProtocol=%s", a->resource_id, a->protocol);
		if (!rc && a->has_ports)
			rc = buf_printf(out, " FromPort=%d ToPort=%d", a->from_port, a->to_port);
		if (!rc)
			rc = buf_puts(out, " CidrIpv6=");
		if (!rc)
			rc = put_ref(out, &a->cidr, a->vpc_id);
		break;
	case ACT_CREATE_NACL_ENTRY:
		rc = buf_printf(out,
				"NetworkAclId=%s RuleNumber=%d Egress=%s Protocol=%s RuleAction=%s",
				a->resource_id, a->rule_number, a->egress ? "true" : "false",
				a->protocol, a->rule_action);
		if (!rc && a->has_ports)
			rc = buf_printf(out, " PortRange=%d-%d", a->from_port, a->to_port);
		if (!rc && a->has_icmp)
			rc = buf_printf(out, " Icmp=%d/%d", a->icmp_type, a->icmp_code);
		if (!rc)
			rc = buf_puts(out, " Ipv6CidrBlock=");
		if (!rc)
			rc = put_ref(out, &a->cidr, a->vpc_id);
		break;
	case ACT_RESIZE_INSTANCE: {
		static const char *const steps[][2] = {
		    [RESIZE_FORWARD] = {" (tag, modify, untag; stays stopped)",
					" (tag, stop, modify, start, untag)"},
		    [RESIZE_RESTORE] = {" restore: untag; no stop, no retype",
					" restore: start if stopped, untag; no stop, no retype"},
		    [RESIZE_ROLLBACK] = {" rollback: back to the original type, tag failed, untag",
					 " rollback: back to the original type, start, tag "
					 "failed, untag"},
		};
		rc = buf_printf(out, "InstanceId=%s %s -> %s%s, %d calls%s%s", a->instance_id,
				a->from_type, a->to_type, steps[a->resize_mode][a->was_running],
				a->calls, a->resume ? ", resuming" : "",
				a->resize_back ? ", back to its type before dualstackd" : "");
		break;
	}
	case ACT_ASSIGN_IPV6_ADDRESS:
		rc = buf_printf(out, "NetworkInterfaceId=%s Ipv6AddressCount=1 (instance %s)",
				a->resource_id, a->instance_id);
		break;
	case ACT_GUEST_DHCPV6:
		rc = buf_printf(out, "InstanceId=%s DocumentName=%s (%s), then Tag=%s",
				a->instance_id, guest_document((enum guest_os)a->guest_os),
				guest_os_name((enum guest_os)a->guest_os), TAG_GUEST_CONFIG);
		break;
	default: rc = DS_EINVAL;
	}
	return rc;
}

int plan_format_text(const struct plan *p, struct buf *out)
{
	static const char *const sev[] = {"BLOCKED", "WARNING", "INFO"};
	int rc = buf_printf(out, "plan %s: %zu actions, %zu mutating calls, %zu blocked\n",
			    p->vpc_id, p->actions.n, plan_calls(p), plan_blocked(p));
	for (size_t i = 0; i < p->actions.n && !rc; i++) {
		const struct plan_action *a = &p->actions.v[i];
		rc = buf_printf(out, "%2zu. step %d %s ", i + 1, a->step, plan_action_api(a->kind));
		if (!rc)
			rc = plan_format_params(a, out);
		for (int d = 0; d < a->n_deps && !rc; d++)
			rc = buf_printf(out, "%s%d", d ? "," : " [after ", a->deps[d] + 1);
		if (!rc && a->n_deps)
			rc = buf_putc(out, ']');
		if (!rc && a->phase)
			rc = buf_printf(out, " [phase %d]", a->phase);
		if (!rc && a->rides_with >= 0)
			rc = buf_printf(out, " (in %d's request)", a->rides_with + 1);
		if (!rc)
			rc = buf_printf(out, "\n      why: %s\n", a->reason);
	}
	for (size_t i = 0; i < p->findings.n && !rc; i++) {
		const struct plan_finding *f = &p->findings.v[i];
		rc = buf_printf(out, "%s step %d %s %s: %s\n", sev[f->severity], f->step,
				f->resource_id, f->code, f->detail);
		if (!rc && f->fix[0])
			rc = buf_printf(out, "      fix: %s\n", f->fix);
	}
	return rc;
}
