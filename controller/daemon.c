/* The daemon's wiring, all on one loop (the stages are in daemon_*.c, daemon_internal.h says
 * which is where):
 *
 *   input topic --decode, validate--> reject: dead-letter topic (reason + original bytes)
 *                                 \-> none / out of scope: counted, done
 *                                  \-> keys --resolve resources (batched, cached)--> work topic,
 *                                           keyed account/region/vpc (one partition, one replica)
 *   work topic --> work queue (dedup, backoff) --> reconcile: read, plan, execute, re-read
 *
 * An input message's offset is stored only when its dead-letter or work records are
 * acknowledged; a work message's only when the reconcile it joined is finished. A revoked work
 * partition is handed over only when its running reconciles have ended (or revoke_timeout_s). */
#include "daemon.h"

#include <cJSON.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon_internal.h"
#include "log.h"
#include "msk_iam.h"
#include "policy_file.h"

#define HEARTBEAT_S	  1.0
#define HEARTBEAT_STALE_S 10.0
#define IDENTITY_RETRY_S  30.0

/* ---- targets, accounts, offsets ---- */

static uint32_t target_hash(const char *account, const char *region)
{
	return ds_hash(ds_hash(ds_hash(DS_HASH_SEED, account), "/"), region) % TARGET_BUCKETS;
}

/* The role a target's calls go through: none for the credentials' own account. */
static void target_role(const struct daemon *d, const char *account, char *out, size_t size)
{
	out[0] = '\0';
	if (account[0] && strcmp(account, d->own_account) != 0)
		policy_role_arn(reconciler_policy(d->rc), account, out, size);
}

struct target *daemon_target(struct daemon *d, const char *account, const char *region)
{
	uint32_t b = target_hash(account, region);
	for (struct target *t = d->targets[b]; t; t = t->next)
		if (!strcmp(t->account, account) && !strcmp(t->region, region))
			return t;
	/* as many as the fleet has (an org of 500 accounts x 17 regions is normal); each is a
	 * few KB, and the ports must stay where they are: runs point at them */
	struct target *t = calloc(1, sizeof(*t));
	if (!t) {
		log_kv("error", "out of memory: no target for an account and region", "account",
		       account, "region", region, NULL);
		return NULL;
	}
	struct ec2_target et = d->home;
	snprintf(t->account, sizeof(t->account), "%s", account);
	snprintf(t->region, sizeof(t->region), "%s", region);
	snprintf(et.account_id, sizeof(et.account_id), "%s", account);
	ec2_target_set_region(&et, region);
	target_role(d, account, et.role_arn, sizeof(et.role_arn));
	ec2_port_init(&t->port, d->ec2, &et, d->loop);
	t->next = d->targets[b];
	d->targets[b] = t;
	d->n_targets++;
	metrics_set(d->metrics, "dualstackd_targets", (double)d->n_targets, NULL);
	return t;
}

const char *daemon_account(const struct daemon *d, const char *account)
{
	return account && account[0] ? account : d->own_account;
}

static void store_offset(void *ud, const char *topic, int32_t partition, int64_t offset)
{
	struct daemon *d = ud;
	kafka_store_offset(d->kafka, topic, partition, offset);
}

void daemon_release_ticket(void *ud, uint64_t ticket)
{
	struct daemon *d = ud;
	if (!ticket)
		return;
	offsets_release(d->offsets, ticket);
	offsets_each_committable(d->offsets, store_offset, d);
}

bool daemon_revoking(const struct daemon *d, int32_t work_partition)
{
	for (int i = 0; i < d->n_revoking; i++)
		if (d->revoking[i] == work_partition)
			return true;
	return false;
}

/* ---- Kafka: messages, deliveries, rebalances, errors ---- */

static void on_message(void *ud, const rd_kafka_message_t *m)
{
	struct daemon *d = ud;
	const char *topic = rd_kafka_topic_name(m->rkt);
	uint64_t ticket = offsets_begin(d->offsets, topic, m->partition, m->offset);
	metrics_set_check(d->metrics, "kafka", true, NULL);
	if (!strcmp(topic, d->cfg->work_topic)) {
		work_message(d, m, ticket); /* the reconcile it joins releases the ticket */
	} else {
		ingest_message(d, m, ticket);
		daemon_release_ticket(d, ticket); /* the message's own; work holds its own */
	}
}

static void on_delivered(void *ud, void *opaque, rd_kafka_resp_err_t err)
{
	struct daemon *d = ud;
	if (!err)
		metrics_set_check(d->metrics, "kafka", true, NULL);
	producer_delivered(d->producer, opaque, err);
}

static void on_members(void *ud, int members);

/* The replica that owns partition 0 of the work topic runs the periodic resync, so a fleet is
 * listed once per interval, not once per replica. */
static bool resync_partition(const struct daemon *d, const char *topic, int32_t partition)
{
	return partition == 0 && !strcmp(topic, d->cfg->work_topic);
}

static void on_revoked(void *ud, const char *topic, int32_t partition)
{
	struct daemon *d = ud;
	char s[16];
	snprintf(s, sizeof(s), "%d", (int)partition);
	log_kv("info", "partition revoked", "topic", topic, "partition", s, NULL);
	offsets_drop_partition(d->offsets, topic, partition);
	if (resync_partition(d, topic, partition))
		d->resync_owner = false;
	if (strcmp(topic, d->cfg->work_topic) != 0)
		return;
	if (!daemon_revoking(d, partition) && d->n_revoking < MAX_REVOKING)
		d->revoking[d->n_revoking++] = partition;
	d->revoke_waiting += work_revoke(d, partition);
}

static void on_revoke_timeout(struct ev_loop *loop, struct ev_timer *w, int revents)
{
	struct daemon *d = w->data;
	(void)loop;
	(void)revents;
	char n[16];
	snprintf(n, sizeof(n), "%d", d->revoke_waiting);
	/* the group's patience (max.poll.interval.ms) is not ours to spend: what still runs is
	 * a resize driving its instance back to running - level-triggered, and safe to finish
	 * next to the new owner */
	log_kv("warn", "handover deadline: partitions released while reconciles still run",
	       "running", n, NULL);
	metrics_add(d->metrics, "dualstackd_handover_timeouts_total", 1, NULL);
	d->revoke_waiting = 0;
	d->n_revoking = 0;
	kafka_revoke_done(d->kafka);
}

/* After the revoked partitions were visited: hold the revoke while their reconciles run. */
static int on_revoke_wait(void *ud)
{
	struct daemon *d = ud;
	/* a drain already waited for its reconciles' safe points, and the loop does not turn
	 * while the consumer closes: nothing to hold for */
	if (d->revoke_waiting <= 0 || d->draining) {
		d->revoke_waiting = 0;
		d->n_revoking = 0;
		return 0;
	}
	char n[16];
	snprintf(n, sizeof(n), "%d", d->revoke_waiting);
	log_kv("info", "handover: waiting for the revoked partitions' reconciles", "running", n,
	       NULL);
	ev_timer_stop(d->loop, &d->revoke_timer);
	ev_timer_set(&d->revoke_timer, d->cfg->revoke_timeout_s, 0.);
	ev_timer_start(d->loop, &d->revoke_timer);
	return 1;
}

static void on_assigned(void *ud, const char *topic, int32_t partition)
{
	struct daemon *d = ud;
	char s[32];
	snprintf(s, sizeof(s), "%d", (int)partition);
	log_kv("info", "partitions assigned", "topic", topic, "partition", s, NULL);
	/* a partition that comes back is ours again */
	for (int i = 0; !strcmp(topic, d->cfg->work_topic) && i < d->n_revoking; i++)
		if (d->revoking[i] == partition)
			d->revoking[i] = d->revoking[--d->n_revoking];
	if (resync_partition(d, topic, partition) && !d->resync_owner) {
		/* a new owner lists the fleet soon (the initial delay, jittered), not when a
		 * timer set before it owned anything next fires - up to an interval later */
		d->resync_owner = true;
		resync_start(d, d->cfg->resync_initial_delay_s);
	}
	metrics_set_check(d->metrics, "partitions", true, NULL);
	metrics_set_check(d->metrics, "kafka", true, NULL);
	kafka_count_members(d->kafka, on_members, d);
}

static void on_kafka_error(void *ud, rd_kafka_resp_err_t err, const char *reason, int fatal)
{
	struct daemon *d = ud;
	/* brokers unreachable, authentication or TLS refused: not ready, and said plainly */
	log_kv(fatal ? "error" : "warn", "kafka error", "code", rd_kafka_err2name(err), "error",
	       reason, NULL);
	metrics_add(d->metrics, "dualstackd_kafka_errors_total", 1, "code", rd_kafka_err2name(err),
		    NULL);
	bool serious = fatal || err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ||
		       err == RD_KAFKA_RESP_ERR__AUTHENTICATION || err == RD_KAFKA_RESP_ERR__SSL ||
		       err == RD_KAFKA_RESP_ERR__TRANSPORT ||
		       err == RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED;
	if (serious)
		metrics_set_check(d->metrics, "kafka", false, reason);
}

/* ---- the fleet's limits, split among the group's live members: the API budget and the
 * guard's max_changes_per_hour ---- */

static void apply_budget(struct daemon *d)
{
	const struct policy *pol = reconciler_policy(d->rc);
	int members = d->group_members > 0 ? d->group_members : 1;
	double share = pol->api_budget / members;
	ec2_client_set_budget(d->ec2, share);
	reconciler_set_replicas(d->rc, members);
	int cap = pol->guard.max_changes_per_hour;
	metrics_set(d->metrics, "dualstackd_api_budget_share", share, NULL);
	metrics_set(d->metrics, "dualstackd_max_changes_per_hour_share",
		    cap > 0 ? (double)((cap + members - 1) / members) : 0., NULL);
	metrics_set(d->metrics, "dualstackd_group_members", (double)members, NULL);
}

static void on_members(void *ud, int members)
{
	struct daemon *d = ud;
	if (members > 0 && members != d->group_members) {
		char m[16];
		snprintf(m, sizeof(m), "%d", members);
		log_kv("info", "consumer group members", "members", m, NULL);
		d->group_members = members;
		apply_budget(d);
	}
}

static void on_wq_timer(struct ev_loop *loop, struct ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	work_pump(w->data);
}

/* ---- signals, reloads ---- */

/* A drain is a handover to whoever owns the partitions next: the running reconciles were
 * cancelled (in-flight calls finish, nothing new starts, a resize under way is driven until its
 * instance runs again) and the daemon exits once they reached that point - or at
 * revoke_timeout_s, after which the next owner resumes from EC2's state and the resize tags. */
static void on_drain_check(struct ev_loop *loop, struct ev_timer *w, int revents)
{
	struct daemon *d = w->data;
	(void)revents;
	bool timeout = ev_now(loop) - d->drain_started > d->cfg->revoke_timeout_s;
	if (d->running > 0 && !timeout)
		return;
	if (d->running > 0) {
		char n[16];
		snprintf(n, sizeof(n), "%d", d->running);
		log_kv("warn",
		       "drain deadline: reconciles still running are left to the next owner",
		       "running", n, NULL);
		metrics_add(d->metrics, "dualstackd_handover_timeouts_total", 1, NULL);
	}
	ev_timer_stop(loop, w);
	offsets_each_committable(d->offsets, store_offset, d);
	kafka_close(d->kafka, 1000);
	log_kv("info", "stopped", NULL);
	ev_break(loop, EVBREAK_ALL);
}

static void on_sigterm(struct ev_loop *loop, struct ev_signal *w, int revents)
{
	struct daemon *d = w->data;
	(void)revents;
	if (d->draining)
		return;
	char n[16];
	snprintf(n, sizeof(n), "%d", d->running);
	log_kv("info", "draining: no new work; running reconciles stop at their next safe point",
	       "running", n, NULL);
	d->draining = true;
	d->drain_started = ev_now(loop);
	metrics_set_check(d->metrics, "draining", false, "shutting down");
	kafka_pause(d->kafka);
	work_cancel_all(d);
	ev_timer_init(&d->drain_timer, on_drain_check, 0., 0.1);
	d->drain_timer.data = d;
	ev_timer_start(loop, &d->drain_timer);
}

static void reload(struct daemon *d, const char *why)
{
	struct buf errors;
	buf_init(&errors, 0);
	struct policy *p = policy_file_load(d->cfg->policy_path, &errors);
	if (!p) {
		log_kv("error", "policy reload failed; keeping the current policy", "error",
		       errors.data ? errors.data : "", "trigger", why, NULL);
		metrics_add(d->metrics, "dualstackd_policy_reload_failures_total", 1, NULL);
		buf_cleanup(&errors);
		return;
	}
	buf_cleanup(&errors);
	/* Runs in flight keep the policy they started with (their own reference). */
	reconciler_set_policy(d->rc, p);
	policy_unref(p);
	for (size_t b = 0; b < TARGET_BUCKETS; b++) /* role templates may have changed */
		for (struct target *t = d->targets[b]; t; t = t->next)
			target_role(d, t->account, t->port.target.role_arn,
				    sizeof(t->port.target.role_arn));
	apply_budget(d); /* the budget may have changed */
	rollout_policy_changed(d);
	creds_cache_set_external_id(d->creds, reconciler_policy(d->rc)->assume_role_external_id);
	metrics_add(d->metrics, "dualstackd_policy_reloads_total", 1, NULL);
	log_kv("info", "policy reloaded", "mode", policy_mode_name(reconciler_policy(d->rc)->mode),
	       "trigger", why, NULL);
}

static void on_sighup(struct ev_loop *loop, struct ev_signal *w, int revents)
{
	(void)loop;
	(void)revents;
	reload(w->data, "SIGHUP");
}

/* Kubernetes sends no SIGHUP: a mounted ConfigMap changes the file (an atomic symlink swap). */
static void on_policy_changed(struct ev_loop *loop, struct ev_stat *w, int revents)
{
	(void)loop;
	(void)revents;
	if (w->attr.st_nlink)
		reload(w->data, "file changed");
}

/* ---- health and metrics ---- */

static const struct {
	const char *name;
	enum metric_type type;
	const char *help;
} families[] = {
    {"dualstackd_events_total", METRIC_COUNTER, "Input events by verdict (work, none, reject)"},
    {"dualstackd_events_out_of_scope_total", METRIC_COUNTER,
     "Event keys whose account or region the policy excludes"},
    {"dualstackd_dead_letters_total", METRIC_COUNTER, "Messages sent to the dead-letter topic"},
    {"dualstackd_dead_letters_truncated_total", METRIC_COUNTER,
     "Dead letters cut to what the dead-letter topic accepts"},
    {"dualstackd_produce_retries_total", METRIC_COUNTER, "Records produced again after a failure"},
    {"dualstackd_produce_given_up_total", METRIC_COUNTER, "Records given up after retries"},
    {"dualstackd_produce_pending", METRIC_GAUGE, "Records not yet acknowledged by the broker"},
    {"dualstackd_resolve_misses_total", METRIC_COUNTER, "Resources not resolved to a VPC"},
    {"dualstackd_resolve_cache_entries", METRIC_GAUGE, "Resource-to-VPC cache entries"},
    {"dualstackd_resolve_cache_evictions_total", METRIC_COUNTER, "Cache entries evicted (LRU)"},
    {"dualstackd_reconciles_total", METRIC_COUNTER, "Reconciles by outcome"},
    {"dualstackd_reconcile_seconds", METRIC_HISTOGRAM, "Reconcile duration"},
    {"dualstackd_reconcile_offsets_released_total", METRIC_COUNTER,
     "Failing VPCs whose offsets were released while retries go on"},
    {"dualstackd_queue_depth", METRIC_GAUGE, "VPCs queued"},
    {"dualstackd_queue_held", METRIC_GAUGE, "Work records held while the queue is full"},
    {"dualstackd_queue_full_total", METRIC_COUNTER, "Times the queue filled (work topic paused)"},
    {"dualstackd_reconciles_running", METRIC_GAUGE, "Reconciles running"},
    {"dualstackd_vpc_state", METRIC_GAUGE,
     "VPCs not converged: 1 blocked, 2 failed (at most 2000 series)"},
    {"dualstackd_vpc_state_untracked_total", METRIC_COUNTER,
     "VPC outcomes beyond the per-VPC series bound"},
    {"dualstackd_vpcs_in_scope", METRIC_GAUGE, "VPCs the last resync found in scope"},
    {"dualstackd_resyncs_total", METRIC_COUNTER, "Resync listings by outcome"},
    {"dualstackd_ec2_calls_total", METRIC_COUNTER, "EC2 and SSM calls by action and outcome"},
    {"dualstackd_ec2_throttled_answers", METRIC_GAUGE, "RequestLimitExceeded answers so far"},
    {"dualstackd_ec2_retries", METRIC_GAUGE, "Calls retried so far"},
    {"dualstackd_ec2_calls_waiting", METRIC_GAUGE,
     "EC2 calls waiting for a token, by action (summed over accounts and regions)"},
    {"dualstackd_ec2_buckets_slowed", METRIC_GAUGE,
     "Buckets below EC2's documented rate after RequestLimitExceeded, by action"},
    {"dualstackd_ec2_buckets", METRIC_GAUGE, "(account, region, action) rate buckets held"},
    {"dualstackd_ec2_calls_merged", METRIC_GAUGE,
     "Calls that rode in another call's request (CreateTags, Stop/Start, Authorize)"},
    {"dualstackd_ec2_merged_requests_split", METRIC_GAUGE,
     "Merged requests that failed and went again one call at a time"},
    {"dualstackd_api_budget_share", METRIC_GAUGE, "This replica's share of the API budget"},
    {"dualstackd_max_changes_per_hour_share", METRIC_GAUGE,
     "This replica's share of the guard's max_changes_per_hour (0: no cap)"},
    {"dualstackd_group_members", METRIC_GAUGE, "Live consumer-group members"},
    {"dualstackd_offsets_in_flight", METRIC_GAUGE, "Consumed messages whose work is unfinished"},
    {"dualstackd_targets", METRIC_GAUGE, "Accounts x regions talked to"},
    {"dualstackd_handover_timeouts_total", METRIC_COUNTER,
     "Revokes released at revoke_timeout_s with reconciles still running"},
    {"dualstackd_kafka_errors_total", METRIC_COUNTER, "Kafka client errors by code"},
    {"dualstackd_policy_reloads_total", METRIC_COUNTER, "Policy reloads"},
    {"dualstackd_policy_reload_failures_total", METRIC_COUNTER, "Policy reloads refused"},
    {"dualstackd_credentials_failures_total", METRIC_COUNTER, "Failed credential look-ups"},
    {"dualstackd_credentials_refreshes", METRIC_GAUGE,
     "Refreshes of the controller's own credentials (off the loop) so far, by outcome"},
    {"dualstackd_credentials_refresh_failing", METRIC_GAUGE,
     "1 while the last refresh of the controller's own credentials failed"},
    {"dualstackd_halted", METRIC_GAUGE,
     "1 per scope (fleet, or account/region) the blast-radius guard halted"},
    {"dualstackd_guard_halts_total", METRIC_COUNTER, "Halts by the blast-radius guard"},
    {"dualstackd_guard_resumes_total", METRIC_COUNTER, "Halts cleared by an operator"},
    {"dualstackd_rollout_open_waves", METRIC_GAUGE,
     "Rollout waves open (0 until the first scan; waves up to it may be written)"},
    {"dualstackd_rollout_vpcs", METRIC_GAUGE,
     "VPCs per rollout wave by state, as of the last scan"},
    {"dualstackd_changes_last_hour", METRIC_GAUGE,
     "Mutating calls started in the last hour (what max_changes_per_hour caps)"},
};

static void register_metrics(struct metrics *m)
{
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++)
		metrics_register(m, families[i].name, families[i].type, families[i].help);
	static const char *const verdicts[] = {"work", "none", "reject"};
	for (int i = 0; i < 3; i++)
		metrics_add(m, "dualstackd_events_total", 0, "verdict", verdicts[i], NULL);
	static const char *const outcomes[] = {"converged", "blocked", "failed", "cancelled"};
	for (int i = 0; i < 4; i++)
		metrics_add(m, "dualstackd_reconciles_total", 0, "outcome", outcomes[i], NULL);
}

static void on_heartbeat(struct ev_loop *loop, struct ev_timer *w, int revents)
{
	struct daemon *d = w->data;
	(void)loop;
	(void)revents;
	metrics_heartbeat(d->metrics, HEARTBEAT_STALE_S);
}

static void on_ec2_call(void *ud, const char *action, const char *outcome)
{
	struct daemon *d = ud;
	metrics_add(d->metrics, "dualstackd_ec2_calls_total", 1, "action", action, "outcome",
		    outcome, NULL);
	if (!strcmp(outcome, "ok"))
		metrics_set_check(d->metrics, "credentials", true, NULL);
}

/* Buckets summed per action: per (account, region, action) would be a series for every pair
 * an org has; what an operator needs is which action waits and which one EC2 slowed down. */
struct bucket_sums {
	struct daemon *d;
	char action[32][64];
	double waiting[32], slowed[32];
	int n;
};

static void on_bucket(void *ud, const struct ec2_bucket_view *b)
{
	struct bucket_sums *s = ud;
	int i = 0;
	while (i < s->n && strcmp(s->action[i], b->action))
		i++;
	if (i == s->n) {
		if (s->n == 32)
			return; /* the actions dualstackd calls are fewer */
		snprintf(s->action[s->n++], sizeof(s->action[0]), "%s", b->action);
	}
	s->waiting[i] += (double)b->waiting;
	s->slowed[i] += b->rate_per_s < b->documented_per_s;
}

static void on_metrics_tick(struct ev_loop *loop, struct ev_timer *w, int revents)
{
	struct daemon *d = w->data;
	(void)loop;
	(void)revents;
	struct bucket_sums *sums = calloc(1, sizeof(*sums));
	if (sums) {
		ec2_client_each_bucket(d->ec2, on_bucket, sums);
		for (int i = 0; i < sums->n; i++) {
			metrics_set(d->metrics, "dualstackd_ec2_calls_waiting", sums->waiting[i],
				    "action", sums->action[i], NULL);
			metrics_set(d->metrics, "dualstackd_ec2_buckets_slowed", sums->slowed[i],
				    "action", sums->action[i], NULL);
		}
		free(sums);
	}
	const struct ec2_client_stats *st = ec2_client_stats(d->ec2);
	metrics_set(d->metrics, "dualstackd_ec2_buckets", (double)st->buckets, NULL);
	guard_metrics(d);
	metrics_set(d->metrics, "dualstackd_ec2_calls_merged", (double)st->merged, NULL);
	metrics_set(d->metrics, "dualstackd_ec2_merged_requests_split", (double)st->split, NULL);
	metrics_set(d->metrics, "dualstackd_ec2_requests_out", (double)st->requests_out, NULL);
	metrics_set(d->metrics, "dualstackd_ec2_send_window_waits", (double)st->window_waits, NULL);
	metrics_set(d->metrics, "dualstackd_ec2_throttled_answers", (double)st->throttled_answers,
		    NULL);
	metrics_set(d->metrics, "dualstackd_ec2_retries", (double)st->retries, NULL);
	struct creds_refresh_stats cr;
	creds_cache_refresh_stats(d->creds, &cr);
	metrics_set(d->metrics, "dualstackd_credentials_refreshes",
		    (double)(cr.attempts - cr.failures), "outcome", "ok", NULL);
	metrics_set(d->metrics, "dualstackd_credentials_refreshes", (double)cr.failures, "outcome",
		    "failed", NULL);
	metrics_set(d->metrics, "dualstackd_credentials_refresh_failing", cr.failing, NULL);
	metrics_set(d->metrics, "dualstackd_offsets_in_flight",
		    (double)offsets_in_flight(d->offsets), NULL);
	metrics_set(d->metrics, "dualstackd_produce_pending", (double)producer_pending(d->producer),
		    NULL);
	metrics_set(d->metrics, "dualstackd_resolve_cache_entries",
		    (double)resolver_cached(d->resolver), NULL);
	kafka_count_members(d->kafka, on_members, d);
}

static void on_ec2_credentials_error(void *ud, const char *err)
{
	struct daemon *d = ud;
	metrics_add(d->metrics, "dualstackd_credentials_failures_total", 1, NULL);
	metrics_set_check(d->metrics, "credentials", false, err);
}

/* ---- the credentials' own account ---- */

/* One key per VPC: a key without an account (scope.accounts: []) means the credentials' own,
 * so events (which name it) and resyncs (which do not) meet in the same queue item. */
static int resolve_own_account(struct daemon *d, char *err, size_t err_len)
{
	struct aws_creds creds;
	int rc = creds_cache_base(d->creds, &creds, err, err_len);
	if (!rc)
		rc = sts_get_caller_identity(&creds_env_default, &creds, d->home.region,
					     d->own_account, sizeof(d->own_account), err, err_len);
	explicit_bzero(&creds, sizeof(creds));
	if (!rc && !wk_valid_account(d->own_account)) {
		snprintf(err, err_len, "STS returned account \"%s\"", d->own_account);
		d->own_account[0] = '\0';
		rc = DS_ECREDS;
	}
	return rc;
}

/* ---- MSK IAM ---- */

static int msk_token(void *ud, char *token, size_t size, int64_t *expiry_ms, char *principal,
		     size_t principal_size, char *err, size_t err_len)
{
	struct daemon *d = ud;
	struct aws_creds creds;
	if (creds_cache_base(d->creds, &creds, err, err_len))
		return -1;
	struct buf b;
	buf_init(&b, size);
	const char *region = d->cfg->msk_region[0] ? d->cfg->msk_region : d->home.region;
	int rc = msk_iam_token(&creds, region, time(NULL), "dualstackd/1.0", &b, expiry_ms, NULL);
	if (!rc && b.len < size)
		memcpy(token, b.data, b.len + 1);
	else if (!rc)
		rc = DS_ETOOBIG;
	if (rc)
		snprintf(err, err_len, "MSK IAM token: %s", ds_strerror(rc));
	snprintf(principal, principal_size, "%s", creds.access_key_id);
	explicit_bzero(&creds, sizeof(creds));
	buf_cleanup(&b);
	return rc ? -1 : 0;
}

/* ---- main ---- */

/* Start-up blocks (STS, topic creation, a broker that may refuse us), so SIGTERM, SIGINT and
 * SIGHUP are held pending from the first line: every thread the start-up creates inherits the
 * mask, a stop asked for meanwhile ends the broker waits (stop_pending), and once the loop's
 * watchers are in place the held signal is delivered to them - an orderly stop, never the
 * default action killing a half-started process. */
static const int held_signals[] = {SIGTERM, SIGINT, SIGHUP};

static void hold_signals(int how)
{
	sigset_t set;
	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(held_signals) / sizeof(held_signals[0]); i++)
		sigaddset(&set, held_signals[i]);
	pthread_sigmask(how, &set, NULL);
}

static bool stop_pending(void)
{
	sigset_t set;
	return !sigpending(&set) &&
	       (sigismember(&set, SIGTERM) == 1 || sigismember(&set, SIGINT) == 1);
}

static int start_kafka(struct daemon *d, char *err, size_t err_len)
{
	const struct daemon_config *cfg = d->cfg;
	const char *topics[9];
	size_t nt = 0;
	for (size_t i = 0; i < cfg->n_input_topics; i++)
		topics[nt++] = cfg->input_topics[i];
	const char *ensure[12];
	size_t ne = 0;
	for (size_t i = 0; i < nt; i++)
		ensure[ne++] = topics[i];
	ensure[ne++] = cfg->work_topic;
	ensure[ne++] = cfg->dead_letter_topic;
	ensure[ne++] = cfg->audit_topic;
	struct kafka_options ko = {.brokers = cfg->brokers,
				   .group = cfg->group,
				   .topics = topics,
				   .n_topics = nt,
				   .work_topic = cfg->work_topic,
				   .properties = cfg->kafka_properties,
				   .ensure_topics = ensure,
				   .n_ensure_topics = ne,
				   .new_topic_partitions = -1,
				   .partitioned_topic = cfg->work_topic,
				   .partitioned_count = cfg->work_topic_partitions,
				   .interrupted = stop_pending};
	if (!strcmp(cfg->sasl_mechanism, "AWS_MSK_IAM")) {
		ko.oauth_token = msk_token;
		ko.oauth_ud = d;
	}
	struct kafka_callbacks kc = {.ud = d,
				     .message = on_message,
				     .delivered = on_delivered,
				     .revoked = on_revoked,
				     .revoke_wait = on_revoke_wait,
				     .assigned = on_assigned,
				     .error = on_kafka_error};
	d->kafka = kafka_new(d->loop, &ko, &kc, err, err_len);
	if (!d->kafka)
		return -1;
	/* a dead letter must fit the dead-letter topic, or it would fail for ever */
	size_t max = strcmp(cfg->brokers, "mock")
			 ? kafka_topic_max_bytes(d->kafka, cfg->dead_letter_topic, 5000)
			 : 0;
	if (!max) {
		max = 1048588; /* the broker default: the safe assumption when it does not say */
		log_kv("warn",
		       "the dead-letter topic's max.message.bytes is unknown; assuming the "
		       "broker default",
		       "topic", cfg->dead_letter_topic, NULL);
	}
	d->dead_letter_max = dead_letter_limit(max);
	return 0;
}

int daemon_run(const struct daemon_config *cfg)
{
	struct daemon *d = calloc(1, sizeof(*d));
	char err[2048];
	int status = 1;
	if (!d)
		return 1;
	hold_signals(SIG_BLOCK);
	d->cfg = cfg;
	d->loop = ev_default_loop(0);
	char host[64] = "";
	gethostname(host, sizeof(host) - 1);
	snprintf(d->replica, sizeof(d->replica), "%s:%d", host, (int)getpid());
	struct buf perr;
	buf_init(&perr, 0);
	struct policy *pol = policy_file_load(cfg->policy_path, &perr);
	if (!pol) {
		fprintf(stderr, "%s", perr.data ? perr.data : "cannot load the policy\n");
		buf_cleanup(&perr);
		goto out;
	}
	buf_cleanup(&perr);
	d->rc = reconciler_new(pol, NULL, NULL);
	policy_unref(pol);
	if (!d->rc)
		goto out;
	if (ec2_target_from_env(&creds_env_default, &d->home, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	d->metrics = metrics_new();
	d->http = http_client_new(d->loop);
	d->creds = creds_cache_new(&creds_env_default, d->home.region);
	if (d->creds) {
		creds_cache_set_session_name(d->creds, d->replica);
		creds_cache_set_external_id(d->creds,
					    reconciler_policy(d->rc)->assume_role_external_id);
	}
	struct ec2_client_options opt = {.budget = reconciler_policy(d->rc)->api_budget,
					 .max_attempts = 3};
	const char *scale = getenv("DUALSTACKD_BUCKET_SCALE"); /* emulators only */
	if (scale)
		opt.bucket_scale = strtod(scale, NULL);
	/* the chain (IMDS, web identity, ...) is walked on the cache's thread, never the loop's */
	if (d->creds && creds_cache_refresh_in_background(d->creds, d->loop))
		goto out;
	d->ec2 = d->metrics && d->http && d->creds ? ec2_client_new(d->http, d->creds, &opt) : NULL;
	d->offsets = offsets_new();
	d->wq = wq_new(cfg->max_queued_vpcs, cfg->max_concurrent_reconciles, 8);
	d->resolver = resolver_new(d);
	d->producer = producer_new(d);
	if (!d->metrics || !d->http || !d->creds || !d->ec2 || !d->offsets || !d->wq ||
	    !d->resolver || !d->producer)
		goto out;
	register_metrics(d->metrics);
	metrics_set_check(d->metrics, "partitions", false, "no partition assigned yet");
	metrics_set_check(d->metrics, "kafka", false, "not connected yet");
	metrics_set_check(d->metrics, "credentials", true, NULL);
	if (metrics_serve(d->metrics, cfg->listen, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	char port[16];
	snprintf(port, sizeof(port), "%d", metrics_port(d->metrics));
	log_kv("info", "starting", "metrics_port", port, NULL); /* /healthz answers from here */
	if (!reconciler_policy(d->rc)->n_accounts && resolve_own_account(d, err, sizeof(err))) {
		/* without it, keys of the own account would split in two: say so and wait */
		fprintf(stderr,
			"cannot tell the credentials' account (STS GetCallerIdentity): %s\n", err);
		goto out;
	}
	guard_start(d);
	if (start_kafka(d, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	log_kv("info", "started", "brokers", kafka_bootstrap(d->kafka), "group", cfg->group,
	       "metrics_port", port, "mode", policy_mode_name(reconciler_policy(d->rc)->mode),
	       "account", d->own_account, NULL);

	ec2_client_observe(d->ec2, on_ec2_call, d);
	ec2_client_on_credentials_error(d->ec2, on_ec2_credentials_error, d);
	apply_budget(d);
	ev_timer_init(&d->metrics_timer, on_metrics_tick, 1., 5.);
	d->metrics_timer.data = d;
	ev_timer_start(d->loop, &d->metrics_timer);
	ev_timer_init(&d->heartbeat_timer, on_heartbeat, 0., HEARTBEAT_S);
	d->heartbeat_timer.data = d;
	ev_timer_start(d->loop, &d->heartbeat_timer);
	ev_timer_init(&d->wq_timer, on_wq_timer, 0., 0.);
	d->wq_timer.data = d;
	ev_timer_init(&d->revoke_timer, on_revoke_timeout, 0., 0.);
	d->revoke_timer.data = d;
	if (rollout_start(d))
		goto out;
	ev_timer_init(&d->resync_timer, resync_timer_cb, cfg->resync_initial_delay_s, 0.);
	d->resync_timer.data = d;
	ev_timer_start(d->loop, &d->resync_timer);
	ev_signal_init(&d->sigterm, on_sigterm, SIGTERM);
	ev_signal_init(&d->sigint, on_sigterm, SIGINT);
	ev_signal_init(&d->sighup, on_sighup, SIGHUP);
	d->sigterm.data = d->sigint.data = d->sighup.data = d;
	ev_signal_start(d->loop, &d->sigterm);
	ev_signal_start(d->loop, &d->sigint);
	ev_signal_start(d->loop, &d->sighup);
	hold_signals(SIG_UNBLOCK); /* a stop asked for during start-up is delivered now */
	if (cfg->watch_policy) {
		ev_stat_init(&d->policy_watch, on_policy_changed, cfg->policy_path, 2.);
		d->policy_watch.data = d;
		ev_stat_start(d->loop, &d->policy_watch);
	}
	signal(SIGPIPE, SIG_IGN);

	ev_run(d->loop, 0);
	status = 0;
out:
	if (d->kafka)
		kafka_free(d->kafka);
	producer_free(d->producer);
	resolver_free(d->resolver);
	metrics_free(d->metrics);
	wq_free(d->wq);
	offsets_free(d->offsets);
	ec2_client_free(d->ec2);
	creds_cache_free(d->creds);
	http_client_free(d->http);
	for (size_t b = 0; b < TARGET_BUCKETS; b++)
		for (struct target *t = d->targets[b], *n; t; t = n) {
			n = t->next;
			free(t);
		}
	reconciler_free(d->rc);
	rollout_stop(d);
	free(d);
	return status;
}
