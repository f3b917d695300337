/* The CLI over a whole scope: every (account, region) of the policy at once - EC2's buckets are
 * per account, region and action, so targets side by side go as fast as one alone - and each
 * target's VPCs in windows of FLEET_WINDOW, one reconcile run per window, each VPC handed to the
 * caller when its window ends and then freed. Memory follows the windows in flight
 * (FLEET_RUNS), not the size of the fleet; two windows of one target run at once so its
 * buckets stay busy while one window waits on its last VPCs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../reconcile/reconcile.h"
#include "cli.h"
#include "ec2_port.h"

#define FLEET_WINDOW	 100 /* VPCs one run reads, plans and executes together */
#define FLEET_RUNS	 8   /* runs (and listings) in flight over all targets */
#define FLEET_PER_TARGET 2   /* runs in flight per target */

struct fleet_target {
	struct ec2_port_impl port;
	char **ids; /* the VPCs to reconcile, owned */
	size_t n_ids, next;
	bool listed, listing;
	int running;
	struct observed listed_obs;
	struct fleet *f;
};

struct fleet {
	struct cli_session *s;
	const struct fleet_request *req;
	struct fleet_target *t;
	size_t n_t, rr; /* targets; round-robin cursor */
	int in_flight;
	int errors;
};

struct window {
	struct fleet_target *t;
	struct reconcile_run *run;
};

static void pump(struct fleet *f);

static void target_error(struct fleet_target *t, int rc, const struct ec2_error *err)
{
	t->f->errors++;
	if (t->f->req->on_error)
		t->f->req->on_error(t->f->req->ud, &t->port.target, rc, err);
}

static void on_listed(void *ud, int rc, const struct ec2_error *err)
{
	struct fleet_target *t = ud;
	struct fleet *f = t->f;
	t->listing = false;
	t->listed = true;
	f->in_flight--;
	const struct observed *o = &t->listed_obs;
	if (rc) {
		target_error(t, rc, err);
	} else {
		t->ids = calloc(o->vpcs.n + 1, sizeof(*t->ids));
		bool oom = !t->ids;
		for (size_t i = 0; !oom && i < o->vpcs.n; i++)
			if (f->req->revert_steps
				? policy_vpc_selected(f->req->policy, &o->vpcs.v[i])
				: policy_vpc_in_scope(f->req->policy, &o->vpcs.v[i]))
				oom = !(t->ids[t->n_ids++] = strdup(o->vpcs.v[i].vpc_id));
		if (oom) {
			t->n_ids = t->n_ids ? t->n_ids - 1 : 0;
			target_error(t, DS_ENOMEM, NULL);
		}
	}
	observed_cleanup(&t->listed_obs);
	pump(f);
}

/* After the run's callback has returned: the run is on the stack until then. */
static void free_window(void *ud)
{
	struct window *w = ud;
	struct fleet *f = w->t->f;
	reconcile_run_free(w->run);
	w->t->running--;
	f->in_flight--;
	free(w);
	pump(f);
}

static void on_window_done(void *ud, struct reconcile_run *run)
{
	struct window *w = ud;
	struct fleet_target *t = w->t;
	struct fleet *f = t->f;
	const struct ec2_error *err;
	w->run = run;
	int rc = reconcile_run_error(run, &err);
	if (rc)
		target_error(t, rc, err);
	else
		for (size_t i = 0; i < reconcile_run_count(run); i++)
			f->req->on_vpc(f->req->ud, &t->port.target, reconcile_run_vpc(run, i));
	if (t->port.port.after(t->port.port.ctx, 0, free_window, w))
		free_window(w); /* no timer: the caller does not touch the run after this */
}

static bool start_window(struct fleet *f, struct fleet_target *t)
{
	size_t n = t->n_ids - t->next;
	if (n > FLEET_WINDOW)
		n = FLEET_WINDOW;
	struct window *w = calloc(1, sizeof(*w));
	if (!w)
		return false;
	w->t = t;
	struct reconcile_request req = {.port = &t->port.port,
					.account = t->port.target.account_id,
					.region = t->port.target.region,
					.vpc_ids = (const char *const *)&t->ids[t->next],
					.n_vpc_ids = n,
					.execute = f->req->execute,
					.revert_steps = f->req->revert_steps,
					.audit = f->req->audit};
	t->next += n;
	t->running++;
	f->in_flight++;
	w->run = reconcile_start(f->req->reconciler, &req, on_window_done, w);
	if (!w->run) {
		t->running--;
		f->in_flight--;
		free(w);
		target_error(t, DS_ENOMEM, NULL);
		return false;
	}
	return true;
}

static bool start_listing(struct fleet *f, struct fleet_target *t)
{
	observed_init(&t->listed_obs);
	struct ec2_read q = {.kind = OBS_VPCS};
	t->listing = true;
	f->in_flight++;
	int rc = t->port.port.read(t->port.port.ctx, &q, &t->listed_obs, on_listed, t);
	if (rc) {
		t->listing = false;
		t->listed = true;
		f->in_flight--;
		target_error(t, rc, NULL);
		return false;
	}
	return true;
}

/* Starts what the limits allow, visiting the targets in turn. */
static void pump(struct fleet *f)
{
	bool progress = true;
	while (f->in_flight < FLEET_RUNS && progress) {
		progress = false;
		for (size_t k = 0; k < f->n_t && f->in_flight < FLEET_RUNS; k++) {
			struct fleet_target *t = &f->t[(f->rr + k) % f->n_t];
			bool started = false;
			if (!t->listed && !t->listing)
				started = start_listing(f, t);
			else if (t->listed && t->next < t->n_ids && t->running < FLEET_PER_TARGET)
				started = start_window(f, t);
			if (started) {
				f->rr = (f->rr + k + 1) % f->n_t;
				progress = true;
				break;
			}
		}
	}
}

/* The target of account a and region g of the policy's scope (empty lists: the session's). */
static void scope_target(const struct cli_session *s, const struct policy *pol, size_t a, size_t g,
			 struct ec2_target *out)
{
	*out = s->target;
	if (pol->n_regions)
		ec2_target_set_region(out, pol->regions[g]);
	if (pol->n_accounts) {
		snprintf(out->account_id, sizeof(out->account_id), "%s", pol->accounts[a]);
		policy_role_arn(pol, pol->accounts[a], out->role_arn, sizeof(out->role_arn));
	}
}

void cli_each_target(struct cli_session *s, const struct policy *pol,
		     void (*fn)(void *ud, struct cli_session *s), void *ud)
{
	size_t n_acc = pol->n_accounts ? pol->n_accounts : 1;
	size_t n_reg = pol->n_regions ? pol->n_regions : 1;
	struct ec2_target base = s->target;
	for (size_t a = 0; a < n_acc; a++)
		for (size_t g = 0; g < n_reg; g++) {
			struct ec2_target t;
			scope_target(s, pol, a, g, &t);
			s->target = t; /* fn sees the target as the session's */
			fn(ud, s);
			s->target = base;
		}
}

int cli_fleet_run(struct cli_session *s, const struct fleet_request *req)
{
	const struct policy *pol = req->policy;
	size_t n_acc = pol->n_accounts ? pol->n_accounts : 1;
	size_t n_reg = pol->n_regions ? pol->n_regions : 1;
	struct fleet f = {.s = s, .req = req, .n_t = n_acc * n_reg};
	f.t = calloc(f.n_t, sizeof(*f.t));
	if (!f.t)
		return DS_ENOMEM;
	for (size_t a = 0; a < n_acc; a++)
		for (size_t g = 0; g < n_reg; g++) {
			struct fleet_target *t = &f.t[a * n_reg + g];
			struct ec2_target target;
			scope_target(s, pol, a, g, &target);
			ec2_port_init(&t->port, s->ec2, &target, s->loop);
			t->f = &f;
			if (req->n_vpcs) { /* named on the command line: no listing */
				t->ids = calloc(req->n_vpcs + 1, sizeof(*t->ids));
				for (size_t i = 0; t->ids && i < req->n_vpcs; i++)
					if ((t->ids[t->n_ids] = strdup(req->vpcs[i])) != NULL)
						t->n_ids++;
				if (!t->ids || t->n_ids < req->n_vpcs)
					target_error(t, DS_ENOMEM, NULL);
				t->listed = true;
			}
		}
	pump(&f);
	while (f.in_flight > 0)
		ev_run(s->loop, EVRUN_ONCE);
	for (size_t i = 0; i < f.n_t; i++) {
		for (size_t k = 0; k < f.t[i].n_ids; k++)
			free(f.t[i].ids[k]);
		free(f.t[i].ids);
	}
	free(f.t);
	return f.errors ? DS_EAWS : DS_OK;
}
