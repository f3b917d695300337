/* Every record the daemon writes (work, dead letters, audit) goes through here: a copy is kept
 * until the broker acknowledges it; a failed delivery (or a full local queue) is retried with
 * backoff (0.5 s doubling to 60 s), and a dead letter the broker finds too large is halved and
 * marked truncated. After PRODUCE_MAX_ATTEMPTS the record is given up: logged with where it
 * came from, counted, and its ticket released - the input offset may then be committed, so
 * one record the broker will not take never holds a partition's commits forever (a lost work
 * record is found again by the resync; a lost dead letter is named in the log). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon_internal.h"
#include "log.h"

#define BACKOFF_FIRST_S 0.5
#define BACKOFF_MAX_S	60.0
#define MAX_HEADERS	8

struct record {
	struct producer *p;
	char topic[128];
	char *key;
	char *value;
	size_t len;
	struct kafka_header headers[MAX_HEADERS];
	char *header_store[MAX_HEADERS * 2];
	size_t n_headers;
	uint64_t ticket;
	int attempts;
	struct ev_timer retry;
	struct record *prev, *next; /* pending records */
};

struct producer {
	struct daemon *d;
	struct record *pending;
	size_t n_pending;
};

struct producer *producer_new(struct daemon *d)
{
	struct producer *p = calloc(1, sizeof(*p));
	if (p)
		p->d = d;
	return p;
}

static void record_free(struct record *r)
{
	struct producer *p = r->p;
	if (r->prev)
		r->prev->next = r->next;
	else
		p->pending = r->next;
	if (r->next)
		r->next->prev = r->prev;
	p->n_pending--;
	ev_timer_stop(p->d->loop, &r->retry);
	for (size_t i = 0; i < r->n_headers * 2; i++)
		free(r->header_store[i]);
	free(r->key);
	free(r->value);
	free(r);
}

void producer_free(struct producer *p)
{
	if (!p)
		return;
	while (p->pending)
		record_free(p->pending);
	free(p);
}

size_t producer_pending(const struct producer *p)
{
	return p->n_pending;
}

static void attempt(struct record *r);

static void on_retry(struct ev_loop *loop, struct ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	attempt(w->data);
}

/* The record failed (err): again after a backoff, or given up. */
static void failed(struct record *r, const char *err)
{
	struct daemon *d = r->p->d;
	char n[16];
	snprintf(n, sizeof(n), "%d", r->attempts);
	if (r->attempts >= PRODUCE_MAX_ATTEMPTS) {
		log_kv("error", "record given up after retries", "topic", r->topic, "key",
		       r->key ? r->key : "", "attempts", n, "error", err, NULL);
		metrics_add(d->metrics, "dualstackd_produce_given_up_total", 1, "topic", r->topic,
			    NULL);
		uint64_t ticket = r->ticket;
		record_free(r);
		daemon_release_ticket(d, ticket);
		return;
	}
	double delay = BACKOFF_FIRST_S * (double)(1 << (r->attempts - 1));
	if (delay > BACKOFF_MAX_S)
		delay = BACKOFF_MAX_S;
	if (r->attempts == 1)
		log_kv("warn", "record not delivered; retrying with backoff", "topic", r->topic,
		       "error", err, NULL);
	metrics_add(d->metrics, "dualstackd_produce_retries_total", 1, "topic", r->topic, NULL);
	ev_timer_set(&r->retry, delay, 0.);
	ev_timer_start(d->loop, &r->retry);
}

static void attempt(struct record *r)
{
	r->attempts++;
	if (kafka_produce(r->p->d->kafka, r->topic, r->key, r->value, r->len, r->headers,
			  r->n_headers, r))
		failed(r, "the local queue refused it");
}

int producer_send(struct producer *p, const char *topic, const char *key, const void *value,
		  size_t len, const struct kafka_header *headers, size_t n_headers, uint64_t ticket)
{
	struct record *r = calloc(1, sizeof(*r));
	if (!r || n_headers > MAX_HEADERS || strlen(topic) >= sizeof(r->topic))
		goto fail;
	r->p = p;
	memcpy(r->topic, topic, strlen(topic) + 1);
	r->key = key ? strdup(key) : NULL;
	r->value = malloc(len + 1);
	if ((key && !r->key) || !r->value)
		goto fail;
	memcpy(r->value, value, len);
	r->len = len;
	for (size_t i = 0; i < n_headers; i++) {
		r->header_store[2 * i] = strdup(headers[i].name);
		r->header_store[2 * i + 1] = strdup(headers[i].value);
		r->n_headers++;
		if (!r->header_store[2 * i] || !r->header_store[2 * i + 1])
			goto fail;
		r->headers[i].name = r->header_store[2 * i];
		r->headers[i].value = r->header_store[2 * i + 1];
	}
	r->ticket = ticket;
	ev_timer_init(&r->retry, on_retry, 0., 0.);
	r->retry.data = r;
	r->next = p->pending;
	if (p->pending)
		p->pending->prev = r;
	p->pending = r;
	p->n_pending++;
	attempt(r);
	return 0;
fail:
	if (r) {
		for (size_t i = 0; i < r->n_headers * 2; i++)
			free(r->header_store[i]);
		free(r->key);
		free(r->value);
		free(r);
	}
	return -1;
}

/* A dead letter too large for the topic: half the bytes, and the header says so. */
static bool shrink(struct record *r)
{
	if (r->len < 1024)
		return false;
	size_t orig = r->len;
	for (size_t i = 0; i < r->n_headers; i++)
		if (!strcmp(r->headers[i].name, "dualstackd-original-bytes"))
			orig = (size_t)strtoull(r->headers[i].value, NULL, 10);
	r->len /= 2;
	char note[96];
	snprintf(note, sizeof(note), "%zu bytes, first %zu kept", orig, r->len);
	for (size_t i = 0; i < r->n_headers; i++)
		if (!strcmp(r->headers[i].name, "dualstackd-truncated")) {
			free(r->header_store[2 * i + 1]);
			r->header_store[2 * i + 1] = strdup(note);
			r->headers[i].value =
			    r->header_store[2 * i + 1] ? r->header_store[2 * i + 1] : "";
			return true;
		}
	if (r->n_headers == MAX_HEADERS)
		return false;
	r->header_store[2 * r->n_headers] = strdup("dualstackd-truncated");
	r->header_store[2 * r->n_headers + 1] = strdup(note);
	if (!r->header_store[2 * r->n_headers] || !r->header_store[2 * r->n_headers + 1])
		return false;
	r->headers[r->n_headers].name = r->header_store[2 * r->n_headers];
	r->headers[r->n_headers].value = r->header_store[2 * r->n_headers + 1];
	r->n_headers++;
	return true;
}

void producer_delivered(struct producer *p, void *opaque, rd_kafka_resp_err_t err)
{
	struct record *r = opaque;
	(void)p;
	if (!err) {
		uint64_t ticket = r->ticket;
		struct daemon *d = r->p->d;
		record_free(r);
		daemon_release_ticket(d, ticket);
		return;
	}
	if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE && shrink(r)) {
		metrics_add(r->p->d->metrics, "dualstackd_dead_letters_truncated_total", 1, NULL);
		attempt(r);
		return;
	}
	failed(r, rd_kafka_err2str(err));
}
