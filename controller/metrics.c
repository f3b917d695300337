#include "metrics.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SERIES 2048
#define N_BUCKETS  12

static const double bucket_bounds[N_BUCKETS] = {0.05, 0.1, 0.25, 0.5, 1,   2.5,
						5,    10,  30,	 60,  120, 300};

struct series {
	char name[96];
	char labels[192];
	int type; /* 0 counter, 1 gauge, 2 histogram */
	double value;
	double sum;
	unsigned long long buckets[N_BUCKETS + 1]; /* histogram: counts per bound, +Inf last */
};

struct metrics {
	pthread_mutex_t lock;
	struct series *s;
	size_t n;
	bool ready, healthy;
	struct MHD_Daemon *httpd;
	int port;
};

struct metrics *metrics_new(void)
{
	struct metrics *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->s = calloc(MAX_SERIES, sizeof(*m->s));
	if (!m->s) {
		free(m);
		return NULL;
	}
	pthread_mutex_init(&m->lock, NULL);
	m->healthy = true;
	return m;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	if (m->httpd)
		MHD_stop_daemon(m->httpd);
	pthread_mutex_destroy(&m->lock);
	free(m->s);
	free(m);
}

/* Finds or creates a series; the caller holds the lock. */
static struct series *get(struct metrics *m, const char *name, const char *labels, int type)
{
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->s[i].name, name) && !strcmp(m->s[i].labels, labels))
			return &m->s[i];
	if (m->n == MAX_SERIES || strlen(name) >= sizeof(m->s[0].name) ||
	    strlen(labels) >= sizeof(m->s[0].labels))
		return NULL;
	struct series *s = &m->s[m->n++];
	memcpy(s->name, name, strlen(name) + 1);
	memcpy(s->labels, labels, strlen(labels) + 1);
	s->type = type;
	return s;
}

void metrics_add(struct metrics *m, const char *name, const char *labels, double v)
{
	pthread_mutex_lock(&m->lock);
	struct series *s = get(m, name, labels ? labels : "", 0);
	if (s)
		s->value += v;
	pthread_mutex_unlock(&m->lock);
}

void metrics_set(struct metrics *m, const char *name, const char *labels, double v)
{
	pthread_mutex_lock(&m->lock);
	struct series *s = get(m, name, labels ? labels : "", 1);
	if (s)
		s->value = v;
	pthread_mutex_unlock(&m->lock);
}

void metrics_observe(struct metrics *m, const char *name, double v)
{
	pthread_mutex_lock(&m->lock);
	struct series *s = get(m, name, "", 2);
	if (s) {
		int b = 0;
		while (b < N_BUCKETS && v > bucket_bounds[b])
			b++;
		s->buckets[b]++;
		s->sum += v;
		s->value += 1; /* count */
	}
	pthread_mutex_unlock(&m->lock);
}

double metrics_get(struct metrics *m, const char *name, const char *labels)
{
	double v = 0;
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->s[i].name, name) && !strcmp(m->s[i].labels, labels ? labels : ""))
			v = m->s[i].value;
	pthread_mutex_unlock(&m->lock);
	return v;
}

int metrics_render(struct metrics *m, struct buf *out)
{
	static const char *const types[] = {"counter", "gauge", "histogram"};
	int rc = 0;
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->n && !rc; i++) {
		const struct series *s = &m->s[i];
		bool first = true;
		for (size_t k = 0; k < i; k++)
			first &= strcmp(m->s[k].name, s->name) != 0;
		if (first)
			rc = buf_printf(out, "# TYPE %s %s\n", s->name, types[s->type]);
		if (rc)
			break;
		if (s->type != 2) {
			rc = buf_printf(out, "%s%s%s%s %.17g\n", s->name, s->labels[0] ? "{" : "",
					s->labels, s->labels[0] ? "}" : "", s->value);
			continue;
		}
		unsigned long long cum = 0;
		for (int b = 0; b < N_BUCKETS && !rc; b++) {
			cum += s->buckets[b];
			rc = buf_printf(out, "%s_bucket{le=\"%g\"} %llu\n", s->name,
					bucket_bounds[b], cum);
		}
		cum += s->buckets[N_BUCKETS];
		if (!rc)
			rc = buf_printf(
			    out, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.17g\n%s_count %llu\n",
			    s->name, cum, s->name, s->sum, s->name, cum);
	}
	pthread_mutex_unlock(&m->lock);
	return rc;
}

void metrics_set_ready(struct metrics *m, bool ready)
{
	pthread_mutex_lock(&m->lock);
	m->ready = ready;
	pthread_mutex_unlock(&m->lock);
}

void metrics_set_healthy(struct metrics *m, bool healthy)
{
	pthread_mutex_lock(&m->lock);
	m->healthy = healthy;
	pthread_mutex_unlock(&m->lock);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned int status, const char *type,
			     char *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **con_cls)
{
	struct metrics *m = cls;
	(void)version;
	(void)upload;
	(void)upload_size;
	(void)con_cls;
	if (strcmp(method, "GET") != 0)
		return reply(c, 405, "text/plain", (char *)"method not allowed\n", 19,
			     MHD_RESPMEM_PERSISTENT);
	if (!strcmp(url, "/metrics")) {
		struct buf b;
		buf_init(&b, (size_t)8 << 20);
		if (metrics_render(m, &b) || buf_reserve(&b, 0)) {
			buf_cleanup(&b);
			return reply(c, 500, "text/plain", (char *)"render failed\n", 14,
				     MHD_RESPMEM_PERSISTENT);
		}
		return reply(c, 200, "text/plain; version=0.0.4", b.data, b.len,
			     MHD_RESPMEM_MUST_FREE);
	}
	if (!strcmp(url, "/healthz") || !strcmp(url, "/readyz")) {
		pthread_mutex_lock(&m->lock);
		bool ok = !strcmp(url, "/healthz") ? m->healthy : m->ready;
		pthread_mutex_unlock(&m->lock);
		return ok ? reply(c, 200, "text/plain", (char *)"ok\n", 3, MHD_RESPMEM_PERSISTENT)
			  : reply(c, 503, "text/plain", (char *)"not ready\n", 10,
				  MHD_RESPMEM_PERSISTENT);
	}
	return reply(c, 404, "text/plain", (char *)"not found\n", 10, MHD_RESPMEM_PERSISTENT);
}

int metrics_serve(struct metrics *m, const char *listen, char *err, size_t err_len)
{
	char host[64];
	const char *colon = strrchr(listen, ':');
	if (!colon || (size_t)(colon - listen) >= sizeof(host)) {
		snprintf(err, err_len, "listen address %s is not host:port", listen);
		return -1;
	}
	memcpy(host, listen, (size_t)(colon - listen));
	host[colon - listen] = '\0';
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)strtol(colon + 1, NULL, 10));
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		snprintf(err, err_len, "listen address %s: not an IPv4 address", listen);
		return -1;
	}
	m->httpd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL,
				    NULL, handle, m, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
				    MHD_OPTION_CONNECTION_LIMIT, 64u, MHD_OPTION_CONNECTION_TIMEOUT,
				    10u, MHD_OPTION_END);
	if (!m->httpd) {
		snprintf(err, err_len, "cannot listen on %s", listen);
		return -1;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(m->httpd, MHD_DAEMON_INFO_BIND_PORT);
	m->port = info ? info->port : 0;
	return 0;
}

int metrics_port(const struct metrics *m)
{
	return m->port;
}
