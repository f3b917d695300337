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

#include "../reconcile/plan.h"
#include "../reconcile/reconcile.h"
#include "cli.h"
#include "ec2_describe.h"
#include "ec2_port.h"
#include "policy_file.h"

#define MAX_VPCS 1024

/* Loads and validates a policy file; prints the errors. */
static struct policy *load_policy(const char *path)
{
	struct buf errors;
	buf_init(&errors, 0);
	struct policy *pol = policy_file_load(path, &errors);
	if (!pol)
		fputs(errors.data ? errors.data : "invalid policy\n", stderr);
	buf_cleanup(&errors);
	return pol;
}

int cmd_check_policy(int argc, char **argv)
{
	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: dualstackd check-policy FILE\n"
				"  Exit 0 if the policy is valid; else one line per error: "
				"FILE: $.path: expected ..., got ...\n");
		return argc == 2 && !strcmp(argv[1], "--help") ? 0 : 2;
	}
	struct policy *pol = load_policy(argv[1]);
	if (pol)
		printf("%s: valid (mode %s)\n", argv[1], policy_mode_name(pol->mode));
	policy_unref(pol);
	return pol ? 0 : 1;
}

/* ---- one account and region ---- */

static void on_run_done(void *ud, struct reconcile_run *run)
{
	(void)run;
	*(int *)ud = 1;
}

/* Reconciles (or only plans) the VPCs of s->target through the process's reconciler. */
static struct reconcile_run *run_reconcile(struct cli_session *s, struct reconciler *rc,
					   struct ec2_port_impl *port, char **vpcs, size_t n_vpcs,
					   bool execute)
{
	ec2_port_init(port, s->ec2, &s->target, s->loop);
	struct reconcile_request req = {.port = &port->port,
					.account = s->target.account_id,
					.region = s->target.region,
					.vpc_ids = (const char *const *)vpcs,
					.n_vpc_ids = n_vpcs,
					.execute = execute};
	int done = 0;
	struct reconcile_run *run = reconcile_start(rc, &req, on_run_done, &done);
	if (!run)
		return NULL;
	cli_run_until(s, &done);
	const struct ec2_error *err;
	if (reconcile_run_error(run, &err)) {
		fprintf(stderr, "read failed: %s: %s (class %s, request %s)\n", err->code,
			err->message, ec2_class_name(err->cls),
			err->request_id[0] ? err->request_id : "-");
		reconcile_run_free(run);
		return NULL;
	}
	return run;
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
		cJSON_AddNumberToObject(j, "calls", a->calls);
		if (a->rides_with >= 0)
			cJSON_AddNumberToObject(j, "in_request_of", a->rides_with + 1);
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

static bool converged(const struct plan *p)
{
	return p->actions.n == 0 && plan_blocked(p) == 0;
}

static void print_outcome(const struct reconcile_vpc *v, FILE *f)
{
	const struct plan *p = &v->plan;
	if (v->outcome == RC_GONE) {
		fprintf(f, "%s: NOT converged: no such VPC in this account and region\n",
			v->vpc_id);
		return;
	}
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

static void print_failures(const struct reconcile_vpc *v, FILE *f)
{
	const struct plan *executed = &v->executed;
	for (size_t k = 0; v->results && k < executed->actions.n; k++) {
		const struct action_result *res = &v->results[k];
		if (res->status == ACTION_FAILED || res->status == ACTION_SKIPPED)
			fprintf(f, "%s: %s %s %s: %s\n", executed->vpc_id,
				res->status == ACTION_FAILED ? "FAILED" : "SKIPPED",
				plan_action_api(executed->actions.v[k].kind),
				executed->actions.v[k].resource_id, res->detail);
	}
}

/* A VPC that does not exist gets a blocking finding in plan and report output. */
static void mark_gone(struct reconcile_vpc *v)
{
	if (v->outcome != RC_GONE || v->plan.findings.n)
		return;
	struct plan_finding *f = vec_push(&v->plan.findings, sizeof(*f));
	if (!f)
		return;
	f->severity = FIND_BLOCKED;
	snprintf(f->resource_id, sizeof(f->resource_id), "%s", v->vpc_id);
	snprintf(f->code, sizeof(f->code), "vpc-not-found");
	snprintf(f->detail, sizeof(f->detail), "no such VPC in this account and region");
}

static int run_target(struct cli_session *s, struct reconciler *rc, char **vpcs, size_t n_vpcs,
		      bool apply, bool json)
{
	const struct policy *pol = reconciler_policy(rc);
	bool dry_run = pol->mode == POLICY_DRY_RUN;
	struct ec2_port_impl port;
	struct reconcile_run *run = run_reconcile(s, rc, &port, vpcs, n_vpcs, apply && !dry_run);
	if (!run)
		return 1;
	int status = 0;
	size_t n = reconcile_run_count(run);
	if (!apply || dry_run) {
		cJSON *arr = json ? cJSON_CreateArray() : NULL;
		for (size_t i = 0; i < n; i++) {
			struct reconcile_vpc *v = reconcile_run_vpc(run, i);
			mark_gone(v);
			if (json) {
				cJSON_AddItemToArray(arr, plan_json(&v->plan));
				continue;
			}
			struct buf t;
			buf_init(&t, 0);
			plan_format_text(&v->plan, &t);
			fputs(t.data ? t.data : "", stdout);
			buf_cleanup(&t);
			if (!converged(&v->plan))
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
		reconcile_run_free(run);
		return status;
	}
	int calls = 0;
	for (size_t i = 0; i < n; i++) {
		const struct reconcile_vpc *v = reconcile_run_vpc(run, i);
		print_outcome(v, stdout);
		print_failures(v, stdout);
		calls += v->mutating_calls;
		if (v->outcome != RC_CONVERGED)
			status = 1;
	}
	printf("mutating calls: %d\n", calls);
	reconcile_run_free(run);
	return status;
}

int cli_read_and_plan(struct cli_session *s, struct reconciler *rc, char **vpcs, size_t n_vpcs,
		      struct plan **plans, size_t *n_plans)
{
	struct ec2_port_impl port;
	*plans = NULL;
	*n_plans = 0;
	struct reconcile_run *run = run_reconcile(s, rc, &port, vpcs, n_vpcs, false);
	if (!run)
		return DS_EAWS;
	size_t n = reconcile_run_count(run);
	*plans = calloc(n + 1, sizeof(**plans));
	for (size_t i = 0; *plans && i < n; i++) {
		struct reconcile_vpc *v = reconcile_run_vpc(run, i);
		mark_gone(v);
		(*plans)[i] = v->plan; /* moved out */
		plan_init(&v->plan);
	}
	*n_plans = *plans ? n : 0;
	reconcile_run_free(run);
	return *plans ? DS_OK : DS_ENOMEM;
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

struct policy *cli_load_policy(const char *path)
{
	return load_policy(path);
}

struct plan_or_apply_ctx {
	struct reconciler *rc;
	char **vpcs;
	size_t n_vpcs;
	bool apply, json, multi;
	int status;
};

/* One (account, region) of the policy's scope; empty lists mean the session's own. */
static void plan_or_apply_target(void *ud, struct cli_session *s)
{
	struct plan_or_apply_ctx *c = ud;
	if (c->multi && !c->json)
		printf("== account %s, region %s\n",
		       s->target.account_id[0] ? s->target.account_id : "(own)", s->target.region);
	c->status |= run_target(s, c->rc, c->vpcs, c->n_vpcs, c->apply, c->json);
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
	struct policy *pol = load_policy(policy_path);
	if (!pol)
		return 2;
	struct cli_session s;
	char err[512];
	struct plan_or_apply_ctx ctx = {
	    .vpcs = vpcs, .n_vpcs = n_vpcs, .apply = apply, .json = json};
	if (cli_session_init(&s, pol->api_budget, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		policy_unref(pol);
		return 1;
	}
	creds_cache_set_external_id(s.creds, pol->assume_role_external_id);
	ctx.rc = reconciler_new(pol, NULL, NULL);
	ctx.multi =
	    (pol->n_accounts ? pol->n_accounts : 1) * (pol->n_regions ? pol->n_regions : 1) > 1;
	if (ctx.rc)
		cli_each_target(&s, pol, plan_or_apply_target, &ctx);
	else
		ctx.status = 1;
	reconciler_free(ctx.rc);
	cli_session_cleanup(&s);
	policy_unref(pol);
	return ctx.status;
}

int cmd_plan(int argc, char **argv)
{
	return plan_or_apply(argc, argv, false);
}

int cmd_apply(int argc, char **argv)
{
	return plan_or_apply(argc, argv, true);
}
