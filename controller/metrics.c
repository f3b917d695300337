/* Families keep their series in insertion order (the exposition is stable); a hash over
 * (family, labels) finds a series. Label values are escaped once, when the series is made. */
#include "metrics.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../reconcile/model.h"
#include "log.h"

#define N_BUCKETS    12
#define HASH_BUCKETS 8192
#define MAX_FAMILIES 128
#define MAX_CHECKS   8
#define DROPPED_NAME "dualstackd_metrics_series_dropped_total"

static const double bucket_bounds[N_BUCKETS] = {0.05, 0.1, 0.25, 0.5, 1,   2.5,
						5,    10,  30,	 60,  120, 300};

struct series {
	struct series *hnext, *fnext;
	int family;
	char *labels; /* rendered: k="v",k="v" */
	double value, sum;
	unsigned long long buckets[N_BUCKETS + 1];
};

struct family {
	char name[96];
	enum metric_type type;
	char help[256];
	struct series *first, *last;
};

struct check {
	char name[32];
	bool ok;
	char why[160];
};

struct metrics {
	pthread_mutex_t lock;
	struct family families[MAX_FAMILIES];
	int n_families;
	struct series *hash[HASH_BUCKETS];
	size_t n_series;
	double dropped;
	bool drop_logged;
	double beat_s, stale_s; /* monotonic; 0: no heartbeat yet (healthy) */
	struct check checks[MAX_CHECKS];
	int n_checks;
	struct MHD_Daemon *httpd;
	int port;
};

static struct series *get(struct metrics *m, const char *family, enum metric_type type,
			  const char *labels, bool create);

static double mono_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

struct metrics *metrics_new(void)
{
	struct metrics *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	pthread_mutex_init(&m->lock, NULL);
	metrics_register(m, DROPPED_NAME, METRIC_COUNTER,
			 "Series not created because the registry holds its maximum");
	pthread_mutex_lock(&m->lock);
	get(m, DROPPED_NAME, METRIC_COUNTER, "", true); /* so an overflow finds it */
	pthread_mutex_unlock(&m->lock);
	return m;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	if (m->httpd)
		MHD_stop_daemon(m->httpd);
	for (int f = 0; f < m->n_families; f++)
		for (struct series *s = m->families[f].first, *n; s; s = n) {
			n = s->fnext;
			free(s->labels);
			free(s);
		}
	pthread_mutex_destroy(&m->lock);
	free(m);
}

/* The caller holds the lock. */
static int family_index(struct metrics *m, const char *name, enum metric_type type, bool create)
{
	for (int i = 0; i < m->n_families; i++)
		if (!strcmp(m->families[i].name, name))
			return i;
	if (!create || m->n_families == MAX_FAMILIES || strlen(name) >= sizeof(m->families[0].name))
		return -1;
	struct family *f = &m->families[m->n_families];
	memset(f, 0, sizeof(*f));
	memcpy(f->name, name, strlen(name) + 1);
	f->type = type;
	return m->n_families++;
}

void metrics_register(struct metrics *m, const char *family, enum metric_type type,
		      const char *help)
{
	pthread_mutex_lock(&m->lock);
	int i = family_index(m, family, type, true);
	if (i >= 0) {
		m->families[i].type = type;
		snprintf(m->families[i].help, sizeof(m->families[i].help), "%s", help);
	}
	pthread_mutex_unlock(&m->lock);
}

/* Renders NULL-terminated name/value pairs as k="v",... with the values escaped. */
static int render_labels(struct buf *out, va_list ap)
{
	int rc = 0;
	for (const char *k; !rc && (k = va_arg(ap, const char *)) != NULL;) {
		const char *v = va_arg(ap, const char *);
		rc = buf_printf(out, "%s%s=\"", out->len ? "," : "", k);
		for (const char *p = v ? v : ""; !rc && *p; p++) {
			if (*p == '\\' || *p == '"')
				rc = buf_printf(out, "\\%c", *p);
			else if (*p == '\n')
				rc = buf_puts(out, "\\n");
			else
				rc = buf_putc(out, *p);
		}
		if (!rc)
			rc = buf_putc(out, '"');
	}
	if (!rc)
		rc = buf_reserve(out, 0);
	if (!rc)
		out->data[out->len] = '\0'; /* no labels: reserve alone leaves it unset */
	return rc;
}

static uint32_t hash_of(const char *family, const char *labels)
{
	return ds_hash(ds_hash(ds_hash(DS_HASH_SEED, family), "{"), labels) % HASH_BUCKETS;
}

/* Finds or (create) makes a series; the caller holds the lock. */
static struct series *get(struct metrics *m, const char *family, enum metric_type type,
			  const char *labels, bool create)
{
	int f = family_index(m, family, type, create);
	if (f < 0)
		return NULL;
	uint32_t h = hash_of(family, labels);
	for (struct series *s = m->hash[h]; s; s = s->hnext)
		if (s->family == f && !strcmp(s->labels, labels))
			return s;
	if (!create)
		return NULL;
	if (m->n_series >= METRICS_MAX_SERIES) {
		/* the documented bound: never an unbounded registry, never a silent drop */
		m->dropped++;
		struct series *d = get(m, DROPPED_NAME, METRIC_COUNTER, "", false);
		if (d)
			d->value = m->dropped;
		if (!m->drop_logged) {
			m->drop_logged = true;
			log_kv("warn", "metrics series limit reached; new series are dropped",
			       "family", family, NULL);
		}
		return NULL;
	}
	struct series *s = calloc(1, sizeof(*s));
	if (!s || !(s->labels = strdup(labels))) {
		free(s);
		return NULL;
	}
	s->family = f;
	s->hnext = m->hash[h];
	m->hash[h] = s;
	struct family *fam = &m->families[f];
	if (fam->last)
		fam->last->fnext = s;
	else
		fam->first = s;
	fam->last = s;
	m->n_series++;
	return s;
}

#define WITH_LABELS(last, body)                                \
	do {                                                   \
		struct buf lb_;                                \
		va_list ap_;                                   \
		buf_init(&lb_, 4096);                          \
		va_start(ap_, last);                           \
		int lrc_ = render_labels(&lb_, ap_);           \
		va_end(ap_);                                   \
		const char *labels = lb_.data ? lb_.data : ""; \
		if (!lrc_) {                                   \
			pthread_mutex_lock(&m->lock);          \
			body;                                  \
			pthread_mutex_unlock(&m->lock);        \
		}                                              \
		buf_cleanup(&lb_);                             \
	} while (0)

void metrics_add(struct metrics *m, const char *family, double v, ...)
{
	WITH_LABELS(v, {
		struct series *s = get(m, family, METRIC_COUNTER, labels, true);
		if (s)
			s->value += v;
	});
}

void metrics_set(struct metrics *m, const char *family, double v, ...)
{
	WITH_LABELS(v, {
		struct series *s = get(m, family, METRIC_GAUGE, labels, true);
		if (s)
			s->value = v;
	});
}

double metrics_get(struct metrics *m, const char *family, ...)
{
	double v = 0;
	WITH_LABELS(family, {
		struct series *s = get(m, family, METRIC_GAUGE, labels, false);
		if (s)
			v = s->value;
	});
	return v;
}

void metrics_remove(struct metrics *m, const char *family, ...)
{
	WITH_LABELS(family, {
		int f = family_index(m, family, METRIC_GAUGE, false);
		uint32_t h = hash_of(family, labels);
		for (struct series **pp = &m->hash[h]; f >= 0 && *pp; pp = &(*pp)->hnext) {
			struct series *s = *pp;
			if (s->family != f || strcmp(s->labels, labels))
				continue;
			*pp = s->hnext;
			struct family *fam = &m->families[f];
			struct series *prev = NULL;
			for (struct series *q = fam->first; q && q != s; q = q->fnext)
				prev = q;
			if (prev)
				prev->fnext = s->fnext;
			else
				fam->first = s->fnext;
			if (fam->last == s)
				fam->last = prev;
			free(s->labels);
			free(s);
			m->n_series--;
			break;
		}
	});
}

void metrics_observe(struct metrics *m, const char *family, double v)
{
	pthread_mutex_lock(&m->lock);
	struct series *s = get(m, family, METRIC_HISTOGRAM, "", true);
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

size_t metrics_series(struct metrics *m)
{
	pthread_mutex_lock(&m->lock);
	size_t n = m->n_series;
	pthread_mutex_unlock(&m->lock);
	return n;
}

static int render_histogram(struct buf *out, const char *name, const struct series *s)
{
	unsigned long long cum = 0;
	static const unsigned long long zero[N_BUCKETS + 1];
	const unsigned long long *b = s ? s->buckets : zero;
	int rc = 0;
	for (int i = 0; i < N_BUCKETS && !rc; i++) {
		cum += b[i];
		rc = buf_printf(out, "%s_bucket{le=\"%g\"} %llu\n", name, bucket_bounds[i], cum);
	}
	cum += b[N_BUCKETS];
	if (!rc)
		rc = buf_printf(out, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.17g\n%s_count %llu\n",
				name, cum, name, s ? s->sum : 0.0, name, cum);
	return rc;
}

int metrics_render(struct metrics *m, struct buf *out)
{
	static const char *const types[] = {"counter", "gauge", "histogram"};
	int rc = 0;
	pthread_mutex_lock(&m->lock);
	for (int f = 0; f < m->n_families && !rc; f++) {
		const struct family *fam = &m->families[f];
		if (fam->help[0])
			rc = buf_printf(out, "# HELP %s %s\n", fam->name, fam->help);
		if (!rc)
			rc = buf_printf(out, "# TYPE %s %s\n", fam->name, types[fam->type]);
		if (!rc && fam->type == METRIC_HISTOGRAM) {
			rc = render_histogram(out, fam->name, fam->first);
			continue;
		}
		/* a family without labels shows its value from the start, at zero */
		if (!rc && !fam->first && fam->help[0])
			rc = buf_printf(out, "%s 0\n", fam->name);
		for (const struct series *s = fam->first; s && !rc; s = s->fnext)
			rc = buf_printf(out, "%s%s%s%s %.17g\n", fam->name, s->labels[0] ? "{" : "",
					s->labels, s->labels[0] ? "}" : "", s->value);
	}
	pthread_mutex_unlock(&m->lock);
	return rc;
}

void metrics_heartbeat(struct metrics *m, double stale_s)
{
	pthread_mutex_lock(&m->lock);
	m->beat_s = mono_s();
	m->stale_s = stale_s;
	pthread_mutex_unlock(&m->lock);
}

void metrics_set_check(struct metrics *m, const char *check, bool ok, const char *why)
{
	pthread_mutex_lock(&m->lock);
	struct check *c = NULL;
	for (int i = 0; i < m->n_checks; i++)
		if (!strcmp(m->checks[i].name, check))
			c = &m->checks[i];
	if (!c && m->n_checks < MAX_CHECKS) {
		c = &m->checks[m->n_checks++];
		snprintf(c->name, sizeof(c->name), "%s", check);
	}
	if (c) {
		c->ok = ok;
		snprintf(c->why, sizeof(c->why), "%s", why ? why : "");
	}
	pthread_mutex_unlock(&m->lock);
}

/* The caller holds the lock. */
static bool ready_locked(const struct metrics *m, struct buf *why)
{
	bool ok = m->n_checks > 0;
	for (int i = 0; i < m->n_checks; i++)
		if (!m->checks[i].ok) {
			ok = false;
			if (why)
				buf_printf(why, "%s: %s\n", m->checks[i].name,
					   m->checks[i].why[0] ? m->checks[i].why : "not yet");
		}
	return ok;
}

bool metrics_ready(struct metrics *m)
{
	pthread_mutex_lock(&m->lock);
	bool ok = ready_locked(m, NULL);
	pthread_mutex_unlock(&m->lock);
	return ok;
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

static enum MHD_Result reply_buf(struct MHD_Connection *c, unsigned int status, struct buf *b)
{
	if (buf_reserve(b, 0)) {
		buf_cleanup(b);
		return reply(c, 500, "text/plain", (char *)"out of memory\n", 14,
			     MHD_RESPMEM_PERSISTENT);
	}
	return reply(c, status, "text/plain", b->data, b->len, MHD_RESPMEM_MUST_FREE);
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
		buf_init(&b, (size_t)64 << 20);
		if (metrics_render(m, &b) || buf_reserve(&b, 0)) {
			buf_cleanup(&b);
			return reply(c, 500, "text/plain", (char *)"render failed\n", 14,
				     MHD_RESPMEM_PERSISTENT);
		}
		return reply(c, 200, "text/plain; version=0.0.4", b.data, b.len,
			     MHD_RESPMEM_MUST_FREE);
	}
	struct buf b;
	buf_init(&b, 8192);
	if (!strcmp(url, "/healthz")) {
		pthread_mutex_lock(&m->lock);
		double age = m->beat_s ? mono_s() - m->beat_s : 0;
		bool ok = !m->beat_s || age <= m->stale_s;
		pthread_mutex_unlock(&m->lock);
		if (ok)
			buf_puts(&b, "ok\n");
		else
			buf_printf(&b, "the event loop has not turned for %.0f s\n", age);
		return reply_buf(c, ok ? 200 : 503, &b);
	}
	if (!strcmp(url, "/readyz")) {
		pthread_mutex_lock(&m->lock);
		bool ok = ready_locked(m, &b);
		pthread_mutex_unlock(&m->lock);
		if (ok)
			buf_puts(&b, "ok\n");
		return reply_buf(c, ok ? 200 : 503, &b);
	}
	buf_cleanup(&b);
	return reply(c, 404, "text/plain", (char *)"not found\n", 10, MHD_RESPMEM_PERSISTENT);
}

int metrics_serve(struct metrics *m, const char *listen, char *err, size_t err_len)
{
	char host[80], port[16];
	const char *colon = strrchr(listen, ':');
	if (!colon || (size_t)(colon - listen) >= sizeof(host) ||
	    strlen(colon + 1) >= sizeof(port)) {
		snprintf(err, err_len, "listen address %s is not host:port", listen);
		return -1;
	}
	const char *h = listen;
	size_t hl = (size_t)(colon - listen);
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') { /* [::1]:9464 */
		h++;
		hl -= 2;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	snprintf(port, sizeof(port), "%s", colon + 1);
	struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
				 .ai_socktype = SOCK_STREAM},
			*ai = NULL;
	if (getaddrinfo(host[0] ? host : NULL, port, &hints, &ai) || !ai) {
		snprintf(err, err_len, "listen address %s: not an IP address and port", listen);
		return -1;
	}
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
	if (ai->ai_family == AF_INET6) {
		/* "[::]:port" takes IPv4 too (a kubelet probes the pod's IPv4 address) */
		const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)ai->ai_addr;
		flags |=
		    IN6_IS_ADDR_UNSPECIFIED(&a6->sin6_addr) ? MHD_USE_DUAL_STACK : MHD_USE_IPv6;
	}
	m->httpd = MHD_start_daemon(flags, 0, NULL, NULL, handle, m, MHD_OPTION_SOCK_ADDR,
				    ai->ai_addr, MHD_OPTION_CONNECTION_LIMIT, 64u,
				    MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
	freeaddrinfo(ai);
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
