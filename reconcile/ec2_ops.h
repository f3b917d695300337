/* ec2_ops.h - the port through which the core talks to EC2: outcome classes and errors.
 * Owns: the classification every EC2 answer gets, shared by the executor and the client.
 * Not: transport, signing or retries (controller/ implements those behind this port). */
#ifndef DS_EC2_OPS_H
#define DS_EC2_OPS_H

#include <stdbool.h>
#include <stddef.h>

enum ec2_class {
	EC2_OK = 0,
	EC2_DUPLICATE, /* already exists: success once a re-read confirms the state */
	EC2_NOT_FOUND, /* *.NotFound: maybe eventual consistency right after a create */
	EC2_THROTTLED, /* RequestLimitExceeded: slow down and retry */
	EC2_TRANSIENT, /* 5xx, timeouts, resets: retry with backoff */
	EC2_STATE,     /* IncorrectInstanceState and the like: wait, then retry */
	EC2_FATAL,     /* bad request or auth: never retried blindly */
	EC2_CAPACITY,  /* InsufficientInstanceCapacity and the like: not now, not this type */
};

struct ec2_error {
	int http_status; /* 0 when no HTTP answer was received */
	char code[128];	 /* AWS error code, or a synthetic one (ConnectionError, HttpStatus500) */
	char message[512];
	char request_id[64];
	enum ec2_class cls;
};

const char *ec2_class_name(enum ec2_class cls);

/* ---- the port: what the core needs from an EC2 client (controller/ec2_port.c) ---- */

struct observed;

/* Resource kinds the core reads; one batched, paginated Describe each. */
enum obs_kind {
	OBS_VPCS,
	OBS_SUBNETS,
	OBS_ROUTE_TABLES,
	OBS_INTERNET_GATEWAYS,
	OBS_EGRESS_ONLY_GATEWAYS,
	OBS_SECURITY_GROUPS,
	OBS_NETWORK_ACLS,
	OBS_INSTANCES,
	OBS_NETWORK_INTERFACES, /* every interface in the VPCs: read for revert only */
	OBS_INSTANCE_TYPES,
	/* what a resize needs to know before it stops an instance */
	OBS_IMAGES,	     /* DescribeImages, by image-id filter (names) */
	OBS_TYPE_OFFERINGS,  /* DescribeInstanceTypeOfferings in AZs (filter) of types (names) */
	OBS_STOP_PROTECTION, /* DescribeInstanceAttribute disableApiStop of names[0] */
	OBS_KIND_COUNT
};

struct ec2_read {
	enum obs_kind kind;
	const char *const *vpc_ids; /* restrict to these VPCs (none: all) */
	size_t n_vpc_ids;
	const char *filter_name; /* optional extra filter, e.g. "instance-id" */
	const char *filter_value;
	const char *const *filter_values; /* or several values for it */
	size_t n_filter_values;
	const char *const *names; /* OBS_INSTANCE_TYPES: the types */
	size_t n_names;
};

struct ec2_answer {
	int rc;		      /* 0, or an error with err filled */
	struct ec2_error err; /* class and code on failure */
	bool ambiguous;	      /* the failed call may have taken effect */
	const char *body;     /* the XML answer on success (valid during the callback) */
	size_t body_len;
	const char *request_id; /* AWS's request id, for the audit record */
};

typedef void (*ec2_read_fn)(void *ud, int rc, const struct ec2_error *err);
typedef void (*ec2_call_fn)(void *ud, const struct ec2_answer *ans);
typedef void (*ec2_timer_fn)(void *ud);

/* Call flags (the same values as the client's EC2_F_*). */
#define EC2_PORT_IDEMPOTENT 2
#define EC2_PORT_URGENT	    4 /* other actions wait for this one: ahead in its bucket's queue */

struct ec2_port {
	void *ctx;
	/* Appends what the read finds to obs. */
	int (*read)(void *ctx, const struct ec2_read *r, struct observed *obs, ec2_read_fn done,
		    void *ud);
	/* A mutating call with form-encoded params (without Action/Version). */
	int (*call)(void *ctx, const char *action, const char *params, size_t len, unsigned flags,
		    ec2_call_fn done, void *ud);
	/* An SSM JSON-protocol call ("SendCommand", "DescribeInstanceInformation"). */
	int (*ssm_call)(void *ctx, const char *operation, const char *json, size_t len,
			unsigned flags, ec2_call_fn done, void *ud);
	/* Runs fn after delay_s on the caller's loop: waits never block. */
	int (*after)(void *ctx, double delay_s, ec2_timer_fn fn, void *ud);
	/* The loop's monotonic time in seconds (what `after` counts in). */
	double (*now)(void *ctx);
	/* The id in a CreateEgressOnlyInternetGateway answer (the codec's). */
	int (*decode_eigw)(const char *xml, size_t len, char *eigw_id, size_t size);
};

/* Classifies an AWS error code (and HTTP status when the code says little). */
enum ec2_class ec2_classify(int http_status, const char *code);

#endif
