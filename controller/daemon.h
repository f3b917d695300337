/* daemon.h - `dualstackd run`: events from Kafka in, dual-stack VPCs out.
 * Owns: the daemon's config, and the wiring of every part on one libev loop - the Kafka
 * consumer (input topics and the internal work topic) and producer (work, dead-letter, audit
 * topics), event decoding, resolving resources to their VPC, the work queue, asynchronous
 * reconciles through the EC2 port, offsets, periodic resync, metrics and signals.
 * Not: any migration rule (reconcile/) or event format (handlers/). */
#ifndef DS_DAEMON_H
#define DS_DAEMON_H

#include <stdbool.h>
#include <stddef.h>

struct daemon_config {
	char brokers[512];
	char group[128];
	char input_topics[8][128];
	size_t n_input_topics;
	char work_topic[128];
	char dead_letter_topic[128];
	char audit_topic[128];
	struct cJSON *kafka_properties; /* owned */
	char sasl_mechanism[32]; /* "" or "AWS_MSK_IAM" (token signed with our credentials) */
	char msk_region[40];	 /* the MSK cluster's region ("": AWS_REGION) */
	char policy_path[1024];
	char listen[64];
	double resync_interval_s;
	double resync_initial_delay_s; /* first resync after start (default 10 s, jittered) */
	int max_concurrent_reconciles;
	size_t max_queued_vpcs;
	double revoke_timeout_s;   /* how long a handover waits for running reconciles */
	int work_topic_partitions; /* when the work topic is created: 0 = the broker's default */
	bool watch_policy;	   /* reload when the policy file changes (default true) */
	double rollout_scan_interval_s; /* rollout waves: how often the fleet is looked at (120) */
	char halt_file[1024]; /* where a halt is kept (halt_file.h); default in state dir */
};

/* Parses the config file (JSON or YAML); errors name the file and the key. */
int daemon_config_load(const char *path, struct daemon_config *cfg, char *err, size_t err_len);
void daemon_config_cleanup(struct daemon_config *cfg);

/* Runs until SIGTERM/SIGINT; returns the exit status. */
int daemon_run(const struct daemon_config *cfg);

#endif
