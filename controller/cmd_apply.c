/* dualstackd check-policy | plan | apply | revert: one-shot reconciles of the VPCs in scope.
 *   plan   reads, plans and prints (read-only);
 *   apply  reads, plans, executes, then re-reads and re-plans: converged means the new plan is
 *          empty and nothing is blocked. Exit 0 only then; otherwise the blockers and failures
 *          are printed per resource and the exit status is 1 (2: usage or policy errors);
 *   revert the same rounds over the undo planner (reconcile/revert.h): "reverted" when nothing
 *          of dualstackd's is left to remove; --dry-run prints the removals, makes no call. */
#include <cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../reconcile/plan.h"
#include "../reconcile/reconcile.h"
#include "../reconcile/revert.h"
#include "cli.h"
#include "ec2_describe.h"
#include "ec2_port.h"
#include "halt_file.h"
#include "policy_file.h"

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

/* ---- output ---- */

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
		if (a->phase) /* revert: starts after every action of a lower phase succeeded */
			cJSON_AddNumberToObject(j, "phase", a->phase);
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
		if (f->fix[0])
			cJSON_AddStringToObject(j, "fix", f->fix);
		cJSON_AddItemToArray(finds, j);
	}
	return o;
}

static bool converged(const struct plan *p)
{
	return p->actions.n == 0 && plan_blocked(p) == 0;
}

static void print_outcome(const struct reconcile_vpc *v, bool revert, FILE *f)
{
	const struct plan *p = &v->plan;
	const char *done = revert ? "reverted" : "converged";
	if (v->outcome == RC_GONE) {
		fprintf(f, "%s: NOT %s: no such VPC in this account and region\n", v->vpc_id, done);
		return;
	}
	if (converged(p)) {
		fprintf(f, "%s: %s\n", p->vpc_id, done);
		return;
	}
	if (v->outcome == RC_WAITING)
		fprintf(f, "%s: NOT %s: its rollout wave is not open; %zu calls wait\n", p->vpc_id,
			done, p->actions.n);
	for (size_t k = 0; v->outcome == RC_HALTED && v->results && k < v->executed.actions.n; k++)
		if (v->results[k].held) { /* one line: every held action has the same reason */
			fprintf(f, "%s: NOT %s: %s\n", p->vpc_id, done, v->results[k].detail);
			break;
		}
	fprintf(f, "%s: NOT %s: %zu calls still planned, %zu blocked\n", p->vpc_id, done,
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
		if (res->held) /* print_outcome said why */
			continue;
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

struct policy *cli_load_policy(const char *path)
{
	return load_policy(path);
}

struct plan_or_apply_ctx {
	bool apply, dry_run, json, multi;
	bool revert;	       /* the outcome words: reverted / NOT reverted */
	const char *halt_file; /* apply: the daemon's halts it answers to; NULL: none */
	const struct policy *pol;
	int only_wave;	      /* plan --wave: the index printed (-2: every VPC) */
	int open_through;     /* rollout: the last open wave */
	size_t printed;	      /* plans printed (JSON: the separators) */
	char last_target[96]; /* the header printed last */
	int status;
	long calls;
};

/* With several accounts or regions, a header whenever the target changes (windows of
 * different targets end in any order). */
static void target_header(struct plan_or_apply_ctx *c, const struct ec2_target *t)
{
	char key[96];
	snprintf(key, sizeof(key), "%s %s", t->account_id[0] ? t->account_id : "(own)", t->region);
	if (!c->multi || c->json || !strcmp(key, c->last_target))
		return;
	snprintf(c->last_target, sizeof(c->last_target), "%s", key);
	printf("== account %s, region %s\n", t->account_id[0] ? t->account_id : "(own)", t->region);
}

/* With waves, a VPC's plan says which wave it is in and whether that wave is open. */
static bool wave_line(struct plan_or_apply_ctx *c, const struct reconcile_vpc *v)
{
	if (!c->pol->n_waves || v->outcome == RC_GONE || c->revert) /* waves hold no revert */
		return true;
	if (c->only_wave != -2 && v->wave != c->only_wave)
		return false;
	if (c->json)
		return true;
	if (v->wave == ROLLOUT_NO_WAVE)
		printf("%s: in no rollout wave: left alone\n", v->vpc_id);
	else
		printf("%s: rollout wave %d %s (%s)\n", v->vpc_id, v->wave + 1,
		       c->pol->waves[v->wave].name,
		       v->wave <= c->open_through ? "open" : "waiting");
	return true;
}

static void on_vpc(void *ud, const struct ec2_target *t, struct reconcile_vpc *v)
{
	struct plan_or_apply_ctx *c = ud;
	if (!wave_line(c, v))
		return;
	target_header(c, t);
	if (!c->apply || c->dry_run) {
		mark_gone(v);
		if (!converged(&v->plan))
			c->status |= c->apply; /* a dry-run apply did not converge anything */
		if (c->json) {
			cJSON *o = plan_json(&v->plan);
			char *text = o ? cJSON_Print(o) : NULL;
			printf("%s%s", c->printed++ ? ",\n" : "[\n", text ? text : "{}");
			free(text);
			cJSON_Delete(o);
			return;
		}
		struct buf text;
		buf_init(&text, 0);
		plan_format_text(&v->plan, &text);
		fputs(text.data ? text.data : "", stdout);
		buf_cleanup(&text);
		return;
	}
	print_outcome(v, c->revert, stdout);
	print_failures(v, stdout);
	c->calls += v->mutating_calls;
	if (v->outcome != RC_CONVERGED)
		c->status = 1;
}

static void on_target_error(void *ud, const struct ec2_target *t, int rc,
			    const struct ec2_error *err)
{
	struct plan_or_apply_ctx *c = ud;
	fprintf(stderr, "account %s, region %s: read failed: %s: %s (class %s, request %s)\n",
		t->account_id[0] ? t->account_id : "(own)", t->region,
		err && err->code[0] ? err->code : ds_strerror(rc), err ? err->message : "",
		err ? ec2_class_name(err->cls) : "-",
		err && err->request_id[0] ? err->request_id : "-");
	c->status = 1;
}

static void on_halt(void *ud, const struct guard_halt *h)
{
	(void)ud;
	fprintf(stderr,
		"HALTED (%s): %s - no new mutating call starts in this run (resizes under way "
		"finish)\n",
		h->scope, h->reason);
}

/* One of the daemon's halts, held by this run too and said so. */
static void hold_for_daemon(struct guard *g, const struct guard_halt *h, const char *path)
{
	guard_halt(g, h);
	fprintf(stderr,
		"HALTED (%s): %s - from the daemon's halt file %s: no mutating call starts there "
		"in this run (dualstackd resume --halt-file %s clears it; --halt-file none "
		"ignores it)\n",
		h->scope, h->reason, path, path);
}

/* The daemon's halts hold apply's writes too: an operator on the daemon's host does not undo a
 * halt by running apply (`dualstackd resume` is how). A halt file that cannot be read halts
 * the fleet, as it does the daemon. */
static void take_daemon_halts(struct reconciler *rc, const char *path)
{
	struct guard_halt *halts = NULL;
	size_t n = 0;
	char err[512];
	struct guard *g = reconciler_guard(rc);
	if (halt_file_read(path, &halts, &n, err, sizeof(err))) {
		struct guard_halt h;
		halt_file_unreadable(&h, err, time(NULL));
		hold_for_daemon(g, &h, path);
	}
	for (size_t i = 0; i < n; i++)
		hold_for_daemon(g, &halts[i], path);
	free(halts);
}

struct rollout_pass {
	struct rollout counts;
	time_t now;
	int failed;
};

static void count_vpc(void *ud, const struct ec2_target *t, struct reconcile_vpc *v)
{
	struct rollout_pass *r = ud;
	(void)t;
	if (v->outcome != RC_GONE)
		rollout_add(&r->counts, v->wave, &v->plan, v->converged_at, r->now);
}

static void count_error(void *ud, const struct ec2_target *t, int rc, const struct ec2_error *err)
{
	struct rollout_pass *r = ud;
	(void)t;
	(void)rc;
	(void)err;
	r->failed++;
}

/* Rollout waves: which are open is decided over the whole fleet (every VPC of the scope, read
 * and planned, nothing written), before anything is printed or applied. */
static int rollout_pass(struct cli_session *s, struct reconciler *rc, const struct policy *pol,
			FILE *out)
{
	struct rollout_pass *r = calloc(1, sizeof(*r));
	char why[256] = "";
	if (!r)
		return -1;
	r->now = time(NULL);
	struct fleet_request req = {.reconciler = rc,
				    .policy = pol,
				    .execute = false,
				    .on_vpc = count_vpc,
				    .on_error = count_error,
				    .ud = r};
	int open = 0;
	if (cli_fleet_run(s, &req) == DS_ENOMEM)
		r->failed++;
	if (r->failed)
		snprintf(why, sizeof(why),
			 "%d accounts/regions could not be read: only the first wave is open",
			 r->failed);
	else
		open = rollout_open_through(&r->counts, pol, r->now, why, sizeof(why));
	reconciler_set_rollout(rc, open, why);
	struct buf text;
	buf_init(&text, 0);
	buf_printf(&text, "rollout:\n");
	rollout_format(&r->counts, pol, open, why, &text);
	fputs(text.data ? text.data : "", out);
	buf_cleanup(&text);
	free(r);
	return open;
}

/* What plan, apply and revert share: a session, the process's reconciler (and its guard), the
 * rollout pass (not for revert), the fleet walk with req's VPCs and mode, and the footer.
 * Returns ctx->status. */
static int run_over_fleet(struct policy *pol, struct plan_or_apply_ctx *ctx,
			  struct fleet_request *req, const char *wave)
{
	struct cli_session s;
	char err[512];
	if (cli_session_init(&s, pol->api_budget, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return ctx->status = 1;
	}
	creds_cache_set_external_id(s.creds, pol->assume_role_external_id);
	struct reconciler *rc = reconciler_new(pol, NULL, NULL);
	if (rc)
		reconciler_on_halt(rc, on_halt, NULL);
	if (rc && ctx->halt_file)
		take_daemon_halts(rc, ctx->halt_file);
	ctx->pol = pol;
	ctx->only_wave = -2;
	for (size_t k = 0; wave && k < pol->n_waves; k++)
		if (!strcmp(pol->waves[k].name, wave))
			ctx->only_wave = (int)k;
	if (wave && ctx->only_wave == -2) {
		fprintf(stderr, "dualstackd plan: --wave %s: the policy has no wave of that name\n",
			wave);
		ctx->status = 2;
	} else if (rc && pol->n_waves && !ctx->revert) {
		ctx->open_through = rollout_pass(&s, rc, pol, ctx->json ? stderr : stdout);
		if (ctx->open_through < 0)
			ctx->status = 1;
	}
	ctx->multi =
	    (pol->n_accounts ? pol->n_accounts : 1) * (pol->n_regions ? pol->n_regions : 1) > 1;
	req->reconciler = rc;
	req->policy = pol;
	req->on_vpc = on_vpc;
	req->on_error = on_target_error;
	req->ud = ctx;
	if (ctx->status != 2 && (!rc || cli_fleet_run(&s, req) == DS_ENOMEM))
		ctx->status = 1; /* (2: a usage error, nothing read) */
	if (ctx->json)
		puts(ctx->printed ? "\n]" : "[]");
	if (ctx->apply && ctx->dry_run)
		fprintf(ctx->json ? stderr : stdout, "dry-run: no call was made\n");
	if (ctx->apply && !ctx->dry_run) {
		const struct ec2_client_stats *st = ec2_client_stats(s.ec2);
		printf("mutating calls: %ld\n", ctx->calls);
		if (st->merged)
			printf("calls merged into other calls' requests: %lu\n", st->merged);
	}
	reconciler_free(rc);
	cli_session_cleanup(&s);
	return ctx->status;
}

static int plan_or_apply(int argc, char **argv, bool apply)
{
	static const struct option opts[] = {
	    {"policy", required_argument, NULL, 'p'},
	    {"vpc", required_argument, NULL, 'v'},
	    {"json", no_argument, NULL, 'j'},
	    {"wave", required_argument, NULL, 'w'},
	    {"halt-file", required_argument, NULL, 'H'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *policy_path = NULL, *wave = NULL, *halt_file = NULL;
	char default_halt[1024];
	char **vpcs = calloc((size_t)argc + 1, sizeof(*vpcs)); /* --vpc ID: at most argc of them */
	size_t n_vpcs = 0;
	bool json = false;
	int c;
	if (!vpcs)
		return 1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "p:v:jw:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p': policy_path = optarg; break;
		case 'w': wave = optarg; break;
		case 'v': vpcs[n_vpcs++] = optarg; break;
		case 'j': json = true; break;
		case 'H': halt_file = optarg; break;
		default:
			fprintf(c == 'h' ? stdout : stderr,
				"usage: dualstackd %s --policy FILE [--vpc ID]...%s\n"
				"  %s%s\n",
				apply ? "apply" : "plan",
				apply ? " [--halt-file PATH|none]" : " [--json] [--wave NAME]",
				apply
				    ? "Reconciles the VPCs once; exit 0 only when every one is "
				      "converged, else the blockers and failures per resource."
				    : "Read-only: the exact calls apply would make, each with its "
				      "reason, and what blocks the rest.",
				apply ? "\n  The daemon's halts (its halt file: --halt-file, else "
					"$STATE_DIRECTORY/halt or /var/lib/dualstackd/halt when it "
					"exists) hold apply's writes too."
				      : "\n  With rollout waves, --wave NAME shows that wave's "
					"VPCs only.");
			free(vpcs);
			return c == 'h' ? 0 : 2;
		}
	}
	if (!policy_path || optind != argc || (halt_file && !apply)) { /* plan writes nothing */
		fprintf(stderr, "usage: dualstackd %s --policy FILE [--vpc ID]...\n",
			apply ? "apply" : "plan");
		free(vpcs);
		return 2;
	}
	struct policy *pol = load_policy(policy_path);
	if (!pol) {
		free(vpcs);
		return 2;
	}
	if (apply && !halt_file) { /* the daemon's default place (a missing file is no halt) */
		halt_file_default(default_halt, sizeof(default_halt));
		halt_file = default_halt;
	}
	if (halt_file && !strcmp(halt_file, "none"))
		halt_file = NULL;
	struct plan_or_apply_ctx ctx = {.apply = apply,
					.dry_run = pol->mode == POLICY_DRY_RUN,
					.json = json,
					.halt_file = halt_file};
	struct fleet_request req = {
	    .vpcs = vpcs, .n_vpcs = n_vpcs, .execute = apply && !ctx.dry_run};
	run_over_fleet(pol, &ctx, &req, wave);
	policy_unref(pol);
	free(vpcs);
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

/* Reads the audit records of path ("-": stdin) a line at a time - memory grows with the writes
 * recognised, not with the file; prints what is wrong with them. */
#define AUDIT_LINE_MAX (1 << 20) /* a record is a few hundred bytes */
static int load_audit(const char *path, struct audit_log *audit)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	char *line = NULL, err[256] = "";
	size_t cap = 0;
	ssize_t n;
	int rc = f ? DS_OK : DS_EIO;
	if (!f)
		snprintf(err, sizeof(err), "%s", strerror(errno));
	while (!rc && (n = getline(&line, &cap, f)) > 0) {
		if (n > AUDIT_LINE_MAX) {
			snprintf(err, sizeof(err), "line %zu: longer than %d bytes: not a record",
				 audit->lines + 1, AUDIT_LINE_MAX);
			rc = DS_EPARSE;
		} else {
			rc = audit_parse(audit, line, (size_t)n, err, sizeof(err));
		}
	}
	if (!rc && f && ferror(f)) {
		snprintf(err, sizeof(err), "%s", strerror(errno));
		rc = DS_EIO;
	}
	free(line);
	if (f && f != stdin)
		fclose(f);
	if (rc) {
		fprintf(stderr, "dualstackd revert: --audit %s: %s\n", path, err);
		return rc;
	}
	audit_index(audit);
	fprintf(stderr, "audit: %zu records read, %zu writes dualstackd can undo\n", audit->records,
		audit->used);
	return DS_OK;
}

/* dualstackd revert: the same session, reconciler and fleet walk as apply, over the undo
 * planner. Rollout waves do not hold a revert back; the blast-radius guard still does. */
int cmd_revert(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"policy", required_argument, NULL, 'p'},
	    {"vpc", required_argument, NULL, 'v'},
	    {"step", required_argument, NULL, 's'},
	    {"dry-run", no_argument, NULL, 'n'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {"resize-back", no_argument, NULL, 'r'},
	    {"audit", required_argument, NULL, 'a'},
	    {NULL, 0, NULL, 0},
	};
	static const char usage[] =
	    "usage: dualstackd revert --policy FILE [--vpc ID]... [--step N]... [--resize-back]\n"
	    "                         [--audit FILE|-] [--dry-run [--json]]\n"
	    "  Removes what dualstackd added to the VPCs in scope, and nothing else: the IPv6\n"
	    "  twins it marked, its ::/0 routes and egress-only gateways, the addresses it\n"
	    "  assigned, AssignIpv6AddressOnCreation, then the /64s and the /56 once nothing\n"
	    "  uses them. IPv4 is never touched. --resize-back also takes resized instances back\n"
	    "  to their dualstack:resized-from type (step 4's rules: stop checks, window,\n"
	    "  max_concurrent_stops, rollback), after their address is gone. What looks like\n"
	    "  dualstackd's work but carries no mark is listed as \"not provably ours: left\".\n"
	    "  --audit FILE: the daemon's audit topic as JSON lines (what kafka-console-consumer\n"
	    "  prints): writes made before marks existed are recognised from it.\n"
	    "  --step N (1, 2, 3 or 5; repeatable) undoes only those steps; --dry-run prints the\n"
	    "  calls and makes none. Exit 0 when nothing of dualstackd's is left to remove.\n";
	const char *policy_path = NULL, *audit_path = NULL;
	char **vpcs = calloc((size_t)argc + 1, sizeof(*vpcs));
	size_t n_vpcs = 0;
	unsigned steps = 0;
	bool dry_run = false, json = false, resize_back = false;
	int c;
	if (!vpcs)
		return 1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "p:v:s:njhra:", opts, NULL)) != -1) {
		char *end = NULL;
		long step = 0;
		switch (c) {
		case 'p': policy_path = optarg; break;
		case 'v': vpcs[n_vpcs++] = optarg; break;
		case 'n': dry_run = true; break;
		case 'j': json = true; break;
		case 'r': resize_back = true; break;
		case 'a': audit_path = optarg; break;
		case 's':
			step = strtol(optarg, &end, 10);
			if (*optarg && !*end && step >= 1 && step <= 6 &&
			    ((REVERT_ALL_STEPS >> step) & 1u)) {
				steps |= 1u << step;
				break;
			}
			fprintf(stderr,
				"dualstackd revert: --step %s: expected 1, 2, 3 or 5 (a resize, "
				"step 4, goes back with --resize-back; guest DHCPv6, step 6, is "
				"not undone)\n",
				optarg);
			free(vpcs);
			return 2;
		default:
			fputs(usage, c == 'h' ? stdout : stderr);
			free(vpcs);
			return c == 'h' ? 0 : 2;
		}
	}
	if (!policy_path || optind != argc || (json && !dry_run)) {
		fputs(json && !dry_run ? "dualstackd revert: --json goes with --dry-run\n" : usage,
		      stderr);
		free(vpcs);
		return 2;
	}
	struct audit_log audit;
	audit_init(&audit);
	if (audit_path && load_audit(audit_path, &audit)) {
		audit_cleanup(&audit);
		free(vpcs);
		return 2;
	}
	struct policy *pol = load_policy(policy_path);
	if (!pol) {
		audit_cleanup(&audit);
		free(vpcs);
		return 2;
	}
	struct plan_or_apply_ctx ctx = {.apply = true,
					.revert = true,
					.dry_run = dry_run || pol->mode == POLICY_DRY_RUN,
					.json = json};
	struct fleet_request req = {.vpcs = vpcs,
				    .n_vpcs = n_vpcs,
				    .execute = !ctx.dry_run,
				    .revert_steps = (steps ? steps : REVERT_ALL_STEPS) |
						    (resize_back ? REVERT_RESIZE_BACK : 0u),
				    .audit = audit_path ? &audit : NULL};
	run_over_fleet(pol, &ctx, &req, NULL);
	policy_unref(pol);
	audit_cleanup(&audit);
	free(vpcs);
	return ctx.status;
}
