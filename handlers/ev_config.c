/* AWS Config "Configuration Item Change" (and the oversized form, which carries only a
 * summary): the item's VPC when it says so, else the resource, resolved later. Both the
 * notification shape (awsAccountId, ARN) and the API/history shape (accountId, arn) of a
 * configuration item are read. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "event.h"

static const char *const followed_types[] = {
    "AWS::EC2::VPC",
    "AWS::EC2::Subnet",
    "AWS::EC2::RouteTable",
    "AWS::EC2::SecurityGroup",
    "AWS::EC2::NetworkAcl",
    "AWS::EC2::Instance",
    "AWS::EC2::InternetGateway",
    "AWS::EC2::EgressOnlyInternetGateway",
    "AWS::EC2::NatGateway",
    "AWS::EC2::NetworkInterface",
};

static const char *vpc_of(const cJSON *item, const cJSON *msg)
{
	const char *v = ev_str(item, "configuration.vpcId");
	if (v)
		return v;
	const cJSON *rels = cJSON_GetObjectItemCaseSensitive(item, "relationships");
	const cJSON *rel;
	cJSON_ArrayForEach(rel, rels)
	{
		const char *t = ev_str(rel, "resourceType");
		if (t && !strcmp(t, "AWS::EC2::VPC") && ev_str(rel, "resourceId"))
			return ev_str(rel, "resourceId");
	}
	/* a deleted item keeps its last configuration in the message's diff */
	return ev_str(msg,
		      "configurationItemDiff.changedProperties.Configuration.previousValue.vpcId");
}

void ev_config_item(const cJSON *msg, const char *account, const char *region,
		    struct event_result *r)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(msg, "configurationItem");
	const char *type_of_msg = ev_str(msg, "messageType");
	bool oversized =
	    type_of_msg && !strcmp(type_of_msg, "OversizedConfigurationItemChangeNotification");
	if (oversized)
		item = cJSON_GetObjectItemCaseSensitive(msg, "configurationItemSummary");
	if (!item && ev_str(msg, "resourceType"))
		item = msg; /* a bare configuration item */
	if (!cJSON_IsObject(item)) {
		snprintf(r->source, sizeof(r->source), "config:%.60s",
			 type_of_msg ? type_of_msg : "?");
		if (type_of_msg && strstr(type_of_msg, "ConfigurationItemChange") == NULL)
			ev_set(r, EVENT_NONE, "Config %.80s carries no configuration item",
			       type_of_msg);
		else
			ev_set(r, EVENT_REJECT, "Config message without a configuration item");
		return;
	}
	const char *type = ev_str(item, "resourceType");
	const char *id = ev_str(item, "resourceId");
	snprintf(r->source, sizeof(r->source), "config:%.60s%s", type ? type : "?",
		 oversized ? " (oversized)" : "");
	if (!type || !id) {
		ev_set(r, EVENT_REJECT, "configuration item without resourceType/resourceId");
		return;
	}
	bool followed = false;
	for (size_t i = 0; i < sizeof(followed_types) / sizeof(followed_types[0]); i++)
		followed |= !strcmp(type, followed_types[i]);
	if (!followed) {
		ev_set(r, EVENT_NONE, "%.60s is not a resource dualstackd reconciles", type);
		return;
	}
	const char *acc = ev_str(item, "awsAccountId");
	if (!acc)
		acc = ev_str(item, "accountId");
	if (!acc)
		acc = account;
	const char *reg = ev_str(item, "awsRegion");
	if (!reg)
		reg = region;
	if (!acc || !reg) {
		ev_set(r, EVENT_REJECT, "configuration item without %s",
		       acc ? "awsRegion" : "an account id");
		return;
	}
	const char *status = ev_str(item, "configurationItemStatus");
	bool deleted = status && !strncmp(status, "ResourceDeleted", 15);
	const char *vpc = !strcmp(type, "AWS::EC2::VPC") ? id
			  : oversized			 ? NULL
							 : vpc_of(item, msg);
	if (deleted && (!vpc || !strcmp(type, "AWS::EC2::VPC"))) {
		ev_set(r, EVENT_NONE, "%.60s %.60s was deleted", type, id);
		return;
	}
	if (vpc)
		ev_add_key(r, acc, reg, vpc, NULL);
	else if (strcmp(type, "AWS::EC2::InternetGateway") != 0)
		ev_add_key(r, acc, reg, NULL, id);
	if (r->n_keys)
		ev_set(r, EVENT_WORK, "%.60s %.60s %s", type, id,
		       deleted	   ? "was deleted"
		       : oversized ? "changed (oversized item)"
				   : "changed");
	else
		ev_set(r, EVENT_NONE, "%.60s %.60s names no VPC", type, id);
}
