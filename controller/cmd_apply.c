/* dualstackd check-policy | plan | apply: one-shot reconciles of the VPCs in scope.
 *   plan   reads, plans and prints (read-only);
 *   apply  reads, plans, executes, then re-reads and re-plans: converged means the new plan is
 *          empty and nothing is blocked. Exit 0 only then; otherwise the blockers and failures
 *          are printed per resource and the exit status is 1 (2: usage or policy errors). */
#include <cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../reconcile/executor.h"
#include "../reconcile/plan.h"
#include "../reconcile/reader.h"
#include "cli.h"
#include "ec2_describe.h"
#include "ec2_port.h"

#define MAX_VPCS   1024
#define MAX_ROUNDS 4

/* Reads a whole file; NULL with a message on failure. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "%s: cannot open: %m\n", path);
		return NULL;
	}
	struct buf b;
	buf_init(&b, (size_t)4 << 20);
	char chunk[8192];
	size_t n;
	int rc = 0;
	while (!rc && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		rc = buf_append(&b, chunk, n);
	fclose(f);
	if (rc || buf_reserve(&b, 0)) {
		fprintf(stderr, "%s: too large\n", path);
		buf_cleanup(&b);
		return NULL;
	}
	*len = b.len;
	return b.data;
}

/* Loads and validates a policy file; prints the errors. */
static int load_policy(const char *path, struct policy *pol)
{
	size_t len = 0;
	char *text = slurp(path, &len);
	if (!text)
		return DS_EIO;
	struct buf errors;
	buf_init(&errors, 0);
	int rc = policy_parse(path, text, len, pol, &errors);
	if (rc)
		fputs(errors.data ? errors.data : "invalid policy\n", stderr);
	buf_cleanup(&errors);
	free(text);
	return rc;
}

int cmd_check_policy(int argc, char **argv)
{
	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: dualstackd check-policy FILE\n"
				"  Exit 0 if the policy is valid; else one line per error: "
				"FILE: $.path: expected ..., got ...\n");
		return argc == 2 && !strcmp(argv[1], "--help") ? 0 : 2;
	}
	struct policy *pol = malloc(sizeof(*pol));
	int rc = pol ? load_policy(argv[1], pol) : DS_ENOMEM;
	if (!rc)
		printf("%s: valid (mode %s)\n", argv[1], policy_mode_name(pol->mode));
	free(pol);
	return rc ? 1 : 0;
}

/* ---- one account and region ---- */

struct run {
	struct cli_session *s;
	const struct policy *pol;
	struct ec2_port_impl port;
	struct observed obs;
	char *vpcs[MAX_VPCS];
	size_t n_vpcs;
	int read_done;
	int read_rc;
	struct ec2_error read_err;
	int shared_stops;
	int executing;
	int mutating_calls;
	int failed;
	struct plan *plans;
	struct exec_report *reports; /* copied results per VPC of the last round */
	struct action_result **results;
};

static void on_read(void *ud, int rc, const struct ec2_error *err)
{
	struct run *r = ud;
	r->read_rc = rc;
	if (err)
		r->read_err = *err;
	r->read_done = 1;
}

static int read_all(struct run *r)
{
	observed_cleanup(&r->obs);
	observed_init(&r->obs);
	r->read_done = 0;
	int rc = reader_read(&r->port.port, r->pol, (const char *const *)r->vpcs, r->n_vpcs,
			     &r->obs, on_read, r);
	if (!rc)
		cli_run_until(r->s, &r->read_done);
	else
		r->read_rc = rc;
	if (r->read_rc)
		fprintf(stderr, "read failed: %s: %s (class %s, request %s)\n", r->read_err.code,
			r->read_err.message, ec2_class_name(r->read_err.cls),
			r->read_err.request_id[0] ? r->read_err.request_id : "-");
	return r->read_rc;
}

/* The VPCs to work on: --vpc ones, or every VPC of the account and region in scope. */
static int list_vpcs(struct run *r, char **wanted, size_t n_wanted)
{
	if (n_wanted) {
		for (size_t i = 0; i < n_wanted && r->n_vpcs < MAX_VPCS; i++)
			r->vpcs[r->n_vpcs++] = strdup(wanted[i]);
		return DS_OK;
	}
	struct observed all;
	observed_init(&all);
	struct ec2_read req = {.kind = OBS_VPCS};
	r->read_done = 0;
	int rc = r->port.port.read(r->port.port.ctx, &req, &all, on_read, r);
	if (!rc)
		cli_run_until(r->s, &r->read_done);
	rc = rc ? rc : r->read_rc;
	for (size_t i = 0; !rc && i < all.vpcs.n && r->n_vpcs < MAX_VPCS; i++)
		if (policy_vpc_in_scope(r->pol, &all.vpcs.v[i]))
			r->vpcs[r->n_vpcs++] = strdup(all.vpcs.v[i].vpc_id);
	observed_cleanup(&all);
	if (rc)
		fprintf(stderr, "DescribeVpcs failed: %s: %s\n", r->read_err.code,
			r->read_err.message);
	return rc;
}

static void plan_all(struct run *r, time_t now)
{
	for (size_t i = 0; i < r->n_vpcs; i++) {
		plan_cleanup(&r->plans[i]);
		plan_init(&r->plans[i]);
		struct plan_input in = {r->pol, &r->obs, r->vpcs[i], now};
		if (plan_build(&in, &r->plans[i]) == DS_ENOTFOUND) {
			snprintf(r->plans[i].vpc_id, sizeof(r->plans[i].vpc_id), "%s", r->vpcs[i]);
			struct plan_finding *f = vec_push(&r->plans[i].findings, sizeof(*f));
			if (f) {
				f->severity = FIND_BLOCKED;
				snprintf(f->resource_id, sizeof(f->resource_id), "%s", r->vpcs[i]);
				snprintf(f->code, sizeof(f->code), "vpc-not-found");
				snprintf(f->detail, sizeof(f->detail),
					 "no such VPC in this account "
					 "and region");
			}
		}
	}
}

static cJSON *plan_json(const struct plan *p)
{
	static const char *const sev[] = {"blocked", "warning", "info"};
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "vpc", p->vpc_id);
	cJSON *acts = cJSON_AddArrayToObject(o, "actions");
	for (size_t i = 0; i < p->actions.n; i++) {
		const struct plan_action *a = &p->actions.v[i];
		struct buf params;
		buf_init(&params, 0);
		plan_format_params(a, &params);
		cJSON *j = cJSON_CreateObject();
		cJSON_AddNumberToObject(j, "n", (double)i + 1);
		cJSON_AddNumberToObject(j, "step", a->step);
		cJSON_AddStringToObject(j, "api", plan_action_api(a->kind));
		cJSON_AddStringToObject(j, "resource", a->resource_id);
		cJSON_AddStringToObject(j, "params", params.data ? params.data : "");
		cJSON *deps = cJSON_AddArrayToObject(j, "after");
		for (int d = 0; d < a->n_deps; d++)
			cJSON_AddItemToArray(deps, cJSON_CreateNumber(a->deps[d] + 1));
		cJSON_AddStringToObject(j, "reason", a->reason);
		cJSON_AddItemToArray(acts, j);
		buf_cleanup(&params);
	}
	cJSON *finds = cJSON_AddArrayToObject(o, "findings");
	for (size_t i = 0; i < p->findings.n; i++) {
		const struct plan_finding *f = &p->findings.v[i];
		cJSON *j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "severity", sev[f->severity]);
		cJSON_AddNumberToObject(j, "step", f->step);
		cJSON_AddStringToObject(j, "resource", f->resource_id);
		cJSON_AddStringToObject(j, "code", f->code);
		cJSON_AddStringToObject(j, "detail", f->detail);
		cJSON_AddItemToArray(finds, j);
	}
	return o;
}

struct exec_wait {
	struct run *r;
	size_t vpc;
};

static void on_executed(void *ud, const struct exec_report *rep)
{
	struct exec_wait *w = ud;
	struct run *r = w->r;
	size_t n = r->plans[w->vpc].actions.n;
	r->mutating_calls += rep->mutating_calls;
	free(r->results[w->vpc]);
	r->results[w->vpc] = calloc(n + 1, sizeof(struct action_result));
	if (r->results[w->vpc])
		memcpy(r->results[w->vpc], rep->results, n * sizeof(struct action_result));
	r->failed += (int)(rep->failed + rep->skipped);
	r->executing--;
}

static bool converged(const struct plan *p)
{
	return p->actions.n == 0 && plan_blocked(p) == 0;
}

/* Executes every VPC's plan concurrently (the limiter paces them); true if any ran. */
static bool execute_round(struct run *r)
{
	struct executor **ex = calloc(r->n_vpcs + 1, sizeof(*ex));
	struct exec_wait *waits = calloc(r->n_vpcs + 1, sizeof(*waits));
	struct exec_options opt = {.max_concurrent_stops = r->pol->max_concurrent_stops,
				   .poll_s = 1,
				   .wait_timeout_s = 900,
				   .shared_stops = &r->shared_stops};
	bool any = false;
	r->executing = 0;
	for (size_t i = 0; ex && waits && i < r->n_vpcs; i++) {
		if (!r->plans[i].actions.n)
			continue;
		waits[i].r = r;
		waits[i].vpc = i;
		r->executing++;
		any = true;
		ex[i] = executor_start(&r->port.port, &r->plans[i], &opt, on_executed, &waits[i]);
		if (!ex[i])
			r->executing--;
	}
	while (r->executing > 0)
		ev_run(r->s->loop, EVRUN_ONCE);
	for (size_t i = 0; ex && i < r->n_vpcs; i++)
		executor_free(ex[i]);
	free(ex);
	free(waits);
	return any;
}

static void print_outcome(const struct run *r, size_t i, FILE *f)
{
	const struct plan *p = &r->plans[i];
	if (converged(p)) {
		fprintf(f, "%s: converged\n", p->vpc_id);
		return;
	}
	fprintf(f, "%s: NOT converged: %zu calls still planned, %zu blocked\n", p->vpc_id,
		p->actions.n, plan_blocked(p));
	struct buf t;
	buf_init(&t, 0);
	plan_format_text(p, &t);
	fputs(t.data ? t.data : "", f);
	buf_cleanup(&t);
}

static void print_failures(const struct run *r, size_t i, const struct plan *executed, FILE *f)
{
	if (!r->results[i])
		return;
	for (size_t k = 0; k < executed->actions.n; k++) {
		const struct action_result *res = &r->results[i][k];
		if (res->status == ACTION_FAILED || res->status == ACTION_SKIPPED)
			fprintf(f, "%s: %s %s %s: %s\n", executed->vpc_id,
				res->status == ACTION_FAILED ? "FAILED" : "SKIPPED",
				plan_action_api(executed->actions.v[k].kind),
				executed->actions.v[k].resource_id, res->detail);
	}
}

static int run_target(struct cli_session *s, const struct policy *pol, char **vpcs, size_t n_vpcs,
		      bool apply, bool json, bool dry_run)
{
	struct run *r = calloc(1, sizeof(*r));
	int status = 0;
	if (!r)
		return 1;
	r->s = s;
	r->pol = pol;
	observed_init(&r->obs);
	ec2_port_init(&r->port, s->ec2, &s->target, s->loop);
	if (list_vpcs(r, vpcs, n_vpcs) || read_all(r)) {
		status = 1;
		goto out;
	}
	r->plans = calloc(r->n_vpcs + 1, sizeof(*r->plans));
	r->results = calloc(r->n_vpcs + 1, sizeof(*r->results));
	if (!r->plans || !r->results) {
		status = 1;
		goto out;
	}
	plan_all(r, time(NULL));

	if (!apply || dry_run) {
		cJSON *arr = json ? cJSON_CreateArray() : NULL;
		for (size_t i = 0; i < r->n_vpcs; i++) {
			if (json) {
				cJSON_AddItemToArray(arr, plan_json(&r->plans[i]));
				continue;
			}
			struct buf t;
			buf_init(&t, 0);
			plan_format_text(&r->plans[i], &t);
			fputs(t.data ? t.data : "", stdout);
			buf_cleanup(&t);
			if (!converged(&r->plans[i]))
				status = 1;
		}
		if (json) {
			char *text = cJSON_Print(arr);
			puts(text ? text : "[]");
			free(text);
			cJSON_Delete(arr);
		}
		if (apply && dry_run)
			fprintf(json ? stderr : stdout, "dry-run: no call was made\n");
		if (!apply)
			status = 0; /* plan is read-only: it succeeded */
		goto out;
	}

	struct plan *last = calloc(r->n_vpcs + 1, sizeof(*last));
	for (int round = 0; last && round < MAX_ROUNDS; round++) {
		bool pending = false;
		for (size_t i = 0; i < r->n_vpcs; i++)
			pending |= r->plans[i].actions.n > 0;
		if (!pending)
			break;
		r->failed = 0;
		execute_round(r);
		/* keep what ran, for the report */
		for (size_t i = 0; i < r->n_vpcs; i++) {
			if (!r->plans[i].actions.n)
				continue;
			plan_cleanup(&last[i]);
			last[i] = r->plans[i];
			plan_init(&r->plans[i]);
		}
		if (read_all(r)) {
			status = 1;
			break;
		}
		plan_all(r, time(NULL));
		if (r->failed)
			break; /* failures need an operator or the next reconcile, not a tight loop */
	}
	for (size_t i = 0; i < r->n_vpcs; i++) {
		print_outcome(r, i, stdout);
		if (last)
			print_failures(r, i, &last[i], stdout);
		if (!converged(&r->plans[i]))
			status = 1;
	}
	printf("mutating calls: %d\n", r->mutating_calls);
	for (size_t i = 0; last && i < r->n_vpcs; i++)
		plan_cleanup(&last[i]);
	free(last);
out:
	for (size_t i = 0; r->plans && i < r->n_vpcs; i++)
		plan_cleanup(&r->plans[i]);
	for (size_t i = 0; r->results && i < r->n_vpcs; i++)
		free(r->results[i]);
	for (size_t i = 0; i < r->n_vpcs; i++)
		free(r->vpcs[i]);
	free(r->plans);
	free(r->results);
	observed_cleanup(&r->obs);
	free(r);
	return status;
}

int cli_read_and_plan(struct cli_session *s, const struct policy *pol, char **vpcs, size_t n_vpcs,
		      struct plan **plans, size_t *n_plans)
{
	struct run *r = calloc(1, sizeof(*r));
	int rc = DS_OK;
	*plans = NULL;
	*n_plans = 0;
	if (!r)
		return DS_ENOMEM;
	r->s = s;
	r->pol = pol;
	observed_init(&r->obs);
	ec2_port_init(&r->port, s->ec2, &s->target, s->loop);
	if (list_vpcs(r, vpcs, n_vpcs) || read_all(r))
		rc = DS_EAWS;
	r->plans = rc ? NULL : calloc(r->n_vpcs + 1, sizeof(*r->plans));
	if (!rc && !r->plans)
		rc = DS_ENOMEM;
	if (!rc) {
		plan_all(r, time(NULL));
		*plans = r->plans;
		*n_plans = r->n_vpcs;
	}
	for (size_t i = 0; i < r->n_vpcs; i++)
		free(r->vpcs[i]);
	observed_cleanup(&r->obs);
	free(r);
	return rc;
}

void cli_each_target(struct cli_session *s, const struct policy *pol,
		     void (*fn)(void *ud, struct cli_session *s), void *ud)
{
	size_t n_acc = pol->n_accounts ? pol->n_accounts : 1;
	size_t n_reg = pol->n_regions ? pol->n_regions : 1;
	struct ec2_target base = s->target;
	for (size_t a = 0; a < n_acc; a++) {
		for (size_t g = 0; g < n_reg; g++) {
			s->target = base;
			if (pol->n_regions)
				ec2_target_set_region(&s->target, pol->regions[g]);
			if (pol->n_accounts) {
				snprintf(s->target.account_id, sizeof(s->target.account_id), "%s",
					 pol->accounts[a]);
				policy_role_arn(pol, pol->accounts[a], s->target.role_arn,
						sizeof(s->target.role_arn));
			}
			fn(ud, s);
		}
	}
	s->target = base;
}

int cli_load_policy(const char *path, struct policy *pol)
{
	return load_policy(path, pol);
}

static int plan_or_apply(int argc, char **argv, bool apply)
{
	static const struct option opts[] = {
	    {"policy", required_argument, NULL, 'p'},
	    {"vpc", required_argument, NULL, 'v'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *policy_path = NULL;
	char *vpcs[MAX_VPCS];
	size_t n_vpcs = 0;
	bool json = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "p:v:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'p': policy_path = optarg; break;
		case 'v':
			if (n_vpcs < MAX_VPCS)
				vpcs[n_vpcs++] = optarg;
			break;
		case 'j': json = true; break;
		default:
			fprintf(c == 'h' ? stdout : stderr,
				"usage: dualstackd %s --policy FILE [--vpc ID]...%s\n"
				"  %s\n",
				apply ? "apply" : "plan", apply ? "" : " [--json]",
				apply
				    ? "Reconciles the VPCs once; exit 0 only when every one is "
				      "converged, else the blockers and failures per resource."
				    : "Read-only: the exact calls apply would make, each with its "
				      "reason, and what blocks the rest.");
			return c == 'h' ? 0 : 2;
		}
	}
	if (!policy_path || optind != argc) {
		fprintf(stderr, "usage: dualstackd %s --policy FILE [--vpc ID]...\n",
			apply ? "apply" : "plan");
		return 2;
	}
	struct policy *pol = malloc(sizeof(*pol));
	if (!pol || load_policy(policy_path, pol)) {
		free(pol);
		return 2;
	}
	struct cli_session s;
	char err[512];
	int status = 0;
	if (cli_session_init(&s, pol->api_budget, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		free(pol);
		return 1;
	}
	/* accounts x regions of the policy; empty lists mean the session's own */
	size_t n_acc = pol->n_accounts ? pol->n_accounts : 1;
	size_t n_reg = pol->n_regions ? pol->n_regions : 1;
	struct ec2_target base = s.target;
	for (size_t a = 0; a < n_acc; a++) {
		for (size_t g = 0; g < n_reg; g++) {
			s.target = base;
			if (pol->n_regions) {
				ec2_target_set_region(&s.target, pol->regions[g]);
			}
			if (pol->n_accounts) {
				snprintf(s.target.account_id, sizeof(s.target.account_id), "%s",
					 pol->accounts[a]);
				policy_role_arn(pol, pol->accounts[a], s.target.role_arn,
						sizeof(s.target.role_arn));
			}
			if (n_acc * n_reg > 1 && !json)
				printf("== account %s, region %s\n",
				       s.target.account_id[0] ? s.target.account_id : "(own)",
				       s.target.region);
			status |= run_target(&s, pol, vpcs, n_vpcs, apply, json,
					     pol->mode == POLICY_DRY_RUN);
		}
	}
	cli_session_cleanup(&s);
	free(pol);
	return status;
}

int cmd_plan(int argc, char **argv)
{
	return plan_or_apply(argc, argv, false);
}

int cmd_apply(int argc, char **argv)
{
	return plan_or_apply(argc, argv, true);
}
