#include "ec2_describe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws_query.h"

/* Page sizes are each action's documented MaxResults maximum. */
static const struct describe_kind_info kinds[DESCRIBE_KIND_COUNT] = {
    [DESCRIBE_VPCS] = {"vpcs", "DescribeVpcs", &ec2_xml_describe_vpcs, "vpc-id", 1000, NULL, NULL},
    [DESCRIBE_SUBNETS] = {"subnets", "DescribeSubnets", &ec2_xml_describe_subnets, "vpc-id", 1000,
			  NULL, NULL},
    [DESCRIBE_ROUTE_TABLES] = {"route-tables", "DescribeRouteTables",
			       &ec2_xml_describe_route_tables, "vpc-id", 100, NULL, NULL},
    [DESCRIBE_INTERNET_GATEWAYS] = {"internet-gateways", "DescribeInternetGateways",
				    &ec2_xml_describe_internet_gateways, "attachment.vpc-id", 1000,
				    NULL, NULL},
    /* EC2 has no VPC filter for these: read all, keep the VPC's (filter_by_vpc below). */
    [DESCRIBE_EGRESS_ONLY_GATEWAYS] = {"egress-only-internet-gateways",
				       "DescribeEgressOnlyInternetGateways",
				       &ec2_xml_describe_egress_only_gateways, NULL, 255, NULL,
				       NULL},
    [DESCRIBE_SECURITY_GROUPS] = {"security-groups", "DescribeSecurityGroups",
				  &ec2_xml_describe_security_groups, "vpc-id", 1000, NULL, NULL},
    [DESCRIBE_NETWORK_ACLS] = {"network-acls", "DescribeNetworkAcls",
			       &ec2_xml_describe_network_acls, "vpc-id", 1000, NULL, NULL},
    [DESCRIBE_INSTANCES] = {"instances", "DescribeInstances", &ec2_xml_describe_instances, "vpc-id",
			    1000, NULL, NULL},
    [DESCRIBE_NETWORK_INTERFACES] = {"network-interfaces", "DescribeNetworkInterfaces",
				     &ec2_xml_describe_network_interfaces, "vpc-id", 1000, NULL,
				     NULL},
    [DESCRIBE_INSTANCE_TYPES] = {"instance-types", "DescribeInstanceTypes",
				 &ec2_xml_describe_instance_types, NULL, 100, "instance-type",
				 NULL},
    /* A filter, not ImageId.N: an AMI that is gone is absent from the answer (the planner
     * says "unknown") instead of failing the whole call with InvalidAMIID.NotFound. */
    [DESCRIBE_IMAGES] = {"images", "DescribeImages", &ec2_xml_describe_images, NULL, 1000,
			 "image-id", "IncludeDeprecated=true"},
    [DESCRIBE_TYPE_OFFERINGS] = {"instance-type-offerings", "DescribeInstanceTypeOfferings",
				 &ec2_xml_describe_type_offerings, NULL, 1000, "instance-type",
				 "LocationType=availability-zone"},
    [DESCRIBE_STOP_PROTECTION] = {"stop-protection", "DescribeInstanceAttribute",
				  &ec2_xml_describe_stop_protection, NULL, 0, "InstanceId",
				  "Attribute=disableApiStop"},
};

const struct describe_kind_info *describe_kind_info(enum describe_kind kind)
{
	return (unsigned)kind < DESCRIBE_KIND_COUNT ? &kinds[kind] : NULL;
}

int describe_kind_by_name(const char *name)
{
	for (int i = 0; i < DESCRIBE_KIND_COUNT; i++)
		if (strcmp(kinds[i].name, name) == 0)
			return i;
	return -1;
}

struct describe_state {
	struct ec2_client *c;
	struct ec2_target target;
	enum describe_kind kind;
	struct buf base_params; /* filters; NextToken is appended per page */
	char **vpc_ids;
	size_t n_vpc_ids;
	struct observed *out;
	describe_done_fn done;
	void *ud;
	int calls;
};

static void state_free(struct describe_state *st)
{
	for (size_t i = 0; i < st->n_vpc_ids; i++)
		free(st->vpc_ids[i]);
	free(st->vpc_ids);
	buf_cleanup(&st->base_params);
	free(st);
}

static bool attached_to_any(const struct gateway *g, char *const *vpc_ids, size_t n)
{
	for (size_t a = 0; a < g->attachments.n; a++)
		for (size_t i = 0; i < n; i++)
			if (strcmp(g->attachments.v[a].vpc_id, vpc_ids[i]) == 0)
				return true;
	return false;
}

/* Drops egress-only gateways attached to none of the requested VPCs. */
static void filter_by_vpc(struct describe_state *st)
{
	if (st->kind != DESCRIBE_EGRESS_ONLY_GATEWAYS || !st->n_vpc_ids)
		return;
	struct observed *o = st->out;
	size_t keep = 0;
	for (size_t i = 0; i < o->egress_only_gateways.n; i++) {
		struct gateway *g = &o->egress_only_gateways.v[i];
		if (attached_to_any(g, st->vpc_ids, st->n_vpc_ids)) {
			o->egress_only_gateways.v[keep++] = *g;
		} else {
			vec_free(&g->attachments);
			vec_free(&g->tags);
		}
	}
	o->egress_only_gateways.n = keep;
}

static void request_page(struct describe_state *st, const char *next_token);

static void on_page(void *ud, const struct ec2_result *res)
{
	struct describe_state *st = ud;
	struct ec2_error err;
	struct ec2_meta meta;
	memset(&err, 0, sizeof(err));
	st->calls++;
	if (res->rc) {
		st->done(st->ud, res->rc, &res->err, st->calls);
		state_free(st);
		return;
	}
	void *base = st->out;
	if (st->kind == DESCRIBE_STOP_PROTECTION) /* one object per answer, not a set */
		base = vec_push(&st->out->stop_protection, sizeof(struct stop_protection));
	int rc = base ? ec2_xml_decode(kinds[st->kind].schema, base, res->body, res->body_len,
				       &meta, err.message, sizeof(err.message))
		      : DS_ENOMEM;
	if (rc) {
		snprintf(err.code, sizeof(err.code), "MalformedAnswer");
		err.cls = EC2_FATAL;
		memcpy(err.request_id, res->request_id, sizeof(err.request_id));
		st->done(st->ud, rc, &err, st->calls);
		state_free(st);
		return;
	}
	if (meta.next_token[0]) {
		request_page(st, meta.next_token);
		return;
	}
	filter_by_vpc(st);
	st->done(st->ud, DS_OK, NULL, st->calls);
	state_free(st);
}

static void request_page(struct describe_state *st, const char *next_token)
{
	struct buf params;
	buf_init(&params, (size_t)1 << 20);
	int rc = buf_append(&params, st->base_params.data ? st->base_params.data : "",
			    st->base_params.len);
	if (!rc && next_token)
		rc = aws_form_add(&params, "NextToken", next_token);
	if (!rc)
		rc = ec2_call(st->c, &st->target, kinds[st->kind].action,
			      EC2_F_FILTERED | EC2_F_IDEMPOTENT, params.data, params.len, on_page,
			      st);
	buf_cleanup(&params);
	if (rc) {
		struct ec2_error err;
		memset(&err, 0, sizeof(err));
		snprintf(err.code, sizeof(err.code), "ClientError");
		snprintf(err.message, sizeof(err.message), "%s", ds_strerror(rc));
		err.cls = EC2_FATAL;
		st->done(st->ud, rc, &err, st->calls);
		state_free(st);
	}
}

static int build_params(struct describe_state *st, const struct describe_request *req)
{
	const struct describe_kind_info *k = &kinds[req->kind];
	struct buf *p = &st->base_params;
	int rc = DS_OK, filter = 0;
	char key[64];
	/* DescribeInstances forbids MaxResults with InstanceId.N; we never send ids, only filters. */
	if (k->max_results)
		rc = buf_put_pairf(p, "MaxResults", "%d", k->max_results);
	if (!rc && k->fixed_params)
		rc = buf_printf(p, "%s%s", p->len ? "&" : "", k->fixed_params);
	if (!k->max_results) { /* a per-resource Describe: the one name is its id */
		if (!rc && req->n_names == 1)
			rc = aws_form_add(p, k->names_filter, req->names[0]);
		return req->n_names == 1 ? rc : DS_EINVAL;
	}
	if (!rc && k->vpc_filter && req->n_vpc_ids) {
		filter++;
		snprintf(key, sizeof(key), "Filter.%d.Name", filter);
		rc = aws_form_add(p, key, k->vpc_filter);
		for (size_t i = 0; !rc && i < req->n_vpc_ids; i++) {
			snprintf(key, sizeof(key), "Filter.%d.Value.%zu", filter, i + 1);
			rc = aws_form_add(p, key, req->vpc_ids[i]);
		}
	}
	if (!rc && req->filter_name && (req->filter_value || req->n_filter_values)) {
		filter++;
		snprintf(key, sizeof(key), "Filter.%d.Name", filter);
		rc = aws_form_add(p, key, req->filter_name);
		snprintf(key, sizeof(key), "Filter.%d.Value.1", filter);
		if (!rc && req->filter_value)
			rc = aws_form_add(p, key, req->filter_value);
		for (size_t i = 0; !rc && i < req->n_filter_values; i++) {
			snprintf(key, sizeof(key), "Filter.%d.Value.%zu", filter,
				 i + 1 + (req->filter_value ? 1 : 0));
			rc = aws_form_add(p, key, req->filter_values[i]);
		}
	}
	if (!rc && req->kind == DESCRIBE_INSTANCES) {
		/* Terminated instances linger for an hour and are never in scope. */
		static const char *const states[] = {"pending", "running", "stopping", "stopped"};
		filter++;
		snprintf(key, sizeof(key), "Filter.%d.Name", filter);
		rc = aws_form_add(p, key, "instance-state-name");
		for (size_t i = 0; !rc && i < 4; i++) {
			snprintf(key, sizeof(key), "Filter.%d.Value.%zu", filter, i + 1);
			rc = aws_form_add(p, key, states[i]);
		}
	}
	/* A filter, not InstanceType.N: candidates that do not exist in the region are simply
	 * absent from the answer instead of failing it with InvalidInstanceType. */
	if (!rc && req->n_names) {
		filter++;
		snprintf(key, sizeof(key), "Filter.%d.Name", filter);
		rc = aws_form_add(p, key, k->names_filter);
	}
	for (size_t i = 0; !rc && i < req->n_names; i++) {
		snprintf(key, sizeof(key), "Filter.%d.Value.%zu", filter, i + 1);
		rc = aws_form_add(p, key, req->names[i]);
	}
	return rc;
}

int ec2_describe(struct ec2_client *c, const struct ec2_target *t,
		 const struct describe_request *req, struct observed *out, describe_done_fn done,
		 void *ud)
{
	if ((unsigned)req->kind >= DESCRIBE_KIND_COUNT)
		return DS_EINVAL;
	struct describe_state *st = calloc(1, sizeof(*st));
	if (!st)
		return DS_ENOMEM;
	st->c = c;
	st->target = *t;
	st->kind = req->kind;
	st->out = out;
	st->done = done;
	st->ud = ud;
	buf_init(&st->base_params, (size_t)1 << 20);
	int rc = DS_OK;
	if (req->n_vpc_ids) {
		st->vpc_ids = calloc(req->n_vpc_ids, sizeof(char *));
		rc = st->vpc_ids ? DS_OK : DS_ENOMEM;
		for (size_t i = 0; !rc && i < req->n_vpc_ids; i++) {
			st->vpc_ids[i] = strdup(req->vpc_ids[i]);
			st->n_vpc_ids++;
			if (!st->vpc_ids[i])
				rc = DS_ENOMEM;
		}
	}
	if (!rc)
		rc = build_params(st, req);
	if (rc) {
		state_free(st);
		return rc;
	}
	request_page(st, NULL);
	return DS_OK;
}
