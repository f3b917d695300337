/* ec2_describe.h - batched, paginated Describe* reads into the observed model.
 * Owns: which action, filter and page size each resource kind uses, following NextToken to
 * the end, and the client-side filtering EC2 cannot do (egress-only gateways by VPC).
 * Not: pacing or retries (ec2_client.c) or XML field mapping (ec2_xml.c).
 * One call per kind for a whole group of VPCs (plus pages), never one per resource. */
#ifndef DS_EC2_DESCRIBE_H
#define DS_EC2_DESCRIBE_H

#include "../reconcile/model.h"
#include "ec2_client.h"
#include "ec2_xml.h"

enum describe_kind {
	DESCRIBE_VPCS,
	DESCRIBE_SUBNETS,
	DESCRIBE_ROUTE_TABLES,
	DESCRIBE_INTERNET_GATEWAYS,
	DESCRIBE_EGRESS_ONLY_GATEWAYS,
	DESCRIBE_SECURITY_GROUPS,
	DESCRIBE_NETWORK_ACLS,
	DESCRIBE_INSTANCES,
	DESCRIBE_NETWORK_INTERFACES,
	DESCRIBE_INSTANCE_TYPES,
	DESCRIBE_IMAGES,
	DESCRIBE_TYPE_OFFERINGS,
	DESCRIBE_STOP_PROTECTION,
	DESCRIBE_KIND_COUNT
};

struct describe_kind_info {
	const char *name;   /* CLI name: "vpcs", "route-tables", ... */
	const char *action; /* "DescribeVpcs" */
	const struct xml_schema *schema;
	const char *vpc_filter;	  /* server-side filter name, or NULL */
	int max_results;	  /* page size; 0: the action takes none (one id, one answer) */
	const char *names_filter; /* the filter `names` go to ("instance-type", "image-id"),
				     or the parameter the one name is when max_results is 0 */
	const char *fixed_params; /* always sent, e.g. "LocationType=availability-zone" */
};

const struct describe_kind_info *describe_kind_info(enum describe_kind kind);
/* By CLI name; -1 if unknown. */
int describe_kind_by_name(const char *name);

struct describe_request {
	enum describe_kind kind;
	const char *const *vpc_ids; /* restricts to these VPCs; none: every VPC */
	size_t n_vpc_ids;
	const char *const *names; /* DescribeInstanceTypes: the types */
	size_t n_names;
	const char *filter_name; /* an extra filter (e.g. "instance-id"), or NULL */
	const char *filter_value;
	const char *const *filter_values; /* or several values */
	size_t n_filter_values;
};

/* rc is DS_OK, DS_EAWS (err says which), or DS_EPARSE (err->message says where). */
typedef void (*describe_done_fn)(void *ud, int rc, const struct ec2_error *err, int calls);

/* Reads every page into out (appending). */
int ec2_describe(struct ec2_client *c, const struct ec2_target *t,
		 const struct describe_request *req, struct observed *out, describe_done_fn done,
		 void *ud);

#endif
