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

/* Reads the VPCs (all VPCs of the account and region when n == 0) into obs. resize_back: also
 * step 4's facts for the instances revert --resize-back would resize. */
int reader_read(const struct ec2_port *port, const struct policy *pol, bool resize_back,
		const char *const *vpc_ids, size_t n, struct observed *obs, reader_done_fn done,
		void *ud);

/* Appends the instances of a DescribeInstanceInformation answer (SSM, JSON) to obs;
 * next_token gets its NextToken ("" when it is the last page). */
int reader_decode_ssm(const char *json, size_t len, struct observed *obs, char *next_token,
		      size_t size);

#endif
