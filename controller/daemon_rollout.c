/* Rollout waves in the daemon: every rollout_scan_interval_s each replica plans the whole fleet
 * read-only (one batched read per kind per account and region) and asks rollout.c which waves
 * are open; the reconciler then writes only to VPCs of open waves. The state is EC2's own (each
 * VPC's converged-at tag), so replicas agree without talking. When a wave opens, the resync
 * owner sends the fleet through the work topic again, so the VPCs that were told "waiting" are
 * reconciled. Until the first scan ends no wave is open. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "daemon_internal.h"
#include "log.h"

static void scan_done(struct daemon *d);
static void scan(struct daemon *d);

/* Every target answered: decide, unless a target failed (what was open stays, a closed wave
 * stays closed) or the policy was reloaded meanwhile (the counts are of other waves: again). */
static void scan_end(struct daemon *d)
{
	d->rollout.scanning = false;
	if (d->rollout.generation != d->rollout.scan_generation)
		scan(d);
	else if (!d->rollout.failed)
		scan_done(d);
}

static void scan_done(struct daemon *d)
{
	const struct policy *pol = reconciler_policy(d->rc);
	char why[256], before_why[256];
	int before = reconciler_rollout(d->rc, before_why, sizeof(before_why));
	int open = rollout_open_through(d->rollout.counts, pol, time(NULL), why, sizeof(why));
	reconciler_set_rollout(d->rc, open, why);
	metrics_set(d->metrics, "dualstackd_rollout_open_waves", open + 1, NULL);
	for (size_t k = 0; k < pol->n_waves; k++) {
		const struct rollout_wave_count *w = &d->rollout.counts->wave[k];
		const char *name = pol->waves[k].name;
		metrics_set(d->metrics, "dualstackd_rollout_vpcs", w->converged, "wave", name,
			    "state", "converged", NULL);
		metrics_set(d->metrics, "dualstackd_rollout_vpcs", w->pending, "wave", name,
			    "state", "pending", NULL);
		metrics_set(d->metrics, "dualstackd_rollout_vpcs", w->blocked, "wave", name,
			    "state", "blocked", NULL);
	}
	if (open != before) {
		char n[16];
		snprintf(n, sizeof(n), "%d", open + 1);
		log_kv("info", "rollout: the open waves changed", "open_waves", n, "last_open",
		       open >= 0 ? pol->waves[open].name : "", "next", why, NULL);
		if (open > before)
			resync_start(d, 0); /* what was told "waiting" goes again */
	}
}

static void on_scanned(void *ud, struct reconcile_run *run)
{
	struct daemon *d = ud;
	const struct ec2_error *err;
	if (reconcile_run_error(run, &err)) {
		/* a target that cannot be read is unknown: its waves must not look converged */
		d->rollout.failed++;
		log_kv("warn", "rollout scan: a target could not be read", "error", err->code,
		       NULL);
	}
	for (size_t i = 0; i < reconcile_run_count(run); i++) {
		struct reconcile_vpc *v = reconcile_run_vpc(run, i);
		if (v->outcome != RC_GONE)
			rollout_add(d->rollout.counts, v->wave, &v->plan, v->converged_at,
				    d->rollout.started);
	}
	reconcile_run_free(run);
	if (--d->rollout.targets_left == 0)
		scan_end(d);
}

static void scan(struct daemon *d)
{
	const struct policy *pol = reconciler_policy(d->rc);
	if (!pol->n_waves) {
		reconciler_set_rollout(d->rc, 0, "");
		return;
	}
	if (d->rollout.scanning || d->draining)
		return;
	rollout_init(d->rollout.counts);
	d->rollout.scanning = true;
	d->rollout.scan_generation = d->rollout.generation;
	d->rollout.failed = 0;
	d->rollout.started = time(NULL);
	d->rollout.targets_left = 1; /* held until every target has started */
	size_t na = pol->n_accounts ? pol->n_accounts : 1;
	size_t nr = pol->n_regions ? pol->n_regions : 1;
	for (size_t a = 0; a < na; a++)
		for (size_t g = 0; g < nr; g++) {
			const char *acc =
			    daemon_account(d, pol->n_accounts ? pol->accounts[a] : "");
			const char *reg = pol->n_regions ? pol->regions[g] : d->home.region;
			struct target *t = daemon_target(d, acc, reg);
			if (!t) {
				d->rollout.failed++;
				continue;
			}
			struct reconcile_request req = {.port = &t->port.port,
							.shared_port = &t->port.port,
							.account = acc,
							.region = reg,
							.execute = false};
			d->rollout.targets_left++;
			if (!reconcile_start(d->rc, &req, on_scanned, d)) {
				d->rollout.targets_left--;
				d->rollout.failed++;
			}
		}
	if (--d->rollout.targets_left == 0)
		scan_end(d);
}

void rollout_policy_changed(struct daemon *d)
{
	d->rollout.generation++;
	if (!d->rollout.scanning) /* else the scan under way starts again when it ends */
		scan(d);
}

static void on_rollout_timer(struct ev_loop *loop, struct ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	scan(w->data);
}

int rollout_start(struct daemon *d)
{
	d->rollout.counts = calloc(1, sizeof(*d->rollout.counts));
	if (!d->rollout.counts)
		return -1;
	ev_timer_init(&d->rollout.timer, on_rollout_timer, 0., d->cfg->rollout_scan_interval_s);
	d->rollout.timer.data = d;
	ev_timer_start(d->loop, &d->rollout.timer);
	return 0;
}

void rollout_stop(struct daemon *d)
{
	free(d->rollout.counts);
	d->rollout.counts = NULL;
}
