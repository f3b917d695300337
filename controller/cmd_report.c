/* dualstackd report --policy FILE [--json | --html FILE] [--since EARLIER.json]... : fleet
 * readiness - how far the fleet is along the guide's steps, what blocks it and the fix for
 * each cause, per account and region, and the trend over earlier JSON reports. Read-only: it
 * plans every VPC in scope (through the same reconcile as apply) and summarises the plans.
 * The JSON is the report; the text and the HTML page (report_html.c) are views of it. */
#include <cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../reconcile/plan.h"
#include "../reconcile/policy.h"
#include "../reconcile/progress.h"
#include "../reconcile/reconcile.h"
#include "cli.h"
#include "report.h"

#define BLOCKER_RESOURCES 200 /* resources listed per blocker; the count goes on */

struct report {
	struct reconciler *rc;
	cJSON *targets;
	cJSON *blockers; /* "code\x1ffix" -> {code, severity, step, fix, count, resources} */
	struct progress_count steps[PS_COUNT];
	int errors;
	struct rollout waves; /* with rollout.waves */
	time_t now;
};

static const char *status_of(const struct reconcile_vpc *v)
{
	if (v->outcome == RC_GONE || plan_blocked(&v->plan))
		return "blocked";
	return v->plan.actions.n ? "pending" : "converged";
}

static void bump(cJSON *o, const char *key, double by)
{
	cJSON *c = cJSON_GetObjectItemCaseSensitive(o, key);
	if (c)
		cJSON_SetNumberValue(c, c->valuedouble + by);
	else
		cJSON_AddNumberToObject(o, key, by);
}

static cJSON *steps_json(const struct progress_count *steps)
{
	cJSON *o = cJSON_CreateObject();
	for (int s = 0; s < PS_COUNT; s++) {
		cJSON *c = cJSON_AddObjectToObject(o, progress_step_name((enum progress_step)s));
		cJSON_AddStringToObject(c, "label", progress_step_label((enum progress_step)s));
		cJSON_AddNumberToObject(c, "done", steps[s].done);
		cJSON_AddNumberToObject(c, "pending", steps[s].pending);
		cJSON_AddNumberToObject(c, "blocked", steps[s].blocked);
		cJSON_AddNumberToObject(c, "total", steps[s].total);
	}
	return o;
}

/* The report's entry of a target, created on first use (windows end in any order). */
static cJSON *target_entry(struct report *rep, const struct ec2_target *t)
{
	const char *account = t->account_id[0] ? t->account_id : "own";
	cJSON *e;
	cJSON_ArrayForEach(e, rep->targets)
	{
		const cJSON *a = cJSON_GetObjectItemCaseSensitive(e, "account");
		const cJSON *r = cJSON_GetObjectItemCaseSensitive(e, "region");
		if (!strcmp(a->valuestring, account) && !strcmp(r->valuestring, t->region))
			return e;
	}
	e = cJSON_CreateObject();
	cJSON_AddStringToObject(e, "account", account);
	cJSON_AddStringToObject(e, "region", t->region);
	cJSON *c = cJSON_AddObjectToObject(e, "counts");
	static const char *const keys[] = {"converged", "pending", "blocked", "total"};
	for (int k = 0; k < 4; k++)
		cJSON_AddNumberToObject(c, keys[k], 0);
	struct progress_count zero[PS_COUNT];
	memset(zero, 0, sizeof(zero));
	cJSON_AddItemToObject(e, "steps", steps_json(zero));
	cJSON_AddObjectToObject(e, "findings_by_code");
	cJSON_AddArrayToObject(e, "vpcs");
	cJSON_AddItemToArray(rep->targets, e);
	return e;
}

/* One cause and its fix, with the resources it holds. */
static void add_blocker(struct report *rep, const struct plan_finding *f, const char *vpc,
			const char *account, const char *region)
{
	char key[sizeof(f->code) + sizeof(f->fix) + 2];
	snprintf(key, sizeof(key), "%s\x1f%s", f->code, f->fix);
	cJSON *b = cJSON_GetObjectItemCaseSensitive(rep->blockers, key);
	if (!b) {
		b = cJSON_AddObjectToObject(rep->blockers, key);
		cJSON_AddStringToObject(b, "code", f->code);
		cJSON_AddStringToObject(b, "severity",
					f->severity == FIND_BLOCKED ? "blocked" : "warning");
		cJSON_AddNumberToObject(b, "step", f->step);
		cJSON_AddStringToObject(b, "fix", f->fix);
		cJSON_AddStringToObject(b, "example", f->detail);
		cJSON_AddNumberToObject(b, "count", 0);
		cJSON_AddArrayToObject(b, "resources");
	}
	bump(b, "count", 1);
	cJSON *list = cJSON_GetObjectItemCaseSensitive(b, "resources");
	if (cJSON_GetArraySize(list) < BLOCKER_RESOURCES) {
		cJSON *r = cJSON_CreateObject();
		cJSON_AddStringToObject(r, "resource", f->resource_id);
		cJSON_AddStringToObject(r, "vpc", vpc);
		cJSON_AddStringToObject(r, "account", account);
		cJSON_AddStringToObject(r, "region", region);
		cJSON_AddItemToArray(list, r);
	}
}

static void on_vpc(void *ud, const struct ec2_target *tg, struct reconcile_vpc *rv)
{
	struct report *rep = ud;
	const struct plan *p = &rv->plan;
	cJSON *t = target_entry(rep, tg);
	if (rv->outcome != RC_GONE)
		rollout_add(&rep->waves, rv->wave, p, rv->converged_at, rep->now);
	const char *st = status_of(rv);
	cJSON *counts = cJSON_GetObjectItemCaseSensitive(t, "counts");
	bump(counts, st, 1);
	bump(counts, "total", 1);
	cJSON *tsteps = cJSON_GetObjectItemCaseSensitive(t, "steps");
	for (int s = 0; rv->outcome != RC_GONE && s < PS_COUNT; s++) {
		const struct progress_count *c = &rv->progress.step[s];
		cJSON *o = cJSON_GetObjectItemCaseSensitive(
		    tsteps, progress_step_name((enum progress_step)s));
		bump(o, "done", c->done);
		bump(o, "pending", c->pending);
		bump(o, "blocked", c->blocked);
		bump(o, "total", c->total);
		rep->steps[s].done += c->done;
		rep->steps[s].pending += c->pending;
		rep->steps[s].blocked += c->blocked;
		rep->steps[s].total += c->total;
	}
	cJSON *v = cJSON_CreateObject();
	cJSON_AddStringToObject(v, "vpc", rv->vpc_id);
	cJSON_AddStringToObject(v, "status", st);
	cJSON_AddNumberToObject(v, "planned_calls", (double)plan_calls(p));
	cJSON *lines = cJSON_AddArrayToObject(v, "findings");
	cJSON *reasons = cJSON_GetObjectItemCaseSensitive(t, "findings_by_code");
	const char *account = cJSON_GetObjectItemCaseSensitive(t, "account")->valuestring;
	if (rv->outcome == RC_GONE) {
		struct plan_finding gone = {.severity = FIND_BLOCKED, .step = 0};
		snprintf(gone.resource_id, sizeof(gone.resource_id), "%s", rv->vpc_id);
		snprintf(gone.code, sizeof(gone.code), "vpc-not-found");
		snprintf(gone.detail, sizeof(gone.detail),
			 "no such VPC in this account and region");
		add_blocker(rep, &gone, rv->vpc_id, account, tg->region);
	}
	for (size_t k = 0; k < p->findings.n; k++) {
		const struct plan_finding *f = &p->findings.v[k];
		if (f->severity == FIND_INFO)
			continue;
		cJSON *l = cJSON_CreateObject();
		cJSON_AddStringToObject(l, "severity",
					f->severity == FIND_BLOCKED ? "blocked" : "warning");
		cJSON_AddNumberToObject(l, "step", f->step);
		cJSON_AddStringToObject(l, "code", f->code);
		cJSON_AddStringToObject(l, "resource", f->resource_id);
		cJSON_AddStringToObject(l, "detail", f->detail);
		if (f->fix[0])
			cJSON_AddStringToObject(l, "fix", f->fix);
		cJSON_AddItemToArray(lines, l);
		bump(reasons, f->code, 1);
		add_blocker(rep, f, rv->vpc_id, account, tg->region);
	}
	cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(t, "vpcs"), v);
}

static void on_target_error(void *ud, const struct ec2_target *tg, int rc,
			    const struct ec2_error *err)
{
	struct report *rep = ud;
	cJSON *t = target_entry(rep, tg);
	if (!cJSON_GetObjectItemCaseSensitive(t, "error")) {
		char why[700];
		snprintf(why, sizeof(why), "the account and region could not be read: %s%s%s",
			 err && err->code[0] ? err->code : ds_strerror(rc),
			 err && err->message[0] ? ": " : "", err ? err->message : "");
		cJSON_AddStringToObject(t, "error", why);
	}
	rep->errors++;
}

/* Entries in the policy's order, before any window ends. */
static void add_entry(void *ud, struct cli_session *s)
{
	target_entry(ud, &s->target);
}

static int num(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsNumber(v) ? (int)v->valuedouble : 0;
}

static int by_weight(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
	int sx = !strcmp(cJSON_GetObjectItemCaseSensitive(x, "severity")->valuestring, "blocked");
	int sy = !strcmp(cJSON_GetObjectItemCaseSensitive(y, "severity")->valuestring, "blocked");
	if (sx != sy)
		return sy - sx; /* what blocks before what only warns */
	return num(y, "count") - num(x, "count");
}

/* The blockers as a list, the heaviest first. */
static cJSON *sorted_blockers(cJSON *map)
{
	int n = cJSON_GetArraySize(map);
	cJSON **v = calloc((size_t)n + 1, sizeof(*v));
	cJSON *out = cJSON_CreateArray();
	if (!v)
		return out;
	int i = 0;
	for (cJSON *b = map->child; b; b = b->next)
		v[i++] = b;
	qsort(v, (size_t)n, sizeof(*v), by_weight);
	for (i = 0; i < n; i++)
		cJSON_AddItemToArray(out, cJSON_Duplicate(v[i], 1));
	free(v);
	return out;
}

static cJSON *load_report(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *text = f ? malloc((size_t)64 << 20) : NULL;
	size_t len = text ? fread(text, 1, ((size_t)64 << 20) - 1, f) : 0;
	if (f)
		fclose(f);
	cJSON *doc = text ? cJSON_ParseWithLength(text, len) : NULL;
	free(text);
	if (!cJSON_IsObject(doc) || !cJSON_GetObjectItemCaseSensitive(doc, "totals") ||
	    !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(doc, "generated"))) {
		fprintf(stderr, "report: %s: %s\n", path,
			!f ? "cannot read" : "not a JSON report of dualstackd");
		cJSON_Delete(doc);
		return NULL;
	}
	return doc;
}

/* A point of the trend: when, and the shares done. */
static cJSON *trend_point(const cJSON *report)
{
	cJSON *p = cJSON_CreateObject();
	const cJSON *g = cJSON_GetObjectItemCaseSensitive(report, "generated");
	cJSON_AddStringToObject(p, "generated", cJSON_IsString(g) ? g->valuestring : "?");
	const cJSON *totals = cJSON_GetObjectItemCaseSensitive(report, "totals");
	cJSON_AddNumberToObject(p, "converged", num(totals, "converged"));
	cJSON_AddNumberToObject(p, "total", num(totals, "total"));
	cJSON *steps = cJSON_AddObjectToObject(p, "steps");
	const cJSON *s;
	cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(report, "steps"))
	{
		cJSON *c = cJSON_AddObjectToObject(steps, s->string);
		cJSON_AddNumberToObject(c, "done", num(s, "done"));
		cJSON_AddNumberToObject(c, "total", num(s, "total"));
	}
	return p;
}

static int by_time(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
	return strcmp(cJSON_GetObjectItemCaseSensitive(x, "generated")->valuestring,
		      cJSON_GetObjectItemCaseSensitive(y, "generated")->valuestring);
}

/* Earlier JSON reports and this one, oldest first; NULL after saying which file is bad. */
static cJSON *trend(char **since, int n_since, const cJSON *now)
{
	cJSON **pts = calloc((size_t)n_since + 1, sizeof(*pts));
	if (!pts)
		return NULL;
	int n = 0;
	for (int i = 0; i < n_since; i++) {
		cJSON *doc = load_report(since[i]);
		if (!doc) {
			for (int k = 0; k < n; k++)
				cJSON_Delete(pts[k]);
			free(pts);
			return NULL;
		}
		pts[n++] = trend_point(doc);
		cJSON_Delete(doc);
	}
	pts[n++] = trend_point(now);
	qsort(pts, (size_t)n, sizeof(*pts), by_time);
	cJSON *out = cJSON_CreateArray();
	for (int i = 0; i < n; i++)
		cJSON_AddItemToArray(out, pts[i]);
	free(pts);
	return out;
}

/* {"open_through": "canary", "next": "...", "waves": [{name, open, vpcs, converged, ...}]} */
static cJSON *rollout_json(const struct rollout *r, const struct policy *pol, time_t now)
{
	char why[256];
	int open = rollout_open_through(r, pol, now, why, sizeof(why));
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "next", why);
	cJSON_AddNumberToObject(o, "outside", r->outside);
	cJSON *waves = cJSON_AddArrayToObject(o, "waves");
	for (size_t k = 0; k < pol->n_waves; k++) {
		const struct rollout_wave_count *w = &r->wave[k];
		cJSON *e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "name", pol->waves[k].name);
		cJSON_AddBoolToObject(e, "open", (int)k <= open);
		cJSON_AddNumberToObject(e, "vpcs", w->vpcs);
		cJSON_AddNumberToObject(e, "converged", w->converged);
		cJSON_AddNumberToObject(e, "pending", w->pending);
		cJSON_AddNumberToObject(e, "blocked", w->blocked);
		cJSON_AddItemToArray(waves, e);
	}
	return o;
}

static void print_text(const cJSON *root)
{
	const cJSON *totals = cJSON_GetObjectItemCaseSensitive(root, "totals");
	printf("fleet: %d VPCs, %d converged, %d pending, %d blocked\n", num(totals, "total"),
	       num(totals, "converged"), num(totals, "pending"), num(totals, "blocked"));
	const cJSON *s;
	cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(root, "steps"))
	{
		if (!num(s, "total"))
			continue;
		printf("  %-44s %5d of %5d done, %d pending, %d blocked\n",
		       cJSON_GetObjectItemCaseSensitive(s, "label")->valuestring, num(s, "done"),
		       num(s, "total"), num(s, "pending"), num(s, "blocked"));
	}
	const cJSON *ro = cJSON_GetObjectItemCaseSensitive(root, "rollout");
	const cJSON *w;
	cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(ro, "waves"))
	{
		printf("  wave %-38s %s: %d VPCs, %d converged, %d pending, %d blocked\n",
		       cJSON_GetObjectItemCaseSensitive(w, "name")->valuestring,
		       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(w, "open")) ? "open"
										 : "waiting",
		       num(w, "vpcs"), num(w, "converged"), num(w, "pending"), num(w, "blocked"));
	}
	const cJSON *next = cJSON_GetObjectItemCaseSensitive(ro, "next");
	if (cJSON_IsString(next) && next->valuestring[0])
		printf("  next: %s\n", next->valuestring);
	const cJSON *b;
	int shown = 0;
	cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(root, "blockers"))
	{
		if (!shown++)
			printf("what to do (by what it holds):\n");
		const char *fix = cJSON_GetObjectItemCaseSensitive(b, "fix")->valuestring;
		printf("  %s x%d: %s\n", cJSON_GetObjectItemCaseSensitive(b, "code")->valuestring,
		       num(b, "count"),
		       fix[0] ? fix : cJSON_GetObjectItemCaseSensitive(b, "example")->valuestring);
	}
	const cJSON *t;
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(root, "targets"))
	{
		const cJSON *cc = cJSON_GetObjectItemCaseSensitive(t, "counts");
		printf("%s %s: %d VPCs, %d converged, %d pending, %d blocked%s%s\n",
		       cJSON_GetObjectItemCaseSensitive(t, "account")->valuestring,
		       cJSON_GetObjectItemCaseSensitive(t, "region")->valuestring, num(cc, "total"),
		       num(cc, "converged"), num(cc, "pending"), num(cc, "blocked"),
		       cJSON_GetObjectItemCaseSensitive(t, "error") ? ": " : "",
		       cJSON_GetObjectItemCaseSensitive(t, "error")
			   ? cJSON_GetObjectItemCaseSensitive(t, "error")->valuestring
			   : "");
		const cJSON *v;
		cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(t, "vpcs"))
		{
			printf("  %s %s (%d calls planned)\n",
			       cJSON_GetObjectItemCaseSensitive(v, "vpc")->valuestring,
			       cJSON_GetObjectItemCaseSensitive(v, "status")->valuestring,
			       num(v, "planned_calls"));
			const cJSON *l;
			cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(v, "findings"))
			    printf("    %s %s %s: %s\n",
				   cJSON_GetObjectItemCaseSensitive(l, "severity")->valuestring,
				   cJSON_GetObjectItemCaseSensitive(l, "resource")->valuestring,
				   cJSON_GetObjectItemCaseSensitive(l, "code")->valuestring,
				   cJSON_GetObjectItemCaseSensitive(l, "detail")->valuestring);
		}
	}
}

static void print_text(const cJSON *root);

/* --from: a saved JSON report rendered again (with a trend, when --since names others). */
static int render_saved(const char *from, const char *html, bool json, char **since, int n_since)
{
	cJSON *root = load_report(from);
	if (!root)
		return 2;
	int status = 0;
	if (n_since) {
		cJSON *tr = trend(since, n_since, root);
		if (!tr) {
			cJSON_Delete(root);
			return 2;
		}
		cJSON_DeleteItemFromObjectCaseSensitive(root, "trend");
		cJSON_AddItemToObject(root, "trend", tr);
	}
	if (html && report_write_html(html, root)) {
		fprintf(stderr, "report: cannot write %s\n", html);
		status = 1;
	}
	if (json) {
		char *text = cJSON_Print(root);
		puts(text ? text : "{}");
		free(text);
	} else if (!html) {
		print_text(root);
	}
	cJSON_Delete(root);
	return status;
}

int cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"policy", required_argument, NULL, 'p'},
	    {"json", no_argument, NULL, 'j'},
	    {"html", required_argument, NULL, 'H'},
	    {"since", required_argument, NULL, 's'},
	    {"from", required_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *policy_path = NULL, *html = NULL, *from = NULL;
	char **since = calloc((size_t)argc + 1, sizeof(*since));
	int n_since = 0;
	bool json = false;
	int c;
	optind = 1;
	while (since && (c = getopt_long(argc, argv, "p:jH:s:f:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p': policy_path = optarg; break;
		case 'f': from = optarg; break;
		case 'j': json = true; break;
		case 'H': html = optarg; break;
		case 's': since[n_since++] = optarg; break;
		default:
			fprintf(
			    c == 'h' ? stdout : stderr,
			    "usage: dualstackd report --policy FILE [--json | --html FILE] "
			    "[--since EARLIER.json]...\n"
			    "       dualstackd report --from SAVED.json [--html FILE] "
			    "[--since EARLIER.json]...\n"
			    "  Fleet readiness: progress along the guide's steps, what blocks it "
			    "and the fix for each cause,\n  per account and region; --since adds "
			    "earlier JSON reports as a trend; --from renders a saved\n  JSON "
			    "report "
			    "without reading AWS.\n");
			free(since);
			return c == 'h' ? 0 : 2;
		}
	}
	if (since && from && !policy_path && optind == argc) {
		int rc = render_saved(from, html, json, since, n_since);
		free(since);
		return rc;
	}
	if (!since || !policy_path || optind != argc) {
		fprintf(stderr, "usage: dualstackd report --policy FILE [--json | --html FILE] "
				"[--since EARLIER.json]...\n");
		free(since);
		return 2;
	}
	struct policy *pol = cli_load_policy(policy_path);
	if (!pol) {
		free(since);
		return 2;
	}
	struct cli_session s;
	char err[512];
	if (cli_session_init(&s, pol->api_budget, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		policy_unref(pol);
		free(since);
		return 1;
	}
	creds_cache_set_external_id(s.creds, pol->assume_role_external_id);
	struct report rep = {.rc = reconciler_new(pol, NULL, NULL),
			     .targets = cJSON_CreateArray(),
			     .blockers = cJSON_CreateObject(),
			     .now = time(NULL)};
	int status = 0;
	if (rep.rc) {
		cli_each_target(&s, pol, add_entry, &rep);
		struct fleet_request req = {.reconciler = rep.rc,
					    .policy = pol,
					    .execute = false,
					    .on_vpc = on_vpc,
					    .on_error = on_target_error,
					    .ud = &rep};
		if (cli_fleet_run(&s, &req) == DS_ENOMEM)
			rep.errors++;
	} else {
		rep.errors++;
	}
	cJSON *root = cJSON_CreateObject();
	char ts[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	cJSON_AddStringToObject(root, "generated", ts);
	cJSON_AddStringToObject(root, "policy", policy_path);
	int tot[4] = {0, 0, 0, 0};
	const cJSON *t;
	cJSON_ArrayForEach(t, rep.targets)
	{
		const cJSON *cc = cJSON_GetObjectItemCaseSensitive(t, "counts");
		tot[0] += num(cc, "converged");
		tot[1] += num(cc, "pending");
		tot[2] += num(cc, "blocked");
		tot[3] += num(cc, "total");
	}
	cJSON *totals = cJSON_AddObjectToObject(root, "totals");
	cJSON_AddNumberToObject(totals, "converged", tot[0]);
	cJSON_AddNumberToObject(totals, "pending", tot[1]);
	cJSON_AddNumberToObject(totals, "blocked", tot[2]);
	cJSON_AddNumberToObject(totals, "total", tot[3]);
	cJSON_AddItemToObject(root, "steps", steps_json(rep.steps));
	cJSON_AddItemToObject(root, "blockers", sorted_blockers(rep.blockers));
	cJSON_AddItemToObject(root, "targets", rep.targets);
	if (pol->n_waves)
		cJSON_AddItemToObject(root, "rollout", rollout_json(&rep.waves, pol, rep.now));
	if (n_since) {
		cJSON *tr = trend(since, n_since, root);
		if (tr)
			cJSON_AddItemToObject(root, "trend", tr);
		else
			status = 2;
	}
	if (rep.errors)
		status = 1;
	if (status != 2 && html && report_write_html(html, root)) {
		fprintf(stderr, "report: cannot write %s\n", html);
		status = 1;
	}
	if (status != 2 && json) {
		char *text = cJSON_Print(root);
		puts(text ? text : "{}");
		free(text);
	} else if (status != 2 && !html) {
		print_text(root);
	}
	cJSON_Delete(root);
	cJSON_Delete(rep.blockers);
	reconciler_free(rep.rc);
	cli_session_cleanup(&s);
	policy_unref(pol);
	free(since);
	return status;
}
