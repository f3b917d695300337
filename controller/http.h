/* http.h - asynchronous HTTP(S) on one libev loop through libcurl's multi interface.
 * Owns: the curl multi handle, its socket and timer watchers, connection reuse, per-request
 * deadlines, and handing each finished transfer to its callback.
 * Not: AWS signing, retries or error classification (ec2_client.c). TLS peer verification is
 * curl's default and is never turned off here. */
#ifndef DS_HTTP_H
#define DS_HTTP_H

#include <ev.h>
#include <stddef.h>

#include "../reconcile/buf.h"

struct http_client;

struct http_response {
	int transport_error; /* 0, or a DS_E* code when no HTTP answer arrived */
	int maybe_sent;	     /* with transport_error: the request may have reached the server */
	char transport_msg[256];
	long status;
	struct buf body;
	char request_id[64];   /* x-amzn-RequestId / x-amz-request-id header, if any */
	long long server_date; /* the Date header as Unix time, 0 if absent (clock skew) */
	double elapsed_s;
};

/* Called once per request, on the loop. resp is valid only during the call. */
typedef void (*http_done_fn)(void *ud, struct http_response *resp);

struct http_request {
	const char *method; /* "GET", "POST", "PUT" */
	const char *url;
	const char *const *headers; /* "Name: value" strings */
	size_t n_headers;
	const char *body;
	size_t body_len;
	long timeout_ms; /* whole-transfer deadline */
	long connect_timeout_ms;
	size_t max_body;      /* answers larger than this fail with DS_ETOOBIG */
	int fresh_connection; /* a new connection, closed after: curl silently resends a request
				 whose reused connection died, which a non-idempotent call must
				 never be */
	int no_proxy;	      /* never through a proxy (instance metadata, container endpoint:
				 link-local, and a proxy must not see their credentials) */
};

struct http_client *http_client_new(struct ev_loop *loop);
void http_client_free(struct http_client *c);
struct ev_loop *http_client_loop(struct http_client *c);

/* Starts a request; copies what it needs from req. */
int http_submit(struct http_client *c, const struct http_request *req, http_done_fn done, void *ud);
/* Transfers in flight: submitted and not yet done (waiting for curl, or in it). */
size_t http_in_flight(const struct http_client *c);
/* Transfers in curl now: at most HTTP_ACTIVE, whatever is in flight - each holds an easy handle
 * and curl's buffers, the rest wait here as a copy of their request. */
#define HTTP_ACTIVE 32
size_t http_active(const struct http_client *c);

/* A blocking request outside any loop (credential providers at start-up and refresh). */
int http_fetch_blocking(const struct http_request *req, struct http_response *resp);
void http_response_cleanup(struct http_response *resp);

#endif
