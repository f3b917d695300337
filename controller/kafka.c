/* Each client's queue writes a byte to a pipe when it becomes non-empty
 * (rd_kafka_queue_io_event_enable); an ev_io on the pipe drains the queue completely, so no
 * event is left waiting and nothing polls on a timer.
 *
 * Two consumers: one for the input topics (group `group`) and one for the work topic (group
 * `group.work`). The work topic is how VPCs are split among replicas, so its partitions must
 * be balanced among them on their own: one group over every topic lets the sticky assignor
 * give one replica all the input partitions and another all the work. */
#include "kafka.h"

#include <fcntl.h>
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

struct qwatch {
	struct ev_io io;
	int fds[2];
	rd_kafka_queue_t *q;
};

struct kafka;

/* One consumer-group member. */
struct consumer {
	struct kafka *k;
	rd_kafka_t *rk;
	struct qwatch q;
	char group[256];
	bool holds_revokes;			   /* revoke_wait applies (the work topic) */
	rd_kafka_topic_partition_list_t *revoking; /* held by revoke_wait */
	bool revoking_cooperative;
};

enum { INPUT, WORK, N_CONSUMERS };

struct kafka {
	struct ev_loop *loop;
	struct kafka_callbacks cb;
	int (*oauth_token)(void *, char *, size_t, int64_t *, char *, size_t, char *, size_t);
	void *oauth_ud;
	bool (*interrupted)(void);
	struct consumer consumers[N_CONSUMERS];
	char work_topic[256];
	rd_kafka_t *producer;
	rd_kafka_t *mock_owner; /* holds the embedded cluster */
	rd_kafka_mock_cluster_t *mock;
	char bootstrap[512];
	struct qwatch pq;
	bool closed;
	/* group membership, counted on a thread */
	struct ev_async members_async;
	pthread_t members_thread;
	bool members_running;
	int members_result;
	void (*members_done)(void *ud, int members);
	void *members_ud;
};

static int set(rd_kafka_conf_t *conf, const char *k, const char *v, char *err, size_t err_len)
{
	char e[256];
	if (rd_kafka_conf_set(conf, k, v, e, sizeof(e)) != RD_KAFKA_CONF_OK) {
		snprintf(err, err_len, "kafka property %s=%s: %s", k, v, e);
		return -1;
	}
	return 0;
}

/* Properties that only a consumer (or only a producer) reads: `properties` holds both kinds,
 * and each client gets its own (librdkafka warns about the others at every start). */
static const char *const consumer_only[] = {
    "group.",
    "session.timeout.ms",
    "heartbeat.interval.ms",
    "max.poll.interval.ms",
    "auto.offset.reset",
    "enable.auto.commit",
    "auto.commit.interval.ms",
    "enable.auto.offset.store",
    "partition.assignment.strategy",
    "fetch.",
    "queued.",
    "isolation.level",
    "check.crcs",
    "enable.partition.eof",
    "coordinator.query.interval.ms",
    "consume.callback.max.messages",
    "allow.auto.create.topics",
    "offset.store.",
};
static const char *const producer_only[] = {
    "acks",
    "request.required.acks",
    "linger.ms",
    "queue.buffering.",
    "batch.",
    "compression.",
    "enable.idempotence",
    "message.timeout.ms",
    "delivery.timeout.ms",
    "transactional.id",
    "transaction.timeout.ms",
    "partitioner",
    "sticky.partitioning.linger.ms",
    "retry.backoff.",
    "message.send.max.retries",
    "retries",
    "delivery.report.only.error",
    "enable.gapless.guarantee",
    "queue.buffering.max.",
};

static bool in_list(const char *name, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(list[i]);
		if (list[i][l - 1] == '.' ? !strncmp(name, list[i], l) : !strcmp(name, list[i]))
			return true;
	}
	return false;
}

static int apply_properties(rd_kafka_conf_t *conf, const cJSON *props, bool consumer, char *err,
			    size_t err_len)
{
	const cJSON *p;
	cJSON_ArrayForEach(p, props)
	{
		if (!cJSON_IsString(p)) {
			snprintf(err, err_len, "kafka property %s: expected a string value",
				 p->string);
			return -1;
		}
		if (consumer ? in_list(p->string, producer_only,
				       sizeof(producer_only) / sizeof(producer_only[0]))
			     : in_list(p->string, consumer_only,
				       sizeof(consumer_only) / sizeof(consumer_only[0])))
			continue;
		char e[256];
		rd_kafka_conf_res_t r =
		    rd_kafka_conf_set(conf, p->string, p->valuestring, e, sizeof(e));
		if (r != RD_KAFKA_CONF_OK) {
			snprintf(err, err_len, "kafka property %s: %s", p->string, e);
			return -1;
		}
	}
	return 0;
}

static void drain_pipe(int fd)
{
	char b[256];
	while (read(fd, b, sizeof(b)) > 0)
		;
}

static void on_consumer_io(struct ev_loop *loop, struct ev_io *w, int revents)
{
	struct consumer *c = (struct consumer *)((char *)w - offsetof(struct consumer, q));
	struct kafka *k = c->k;
	(void)loop;
	(void)revents;
	drain_pipe(c->q.fds[0]);
	rd_kafka_message_t *m;
	while (!k->closed && (m = rd_kafka_consumer_poll(c->rk, 0)) != NULL) {
		if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
			log_kv("warn", "kafka consumer error", "error", rd_kafka_message_errstr(m),
			       NULL);
		else if (!m->err)
			k->cb.message(k->cb.ud, m);
		rd_kafka_message_destroy(m);
	}
}

static void on_producer_io(struct ev_loop *loop, struct ev_io *w, int revents)
{
	struct kafka *k = (struct kafka *)((char *)w - offsetof(struct kafka, pq));
	(void)loop;
	(void)revents;
	drain_pipe(k->pq.fds[0]);
	rd_kafka_poll(k->producer, 0);
}

static int watch_queue(struct kafka *k, struct qwatch *w, rd_kafka_queue_t *q,
		       void (*cb)(struct ev_loop *, struct ev_io *, int))
{
	if (pipe2(w->fds, O_NONBLOCK | O_CLOEXEC))
		return -1;
	w->q = q;
	rd_kafka_queue_io_event_enable(q, w->fds[1], "1", 1);
	ev_io_init(&w->io, cb, w->fds[0], EV_READ);
	ev_io_start(k->loop, &w->io);
	/* the queue may already hold events written before the pipe existed */
	ev_feed_event(k->loop, &w->io, EV_READ);
	return 0;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct kafka *k = opaque;
	(void)rk;
	k->cb.delivered(k->cb.ud, m->_private, m->err);
}

/* librdkafka asks for a fresh token at start and before each expires (from its poll, on our
 * loop). */
static void on_oauth_refresh(rd_kafka_t *rk, const char *config, void *opaque)
{
	struct kafka *k = opaque;
	static char token[16384];
	char principal[128] = "dualstackd", err[512] = "", e[512];
	int64_t expiry = 0;
	(void)config;
	if (k->oauth_token(k->oauth_ud, token, sizeof(token), &expiry, principal, sizeof(principal),
			   err, sizeof(err)) ||
	    rd_kafka_oauthbearer_set_token(rk, token, expiry, principal, NULL, 0, e, sizeof(e))) {
		log_kv("error", "SASL OAUTHBEARER token unavailable", "error", err[0] ? err : e,
		       NULL);
		rd_kafka_oauthbearer_set_token_failure(rk, err[0] ? err : e);
	}
}

static int set_oauth(struct kafka *k, rd_kafka_conf_t *conf, char *err, size_t err_len)
{
	if (!k->oauth_token)
		return 0;
	if (set(conf, "security.protocol", "SASL_SSL", err, err_len) ||
	    set(conf, "sasl.mechanism", "OAUTHBEARER", err, err_len))
		return -1;
	rd_kafka_conf_set_oauthbearer_token_refresh_cb(conf, on_oauth_refresh);
	return 0;
}

static void on_members(struct ev_loop *loop, struct ev_async *w, int revents);

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
			 rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct consumer *c = opaque;
	struct kafka *k = c->k;
	bool cooperative = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		if (cooperative)
			rd_kafka_error_destroy(rd_kafka_incremental_assign(rk, parts));
		else
			rd_kafka_assign(rk, parts);
		for (int i = 0; i < parts->cnt && k->cb.assigned; i++)
			k->cb.assigned(k->cb.ud, parts->elems[i].topic, parts->elems[i].partition);
		return;
	}
	if (err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
		/* a failed rebalance: librdkafka wants the assignment cleared */
		log_kv("warn", "kafka rebalance failed", "error", rd_kafka_err2str(err), NULL);
		for (int i = 0; i < parts->cnt && k->cb.revoked; i++)
			k->cb.revoked(k->cb.ud, parts->elems[i].topic, parts->elems[i].partition);
		if (cooperative)
			rd_kafka_error_destroy(rd_kafka_incremental_unassign(rk, parts));
		else
			rd_kafka_assign(rk, NULL);
		return;
	}
	/* revoked: nothing new starts for the partitions; their running work may have to end
	 * first (revoke_wait), and the group waits for us - within max.poll.interval.ms */
	for (int i = 0; i < parts->cnt; i++)
		if (k->cb.revoked)
			k->cb.revoked(k->cb.ud, parts->elems[i].topic, parts->elems[i].partition);
	/* a closing consumer is revoked from inside rd_kafka_consumer_close, with the loop
	 * stopped: holding it then would never end */
	if (c->holds_revokes && !k->closed && k->cb.revoke_wait && k->cb.revoke_wait(k->cb.ud)) {
		if (c->revoking) /* a second revoke while one is held: one list */
			for (int i = 0; i < parts->cnt; i++)
				rd_kafka_topic_partition_list_add(
				    c->revoking, parts->elems[i].topic, parts->elems[i].partition);
		else
			c->revoking = rd_kafka_topic_partition_list_copy(parts);
		c->revoking_cooperative = cooperative;
		return;
	}
	if (cooperative)
		rd_kafka_error_destroy(rd_kafka_incremental_unassign(rk, parts));
	else
		rd_kafka_assign(rk, NULL);
}

void kafka_revoke_done(struct kafka *k)
{
	struct consumer *c = &k->consumers[WORK];
	if (!c->revoking)
		return;
	if (c->revoking_cooperative)
		rd_kafka_error_destroy(rd_kafka_incremental_unassign(c->rk, c->revoking));
	else
		rd_kafka_assign(c->rk, NULL);
	rd_kafka_topic_partition_list_destroy(c->revoking);
	c->revoking = NULL;
}

static void report_error(struct kafka *k, rd_kafka_t *rk, int err, const char *reason)
{
	int fatal = 0;
	char fr[512];
	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		err = rd_kafka_fatal_error(rk, fr, sizeof(fr));
		reason = fr;
		fatal = 1;
	}
	if (k->cb.error)
		k->cb.error(k->cb.ud, (rd_kafka_resp_err_t)err, reason, fatal);
	else
		log_kv("warn", "kafka error", "error", reason, NULL);
}

static void on_producer_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	report_error(opaque, rk, err, reason);
}

static void on_consumer_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	report_error(((struct consumer *)opaque)->k, rk, err, reason);
}

/* An Admin API answer, waited for in slices so that a stop asked for meanwhile (a broker that
 * refuses our credentials never answers) ends the wait. NULL: no answer, or interrupted. */
static rd_kafka_event_t *poll_admin(rd_kafka_queue_t *q, int timeout_ms, bool (*interrupted)(void))
{
	const int slice_ms = 200;
	for (int waited = 0; waited < timeout_ms; waited += slice_ms) {
		if (interrupted && interrupted()) {
			log_kv("info", "start-up interrupted: not waiting for the broker", NULL);
			return NULL;
		}
		rd_kafka_event_t *ev = rd_kafka_queue_poll(q, slice_ms);
		if (ev)
			return ev;
	}
	return NULL;
}

/* Creates the topics that do not exist yet; an operator who pre-created them (or denies
 * CreateTopics) gets a warning at most. Blocking, once, at start-up. */
static void ensure_topics(rd_kafka_t *rk, const struct kafka_options *opt)
{
	char e[256];
	size_t n = opt->n_ensure_topics;
	if (!n)
		return;
	rd_kafka_NewTopic_t **nt = calloc(n, sizeof(*nt));
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	for (size_t i = 0; nt && i < n; i++) {
		int parts = opt->partitioned_topic &&
				    !strcmp(opt->partitioned_topic, opt->ensure_topics[i]) &&
				    opt->partitioned_count > 0
				? opt->partitioned_count
				: opt->new_topic_partitions;
		nt[i] = rd_kafka_NewTopic_new(opt->ensure_topics[i], parts, -1, e, sizeof(e));
		if (!nt[i]) {
			log_kv("warn", "cannot describe a new topic", "topic",
			       opt->ensure_topics[i], "error", e, NULL);
			free(nt);
			nt = NULL;
		}
	}
	rd_kafka_AdminOptions_t *ao = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
	rd_kafka_AdminOptions_set_operation_timeout(ao, 10000, e, sizeof(e));
	if (nt)
		rd_kafka_CreateTopics(rk, nt, n, ao, q);
	rd_kafka_event_t *ev = nt ? poll_admin(q, 15000, opt->interrupted) : NULL;
	const rd_kafka_CreateTopics_result_t *res =
	    ev ? rd_kafka_event_CreateTopics_result(ev) : NULL;
	size_t nres = 0;
	const rd_kafka_topic_result_t **tr =
	    res ? rd_kafka_CreateTopics_result_topics(res, &nres) : NULL;
	for (size_t i = 0; i < nres; i++) {
		rd_kafka_resp_err_t err = rd_kafka_topic_result_error(tr[i]);
		if (err && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
			log_kv("warn", "cannot create topic", "topic",
			       rd_kafka_topic_result_name(tr[i]), "error", rd_kafka_err2str(err),
			       NULL);
	}
	if (!ev)
		log_kv("warn", "topic creation did not answer; topics must exist", NULL);
	else if (!res || rd_kafka_event_error(ev))
		log_kv("warn", "topic creation failed; topics must exist", "event",
		       rd_kafka_event_name(ev), "error", rd_kafka_event_error_string(ev), NULL);
	else
		rd_kafka_event_destroy(ev);
	rd_kafka_AdminOptions_destroy(ao);
	for (size_t i = 0; nt && i < n; i++)
		rd_kafka_NewTopic_destroy(nt[i]);
	free(nt);
	rd_kafka_queue_destroy(q);
}

/* A consumer-group member subscribed to topics, its queue bridged onto the loop. */
static int start_consumer(struct kafka *k, struct consumer *c, const struct kafka_options *opt,
			  const char *group, const char *const *topics, size_t n_topics,
			  bool holds_revokes, char *err, size_t err_len)
{
	char e[512];
	rd_kafka_conf_t *cc = rd_kafka_conf_new();
	snprintf(c->group, sizeof(c->group), "%s", group);
	c->holds_revokes = holds_revokes;
	if (set(cc, "bootstrap.servers", k->bootstrap, err, err_len) ||
	    set(cc, "group.id", group, err, err_len) ||
	    /* at-least-once: only offsets whose work is finished are stored, then committed */
	    set(cc, "enable.auto.offset.store", "false", err, err_len) ||
	    set(cc, "enable.auto.commit", "true", err, err_len) ||
	    set(cc, "auto.commit.interval.ms", "500", err, err_len) ||
	    set(cc, "auto.offset.reset", "earliest", err, err_len) ||
	    /* the internal topics may not exist yet: let the subscription create them (the
	     * operator pre-creates them with the partitions they want in production) */
	    set(cc, "allow.auto.create.topics", "true", err, err_len) ||
	    set(cc, "topic.metadata.refresh.interval.ms", "5000", err, err_len) ||
	    /* a rebalance moves only the partitions that change owner, and a revoke waits for
	     * their reconciles (the operator may choose another assignor in properties) */
	    set(cc, "partition.assignment.strategy", "cooperative-sticky", err, err_len) ||
	    set_oauth(k, cc, err, err_len) ||
	    apply_properties(cc, opt->properties, true, err, err_len)) {
		rd_kafka_conf_destroy(cc);
		return -1;
	}
	rd_kafka_conf_set_rebalance_cb(cc, on_rebalance);
	rd_kafka_conf_set_error_cb(cc, on_consumer_error);
	rd_kafka_conf_set_opaque(cc, c);
	c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, cc, e, sizeof(e));
	if (!c->rk) {
		rd_kafka_conf_destroy(cc);
		snprintf(err, err_len, "kafka consumer: %s", e);
		return -1;
	}
	rd_kafka_poll_set_consumer(c->rk);
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)n_topics);
	for (size_t i = 0; i < n_topics; i++)
		rd_kafka_topic_partition_list_add(list, topics[i], RD_KAFKA_PARTITION_UA);
	rd_kafka_resp_err_t se = rd_kafka_subscribe(c->rk, list);
	rd_kafka_topic_partition_list_destroy(list);
	if (se) {
		snprintf(err, err_len, "kafka subscribe: %s", rd_kafka_err2str(se));
		return -1;
	}
	if (watch_queue(k, &c->q, rd_kafka_queue_get_consumer(c->rk), on_consumer_io)) {
		snprintf(err, err_len, "pipe: %m");
		return -1;
	}
	return 0;
}

struct kafka *kafka_new(struct ev_loop *loop, const struct kafka_options *opt,
			const struct kafka_callbacks *cb, char *err, size_t err_len)
{
	char e[512];
	struct kafka *k = calloc(1, sizeof(*k));
	rd_kafka_conf_t *pc = NULL;
	if (!k)
		return NULL;
	k->loop = loop;
	k->cb = *cb;
	k->oauth_token = opt->oauth_token;
	k->oauth_ud = opt->oauth_ud;
	k->interrupted = opt->interrupted;
	k->pq.fds[0] = k->pq.fds[1] = -1;
	for (int i = 0; i < N_CONSUMERS; i++) {
		k->consumers[i].k = k;
		k->consumers[i].q.fds[0] = k->consumers[i].q.fds[1] = -1;
	}
	snprintf(k->bootstrap, sizeof(k->bootstrap), "%s", opt->brokers);

	if (!strcmp(opt->brokers, "mock")) {
		/* the embedded default: librdkafka's mock cluster, reachable over TCP */
		rd_kafka_conf_t *mc = rd_kafka_conf_new();
		k->mock_owner = rd_kafka_new(RD_KAFKA_PRODUCER, mc, e, sizeof(e));
		k->mock = k->mock_owner ? rd_kafka_mock_cluster_new(k->mock_owner, 1) : NULL;
		if (!k->mock) {
			snprintf(err, err_len, "cannot start the embedded Kafka cluster: %s", e);
			goto fail;
		}
		snprintf(k->bootstrap, sizeof(k->bootstrap), "%s",
			 rd_kafka_mock_cluster_bootstraps(k->mock));
	}

	pc = rd_kafka_conf_new();
	if (set(pc, "bootstrap.servers", k->bootstrap, err, err_len) ||
	    set(pc, "linger.ms", "1", err, err_len) ||
	    /* dead letters carry the original bytes, oversized events included */
	    set(pc, "message.max.bytes", "10485760", err, err_len) ||
	    set(pc, "acks", "all", err, err_len) || set_oauth(k, pc, err, err_len) ||
	    apply_properties(pc, opt->properties, false, err, err_len))
		goto fail;
	rd_kafka_conf_set_dr_msg_cb(pc, on_delivery);
	rd_kafka_conf_set_error_cb(pc, on_producer_error);
	rd_kafka_conf_set_opaque(pc, k);
	k->producer = rd_kafka_new(RD_KAFKA_PRODUCER, pc, e, sizeof(e));
	if (!k->producer) {
		snprintf(err, err_len, "kafka producer: %s", e);
		goto fail;
	}
	pc = NULL;
	if (!k->mock) /* the mock cluster creates topics on first use and has no Admin API */
		ensure_topics(k->producer, opt);

	snprintf(k->work_topic, sizeof(k->work_topic), "%s",
		 opt->work_topic ? opt->work_topic : "");
	char work_group[300];
	snprintf(work_group, sizeof(work_group), "%s.work", opt->group);
	const char *work[] = {k->work_topic};
	if (start_consumer(k, &k->consumers[INPUT], opt, opt->group, opt->topics, opt->n_topics,
			   false, err, err_len) ||
	    (k->work_topic[0] &&
	     start_consumer(k, &k->consumers[WORK], opt, work_group, work, 1, true, err, err_len)))
		goto fail;
	ev_async_init(&k->members_async, on_members);
	ev_async_start(k->loop, &k->members_async);
	if (watch_queue(k, &k->pq, rd_kafka_queue_get_main(k->producer), on_producer_io)) {
		snprintf(err, err_len, "pipe: %m");
		goto fail;
	}
	return k;
fail:
	if (pc)
		rd_kafka_conf_destroy(pc);
	kafka_free(k);
	return NULL;
}

int kafka_produce(struct kafka *k, const char *topic, const char *key, const void *value,
		  size_t len, const struct kafka_header *headers, size_t n_headers, void *opaque)
{
	rd_kafka_headers_t *hdrs = rd_kafka_headers_new(n_headers ? n_headers : 1);
	for (size_t i = 0; i < n_headers; i++)
		rd_kafka_header_add(hdrs, headers[i].name, -1, headers[i].value, -1);
	rd_kafka_resp_err_t e = rd_kafka_producev(
	    k->producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
	    RD_KAFKA_V_KEY(key, key ? strlen(key) : 0), RD_KAFKA_V_VALUE((void *)value, len),
	    RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
	if (e) {
		rd_kafka_headers_destroy(hdrs); /* not taken over on failure */
		log_kv("error", "kafka produce failed", "topic", topic, "error",
		       rd_kafka_err2str(e), NULL);
		return -1;
	}
	return 0;
}

/* The consumer a topic belongs to. */
static struct consumer *consumer_of(struct kafka *k, const char *topic)
{
	return k->work_topic[0] && !strcmp(topic, k->work_topic) ? &k->consumers[WORK]
								 : &k->consumers[INPUT];
}

void kafka_store_offset(struct kafka *k, const char *topic, int32_t partition, int64_t offset)
{
	rd_kafka_t *rk = consumer_of(k, topic)->rk;
	if (!rk)
		return;
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, topic, partition)->offset = offset;
	rd_kafka_resp_err_t e = rd_kafka_offsets_store(rk, l);
	if (e && e != RD_KAFKA_RESP_ERR__STATE) /* __STATE: no longer assigned */
		log_kv("warn", "offset store failed", "topic", topic, "error", rd_kafka_err2str(e),
		       NULL);
	rd_kafka_topic_partition_list_destroy(l);
}

void kafka_pause_topic(struct kafka *k, const char *topic, bool pause)
{
	rd_kafka_t *rk = consumer_of(k, topic)->rk;
	rd_kafka_topic_partition_list_t *parts = NULL, *mine;
	if (!rk || rd_kafka_assignment(rk, &parts) || !parts)
		return;
	mine = rd_kafka_topic_partition_list_new(parts->cnt);
	for (int i = 0; i < parts->cnt; i++)
		if (!strcmp(parts->elems[i].topic, topic))
			rd_kafka_topic_partition_list_add(mine, topic, parts->elems[i].partition);
	if (mine->cnt) {
		if (pause)
			rd_kafka_pause_partitions(rk, mine);
		else
			rd_kafka_resume_partitions(rk, mine);
	}
	rd_kafka_topic_partition_list_destroy(mine);
	rd_kafka_topic_partition_list_destroy(parts);
}

/* One DescribeConfigs of the topic: its max.message.bytes (0: not known), *why says why not. */
static size_t describe_max_bytes(struct kafka *k, const char *topic, int timeout_ms,
				 rd_kafka_resp_err_t *why)
{
	rd_kafka_t *rk = k->producer;
	char e[256];
	size_t bytes = 0;
	*why = RD_KAFKA_RESP_ERR__TIMED_OUT;
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_ConfigResource_t *res =
	    rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
	rd_kafka_AdminOptions_t *ao =
	    rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
	rd_kafka_AdminOptions_set_request_timeout(ao, timeout_ms, e, sizeof(e));
	rd_kafka_DescribeConfigs(rk, &res, 1, ao, q);
	rd_kafka_event_t *ev = poll_admin(q, timeout_ms + 1000, k->interrupted);
	const rd_kafka_DescribeConfigs_result_t *r =
	    ev ? rd_kafka_event_DescribeConfigs_result(ev) : NULL;
	size_t nres = 0;
	const rd_kafka_ConfigResource_t **rs =
	    r ? rd_kafka_DescribeConfigs_result_resources(r, &nres) : NULL;
	if (ev && rd_kafka_event_error(ev))
		*why = rd_kafka_event_error(ev);
	for (size_t i = 0; i < nres; i++) {
		*why = rd_kafka_ConfigResource_error(rs[i]);
		size_t nc = 0;
		const rd_kafka_ConfigEntry_t **ce =
		    *why ? NULL : rd_kafka_ConfigResource_configs(rs[i], &nc);
		for (size_t c = 0; c < nc; c++)
			if (!strcmp(rd_kafka_ConfigEntry_name(ce[c]), "max.message.bytes") &&
			    rd_kafka_ConfigEntry_value(ce[c]))
				bytes =
				    (size_t)strtoull(rd_kafka_ConfigEntry_value(ce[c]), NULL, 10);
	}
	if (ev)
		rd_kafka_event_destroy(ev);
	rd_kafka_AdminOptions_destroy(ao);
	rd_kafka_ConfigResource_destroy(res);
	rd_kafka_queue_destroy(q);
	return bytes;
}

size_t kafka_topic_max_bytes(struct kafka *k, const char *topic, int timeout_ms)
{
	/* A topic ensure_topics just created may not be in the answering broker's metadata yet
	 * (UNKNOWN_TOPIC_OR_PART for a moment): asked again until timeout_ms is spent. */
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int left = timeout_ms;;) {
		rd_kafka_resp_err_t why;
		size_t bytes = describe_max_bytes(k, topic, left, &why);
		clock_gettime(CLOCK_MONOTONIC, &t);
		left = timeout_ms -
		       (int)((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
		if (bytes || why != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || left < 200 ||
		    (k->interrupted && k->interrupted())) {
			if (!bytes)
				log_kv("warn", "cannot read the topic's max.message.bytes", "topic",
				       topic, "error", rd_kafka_err2str(why), NULL);
			return bytes;
		}
		nanosleep(&(struct timespec){.tv_nsec = 100 * 1000 * 1000}, NULL);
	}
}

static void *count_members(void *arg)
{
	struct kafka *k = arg;
	const struct rd_kafka_group_list *gl = NULL;
	int members = 0;
	/* the replicas are the members of the work group */
	struct consumer *c = k->consumers[WORK].rk ? &k->consumers[WORK] : &k->consumers[INPUT];
	if (!rd_kafka_list_groups(c->rk, c->group, &gl, 5000) && gl) {
		for (int i = 0; i < gl->group_cnt; i++)
			if (!strcmp(gl->groups[i].group, c->group))
				members = gl->groups[i].member_cnt;
		rd_kafka_group_list_destroy(gl);
	}
	k->members_result = members;
	ev_async_send(k->loop, &k->members_async);
	return NULL;
}

static void on_members(struct ev_loop *loop, struct ev_async *w, int revents)
{
	struct kafka *k = (struct kafka *)((char *)w - offsetof(struct kafka, members_async));
	(void)loop;
	(void)revents;
	if (!k->members_running)
		return;
	pthread_join(k->members_thread, NULL);
	k->members_running = false;
	if (k->members_done)
		k->members_done(k->members_ud, k->members_result);
}

void kafka_count_members(struct kafka *k, void (*done)(void *ud, int members), void *ud)
{
	if (k->members_running || k->mock) /* one at a time; the mock has no ListGroups */
		return;
	k->members_done = done;
	k->members_ud = ud;
	if (!pthread_create(&k->members_thread, NULL, count_members, k))
		k->members_running = true;
}

void kafka_pause(struct kafka *k)
{
	for (int i = 0; i < N_CONSUMERS; i++) {
		rd_kafka_topic_partition_list_t *parts = NULL;
		rd_kafka_t *rk = k->consumers[i].rk;
		if (rk && !rd_kafka_assignment(rk, &parts) && parts) {
			rd_kafka_pause_partitions(rk, parts);
			rd_kafka_topic_partition_list_destroy(parts);
		}
	}
}

const char *kafka_bootstrap(const struct kafka *k)
{
	return k->bootstrap;
}

size_t kafka_outq_len(const struct kafka *k)
{
	return k->producer ? (size_t)rd_kafka_outq_len(k->producer) : 0;
}

void kafka_close(struct kafka *k, int timeout_ms)
{
	if (!k || k->closed)
		return;
	if (k->producer)
		rd_kafka_flush(k->producer, timeout_ms);
	k->closed = true;
	for (int i = 0; i < N_CONSUMERS; i++) {
		rd_kafka_t *rk = k->consumers[i].rk;
		if (!rk)
			continue;
		rd_kafka_commit(rk, NULL, 0); /* what was stored, synchronously */
		rd_kafka_consumer_close(rk);
	}
}

static void unwatch(struct kafka *k, struct qwatch *w)
{
	if (w->q) {
		ev_io_stop(k->loop, &w->io);
		rd_kafka_queue_io_event_enable(w->q, -1, NULL, 0);
		rd_kafka_queue_destroy(w->q);
		w->q = NULL;
	}
	for (int i = 0; i < 2; i++)
		if (w->fds[i] >= 0)
			close(w->fds[i]);
}

void kafka_free(struct kafka *k)
{
	if (!k)
		return;
	if (k->members_running)
		pthread_join(k->members_thread, NULL);
	if (k->loop)
		ev_async_stop(k->loop, &k->members_async);
	for (int i = 0; i < N_CONSUMERS; i++) {
		struct consumer *c = &k->consumers[i];
		if (c->revoking)
			rd_kafka_topic_partition_list_destroy(c->revoking);
		unwatch(k, &c->q);
		if (c->rk)
			rd_kafka_destroy(c->rk);
	}
	unwatch(k, &k->pq);
	if (k->producer)
		rd_kafka_destroy(k->producer);
	if (k->mock)
		rd_kafka_mock_cluster_destroy(k->mock);
	if (k->mock_owner)
		rd_kafka_destroy(k->mock_owner);
	free(k);
}
