/* Percentages use FNV-1a of the VPC id, so a VPC's place never changes between runs, replicas or
 * versions, and "percent: 5" then "percent: 25" keeps the first 5% inside the 25%. */
#include "rollout.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static bool admits(const struct policy_wave *w, const char *account, const struct vpc *v)
{
	bool in = !w->n_accounts;
	for (size_t i = 0; !in && i < w->n_accounts; i++)
		in = !strcmp(w->accounts[i], account);
	for (size_t i = 0; in && i < w->n_vpc_tags; i++) {
		const char *val = tag_get(&v->tags, w->vpc_tags[i].key);
		in = val && !strcmp(val, w->vpc_tags[i].value);
	}
	/* basis points: 0.01% steps */
	return in && (w->percent >= 100 ||
		      ds_hash(DS_HASH_SEED, v->vpc_id) % 10000 < (uint32_t)(w->percent * 100));
}

int rollout_wave_of(const struct policy *p, const char *account, const struct vpc *v)
{
	for (size_t i = 0; i < p->n_waves; i++)
		if (admits(&p->waves[i], account ? account : "", v))
			return (int)i;
	return ROLLOUT_NO_WAVE;
}

time_t rollout_converged_at(const struct vpc *v)
{
	const char *s = tag_get(&v->tags, TAG_CONVERGED_AT);
	struct tm tm = {0};
	const char *end = s ? strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm) : NULL;
	return end && !*end ? timegm(&tm) : 0;
}

void rollout_init(struct rollout *r)
{
	memset(r, 0, sizeof(*r));
}

void rollout_add(struct rollout *r, int wave, const struct plan *plan, time_t converged_at,
		 time_t now)
{
	if (wave < 0 || wave >= POLICY_MAX_WAVES) {
		r->outside++;
		return;
	}
	struct rollout_wave_count *w = &r->wave[wave];
	size_t work = 0;
	for (size_t i = 0; i < plan->actions.n; i++)
		work += plan->actions.v[i].kind != ACT_TAG_VPC_CONVERGED;
	w->vpcs++;
	if (work)
		w->pending++;
	else if (plan_blocked(plan))
		w->blocked++;
	else {
		w->converged++;
		time_t at = converged_at ? converged_at : now; /* the tag is written now */
		if (at > w->last_converged)
			w->last_converged = at;
	}
}

int rollout_open_through(const struct rollout *r, const struct policy *p, time_t now, char *why,
			 size_t why_len)
{
	if (why_len)
		why[0] = '\0';
	for (size_t k = 0; k + 1 < p->n_waves; k++) {
		const struct rollout_wave_count *w = &r->wave[k];
		const char *name = p->waves[k].name, *next = p->waves[k + 1].name;
		if (w->pending || w->blocked) {
			snprintf(
			    why, why_len,
			    "%s waits for %s: %d of %d VPCs not converged (%d pending, %d blocked)",
			    next, name, w->pending + w->blocked, w->vpcs, w->pending, w->blocked);
			return (int)k;
		}
		time_t until = w->last_converged + p->waves[k].soak_s;
		if (w->vpcs && now < until) {
			char at[32] = "";
			struct tm tm;
			if (gmtime_r(&until, &tm))
				strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", &tm);
			snprintf(why, why_len, "%s waits for %s to soak until %s (%ld s more)",
				 next, name, at, (long)(until - now));
			return (int)k;
		}
	}
	return p->n_waves ? (int)p->n_waves - 1 : 0;
}

int rollout_format(const struct rollout *r, const struct policy *p, int open_through,
		   const char *why, struct buf *out)
{
	int rc = DS_OK;
	for (size_t k = 0; !rc && k < p->n_waves; k++) {
		const struct rollout_wave_count *w = &r->wave[k];
		rc = buf_printf(
		    out, "wave %zu %s (%s): %d VPCs, %d converged, %d pending, %d blocked\n", k + 1,
		    p->waves[k].name, (int)k <= open_through ? "open" : "waiting", w->vpcs,
		    w->converged, w->pending, w->blocked);
	}
	if (!rc && r->outside)
		rc = buf_printf(out, "%d VPCs in no wave: left alone while waves are configured\n",
				r->outside);
	if (!rc && why && why[0])
		rc = buf_printf(out, "next: %s\n", why);
	return rc;
}
