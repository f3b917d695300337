/* The blast-radius guard in the daemon (the guard itself is reconcile/guard.c, shared with
 * `apply`): a halt is logged once, counted, shown per scope in /metrics, and written to the halt
 * file so that a restart or SIGHUP keeps it; the daemon watches that file, and an operator who
 * removes it (`dualstackd resume`) clears the halt - then a resync picks up what was held. */
#include <stdio.h>
#include <stdlib.h>

#include "daemon_internal.h"
#include "halt_file.h"
#include "log.h"

#define MAX_REPORTED_HALTS 512

static void save(struct daemon *d)
{
	struct guard *g = reconciler_guard(d->rc);
	size_t n = guard_halts(g, NULL, 0);
	struct guard_halt *all = calloc(n + 1, sizeof(*all));
	char err[512];
	if (!all)
		return;
	n = guard_halts(g, all, n);
	if (halt_file_write(d->cfg->halt_file, all, n, err, sizeof(err)))
		log_kv("warn", "the halt is not written down: a restart would clear it", "error",
		       err, NULL);
	free(all);
}

static void on_halt(void *ud, const struct guard_halt *h)
{
	struct daemon *d = ud;
	log_kv("error", "halted: no new mutating work until an operator runs 'dualstackd resume'",
	       "scope", h->scope, "reason", h->reason, "halt_file", d->cfg->halt_file, NULL);
	metrics_add(d->metrics, "dualstackd_guard_halts_total", 1, NULL);
	metrics_set(d->metrics, "dualstackd_halted", 1, "scope", h->scope, NULL);
	save(d);
}

static void on_halt_file(struct ev_loop *loop, struct ev_stat *w, int revents)
{
	struct daemon *d = w->data;
	struct guard *g = reconciler_guard(d->rc);
	(void)loop;
	(void)revents;
	size_t n = guard_halts(g, NULL, 0);
	if (w->attr.st_nlink || !n)
		return; /* written (by us), or nothing to clear */
	struct guard_halt *all = calloc(n + 1, sizeof(*all));
	n = all ? guard_halts(g, all, n) : 0;
	for (size_t i = 0; i < n; i++)
		metrics_remove(d->metrics, "dualstackd_halted", "scope", all[i].scope, NULL);
	free(all);
	guard_resume(g);
	log_kv("warn", "resumed: the halt file was removed; held work goes on", "halt_file",
	       d->cfg->halt_file, NULL);
	metrics_add(d->metrics, "dualstackd_guard_resumes_total", 1, NULL);
	resync_start(d, 0); /* what the halt held was answered "halted": look at the fleet again */
}

void guard_start(struct daemon *d)
{
	struct guard *g = reconciler_guard(d->rc);
	struct guard_halt *halts = NULL;
	size_t n = 0;
	char e[512];
	reconciler_on_halt(d->rc, on_halt, d);
	if (halt_file_read(d->cfg->halt_file, &halts, &n, e, sizeof(e))) {
		/* an unreadable halt may still be a halt: stay safe, say why */
		struct guard_halt h;
		halt_file_unreadable(&h, e, time(NULL));
		guard_halt(g, &h);
		log_kv("error", "starting halted", "scope", h.scope, "reason", h.reason, NULL);
		metrics_set(d->metrics, "dualstackd_halted", 1, "scope", h.scope, NULL);
	}
	for (size_t i = 0; i < n; i++) {
		guard_halt(g, &halts[i]);
		if (i < MAX_REPORTED_HALTS)
			log_kv("warn", "starting halted (kept from before the restart)", "scope",
			       halts[i].scope, "reason", halts[i].reason, NULL);
		metrics_set(d->metrics, "dualstackd_halted", 1, "scope", halts[i].scope, NULL);
	}
	free(halts);
	ev_stat_init(&d->halt_watch, on_halt_file, d->cfg->halt_file, 1.);
	d->halt_watch.data = d;
	ev_stat_start(d->loop, &d->halt_watch);
}

void guard_metrics(struct daemon *d)
{
	metrics_set(d->metrics, "dualstackd_changes_last_hour",
		    (double)guard_changes_last_hour(reconciler_guard(d->rc), time(NULL)), NULL);
}
