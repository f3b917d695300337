/* metrics.h - Prometheus metrics and the /metrics, /healthz and /readyz endpoints.
 * Owns: counters, gauges and one latency histogram family, keyed by name and a label string,
 * and their text exposition served by libmicrohttpd (its own thread; the registry is locked).
 * Not: deciding readiness (the daemon sets it). */
#ifndef DS_METRICS_H
#define DS_METRICS_H

#include <stdbool.h>

#include "../reconcile/buf.h"

struct metrics;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/* labels: Prometheus label pairs without braces, e.g. "action=\"CreateRoute\"", or "". */
void metrics_add(struct metrics *m, const char *name, const char *labels, double v);
void metrics_set(struct metrics *m, const char *name, const char *labels, double v);
/* Observes a value (seconds) in the histogram family `name`. */
void metrics_observe(struct metrics *m, const char *name, double v);
double metrics_get(struct metrics *m, const char *name, const char *labels);
int metrics_render(struct metrics *m, struct buf *out);

void metrics_set_ready(struct metrics *m, bool ready);
void metrics_set_healthy(struct metrics *m, bool healthy);

/* Serves on "host:port" (loopback or any); 0 on success. */
int metrics_serve(struct metrics *m, const char *listen, char *err, size_t err_len);
/* The port actually bound (useful with port 0). */
int metrics_port(const struct metrics *m);

#endif
