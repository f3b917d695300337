/* reader.h - fills the observed model for a group of VPCs through the EC2 port.
 * Owns: the batched read - one paginated Describe per resource kind for the whole group, then
 * one DescribeInstanceTypes for every type the planner will ask about. Never one call per
 * resource. Not: decoding (the port's) or planning. */
#ifndef DS_READER_H
#define DS_READER_H

#include <stdbool.h>

#include "ec2_ops.h"
#include "model.h"
#include "policy.h"

typedef void (*reader_done_fn)(void *ud, int rc, const struct ec2_error *err);

/* What a read takes beyond what `apply` plans from. */
enum {
	READ_RESIZE_BACK = 1u << 0, /* step 4's facts for what revert --resize-back resizes */
	READ_INTERFACES = 1u << 1,  /* every network interface in the VPCs (revert) */
};

/* Reads the VPCs (all VPCs of the account and region when n == 0) into obs; extra: READ_*. */
int reader_read(const struct ec2_port *port, const struct policy *pol, unsigned extra,
		const char *const *vpc_ids, size_t n, struct observed *obs, reader_done_fn done,
		void *ud);

/* Appends the instances of a DescribeInstanceInformation answer (SSM, JSON) to obs;
 * next_token gets its NextToken ("" when it is the last page). */
int reader_decode_ssm(const char *json, size_t len, struct observed *obs, char *next_token,
		      size_t size);

#endif
