/* ec2_client.h - asynchronous EC2 Query API calls: paced, merged, signed, retried, classified.
 * Owns: one token bucket per (account, region, API action) sized by the action's category,
 * plus the resource buckets of Start/StopInstances; the calls waiting for each bucket, urgent
 * ones first; merging waiting writes that EC2 takes as lists into one call (ec2_batch.h) and
 * splitting a merged call that failed; the standard retry mode, credentials per target account,
 * and turning HTTP answers into ec2_result.
 * Not: what to call (reconcile/) or decoding success bodies (ec2_xml.c); callers get the XML.
 * Every call ends in exactly one callback: success, or a final classified error. */
#ifndef DS_EC2_CLIENT_H
#define DS_EC2_CLIENT_H

#include <ev.h>
#include <stdbool.h>

#include "../reconcile/ec2_ops.h"
#include "creds.h"
#include "http.h"
#include "ratelimit.h"

/* Where a call goes: an account (via a role, or the base credentials) in a region. */
struct ec2_target {
	char account_id[16]; /* bucket key; "" for the controller's own account */
	char region[32];
	char endpoint[256];	/* https://ec2.<region>.amazonaws.com or an override */
	char ssm_endpoint[256]; /* https://ssm.<region>.amazonaws.com or an override */
	char role_arn[256];	/* "" for the base credentials */
};

struct ec2_client_options {
	double budget;		/* fraction of each EC2 bucket (policy api_budget); default 0.5 */
	int max_attempts;	/* standard retry mode: 3 */
	long timeout_ms;	/* per attempt; default 20000 */
	double (*rand01)(void); /* jitter source; default arc4random */
	double bucket_scale;	/* multiplies EC2's documented bucket sizes and rates; 1 (the
				   default) for AWS - benchmarks raise it to measure the client
				   itself, unpaced */
};

struct ec2_result {
	int rc;		      /* DS_OK, or DS_EAWS with err filled (transport errors too) */
	bool ambiguous;	      /* the failed call may have taken effect: re-read before acting */
	struct ec2_error err; /* class, code, message, request id */
	const char *body;     /* the answer (XML) when rc == DS_OK; valid during the callback */
	size_t body_len;
	int attempts;
	double elapsed_s; /* from submit to the final answer, waits included */
	char request_id[64];
};

typedef void (*ec2_done_fn)(void *ud, const struct ec2_result *res);

/* Counters for metrics and benchmarks. */
struct ec2_client_stats {
	unsigned long calls, attempts, ok, throttled_answers, transient_answers, retries,
	    final_errors;
	unsigned long merged;	    /* calls that rode in another call's request */
	unsigned long split;	    /* merged requests that failed and went again one by one */
	unsigned long buckets;	    /* (account, region, action) buckets held now */
	unsigned long window_waits; /* times a bucket with tokens waited for the send window */
	unsigned long requests_out; /* requests out now (at most the send window) */
};

struct ec2_client;

struct ec2_client *ec2_client_new(struct http_client *http, struct creds_cache *creds,
				  const struct ec2_client_options *opt);
void ec2_client_free(struct ec2_client *c);
const struct ec2_client_stats *ec2_client_stats(const struct ec2_client *c);
size_t ec2_client_pending(const struct ec2_client *c);

/* Changes the budget (fraction of each EC2 bucket) of every bucket, now and to come. */
void ec2_client_set_budget(struct ec2_client *c, double budget);
/* Tells about credentials that could not be had (for readiness). */
void ec2_client_on_credentials_error(struct ec2_client *c, void (*fn)(void *ud, const char *err),
				     void *ud);
/* Observes the outcome of every request sent ("ok" or its class; a merged request once, with
 * the action's name) - for metrics. */
void ec2_client_observe(struct ec2_client *c,
			void (*fn)(void *ud, const char *action, const char *outcome), void *ud);

/* A bucket as metrics see it. */
struct ec2_bucket_view {
	const char *account, *region, *action;
	double tokens;		 /* now */
	double rate_per_s;	 /* now: below documented while RequestLimitExceeded slowed it */
	double documented_per_s; /* EC2's refill x budget */
	size_t waiting;		 /* calls waiting for a token */
};

/* Visits every bucket held (idle full ones are dropped after a while: a new one is the same). */
void ec2_client_each_bucket(struct ec2_client *c,
			    void (*fn)(void *ud, const struct ec2_bucket_view *b), void *ud);

/* Call flags. */
enum {
	EC2_F_FILTERED = 1,   /* a Describe with filters/ids/pagination (picks the bucket) */
	EC2_F_IDEMPOTENT = 2, /* safe to resend after an ambiguous failure (reads, ClientToken,
				 "already exists" answers); others are never resent blindly */
	EC2_F_URGENT = 4,     /* other work waits for this call: it goes before the others
				 waiting for the same bucket */
};

/* Calls `action` with params (form-encoded "K=V&K=V", without Action and Version).
 * Throttled answers and failures to connect are always retried (the call did not happen);
 * 5xx answers, resets and timeouts only with EC2_F_IDEMPOTENT - otherwise they end the call
 * with res->ambiguous set, so the caller re-reads before deciding (AssociateVpcCidrBlock and
 * AssignIpv6Addresses would otherwise add a second block or address). */
int ec2_call(struct ec2_client *c, const struct ec2_target *t, const char *action, unsigned flags,
	     const char *params, size_t params_len, ec2_done_fn done, void *ud);

/* A JSON-protocol SSM call (operation e.g. "SendCommand", body the JSON request), paced in
 * its own bucket, signed for service "ssm", retried like any call. */
int ec2_call_ssm(struct ec2_client *c, const struct ec2_target *t, const char *operation,
		 unsigned flags, const char *json, size_t len, ec2_done_fn done, void *ud);

/* Sets the target's region and its EC2 and SSM endpoints (AWS_ENDPOINT_URL_* or AWS's). */
void ec2_target_set_region(struct ec2_target *t, const char *region);

/* Fills a target for the controller's own account from the environment. */
int ec2_target_from_env(const struct creds_env *env, struct ec2_target *t, char *err,
			size_t err_len);

#endif
