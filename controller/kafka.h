/* kafka.h - librdkafka on the libev loop: one consumer group member and one producer.
 * Owns: client configuration (brokers, group, at-least-once settings, any librdkafka property
 * passed through), bridging both clients' queues onto the loop with queue io-events (no
 * polling loop), rebalances, storing offsets, produce with an opaque handed back on delivery,
 * and the embedded mock cluster for the demo.
 * Not: what messages mean (daemon.c) or which offsets are done (offsets.c). */
#ifndef DS_KAFKA_H
#define DS_KAFKA_H

#include <cJSON.h>
#include <ev.h>
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kafka;

struct kafka_callbacks {
	void *ud;
	void (*message)(void *ud, const rd_kafka_message_t *msg);
	/* err is RD_KAFKA_RESP_ERR_NO_ERROR on success */
	void (*delivered)(void *ud, void *opaque, rd_kafka_resp_err_t err);
	/* Called for each revoked partition, then revoke_wait once: non-zero holds the revoke
	 * (the partitions stay ours, the group waits) until kafka_revoke_done. */
	void (*revoked)(void *ud, const char *topic, int32_t partition);
	int (*revoke_wait)(void *ud);
	void (*assigned)(void *ud, const char *topic, int32_t partition);
	/* A client-level error (brokers down, authentication, TLS): fatal when the client cannot
	 * go on. NULL: logged only. */
	void (*error)(void *ud, rd_kafka_resp_err_t err, const char *reason, int fatal);
};

struct kafka_options {
	const char *brokers;	   /* "host:port,..." or "mock" for an in-process cluster */
	const char *group;	   /* the input topics' group; the work topic's is "<group>.work" */
	const char *const *topics; /* input topics */
	size_t n_topics;
	const char *work_topic;		  /* consumed by a member of its own group (may be NULL) */
	const cJSON *properties;	  /* string -> string, passed to librdkafka as they are */
	const char *const *ensure_topics; /* created at start when missing (Admin API) */
	size_t n_ensure_topics;
	int new_topic_partitions;      /* for those; -1: the broker's default */
	const char *partitioned_topic; /* created with partitioned_count partitions (the work
					  topic: one partition per replica to come) */
	int partitioned_count;
	/* SASL OAUTHBEARER token source (MSK IAM); NULL for none. Returns 0 and fills token,
	 * *expiry_ms (ms since the epoch) and principal; librdkafka asks again before expiry. */
	int (*oauth_token)(void *ud, char *token, size_t size, int64_t *expiry_ms, char *principal,
			   size_t principal_size, char *err, size_t err_len);
	void *oauth_ud;
	/* true when the start-up's blocking steps (topic creation, the dead-letter topic's limit)
	 * should give up early: a stop was asked for. NULL: they run to their timeouts. */
	bool (*interrupted)(void);
};

struct kafka *kafka_new(struct ev_loop *loop, const struct kafka_options *opt,
			const struct kafka_callbacks *cb, char *err, size_t err_len);
/* Commits what was stored, leaves the group and flushes the producer (bounded by timeout). */
void kafka_close(struct kafka *k, int timeout_ms);
void kafka_free(struct kafka *k);

struct kafka_header {
	const char *name;
	const char *value;
};

int kafka_produce(struct kafka *k, const char *topic, const char *key, const void *value,
		  size_t len, const struct kafka_header *headers, size_t n_headers, void *opaque);
void kafka_store_offset(struct kafka *k, const char *topic, int32_t partition, int64_t offset);
/* Stops fetching (drain on shutdown). */
void kafka_pause(struct kafka *k);
/* Pauses (or resumes) fetching from the assigned partitions of one topic (backpressure). */
void kafka_pause_topic(struct kafka *k, const char *topic, bool pause);
/* Completes a revoke that revoke_wait held. */
void kafka_revoke_done(struct kafka *k);
/* The most bytes one record of topic may hold (its max.message.bytes, else the broker's
 * message.max.bytes); 0 when the broker does not say. Blocking: for start-up. */
size_t kafka_topic_max_bytes(struct kafka *k, const char *topic, int timeout_ms);
/* Live members of the consumer group (0 when unknown); asked on a thread, answered by a
 * callback on the loop. */
void kafka_count_members(struct kafka *k, void (*done)(void *ud, int members), void *ud);
/* The bootstrap servers in use (the mock cluster's when brokers is "mock"). */
const char *kafka_bootstrap(const struct kafka *k);
size_t kafka_outq_len(const struct kafka *k);

#endif
