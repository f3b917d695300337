/* The resync walks the fleet so a lost event delays convergence but never prevents it: every
 * in-scope VPC of every (account, region) of the policy goes to the work topic (keyed, so only
 * its owner reconciles it). One replica runs it - the owner of work partition 0 - as soon as
 * it becomes the owner (after the initial delay, jittered) and then every interval. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon_internal.h"
#include "log.h"

struct resync {
	struct daemon *d;
	struct observed obs;
	char account[24];
	char region[40];
};

static void on_resync_read(void *ud, int rc, const struct ec2_error *err)
{
	struct resync *r = ud;
	struct daemon *d = r->d;
	size_t n = 0;
	for (size_t i = 0; !rc && i < r->obs.vpcs.n; i++) {
		if (!policy_vpc_in_scope(reconciler_policy(d->rc), &r->obs.vpcs.v[i]) ||
		    !wk_valid_id(r->obs.vpcs.v[i].vpc_id))
			continue;
		struct work_key k = {0};
		snprintf(k.account, sizeof(k.account), "%s", r->account);
		snprintf(k.region, sizeof(k.region), "%s", r->region);
		snprintf(k.vpc_id, sizeof(k.vpc_id), "%s", r->obs.vpcs.v[i].vpc_id);
		/* through the work topic, so only the VPC's owner reconciles it */
		ingest_produce_work(d, &k, "resync", 0);
		n++;
	}
	char s[32];
	snprintf(s, sizeof(s), "%zu", n);
	metrics_set(d->metrics, "dualstackd_vpcs_in_scope", (double)n, "account", r->account,
		    "region", r->region, NULL);
	metrics_add(d->metrics, "dualstackd_resyncs_total", 1, "outcome", rc ? "failed" : "ok",
		    NULL);
	log_kv(rc ? "warn" : "info", "resync", "account", r->account, "region", r->region, "vpcs",
	       s, "error", rc && err ? err->code : "", NULL);
	observed_cleanup(&r->obs);
	free(r);
}

static void resync_all(struct daemon *d)
{
	const struct policy *pol = reconciler_policy(d->rc);
	size_t na = pol->n_accounts ? pol->n_accounts : 1;
	size_t nr = pol->n_regions ? pol->n_regions : 1;
	for (size_t a = 0; a < na && !d->draining; a++)
		for (size_t g = 0; g < nr; g++) {
			const char *acc =
			    daemon_account(d, pol->n_accounts ? pol->accounts[a] : "");
			const char *reg = pol->n_regions ? pol->regions[g] : d->home.region;
			struct target *t = daemon_target(d, acc, reg);
			struct resync *r = calloc(1, sizeof(*r));
			if (!t || !r) {
				free(r);
				log_kv("error", "out of memory: a resync target is skipped",
				       "account", acc, "region", reg, NULL);
				continue;
			}
			r->d = d;
			snprintf(r->account, sizeof(r->account), "%s", acc);
			snprintf(r->region, sizeof(r->region), "%s", reg);
			observed_init(&r->obs);
			struct ec2_read q = {.kind = OBS_VPCS};
			if (t->port.port.read(t->port.port.ctx, &q, &r->obs, on_resync_read, r)) {
				observed_cleanup(&r->obs);
				free(r);
			}
		}
}

void resync_start(struct daemon *d, double delay_s)
{
	ev_timer_stop(d->loop, &d->resync_timer);
	ev_timer_set(&d->resync_timer, delay_s * (1.0 + 0.2 * (arc4random() / 4294967296.0)), 0.);
	ev_timer_start(d->loop, &d->resync_timer);
}

void resync_timer_cb(struct ev_loop *loop, struct ev_timer *w, int revents)
{
	struct daemon *d = w->data;
	(void)revents;
	if (d->resync_owner) /* else another replica lists the fleet this time */
		resync_all(d);
	/* the next one, jittered by +-10% so replicas and restarts spread out */
	double next = d->cfg->resync_interval_s * (0.9 + 0.2 * (arc4random() / 4294967296.0));
	ev_timer_set(w, next, 0.);
	ev_timer_start(loop, w);
}
