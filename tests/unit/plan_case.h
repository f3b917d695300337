/* plan_case.h - the recorded cases of tests/fixtures/{plan,revert}/<dir>: the Describe answers
 * a reconcile read, and case.json's policy, VPC and time. Loaded by test_plan.c; the executor
 * and revert suites plan from the same cases. */
#ifndef DS_TEST_PLAN_CASE_H
#define DS_TEST_PLAN_CASE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "../../reconcile/model.h"
#include "../../reconcile/policy.h"

/* Loads a case's observed state, policy, VPC id and time (root: "plan", or "revert"); each
 * file that cannot be read or decoded is a counted failure. 0, or -1. */
int plan_case_load_in(const char *root, const char *dir, struct observed *obs, struct policy *pol,
		      char *vpc, size_t vpc_size, time_t *now);
int plan_case_load(const char *dir, struct observed *obs, struct policy *pol, char *vpc,
		   size_t vpc_size, time_t *now);

/* One loaded case, for a test that plans from it and changes it first. */
struct plan_case {
	struct observed obs;
	struct policy *pol;
	char vpc[64];
	time_t now;
};

/* Loads root/dir into c; false (a counted failure) when it cannot. plan_case_close either way. */
bool plan_case_open(struct plan_case *c, const char *root, const char *dir);
void plan_case_close(struct plan_case *c);

#endif
