/* ec2_batch.h - writes that EC2 takes as lists, merged into one call.
 * Owns: which actions merge and on what they must agree (CreateTags/DeleteTags: the tag set;
 * Stop/StartInstances: everything but the instances; Authorize*: the group), the merged form
 * (each call's list items renumbered after the previous call's), and how many items a call
 * names (an instance each is a token of Start/Stop's resource bucket).
 * Not: queues, tokens or sending (ec2_client.c), nor what to do when a merged call fails
 * (the client splits it: each call goes again alone). Pure functions over form bodies. */
#ifndef DS_EC2_BATCH_H
#define DS_EC2_BATCH_H

#include <stddef.h>

#include "../reconcile/buf.h"

struct batch_rule {
	const char *action;
	const char *list; /* the list parameter: "ResourceId", "InstanceId", "IpPermissions" */
	int max_items;	  /* items one call may carry */
};

/* The rule of an action, or NULL when its calls never merge. */
const struct batch_rule *batch_rule_of(const char *action);

/* Copies every pair of the form body params that is not one of the rule's list items to
 * fixed (calls merge only when their fixed parts are equal) and returns how many distinct list
 * items params has; -1 when it cannot be merged (a list index that is not a number). */
int batch_split(const struct batch_rule *r, const char *params, size_t len, struct buf *fixed);

/* Appends params' list items to out ("&"-joined), item n renumbered to *next_base + n; then
 * advances *next_base past the highest index seen. The merged body is the fixed part followed
 * by each call's items appended in turn. */
int batch_append_items(const struct batch_rule *r, const char *params, size_t len, int *next_base,
		       struct buf *out);

#endif
