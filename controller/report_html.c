/* The readiness page: the summary and what to do next first (a person reads the top of a page
 * and stops), then progress per step, the trend, and the details folded: per account and
 * region, every blocker with its resources, and every VPC in a table a filter narrows. Sized
 * for 5,000 VPCs: the folded parts cost nothing until opened. */
#include <stdio.h>
#include <string.h>

#include "report.h"

#define TOP_BLOCKERS 5

static void esc(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default: fputc(*s, f);
		}
	}
}

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : "";
}

static int num(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsNumber(v) ? (int)v->valuedouble : 0;
}

static int pct(int part, int whole)
{
	return whole > 0 ? (int)((100.0 * part) / whole + 0.5) : 100;
}

/* A horizontal bar: done, pending, blocked, as shares of total. */
static void bar(FILE *f, const cJSON *c, int width)
{
	int total = num(c, "total"), x = 0;
	fprintf(f,
		"<svg class=\"bar\" width=\"%d\" height=\"14\" role=\"img\" aria-label=\"%d of "
		"%d done\">",
		width, num(c, "done"), total);
	static const char *const parts[] = {"done", "pending", "blocked"};
	static const char *const colors[] = {"#2da44e", "#d4a72c", "#cf222e"};
	for (int k = 0; k < 3 && total; k++) {
		int w = width * num(c, parts[k]) / total;
		if (w)
			fprintf(f,
				"<rect class=\"bar-%s\" x=\"%d\" width=\"%d\" height=\"14\" "
				"fill=\"%s\"><title>%s: %d</title></rect>",
				parts[k], x, w, colors[k], parts[k], num(c, parts[k]));
		x += w;
	}
	if (!total)
		fprintf(f, "<rect width=\"%d\" height=\"14\" fill=\"#eee\"/>", width);
	fputs("</svg>", f);
}

static void summary(FILE *f, const cJSON *r)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(r, "totals");
	int total = num(t, "total");
	int n_targets = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r, "targets"));
	fprintf(f,
		"<section id=\"summary\"><div class=\"big\" id=\"summary-converged\"><b>%d</b> of "
		"<b>%d</b> VPCs dual-stack <span class=\"pct\">(%d%%)</span></div>"
		"<div class=\"kpis\"><span class=\"pending\" id=\"summary-pending\"><b>%d</b> "
		"pending</span> <span class=\"blocked\" id=\"summary-blocked\"><b>%d</b> "
		"blocked</span> <span class=\"muted\">in %d %s</span></div>"
		"</section>\n",
		num(t, "converged"), total, pct(num(t, "converged"), total), num(t, "pending"),
		num(t, "blocked"), n_targets,
		n_targets == 1 ? "account and region" : "accounts and regions");
}

static void next_steps(FILE *f, const cJSON *r)
{
	const cJSON *bl = cJSON_GetObjectItemCaseSensitive(r, "blockers");
	fputs("<section id=\"next\"><h2>What to do next</h2>", f);
	if (!cJSON_GetArraySize(bl)) {
		fputs("<p>Nothing blocks the fleet: what is pending, dualstackd does.</p>"
		      "</section>\n",
		      f);
		return;
	}
	fputs("<ol class=\"fixes\">", f);
	int i = 0;
	const cJSON *b;
	cJSON_ArrayForEach(b, bl)
	{
		if (i++ == TOP_BLOCKERS)
			break;
		const char *fix = str(b, "fix");
		fprintf(f, "<li class=\"%s\"><span class=\"fix\"%s>", str(b, "severity"),
			i == 1 ? " id=\"top-fix\"" : "");
		esc(f, fix[0] ? fix : str(b, "example"));
		fprintf(f, "</span>: <b>%d</b> %s <a href=\"#blocker-%d\"><code>", num(b, "count"),
			num(b, "count") == 1 ? "resource" : "resources", i);
		esc(f, str(b, "code"));
		fputs("</code></a></li>", f);
	}
	fputs("</ol></section>\n", f);
}

static void steps(FILE *f, const cJSON *r)
{
	fputs("<section id=\"steps\"><h2>Progress along the guide's steps</h2><table "
	      "id=\"step-table\"><tr><th>step</th><th>progress</th><th>done</th><th>pending</th>"
	      "<th>blocked</th></tr>",
	      f);
	const cJSON *s;
	cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(r, "steps"))
	{
		if (!num(s, "total"))
			continue;
		fputs("<tr><td>", f);
		esc(f, str(s, "label"));
		fputs("</td><td>", f);
		bar(f, s, 240);
		fprintf(f, "</td><td>%d of %d (%d%%)</td><td>%d</td><td>%d</td></tr>",
			num(s, "done"), num(s, "total"), pct(num(s, "done"), num(s, "total")),
			num(s, "pending"), num(s, "blocked"));
	}
	fputs("</table></section>\n", f);
}

/* VPCs converged over time, one point per report (earlier ones from --since). */
static void trend(FILE *f, const cJSON *r)
{
	const cJSON *tr = cJSON_GetObjectItemCaseSensitive(r, "trend");
	int n = cJSON_GetArraySize(tr);
	if (n < 2)
		return;
	int w = 720, h = 200, left = 40, bottom = 30;
	fprintf(f,
		"<section id=\"trend\"><h2>Over time</h2><svg id=\"trend-chart\" width=\"%d\" "
		"height=\"%d\" role=\"img\" aria-label=\"share of VPCs dual-stack per report\">"
		"<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#999\"/>",
		w, h, left, h - bottom, w - 10, h - bottom);
	for (int y = 0; y <= 100; y += 50)
		fprintf(f, "<text x=\"0\" y=\"%d\" font-size=\"11\">%d%%</text>",
			h - bottom - (h - bottom - 10) * y / 100 + 4, y);
	fputs("<polyline fill=\"none\" stroke=\"#2da44e\" stroke-width=\"2\" points=\"", f);
	int i = 0;
	const cJSON *p;
	cJSON_ArrayForEach(p, tr)
	{
		int x = left + (w - left - 20) * i++ / (n - 1);
		int y = h - bottom -
			(h - bottom - 10) * pct(num(p, "converged"), num(p, "total")) / 100;
		fprintf(f, "%d,%d ", x, y);
	}
	fputs("\"/>", f);
	i = 0;
	cJSON_ArrayForEach(p, tr)
	{
		int x = left + (w - left - 20) * i++ / (n - 1);
		int share = pct(num(p, "converged"), num(p, "total"));
		int y = h - bottom - (h - bottom - 10) * share / 100;
		fprintf(f,
			"<circle class=\"trend-point\" cx=\"%d\" cy=\"%d\" r=\"3\" "
			"fill=\"#2da44e\"><title>",
			x, y);
		esc(f, str(p, "generated"));
		fprintf(f, ": %d of %d (%d%%)</title></circle>", num(p, "converged"),
			num(p, "total"), share);
		if (i == 1 || i == n) {
			fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"%s\">",
				x, h - 8, i == 1 ? "start" : "end");
			esc(f, str(p, "generated"));
			fputs("</text>", f);
		}
	}
	fputs("</svg></section>\n", f);
}

static void accounts(FILE *f, const cJSON *r)
{
	const cJSON *targets = cJSON_GetObjectItemCaseSensitive(r, "targets");
	fprintf(f,
		"<details id=\"accounts-details\"><summary>Per account and region (%d)</summary>"
		"<table id=\"accounts\"><tr><th>account</th><th>region</th><th>VPCs</th>"
		"<th>dual-stack</th><th>pending</th><th>blocked</th><th>subnets</th><th>instances "
		"with IPv6</th><th>findings</th></tr>",
		cJSON_GetArraySize(targets));
	const cJSON *t;
	cJSON_ArrayForEach(t, targets)
	{
		const cJSON *c = cJSON_GetObjectItemCaseSensitive(t, "counts");
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(t, "steps");
		const cJSON *sub = cJSON_GetObjectItemCaseSensitive(st, "subnets");
		const cJSON *addr = cJSON_GetObjectItemCaseSensitive(st, "addresses");
		fputs("<tr><td>", f);
		esc(f, str(t, "account"));
		fputs("</td><td>", f);
		esc(f, str(t, "region"));
		fprintf(f,
			"</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td><td>%d of %d</td><td>%d "
			"of %d</td><td>",
			num(c, "total"), num(c, "converged"), num(c, "pending"), num(c, "blocked"),
			num(sub, "done"), num(sub, "total"), num(addr, "done"), num(addr, "total"));
		if (*str(t, "error")) {
			fputs("<span class=\"blocked\">", f);
			esc(f, str(t, "error"));
			fputs("</span>", f);
		}
		const cJSON *k;
		cJSON_ArrayForEach(k, cJSON_GetObjectItemCaseSensitive(t, "findings_by_code"))
		{
			esc(f, k->string);
			fprintf(f, " &times;%d ", (int)k->valuedouble);
		}
		fputs("</td></tr>", f);
	}
	fputs("</table></details>\n", f);
}

static void blockers(FILE *f, const cJSON *r)
{
	const cJSON *bl = cJSON_GetObjectItemCaseSensitive(r, "blockers");
	fprintf(f,
		"<details id=\"blockers\"><summary>Every blocker and warning (%d causes)"
		"</summary>",
		cJSON_GetArraySize(bl));
	int i = 0;
	const cJSON *b;
	cJSON_ArrayForEach(b, bl)
	{
		fprintf(f, "<div class=\"blocker %s\" id=\"blocker-%d\"><h3><code>",
			str(b, "severity"), ++i);
		esc(f, str(b, "code"));
		fprintf(f, "</code> &times;%d (step %d)</h3><p>", num(b, "count"), num(b, "step"));
		if (*str(b, "fix")) {
			fputs("<b>Fix:</b> ", f);
			esc(f, str(b, "fix"));
			fputs("<br>", f);
		}
		fputs("<span class=\"muted\">for example: ", f);
		esc(f, str(b, "example"));
		fputs("</span></p><p class=\"resources\">", f);
		const cJSON *res;
		cJSON_ArrayForEach(res, cJSON_GetObjectItemCaseSensitive(b, "resources"))
		{
			fputs("<a href=\"#vpc-", f);
			esc(f, str(res, "vpc"));
			fputs("\">", f);
			esc(f, str(res, "resource"));
			fputs("</a> ", f);
		}
		int listed = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(b, "resources"));
		if (num(b, "count") > listed)
			fprintf(f, "and %d more (report --json lists the first %d)",
				num(b, "count") - listed, listed);
		fputs("</p></div>", f);
	}
	fputs("</details>\n", f);
}

static void vpcs(FILE *f, const cJSON *r)
{
	int n = 0;
	const cJSON *t, *v;
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(r, "targets")) n +=
	    cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(t, "vpcs"));
	fprintf(f,
		"<details id=\"vpcs\"><summary>Every VPC (%d)</summary><p><input id=\"filter\" "
		"type=\"search\" placeholder=\"filter: account, region, VPC, status, finding\" "
		"size=\"50\" oninput=\"narrow(this.value)\"> <span id=\"shown\"></span></p>"
		"<table id=\"vpc-table\"><thead><tr><th>VPC</th><th>account</th><th>region</th>"
		"<th>status</th><th>calls planned</th><th>findings</th></tr></thead><tbody>",
		n);
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(r, "targets"))
	{
		cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(t, "vpcs"))
		{
			fputs("<tr id=\"vpc-", f);
			esc(f, str(v, "vpc"));
			fputs("\"><td>", f);
			esc(f, str(v, "vpc"));
			fputs("</td><td>", f);
			esc(f, str(t, "account"));
			fputs("</td><td>", f);
			esc(f, str(t, "region"));
			fprintf(f, "</td><td class=\"%s\">%s</td><td>%d</td><td>", str(v, "status"),
				str(v, "status"), num(v, "planned_calls"));
			const cJSON *l;
			cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(v, "findings"))
			{
				fputs("<div><code>", f);
				esc(f, str(l, "code"));
				fputs("</code> ", f);
				esc(f, str(l, "resource"));
				fputs(": ", f);
				esc(f, str(l, "detail"));
				fputs("</div>", f);
			}
			fputs("</td></tr>\n", f);
		}
	}
	fputs("</tbody></table></details>\n", f);
}

int report_write_html(const char *path, const cJSON *r)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fputs("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta "
	      "name=\"viewport\" content=\"width=device-width\"><title>dualstackd fleet "
	      "readiness</title><style>"
	      "body{font:14px system-ui,sans-serif;margin:1.5em 2em;color:#222;max-width:72em}"
	      "h1{font-size:1.4em;margin:0 0 .2em}h2{font-size:1.15em;margin:1.2em 0 .4em}"
	      "h3{font-size:1em;margin:.8em 0 .2em}.muted{color:#666}"
	      ".big{font-size:2em;margin:.3em 0}.big .pct{color:#1a7f37}.kpis span{margin-right:"
	      "1.5em;font-size:1.1em}table{border-collapse:collapse;margin:.5em 0}"
	      "td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}"
	      "th{background:#f3f3f3}.converged{color:#1a7f37}.pending{color:#9a6700}"
	      ".blocked{color:#cf222e}.warning{color:#9a6700}ol.fixes li{margin:.35em 0}"
	      "ol.fixes .fix{font-weight:600;color:#222}details{margin:1em 0}summary{cursor:"
	      "pointer;font-weight:600;font-size:1.05em}.resources a{margin-right:.5em}"
	      "</style></head><body>\n<h1>dualstackd fleet readiness</h1><p class=\"muted\">",
	      f);
	esc(f, str(r, "generated"));
	fputs(", policy <code>", f);
	esc(f, str(r, "policy"));
	fputs("</code></p>\n", f);
	summary(f, r);
	next_steps(f, r);
	steps(f, r);
	trend(f, r);
	accounts(f, r);
	blockers(f, r);
	vpcs(f, r);
	fputs("<script>function narrow(q){q=q.toLowerCase();var n=0,rows=document."
	      "querySelectorAll('#vpc-table tbody tr');for(var i=0;i<rows.length;i++){var show="
	      "rows[i].textContent.toLowerCase().indexOf(q)>=0;rows[i].style.display=show?'':"
	      "'none';n+=show}document.getElementById('shown').textContent=q?n+' shown':''}"
	      "</script>\n</body></html>\n",
	      f);
	return fclose(f) ? -1 : 0;
}
