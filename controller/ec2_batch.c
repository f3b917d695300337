#include "ec2_batch.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* EC2 API Reference: CreateTags/DeleteTags take up to 1,000 resources (AWS suggests smaller
 * batches; a few hundred keeps the body small); Stop/StartInstances any number, each instance a
 * token of the resource bucket; a security group holds 60 rules per direction by default. */
static const struct batch_rule rules[] = {
    {"CreateTags", "ResourceId", 500},
    {"DeleteTags", "ResourceId", 500},
    {"StopInstances", "InstanceId", 50},
    {"StartInstances", "InstanceId", 50},
    {"AuthorizeSecurityGroupIngress", "IpPermissions", 50},
    {"AuthorizeSecurityGroupEgress", "IpPermissions", 50},
};

const struct batch_rule *batch_rule_of(const char *action)
{
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		if (!strcmp(rules[i].action, action))
			return &rules[i];
	return NULL;
}

/* Whether the pair [p, p + n) is an item of the list: "List.<digits>" then '.', '=' or the
 * end. *index gets the number (0 when not a number: not mergeable). */
static bool list_item(const struct batch_rule *r, const char *p, size_t n, long *index,
		      size_t *index_end)
{
	size_t ll = strlen(r->list);
	if (n <= ll + 1 || memcmp(p, r->list, ll) != 0 || p[ll] != '.')
		return false;
	size_t i = ll + 1;
	long v = 0;
	while (i < n && p[i] >= '0' && p[i] <= '9' && v < 1000000)
		v = v * 10 + (p[i++] - '0');
	*index = i > ll + 1 && (i == n || p[i] == '.' || p[i] == '=') ? v : 0;
	*index_end = i;
	return true;
}

int batch_split(const struct batch_rule *r, const char *params, size_t len, struct buf *fixed)
{
	long highest = 0;
	int items = 0;
	/* items are counted by distinct index; bodies list them in order, so a new highest
	 * index is a new item */
	for (size_t at = 0; at < len;) {
		const char *amp = memchr(params + at, '&', len - at);
		size_t n = amp ? (size_t)(amp - (params + at)) : len - at;
		long index;
		size_t end;
		if (n && list_item(r, params + at, n, &index, &end)) {
			if (index <= 0)
				return -1;
			if (index > highest) {
				highest = index;
				items++;
			}
		} else if (n) {
			int rc = fixed->len ? buf_putc(fixed, '&') : 0;
			if (rc || buf_append(fixed, params + at, n))
				return -1;
		}
		at += n + 1;
	}
	return items;
}

int batch_append_items(const struct batch_rule *r, const char *params, size_t len, int *next_base,
		       struct buf *out)
{
	long highest = 0;
	size_t ll = strlen(r->list);
	for (size_t at = 0; at < len;) {
		const char *amp = memchr(params + at, '&', len - at);
		size_t n = amp ? (size_t)(amp - (params + at)) : len - at;
		long index;
		size_t end;
		if (n && list_item(r, params + at, n, &index, &end)) {
			if (index <= 0)
				return DS_EINVAL;
			if (index > highest)
				highest = index;
			int rc = out->len ? buf_putc(out, '&') : 0;
			if (!rc)
				rc = buf_append(out, params + at, ll);
			if (!rc)
				rc = buf_printf(out, ".%ld", *next_base + index);
			if (!rc)
				rc = buf_append(out, params + at + end, n - end);
			if (rc)
				return rc;
		}
		at += n + 1;
	}
	*next_base += (int)highest;
	return DS_OK;
}
