#include "ratelimit.h"

#include <math.h>
#include <string.h>

static const struct {
	const char *name;
	struct ec2_bucket_spec spec;
} categories[EC2_CAT_COUNT] = {
    [EC2_CAT_NON_MUTATING] = {"non-mutating", {100, 20}},
    [EC2_CAT_UNFILTERED] = {"unfiltered-non-mutating", {50, 10}},
    [EC2_CAT_MUTATING] = {"mutating", {50, 5}},
    [EC2_CAT_RESOURCE_INTENSIVE] = {"resource-intensive", {50, 5}},
    [EC2_CAT_ASSIGN_IPV6] = {"AssignIpv6Addresses", {100, 5}},
    [EC2_CAT_START_INSTANCES] = {"StartInstances", {5, 2}},
    [EC2_CAT_STOP_INSTANCES] = {"StopInstances", {50, 5}},
    [EC2_CAT_SSM] = {"ssm", {10, 5}},
};

const char *ec2_category_name(enum ec2_category cat)
{
	return (unsigned)cat < EC2_CAT_COUNT ? categories[cat].name : "unknown";
}

struct ec2_bucket_spec ec2_bucket_spec_of(enum ec2_category cat)
{
	return categories[(unsigned)cat < EC2_CAT_COUNT ? cat : EC2_CAT_MUTATING].spec;
}

bool ec2_resource_bucket_of(const char *action, struct ec2_bucket_spec *spec)
{
	if (!strcmp(action, "StartInstances") || !strcmp(action, "RunInstances")) {
		*spec = (struct ec2_bucket_spec){1000, 2};
		return true;
	}
	if (!strcmp(action, "StopInstances") || !strcmp(action, "TerminateInstances")) {
		*spec = (struct ec2_bucket_spec){1000, 20};
		return true;
	}
	return false;
}

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

enum ec2_category ec2_category_of(const char *action, bool filtered)
{
	static const struct {
		const char *action;
		enum ec2_category cat;
	} own[] = {
	    {"AuthorizeSecurityGroupIngress", EC2_CAT_RESOURCE_INTENSIVE},
	    {"AuthorizeSecurityGroupEgress", EC2_CAT_RESOURCE_INTENSIVE},
	    {"RevokeSecurityGroupIngress", EC2_CAT_RESOURCE_INTENSIVE},
	    {"RevokeSecurityGroupEgress", EC2_CAT_RESOURCE_INTENSIVE},
	    {"AssignIpv6Addresses", EC2_CAT_ASSIGN_IPV6},
	    {"StartInstances", EC2_CAT_START_INSTANCES},
	    {"StopInstances", EC2_CAT_STOP_INSTANCES},
	};
	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
		if (strcmp(action, own[i].action) == 0)
			return own[i].cat;
	if (starts_with(action, "Describe") || starts_with(action, "Get") ||
	    starts_with(action, "List")) {
		bool big = strcmp(action, "DescribeInstances") == 0 ||
			   strcmp(action, "DescribeSecurityGroups") == 0 ||
			   strcmp(action, "DescribeNetworkInterfaces") == 0;
		return big && !filtered ? EC2_CAT_UNFILTERED : EC2_CAT_NON_MUTATING;
	}
	return EC2_CAT_MUTATING;
}

/* ---- token bucket with adaptive rate ---- */

#define ADAPTIVE_BETA	0.7
#define ADAPTIVE_SCALE	0.4
#define ADAPTIVE_SMOOTH 0.8
#define MIN_RATE_PER_S	0.5

void rate_bucket_init(struct rate_bucket *b, struct ec2_bucket_spec spec, double budget,
		      double now_s)
{
	memset(b, 0, sizeof(*b));
	if (budget <= 0 || budget > 1)
		budget = 1;
	/* One token is kept in hand: our clock and EC2's are not the same, and a request that
	 * left exactly on time can still arrive before EC2's bucket has refilled. */
	b->size = spec.size * budget - 1 < 1 ? 1 : spec.size * budget - 1;
	b->refill_per_s = spec.refill_per_s * budget;
	b->tokens = b->size;
	b->last_refill_s = now_s;
	b->rate_bucket_s = floor(now_s * 2) / 2;
}

void rate_bucket_set_budget(struct rate_bucket *b, struct ec2_bucket_spec spec, double budget,
			    double now_s)
{
	rate_bucket_level(b, now_s); /* refill at the old rate up to now */
	if (budget <= 0 || budget > 1)
		budget = 1;
	b->size = spec.size * budget - 1 < 1 ? 1 : spec.size * budget - 1;
	b->refill_per_s = spec.refill_per_s * budget;
	if (b->tokens > b->size)
		b->tokens = b->size;
}

double rate_bucket_rate(const struct rate_bucket *b)
{
	if (b->adaptive_enabled && b->adaptive_rate_per_s < b->refill_per_s)
		return b->adaptive_rate_per_s;
	return b->refill_per_s;
}

static void refill(struct rate_bucket *b, double now_s)
{
	if (now_s > b->last_refill_s) {
		b->tokens += (now_s - b->last_refill_s) * rate_bucket_rate(b);
		if (b->tokens > b->size)
			b->tokens = b->size;
	}
	b->last_refill_s = now_s > b->last_refill_s ? now_s : b->last_refill_s;
}

double rate_bucket_level(struct rate_bucket *b, double now_s)
{
	refill(b, now_s);
	return b->tokens;
}

double rate_bucket_wait(struct rate_bucket *b, double now_s, double cost)
{
	refill(b, now_s);
	if (cost > b->size)
		cost = b->size;
	/* a token due within a microsecond counts as here: waits shorter than the clock's
	 * resolution would never advance it */
	double missing = cost - b->tokens;
	if (missing <= 1e-6)
		return 0;
	double rate = rate_bucket_rate(b);
	return missing / (rate > 0 ? rate : MIN_RATE_PER_S);
}

void rate_bucket_spend(struct rate_bucket *b, double now_s, double cost)
{
	refill(b, now_s);
	if (cost > b->size)
		cost = b->size;
	b->tokens -= cost;
	if (b->tokens < 0)
		b->tokens = 0;
}

/* The measured sending rate, smoothed per half second (botocore's _update_measured_rate). */
static void measure(struct rate_bucket *b, double now_s)
{
	double t = floor(now_s * 2) / 2;
	b->rate_count += 1;
	if (t > b->rate_bucket_s) {
		double current = b->rate_count / (t - b->rate_bucket_s);
		b->measured_rate_per_s =
		    current * ADAPTIVE_SMOOTH + b->measured_rate_per_s * (1 - ADAPTIVE_SMOOTH);
		b->rate_count = 0;
		b->rate_bucket_s = t;
	}
}

void rate_bucket_on_response(struct rate_bucket *b, bool throttled, double now_s)
{
	measure(b, now_s);
	double rate;
	if (throttled) {
		b->throttles++;
		double base = b->adaptive_enabled
				  ? fmin(b->measured_rate_per_s, rate_bucket_rate(b))
				  : b->measured_rate_per_s;
		if (base <= 0)
			base = rate_bucket_rate(b);
		b->last_max_rate_per_s = base;
		b->time_window_s = cbrt(base * (1 - ADAPTIVE_BETA) / ADAPTIVE_SCALE);
		b->last_throttle_s = now_s;
		rate = base * ADAPTIVE_BETA;
		b->adaptive_enabled = true;
	} else {
		if (!b->adaptive_enabled)
			return;
		double dt = now_s - b->last_throttle_s - b->time_window_s;
		rate = ADAPTIVE_SCALE * dt * dt * dt + b->last_max_rate_per_s;
	}
	if (b->measured_rate_per_s > 0 && rate > 2 * b->measured_rate_per_s)
		rate = 2 * b->measured_rate_per_s;
	/* Refill at the old rate up to now before the new rate applies. */
	refill(b, now_s);
	b->adaptive_rate_per_s = fmax(rate, MIN_RATE_PER_S);
	if (b->adaptive_rate_per_s >= b->refill_per_s && !throttled)
		b->adaptive_enabled = false; /* fully recovered: back to the documented rate */
}

/* ---- standard retry mode ---- */

void retry_policy_init(struct retry_policy *p, int max_attempts)
{
	p->max_attempts = max_attempts > 0 ? max_attempts : 3;
	p->max_backoff_s = 20;
	p->quota_capacity = 500;
	p->quota = 500;
	p->retry_cost = 5;
	p->timeout_cost = 10;
}

int retry_acquire(struct retry_policy *p, int attempt, bool was_timeout)
{
	if (attempt >= p->max_attempts)
		return 0;
	int cost = was_timeout ? p->timeout_cost : p->retry_cost;
	if (p->quota < cost)
		return 0;
	p->quota -= cost;
	return cost;
}

void retry_release(struct retry_policy *p, int cost_taken)
{
	p->quota += cost_taken ? cost_taken : 1;
	if (p->quota > p->quota_capacity)
		p->quota = p->quota_capacity;
}

double retry_backoff_s(const struct retry_policy *p, int attempt, double rand01)
{
	double cap = attempt >= 1 && attempt < 30 ? ldexp(1, attempt - 1) : p->max_backoff_s;
	if (cap > p->max_backoff_s)
		cap = p->max_backoff_s;
	return rand01 * cap;
}
