/* Token buckets, adaptive rate and the standard retry mode, driven by a fake clock. */
#include <math.h>

#include "../../controller/ratelimit.h"
#include "check.h"

static void test_categories(void)
{
	static const struct {
		const char *action;
		bool filtered;
		enum ec2_category cat;
	} cases[] = {
	    {"DescribeVpcs", true, EC2_CAT_NON_MUTATING},
	    {"DescribeVpcs", false, EC2_CAT_NON_MUTATING},
	    {"DescribeInstances", false, EC2_CAT_UNFILTERED},
	    {"DescribeInstances", true, EC2_CAT_NON_MUTATING},
	    {"DescribeSecurityGroups", false, EC2_CAT_UNFILTERED},
	    {"CreateRoute", true, EC2_CAT_MUTATING},
	    {"AssociateVpcCidrBlock", true, EC2_CAT_MUTATING},
	    {"ModifyInstanceAttribute", true, EC2_CAT_MUTATING},
	    {"AuthorizeSecurityGroupIngress", true, EC2_CAT_RESOURCE_INTENSIVE},
	    {"AuthorizeSecurityGroupEgress", true, EC2_CAT_RESOURCE_INTENSIVE},
	    {"AssignIpv6Addresses", true, EC2_CAT_ASSIGN_IPV6},
	    {"StartInstances", true, EC2_CAT_START_INSTANCES},
	    {"StopInstances", true, EC2_CAT_STOP_INSTANCES},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK_MSG(ec2_category_of(cases[i].action, cases[i].filtered) == cases[i].cat,
			  "%s -> %s", cases[i].action,
			  ec2_category_name(ec2_category_of(cases[i].action, cases[i].filtered)));
	struct ec2_bucket_spec m = ec2_bucket_spec_of(EC2_CAT_MUTATING);
	CHECK(m.size == 50 && m.refill_per_s == 5);
	struct ec2_bucket_spec s = ec2_bucket_spec_of(EC2_CAT_START_INSTANCES);
	CHECK(s.size == 5 && s.refill_per_s == 2);
}

static void test_bucket_basics(void)
{
	struct rate_bucket b;
	rate_bucket_init(&b, ec2_bucket_spec_of(EC2_CAT_MUTATING), 1.0, 1000.0);
	int taken = 0;
	double wait;
	while ((wait = rate_bucket_wait(&b, 1000.0, 1)) == 0) {
		rate_bucket_spend(&b, 1000.0, 1);
		taken++;
	}
	CHECK_INT(taken, 49); /* EC2's 50 less the one kept in hand */
	CHECK_MSG(fabs(wait - 0.2) < 1e-9, "wait %f", wait); /* the next in 1/5 s */
	CHECK_MSG(fabs(rate_bucket_wait(&b, 1000.0, 3) - 0.6) < 1e-9, "three tokens in 0.6 s");
	/* waiting takes nothing: one second later the 5 tokens are all there */
	taken = 0;
	while (rate_bucket_wait(&b, 1001.0, 1) == 0) {
		rate_bucket_spend(&b, 1001.0, 1);
		taken++;
	}
	CHECK_INT(taken, 5);
	/* a cost above the size waits for a full bucket, never forever */
	CHECK_MSG(fabs(rate_bucket_wait(&b, 1001.0, 500) - 49 / 5.0) < 1e-9, "capped wait");

	rate_bucket_init(&b, ec2_bucket_spec_of(EC2_CAT_MUTATING), 0.5, 0);
	CHECK(b.size == 24 && b.refill_per_s == 2.5);
	rate_bucket_init(&b, ec2_bucket_spec_of(EC2_CAT_MUTATING), 7, 0); /* clamped */
	CHECK(b.size == 49);
	struct ec2_bucket_spec r;
	CHECK(ec2_resource_bucket_of("StopInstances", &r) && r.size == 1000 &&
	      r.refill_per_s == 20);
	CHECK(ec2_resource_bucket_of("StartInstances", &r) && r.size == 1000 &&
	      r.refill_per_s == 2);
	CHECK(!ec2_resource_bucket_of("CreateTags", &r));
}

/* A burst of 500 calls paced by the bucket sustains the documented refill rate. */
static void test_burst_sustains_refill(void)
{
	struct rate_bucket b;
	rate_bucket_init(&b, ec2_bucket_spec_of(EC2_CAT_MUTATING), 1.0, 0);
	double now = 0;
	for (int i = 0; i < 500; i++) {
		now += rate_bucket_wait(&b, now, 1); /* each call waits for its token */
		rate_bucket_spend(&b, now, 1);
		rate_bucket_on_response(&b, false, now);
	}
	double ideal = (500 - 49) / 5.0;
	CHECK_MSG(now <= ideal * 1.0001 && now >= ideal * 0.999, "500 calls took %.3f s", now);
	CHECK_INT(b.throttles, 0);
}

static void test_adaptive(void)
{
	struct rate_bucket b;
	rate_bucket_init(&b, ec2_bucket_spec_of(EC2_CAT_NON_MUTATING), 1.0, 0);
	double now = 0;
	/* send at ~20/s for 5 s */
	for (int i = 0; i < 100; i++) {
		now += 0.05;
		rate_bucket_on_response(&b, false, now);
	}
	CHECK(rate_bucket_rate(&b) == 20);
	rate_bucket_on_response(&b, true, now);
	double after = rate_bucket_rate(&b);
	CHECK_MSG(after <= 0.7 * 20 * 1.01 && after > 5, "rate after throttle %f", after);
	CHECK_INT(b.throttles, 1);
	/* a second throttle lowers it again */
	now += 0.1;
	rate_bucket_on_response(&b, true, now);
	CHECK(rate_bucket_rate(&b) < after);
	/* successes recover along the cubic curve, back to the documented rate */
	double low = rate_bucket_rate(&b), prev = low;
	int monotone = 1;
	for (int i = 0; i < 400; i++) {
		now += 0.05;
		rate_bucket_on_response(&b, false, now);
		if (rate_bucket_rate(&b) + 1e-9 < prev && i > 20)
			monotone = 0;
		prev = rate_bucket_rate(&b);
	}
	CHECK(monotone);
	CHECK_MSG(rate_bucket_rate(&b) == 20, "recovered to %f", rate_bucket_rate(&b));
}

static void test_retry_policy(void)
{
	struct retry_policy p;
	retry_policy_init(&p, 3);
	CHECK(retry_backoff_s(&p, 1, 1.0) == 1.0);
	CHECK(retry_backoff_s(&p, 2, 1.0) == 2.0);
	CHECK(retry_backoff_s(&p, 6, 1.0) == 20.0);
	CHECK(retry_backoff_s(&p, 40, 0.5) == 10.0);
	CHECK(retry_backoff_s(&p, 3, 0.0) == 0.0);
	CHECK_INT(retry_acquire(&p, 1, false), 5);
	CHECK_INT(retry_acquire(&p, 2, true), 10);
	CHECK_INT(retry_acquire(&p, 3, false), 0); /* max attempts reached */
	CHECK_INT(p.quota, 485);
	retry_release(&p, 15);
	CHECK_INT(p.quota, 500);
	int granted = 0;
	while (retry_acquire(&p, 1, false))
		granted++;
	CHECK_INT(granted, 100); /* 500 / 5: the quota stops retry storms */
	retry_release(&p, 0);
	CHECK_INT(p.quota, 1);
}

void test_ratelimit(void)
{
	test_categories();
	test_bucket_basics();
	test_burst_sustains_refill();
	test_adaptive();
	test_retry_policy();
}
