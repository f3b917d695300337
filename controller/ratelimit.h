/* ratelimit.h - client-side pacing of EC2 calls, as pure arithmetic over a caller's clock.
 * Owns: EC2's throttling categories and their documented bucket sizes (each API action has a
 * bucket of its own, sized by its category; Start/Stop also draw per instance from a resource
 * bucket), token buckets scaled by the policy's budget, the SDKs' adaptive (CUBIC) rate after
 * RequestLimitExceeded, and the SDK "standard" retry mode (jittered exponential backoff, 20 s
 * cap, retry quota).
 * Not: timers or queues of waiting calls (ec2_client.c) - nothing here reads a clock. */
#ifndef DS_RATELIMIT_H
#define DS_RATELIMIT_H

#include <stdbool.h>

/* EC2 throttling categories (EC2 API Reference, "Request throttling"). Actions with their own
 * documented buckets are categories of their own. */
enum ec2_category {
	EC2_CAT_NON_MUTATING,	    /* Describe* with filters or pagination: 100, 20/s */
	EC2_CAT_UNFILTERED,	    /* unfiltered, unpaginated Describe*: 50, 10/s */
	EC2_CAT_MUTATING,	    /* Create*, Associate*, Modify*: 50, 5/s */
	EC2_CAT_RESOURCE_INTENSIVE, /* Authorize/RevokeSecurityGroup*: 50, 5/s */
	EC2_CAT_ASSIGN_IPV6,	    /* AssignIpv6Addresses: 100, 5/s */
	EC2_CAT_START_INSTANCES,    /* StartInstances: 5, 2/s */
	EC2_CAT_STOP_INSTANCES, /* StopInstances: treated as mutating, plus its resource bucket */
	EC2_CAT_SSM,		/* SSM calls (SendCommand, DescribeInstanceInformation): 10, 5/s */
	EC2_CAT_COUNT
};

struct ec2_bucket_spec {
	double size;
	double refill_per_s;
};

const char *ec2_category_name(enum ec2_category cat);
/* The category of an EC2 action; `filtered` says whether a Describe carries filters, ids or
 * pagination (an unfiltered DescribeInstances draws from the smaller bucket). */
enum ec2_category ec2_category_of(const char *action, bool filtered);
struct ec2_bucket_spec ec2_bucket_spec_of(enum ec2_category cat);
/* The resource bucket an action draws from per instance it names (StartInstances 1000, 2/s;
 * StopInstances 1000, 20/s); false for actions without one. */
bool ec2_resource_bucket_of(const char *action, struct ec2_bucket_spec *spec);

/* A token bucket with the SDK's adaptive client rate on top. */
struct rate_bucket {
	double size;
	double refill_per_s; /* documented refill x budget: never exceeded */
	double tokens;
	double last_refill_s;
	/* adaptive mode (botocore's ClientRateLimiter) */
	bool adaptive_enabled;
	double adaptive_rate_per_s;
	double measured_rate_per_s;
	double last_max_rate_per_s;
	double last_throttle_s;
	double time_window_s;
	double rate_bucket_s; /* start of the current half-second measuring bucket */
	double rate_count;
	unsigned long throttles;
};

void rate_bucket_init(struct rate_bucket *b, struct ec2_bucket_spec spec, double budget,
		      double now_s);
/* A new budget (a reload, or the group's membership changed): size and rate follow it. */
void rate_bucket_set_budget(struct rate_bucket *b, struct ec2_bucket_spec spec, double budget,
			    double now_s);
/* Seconds until `cost` tokens are in the bucket (0: they are now); a cost above the bucket's
 * size waits for a full bucket. Takes nothing. */
double rate_bucket_wait(struct rate_bucket *b, double now_s, double cost);
/* Takes `cost` tokens (after rate_bucket_wait said 0). */
void rate_bucket_spend(struct rate_bucket *b, double now_s, double cost);
/* Feeds back the outcome of a call that used a token. */
void rate_bucket_on_response(struct rate_bucket *b, bool throttled, double now_s);
/* The current effective refill rate (documented x budget, or lower while adaptive). */
double rate_bucket_rate(const struct rate_bucket *b);
double rate_bucket_level(struct rate_bucket *b, double now_s);

/* The SDK "standard" retry mode. */
struct retry_policy {
	int max_attempts;     /* 3 in the SDKs */
	double max_backoff_s; /* 20 */
	int quota_capacity;   /* 500 */
	int quota;	      /* tokens left */
	int retry_cost;	      /* 5 */
	int timeout_cost;     /* 10 */
};

void retry_policy_init(struct retry_policy *p, int max_attempts);
/* Whether attempt `attempt` (1-based, the one that just failed) may be retried; takes quota.
 * Returns the cost taken (0 = do not retry). */
int retry_acquire(struct retry_policy *p, int attempt, bool was_timeout);
/* After a success: refunds what its retries took, or 1 token for a first-try success. */
void retry_release(struct retry_policy *p, int cost_taken);
/* Delay before retry number `attempt` (1-based): rand01 * min(2^(attempt-1), max_backoff). */
double retry_backoff_s(const struct retry_policy *p, int attempt, double rand01);

#endif
