/* dualstackd report --policy FILE [--json | --html FILE] : fleet readiness per account and
 * region - VPCs converged, pending (calls planned) and blocked, and why, per resource. Read-only:
 * it plans every VPC in scope and summarises the plans. The HTML page is self-contained (inline
 * CSS and an SVG chart, no scripts). */
#include <cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../reconcile/plan.h"
#include "../reconcile/policy.h"
#include "../reconcile/reconcile.h"
#include "cli.h"

struct report {
	struct reconciler *rc;
	cJSON *targets;
	int errors;
};

static const char *status_of(const struct plan *p)
{
	if (plan_blocked(p))
		return "blocked";
	return p->actions.n ? "pending" : "converged";
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
	cJSON_AddArrayToObject(e, "vpcs");
	cJSON_AddObjectToObject(e, "findings_by_code");
	cJSON *c = cJSON_AddObjectToObject(e, "counts");
	cJSON_AddNumberToObject(c, "converged", 0);
	cJSON_AddNumberToObject(c, "pending", 0);
	cJSON_AddNumberToObject(c, "blocked", 0);
	cJSON_AddNumberToObject(c, "total", 0);
	cJSON_AddItemToArray(rep->targets, e);
	return e;
}

static void bump(cJSON *o, const char *key)
{
	cJSON *c = cJSON_GetObjectItemCaseSensitive(o, key);
	if (c)
		cJSON_SetNumberValue(c, c->valuedouble + 1);
	else
		cJSON_AddNumberToObject(o, key, 1);
}

static void on_vpc(void *ud, const struct ec2_target *tg, struct reconcile_vpc *rv)
{
	struct report *rep = ud;
	const struct plan *p = &rv->plan;
	cJSON *t = target_entry(rep, tg);
	const char *st = rv->outcome == RC_GONE ? "blocked" : status_of(p);
	cJSON *counts = cJSON_GetObjectItemCaseSensitive(t, "counts");
	bump(counts, st);
	bump(counts, "total");
	cJSON *v = cJSON_CreateObject();
	cJSON_AddStringToObject(v, "vpc", rv->vpc_id);
	cJSON_AddStringToObject(v, "status", st);
	cJSON_AddNumberToObject(v, "planned_calls", (double)plan_calls(p));
	cJSON *lines = cJSON_AddArrayToObject(v, "findings");
	cJSON *reasons = cJSON_GetObjectItemCaseSensitive(t, "findings_by_code");
	for (size_t k = 0; k < p->findings.n; k++) {
		const struct plan_finding *f = &p->findings.v[k];
		if (f->severity == FIND_INFO)
			continue;
		cJSON *l = cJSON_CreateObject();
		cJSON_AddStringToObject(l, "severity",
					f->severity == FIND_BLOCKED ? "blocked" : "warning");
		cJSON_AddStringToObject(l, "code", f->code);
		cJSON_AddStringToObject(l, "resource", f->resource_id);
		cJSON_AddStringToObject(l, "detail", f->detail);
		cJSON_AddItemToArray(lines, l);
		bump(reasons, f->code);
	}
	cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(t, "vpcs"), v);
}

static void on_target_error(void *ud, const struct ec2_target *tg, int rc,
			    const struct ec2_error *err)
{
	struct report *rep = ud;
	(void)rc;
	(void)err;
	cJSON *t = target_entry(rep, tg);
	if (!cJSON_GetObjectItemCaseSensitive(t, "error"))
		cJSON_AddStringToObject(t, "error", "the account and region could not be read");
	rep->errors++;
}

/* Entries in the policy's order, before any window ends. */
static void add_entry(void *ud, struct cli_session *s)
{
	target_entry(ud, &s->target);
}

static void html_escape(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		default: fputc(*s, f);
		}
	}
}

static int num(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsNumber(v) ? (int)v->valuedouble : 0;
}

static int write_html(const char *path, const cJSON *report)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	const cJSON *targets = cJSON_GetObjectItemCaseSensitive(report, "targets");
	const cJSON *totals = cJSON_GetObjectItemCaseSensitive(report, "totals");
	fputs("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	      "<title>dualstackd fleet readiness</title><style>"
	      "body{font:14px system-ui,sans-serif;margin:2em;color:#222}"
	      "h1{font-size:1.5em}table{border-collapse:collapse;margin:1em 0}"
	      "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}"
	      "th{background:#f3f3f3}.converged{color:#1a7f37}.pending{color:#9a6700}"
	      ".blocked{color:#cf222e}.legend span{display:inline-block;margin-right:1em}"
	      "</style></head><body>\n",
	      f);
	fprintf(f, "<h1>dualstackd fleet readiness</h1><p>Generated %s for policy <code>",
		cJSON_GetObjectItemCaseSensitive(report, "generated")->valuestring);
	html_escape(f, cJSON_GetObjectItemCaseSensitive(report, "policy")->valuestring);
	fprintf(f,
		"</code>: <b>%d</b> VPCs, <span class=\"converged\">%d converged</span>, "
		"<span class=\"pending\">%d pending</span>, <span class=\"blocked\">%d "
		"blocked</span>.</p>\n",
		num(totals, "total"), num(totals, "converged"), num(totals, "pending"),
		num(totals, "blocked"));
	/* the progress chart: one stacked bar per account and region */
	int rows = cJSON_GetArraySize(targets);
	int h = 40 + 34 * (rows ? rows : 1);
	fprintf(f,
		"<svg id=\"progress-chart\" role=\"img\" aria-label=\"progress per account "
		"and region\" width=\"760\" height=\"%d\" xmlns=\"http://www.w3.org/2000/svg\">\n",
		h);
	int y = 10;
	const cJSON *t;
	cJSON_ArrayForEach(t, targets)
	{
		const cJSON *c = cJSON_GetObjectItemCaseSensitive(t, "counts");
		int total = num(c, "total"), x = 220;
		fprintf(f, "<text x=\"0\" y=\"%d\" font-size=\"13\">", y + 17);
		html_escape(f, cJSON_GetObjectItemCaseSensitive(t, "account")->valuestring);
		fputs(" / ", f);
		html_escape(f, cJSON_GetObjectItemCaseSensitive(t, "region")->valuestring);
		fputs("</text>\n", f);
		static const struct {
			const char *key, *color;
		} parts[] = {
		    {"converged", "#2da44e"}, {"pending", "#d4a72c"}, {"blocked", "#cf222e"}};
		for (int k = 0; k < 3; k++) {
			int w = total ? 500 * num(c, parts[k].key) / total : 0;
			if (w)
				fprintf(f,
					"<rect class=\"bar-%s\" x=\"%d\" y=\"%d\" width=\"%d\" "
					"height=\"24\" fill=\"%s\"><title>%s: %d</title></rect>\n",
					parts[k].key, x, y, w, parts[k].color, parts[k].key,
					num(c, parts[k].key));
			x += w;
		}
		if (!total)
			fprintf(f,
				"<rect x=\"220\" y=\"%d\" width=\"500\" height=\"24\" "
				"fill=\"#eee\"/>\n",
				y);
		fprintf(f, "<text x=\"725\" y=\"%d\" font-size=\"12\">%d</text>\n", y + 17, total);
		y += 34;
	}
	fputs("</svg>\n<p class=\"legend\"><span class=\"converged\">&#9632; converged</span>"
	      "<span class=\"pending\">&#9632; pending</span><span class=\"blocked\">&#9632; "
	      "blocked</span></p>\n",
	      f);
	fputs("<h2>Per account and region</h2><table id=\"accounts\"><tr><th>account</th>"
	      "<th>region</th><th>VPCs</th><th>converged</th><th>pending</th><th>blocked</th>"
	      "<th>findings (blocked and warnings)</th></tr>\n",
	      f);
	cJSON_ArrayForEach(t, targets)
	{
		const cJSON *c = cJSON_GetObjectItemCaseSensitive(t, "counts");
		fputs("<tr><td>", f);
		html_escape(f, cJSON_GetObjectItemCaseSensitive(t, "account")->valuestring);
		fputs("</td><td>", f);
		html_escape(f, cJSON_GetObjectItemCaseSensitive(t, "region")->valuestring);
		fprintf(f, "</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td><td>", num(c, "total"),
			num(c, "converged"), num(c, "pending"), num(c, "blocked"));
		const cJSON *r;
		cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(t, "findings_by_code"))
		{
			html_escape(f, r->string);
			fprintf(f, " &times;%d ", (int)r->valuedouble);
		}
		fputs("</td></tr>\n", f);
	}
	fputs("</table>\n<h2>Per resource</h2><table id=\"resources\"><tr><th>VPC</th><th>status"
	      "</th><th>resource</th><th>finding</th><th>detail</th></tr>\n",
	      f);
	cJSON_ArrayForEach(t, targets)
	{
		const cJSON *v;
		cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(t, "vpcs"))
		{
			const char *st = cJSON_GetObjectItemCaseSensitive(v, "status")->valuestring;
			const cJSON *l;
			cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(v, "findings"))
			{
				fputs("<tr><td>", f);
				html_escape(
				    f, cJSON_GetObjectItemCaseSensitive(v, "vpc")->valuestring);
				fprintf(f, "</td><td class=\"%s\">%s</td><td>", st, st);
				html_escape(
				    f,
				    cJSON_GetObjectItemCaseSensitive(l, "resource")->valuestring);
				fputs("</td><td>", f);
				html_escape(
				    f, cJSON_GetObjectItemCaseSensitive(l, "code")->valuestring);
				fputs("</td><td>", f);
				html_escape(
				    f, cJSON_GetObjectItemCaseSensitive(l, "detail")->valuestring);
				fputs("</td></tr>\n", f);
			}
		}
	}
	fputs("</table></body></html>\n", f);
	return fclose(f) ? -1 : 0;
}

int cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"policy", required_argument, NULL, 'p'},
	    {"json", no_argument, NULL, 'j'},
	    {"html", required_argument, NULL, 'H'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *policy_path = NULL, *html = NULL;
	bool json = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "p:jH:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p': policy_path = optarg; break;
		case 'j': json = true; break;
		case 'H': html = optarg; break;
		default:
			fprintf(
			    c == 'h' ? stdout : stderr,
			    "usage: dualstackd report --policy FILE [--json | --html FILE]\n"
			    "  Fleet readiness per account and region: VPCs converged, pending and "
			    "blocked, and why.\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (!policy_path || optind != argc) {
		fprintf(stderr, "usage: dualstackd report --policy FILE [--json | --html FILE]\n");
		return 2;
	}
	struct policy *pol = cli_load_policy(policy_path);
	if (!pol)
		return 2;
	struct cli_session s;
	char err[512];
	if (cli_session_init(&s, pol->api_budget, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		policy_unref(pol);
		return 1;
	}
	creds_cache_set_external_id(s.creds, pol->assume_role_external_id);
	struct report rep = {reconciler_new(pol, NULL, NULL), cJSON_CreateArray(), 0};
	if (!rep.rc) {
		cli_session_cleanup(&s);
		policy_unref(pol);
		return 1;
	}
	cli_each_target(&s, pol, add_entry, &rep);
	struct fleet_request req = {.reconciler = rep.rc,
				    .policy = pol,
				    .execute = false,
				    .on_vpc = on_vpc,
				    .on_error = on_target_error,
				    .ud = &rep};
	if (cli_fleet_run(&s, &req) == DS_ENOMEM)
		rep.errors++;
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
	cJSON_AddItemToObject(root, "targets", rep.targets);
	int status = rep.errors ? 1 : 0;
	if (html && write_html(html, root)) {
		fprintf(stderr, "report: cannot write %s\n", html);
		status = 1;
	}
	if (json) {
		char *text = cJSON_Print(root);
		puts(text ? text : "{}");
		free(text);
	} else if (!html) {
		printf("fleet: %d VPCs, %d converged, %d pending, %d blocked\n", tot[3], tot[0],
		       tot[1], tot[2]);
		cJSON_ArrayForEach(t, rep.targets)
		{
			const cJSON *cc = cJSON_GetObjectItemCaseSensitive(t, "counts");
			printf("%s %s: %d VPCs, %d converged, %d pending, %d blocked\n",
			       cJSON_GetObjectItemCaseSensitive(t, "account")->valuestring,
			       cJSON_GetObjectItemCaseSensitive(t, "region")->valuestring,
			       num(cc, "total"), num(cc, "converged"), num(cc, "pending"),
			       num(cc, "blocked"));
			const cJSON *v;
			cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(t, "vpcs"))
			{
				printf("  %s %s (%d calls planned)\n",
				       cJSON_GetObjectItemCaseSensitive(v, "vpc")->valuestring,
				       cJSON_GetObjectItemCaseSensitive(v, "status")->valuestring,
				       num(v, "planned_calls"));
				const cJSON *l;
				cJSON_ArrayForEach(l,
						   cJSON_GetObjectItemCaseSensitive(v, "findings"))
				    printf(
					"    %s %s %s: %s\n",
					cJSON_GetObjectItemCaseSensitive(l, "severity")
					    ->valuestring,
					cJSON_GetObjectItemCaseSensitive(l, "resource")
					    ->valuestring,
					cJSON_GetObjectItemCaseSensitive(l, "code")->valuestring,
					cJSON_GetObjectItemCaseSensitive(l, "detail")->valuestring);
			}
		}
	}
	cJSON_Delete(root);
	reconciler_free(rep.rc);
	cli_session_cleanup(&s);
	policy_unref(pol);
	return status;
}
