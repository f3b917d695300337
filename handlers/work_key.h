/* work_key.h - what an event means for dualstackd: which (account, region, VPC) to look at.
 * Owns: the work key and the decoding result every event family produces. Reconciling is
 * level-triggered: a key says only where to look; the controller always reads before writing.
 * A key may name a resource instead of a VPC (a security group, a subnet, an instance...);
 * the controller resolves it to its VPC with a batched, cached lookup. */
#ifndef DS_WORK_KEY_H
#define DS_WORK_KEY_H

#include <stddef.h>

#define WK_ID_LEN 64

struct work_key {
	char account[24];
	char region[40];
	char vpc_id[WK_ID_LEN];	     /* "" when only resource_id is known */
	char resource_id[WK_ID_LEN]; /* to resolve to a VPC: subnet-, sg-, acl-, rtb-, i-, ... */
};

enum event_verdict {
	EVENT_WORK,   /* keys say where to reconcile */
	EVENT_NONE,   /* understood, nothing to do (read-only or failed call, terminated...) */
	EVENT_REJECT, /* malformed, unrecognised or oversized: dead-letter it with the reason */
};

/* Well-formed fields: an account of 12 digits, an AWS region name, a resource id of a known
 * prefix and 8 or 17 lower-case hex digits. */
#include <stdbool.h>
bool wk_valid_account(const char *s);
bool wk_valid_region(const char *s);
bool wk_valid_id(const char *s);
/* 0, or -1 with why filled: the first ill-formed field of a key. */
int work_key_validate(const struct work_key *k, char *why, size_t size);

#define EVENT_MAX_KEYS 64

struct event_result {
	enum event_verdict verdict;
	char
	    source[96]; /* "cloudtrail:CreateVpc", "ec2-state:running", "config:AWS::EC2::Subnet" */
	char reason[256];
	struct work_key keys[EVENT_MAX_KEYS];
	size_t n_keys;
};

#endif
