/* daemon_internal.h - what the daemon's pipeline stages share; not part of any API.
 * One file per stage, all on one loop:
 *   daemon.c            wiring, targets, rebalances, signals (drain, reload), health, metrics
 *   daemon_ingest.c     input topic -> decode -> validate -> dead letter | drop | resolve | work
 *   daemon_resolve.c    resource -> VPC, batched per (account, region, kind), LRU-cached
 *   daemon_produce.c    work, dead-letter and audit records out, retried until delivered
 *   daemon_deadletter.c what a dead letter holds, sized to what the broker accepts
 *   daemon_work.c       work topic -> queue -> reconciles (audited port), partition handover
 *   daemon_resync.c     the periodic walk of the fleet, by the owner of work partition 0 */
#ifndef DS_DAEMON_INTERNAL_H
#define DS_DAEMON_INTERNAL_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "../handlers/work_key.h"
#include "../reconcile/reconcile.h"
#include "creds.h"
#include "daemon.h"
#include "ec2_client.h"
#include "ec2_port.h"
#include "http.h"
#include "kafka.h"
#include "metrics.h"
#include "offsets.h"
#include "workqueue.h"

#define TARGET_BUCKETS 1024
#define MAX_REVOKING   256

/* An (account, region) the daemon talks to: its EC2 port lives as long as the daemon. */
struct target {
	char account[24];
	char region[40];
	struct ec2_port_impl port;
	struct target *next;
};

struct resolver;
struct producer;
struct run;
struct held;

/* daemon_work.c's state. */
struct work_state {
	struct run *runs;		     /* running reconciles */
	struct held *held_first, *held_last; /* work that found the queue full */
	size_t n_held;
	bool paused, full_logged;
	size_t vpc_series, vpc_untracked_logged;
};

struct daemon {
	const struct daemon_config *cfg;
	struct ev_loop *loop;
	struct reconciler *rc; /* holds the current policy; each run holds its own */
	struct http_client *http;
	struct creds_cache *creds;
	struct ec2_client *ec2;
	struct ec2_target home; /* region and endpoint from the environment */
	char own_account[16];	/* the credentials' account (STS GetCallerIdentity) */
	struct target *targets[TARGET_BUCKETS];
	size_t n_targets;
	struct kafka *kafka;
	struct offsets *offsets;
	struct wq *wq;
	struct metrics *metrics;
	struct resolver *resolver;
	struct producer *producer;
	struct work_state work;
	size_t dead_letter_max; /* bytes a dead letter's value may hold on the broker */
	struct ev_timer wq_timer, resync_timer, drain_timer, metrics_timer, heartbeat_timer,
	    revoke_timer;
	struct ev_signal sigterm, sigint, sighup;
	struct ev_stat policy_watch; /* reload when the file changes (Kubernetes sends no HUP) */
	struct ev_stat halt_watch;   /* the halt file: its removal is an operator's resume */
	struct {		     /* daemon_rollout.c */
		struct ev_timer timer;
		struct rollout *counts; /* the scan under way */
		bool scanning;
		int targets_left, failed;
		unsigned generation, scan_generation; /* reloads; the one a scan started under */
		time_t started;
	} rollout;
	int running;
	char replica[128]; /* host:pid, in audit records and AssumeRole session names */
	bool resync_owner; /* holds partition 0 of the work topic */
	/* work-topic partitions being handed over: no new work starts for them */
	int32_t revoking[MAX_REVOKING];
	int n_revoking;
	int revoke_waiting; /* running reconciles the handover waits for */
	bool draining;
	double drain_started;
	int group_members; /* live consumer-group members (for the budget's share) */
};

/* daemon.c */
struct target *daemon_target(struct daemon *d, const char *account, const char *region);
void daemon_release_ticket(void *ud, uint64_t ticket);
/* The account a key names, or the credentials' own for "" (one key per VPC). */
const char *daemon_account(const struct daemon *d, const char *account);
bool daemon_revoking(const struct daemon *d, int32_t work_partition);

/* daemon_ingest.c */
void ingest_message(struct daemon *d, const rd_kafka_message_t *m, uint64_t ticket);
void ingest_produce_work(struct daemon *d, const struct work_key *k, const char *cause,
			 uint64_t ticket);

/* daemon_resolve.c */
struct resolver *resolver_new(struct daemon *d);
void resolver_free(struct resolver *r);
/* Resolves k's resource to its VPC and produces the work; holds a reference on ticket. */
void resolver_add(struct resolver *r, const struct work_key *k, uint64_t ticket);
size_t resolver_cached(const struct resolver *r);

/* daemon_produce.c: a record is retried with backoff until the broker takes it, or given up
 * (logged, counted) after PRODUCE_MAX_ATTEMPTS; done(ticket) runs either way, so one bad record
 * never holds a partition's commits. */
#define PRODUCE_MAX_ATTEMPTS 8
struct producer *producer_new(struct daemon *d);
void producer_free(struct producer *p);
int producer_send(struct producer *p, const char *topic, const char *key, const void *value,
		  size_t len, const struct kafka_header *headers, size_t n_headers,
		  uint64_t ticket);
void producer_delivered(struct producer *p, void *opaque, rd_kafka_resp_err_t err);
size_t producer_pending(const struct producer *p);

/* daemon_deadletter.c */
void dead_letter(struct daemon *d, const rd_kafka_message_t *m, const char *reason,
		 uint64_t ticket);
/* What a dead letter may hold: the topic's max.message.bytes (or the broker's) less room for
 * the headers and the record's framing. */
size_t dead_letter_limit(size_t topic_max_bytes);

/* daemon_work.c */
void work_message(struct daemon *d, const rd_kafka_message_t *m, uint64_t ticket);
void work_pump(struct daemon *d);
/* A handover: queued work of the partition is dropped (its next owner replays it), running
 * reconciles are cancelled at their next safe point; returns how many are still running. */
/* Cancels every running reconcile (a drain): each ends at its next safe point. */
void work_cancel_all(struct daemon *d);
int work_revoke(struct daemon *d, int32_t partition);

/* daemon_guard.c: the guard's halts logged, counted, kept in the halt file, resumed by its
 * removal. guard_start restores a halt from before a restart. */
void guard_start(struct daemon *d);
void guard_metrics(struct daemon *d);

/* daemon_rollout.c: the periodic read-only scan that opens rollout waves. */
int rollout_start(struct daemon *d);
void rollout_stop(struct daemon *d);
/* A reload: the waves may be others now - look at the fleet again. */
void rollout_policy_changed(struct daemon *d);

/* daemon_resync.c */
void resync_start(struct daemon *d, double delay_s);
void resync_timer_cb(struct ev_loop *loop, struct ev_timer *w, int revents);

#endif
