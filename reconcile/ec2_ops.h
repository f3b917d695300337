/* ec2_ops.h - the port through which the core talks to EC2: outcome classes and errors.
 * Owns: the classification every EC2 answer gets, shared by the executor and the client.
 * Not: transport, signing or retries (controller/ implements those behind this port). */
#ifndef DS_EC2_OPS_H
#define DS_EC2_OPS_H

#include <stdbool.h>

enum ec2_class {
	EC2_OK = 0,
	EC2_DUPLICATE, /* already exists: success once a re-read confirms the state */
	EC2_NOT_FOUND, /* *.NotFound: maybe eventual consistency right after a create */
	EC2_THROTTLED, /* RequestLimitExceeded: slow down and retry */
	EC2_TRANSIENT, /* 5xx, timeouts, resets: retry with backoff */
	EC2_STATE,     /* IncorrectInstanceState and the like: wait, then retry */
	EC2_FATAL,     /* bad request or auth: never retried blindly */
};

struct ec2_error {
	int http_status; /* 0 when no HTTP answer was received */
	char code[128];	 /* AWS error code, or a synthetic one (ConnectionError, HttpStatus500) */
	char message[512];
	char request_id[64];
	enum ec2_class cls;
};

const char *ec2_class_name(enum ec2_class cls);

/* Classifies an AWS error code (and HTTP status when the code says little). */
enum ec2_class ec2_classify(int http_status, const char *code);

#endif
