/* metrics.h - Prometheus metrics and the /metrics, /healthz and /readyz endpoints.
 * Owns: metric families (registered with HELP and TYPE, exposed from the start), their series
 * (label values escaped per the text format, a hard bound on series with a counted, logged
 * overflow), one histogram family kind, the exposition served by libmicrohttpd (its own thread;
 * the registry is locked), liveness from the loop's heartbeat and readiness from named checks.
 * Not: what is measured or when (the daemon). */
#ifndef DS_METRICS_H
#define DS_METRICS_H

#include <stdbool.h>

#include "../reconcile/buf.h"

#define METRICS_MAX_SERIES 20000 /* beyond: new series are dropped, counted and logged once */

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

struct metrics;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/* Declares a family; it is rendered (HELP, TYPE) from now on, with a zero series when it has
 * no labels. */
void metrics_register(struct metrics *m, const char *family, enum metric_type type,
		      const char *help);

/* The variadic arguments are label name/value pairs, NULL-terminated:
 *   metrics_add(m, "dualstackd_events_total", 1, "verdict", "work", NULL);
 * Values are escaped here (\\, \", newline); names must be [a-zA-Z_][a-zA-Z0-9_]*. */
void metrics_add(struct metrics *m, const char *family, double v, ...);
void metrics_set(struct metrics *m, const char *family, double v, ...);
void metrics_remove(struct metrics *m, const char *family, ...);
double metrics_get(struct metrics *m, const char *family, ...);
/* Observes a value (seconds) in a histogram family. */
void metrics_observe(struct metrics *m, const char *family, double v);
size_t metrics_series(struct metrics *m);
int metrics_render(struct metrics *m, struct buf *out);

/* Liveness: the loop beats; /healthz answers 503 when it has not for stale_s seconds. */
void metrics_heartbeat(struct metrics *m, double stale_s);
/* Readiness: /readyz is 200 when every named check passes, else 503 listing the others. */
void metrics_set_check(struct metrics *m, const char *check, bool ok, const char *why);
bool metrics_ready(struct metrics *m);

/* Serves on "host:port", "[v6]:port" (loopback, any, IPv4 or IPv6); 0 on success. */
int metrics_serve(struct metrics *m, const char *listen, char *err, size_t err_len);
/* The port actually bound (useful with port 0). */
int metrics_port(const struct metrics *m);

#endif
