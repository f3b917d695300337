/* "AWS API Call via CloudTrail" for EC2: which VPC (or which resource of one) a call touched.
 * Failed calls (errorCode) and read-only calls produce nothing; calls dualstackd does not follow
 * produce nothing, with the reason. Both the legacy top-level and the ipPermissions forms of
 * security group calls carry groupId, which is all that matters here: the reconcile re-reads. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "event.h"

static const char *const followed[] = {
    "CreateVpc",
    "CreateDefaultVpc",
    "CreateSubnet",
    "CreateDefaultSubnet",
    "ModifySubnetAttribute",
    "AssociateVpcCidrBlock",
    "DisassociateVpcCidrBlock",
    "AssociateSubnetCidrBlock",
    "DisassociateSubnetCidrBlock",
    "CreateRouteTable",
    "AssociateRouteTable",
    "ReplaceRouteTableAssociation",
    "DisassociateRouteTable",
    "CreateRoute",
    "ReplaceRoute",
    "DeleteRoute",
    "AttachInternetGateway",
    "DetachInternetGateway",
    "CreateEgressOnlyInternetGateway",
    "CreateNatGateway",
    "CreateSecurityGroup",
    "AuthorizeSecurityGroupIngress",
    "AuthorizeSecurityGroupEgress",
    "RevokeSecurityGroupIngress",
    "RevokeSecurityGroupEgress",
    "ModifySecurityGroupRules",
    "CreateNetworkAcl",
    "CreateNetworkAclEntry",
    "ReplaceNetworkAclEntry",
    "DeleteNetworkAclEntry",
    "ReplaceNetworkAclAssociation",
    "RunInstances",
    "StartInstances",
    "StopInstances",
    "ModifyInstanceAttribute",
    "AssignIpv6Addresses",
    "UnassignIpv6Addresses",
    "CreateTags",
    "DeleteTags",
    "AttachNetworkInterface",
};

/* Where a call names its VPC, in order of preference. */
static const char *const vpc_paths[] = {
    "requestParameters.vpcId",
    "responseElements.vpc.vpcId",
    "responseElements.subnet.vpcId",
    "responseElements.routeTable.vpcId",
    "responseElements.networkAcl.vpcId",
    "responseElements.natGateway.vpcId",
    "responseElements.vpcId",
};

/* Where it names a resource that belongs to one VPC. */
static const char *const resource_paths[] = {
    "requestParameters.subnetId",     "requestParameters.groupId",
    "requestParameters.routeTableId", "requestParameters.networkAclId",
    "requestParameters.instanceId",   "requestParameters.networkInterfaceId",
    "responseElements.subnetId",      "responseElements.groupId",
};

/* Lists of items: {path of the "items" array, the id field}. */
static const struct {
	const char *items;
	const char *field;
} item_paths[] = {
    {"requestParameters.instancesSet.items", "instanceId"},
    {"requestParameters.resourcesSet.items", "resourceId"},
    {"responseElements.instancesSet.items", "instanceId"},
};

static bool is_followed(const char *name)
{
	for (size_t i = 0; i < sizeof(followed) / sizeof(followed[0]); i++)
		if (!strcmp(name, followed[i]))
			return true;
	return false;
}

static bool read_only(const cJSON *rec, const char *name)
{
	const cJSON *ro = cJSON_GetObjectItemCaseSensitive(rec, "readOnly");
	if (cJSON_IsTrue(ro))
		return true;
	return !strncmp(name, "Describe", 8) || !strncmp(name, "Get", 3) ||
	       !strncmp(name, "List", 4);
}

/* Tag changes matter only on the kinds of resource dualstackd scopes (opt-out tags). */
static bool taggable_kind(const char *id)
{
	static const char *const prefixes[] = {"vpc-", "subnet-", "sg-", "acl-", "rtb-", "i-"};
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (!strncmp(id, prefixes[i], strlen(prefixes[i])))
			return true;
	return false;
}

static int add_id(struct event_result *r, const char *account, const char *region, const char *id)
{
	if (!id || !taggable_kind(id))
		return 0;
	return !strncmp(id, "vpc-", 4) ? ev_add_key(r, account, region, id, NULL)
				       : ev_add_key(r, account, region, NULL, id);
}

/* A record's two big objects, found once: most paths below start in one of them, and looking
 * each path up from the top scanned the record's twenty-odd keys every time. */
struct ct_record {
	const cJSON *rec, *request, *response;
};

/* The object a path starts from, and the rest of the path below it. */
static const cJSON *ct_root(const struct ct_record *c, const char **path)
{
	static const char req[] = "requestParameters.", resp[] = "responseElements.";
	if (!strncmp(*path, req, sizeof(req) - 1)) {
		*path += sizeof(req) - 1;
		return c->request;
	}
	if (!strncmp(*path, resp, sizeof(resp) - 1)) {
		*path += sizeof(resp) - 1;
		return c->response;
	}
	return c->rec;
}

static const char *ct_str(const struct ct_record *c, const char *path)
{
	const cJSON *root = ct_root(c, &path);
	return ev_str(root, path);
}

static const cJSON *ct_get(const struct ct_record *c, const char *path)
{
	const cJSON *root = ct_root(c, &path);
	return ev_get(root, path);
}

void ev_cloudtrail(const cJSON *rec, const char *account, const char *region,
		   struct event_result *r)
{
	const char *name = ev_str(rec, "eventName");
	const char *source = ev_str(rec, "eventSource");
	snprintf(r->source, sizeof(r->source), "cloudtrail:%.80s", name ? name : "?");
	if (!name) {
		ev_set(r, EVENT_REJECT, "CloudTrail record without eventName");
		return;
	}
	if (!source || strcmp(source, "ec2.amazonaws.com") != 0) {
		ev_set(r, EVENT_NONE, "not an EC2 call (eventSource %.80s)",
		       source ? source : "none");
		return;
	}
	const char *error = ev_str(rec, "errorCode");
	if (error) {
		ev_set(r, EVENT_NONE, "failed call (errorCode %.80s)", error);
		return;
	}
	if (read_only(rec, name)) {
		ev_set(r, EVENT_NONE, "read-only call");
		return;
	}
	if (!is_followed(name)) {
		ev_set(r, EVENT_NONE, "%.80s does not change what dualstackd reconciles", name);
		return;
	}
	/* recipientAccountId is the account that owns the resources; older records lack it */
	const char *acc = ev_str(rec, "recipientAccountId");
	if (!acc)
		acc = ev_str(rec, "userIdentity.accountId");
	if (!acc)
		acc = ev_str(rec, "userIdentity.accountid"); /* some pipelines lower-case keys */
	if (!acc)
		acc = account;
	const char *reg = ev_str(rec, "awsRegion");
	if (!reg)
		reg = region;
	if (!acc || !reg) {
		ev_set(r, EVENT_REJECT, "%.80s without %s", name,
		       acc ? "awsRegion" : "an account id");
		return;
	}
	struct ct_record c = {rec, cJSON_GetObjectItemCaseSensitive(rec, "requestParameters"),
			      cJSON_GetObjectItemCaseSensitive(rec, "responseElements")};
	int full = 0;
	const char *vpc = NULL;
	for (size_t i = 0; !vpc && i < sizeof(vpc_paths) / sizeof(vpc_paths[0]); i++)
		vpc = ct_str(&c, vpc_paths[i]);
	if (vpc)
		full |= ev_add_key(r, acc, reg, vpc, NULL);
	for (size_t i = 0; i < sizeof(item_paths) / sizeof(item_paths[0]); i++) {
		const cJSON *items = ct_get(&c, item_paths[i].items);
		const cJSON *it;
		cJSON_ArrayForEach(it, items)
		{
			/* RunInstances' answer names the VPC of each instance */
			const char *iv = ev_str(it, "vpcId");
			if (iv)
				full |= ev_add_key(r, acc, reg, iv, NULL);
			else
				full |= add_id(r, acc, reg, ev_str(it, item_paths[i].field));
		}
	}
	/* a single resource, unless the call already named its VPC */
	bool named_vpc = false;
	for (size_t k = 0; k < r->n_keys; k++)
		named_vpc |= r->keys[k].vpc_id[0] != '\0';
	for (size_t i = 0; !named_vpc && i < sizeof(resource_paths) / sizeof(resource_paths[0]);
	     i++)
		full |= add_id(r, acc, reg, ct_str(&c, resource_paths[i]));
	if (full) {
		ev_set(r, EVENT_REJECT, "%.80s names more than %d resources", name, EVENT_MAX_KEYS);
		return;
	}
	if (r->n_keys)
		ev_set(r, EVENT_WORK, "%.80s changed %zu place(s)", name, r->n_keys);
	else
		ev_set(r, EVENT_NONE, "%.80s names no VPC or VPC resource", name);
}
