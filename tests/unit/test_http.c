/* http.c against a libmicrohttpd responder on loopback: a burst of requests far above what curl
 * is given at once all complete, each with its own answer, while at most HTTP_ACTIVE are in curl
 * (a fleet's first second releases hundreds of calls; each in curl holds an easy handle and a
 * 16 KiB buffer); a GET stays a GET, after its caller's method string is gone; requests that wait behind a refused connection fail, each
 * once, as never sent. */
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../controller/http.h"
#include "check.h"

struct upload {
	char body[64];
	size_t len;
};

static int gets_seen;

/* Answers each request with its own body ("n=<i>"), or "get" for a GET. */
static enum MHD_Result respond(void *cls, struct MHD_Connection *conn, const char *url,
			       const char *method, const char *version, const char *data,
			       size_t *data_size, void **con_cls)
{
	(void)cls;
	(void)url;
	(void)version;
	struct upload *u = *con_cls;
	if (!u) {
		u = calloc(1, sizeof(*u));
		if (!u)
			return MHD_NO;
		*con_cls = u;
		return MHD_YES;
	}
	if (*data_size) {
		size_t n = *data_size < sizeof(u->body) - 1 - u->len ? *data_size
								     : sizeof(u->body) - 1 - u->len;
		memcpy(u->body + u->len, data, n);
		u->len += n;
		*data_size = 0;
		return MHD_YES;
	}
	if (!strcmp(method, "GET")) {
		__atomic_add_fetch(&gets_seen, 1, __ATOMIC_SEQ_CST);
		snprintf(u->body, sizeof(u->body), "get");
		u->len = 3;
	}
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(u->len, u->body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ok = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ok;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)conn;
	(void)toe;
	free(*con_cls);
	*con_cls = NULL;
}

struct burst {
	struct http_client *http;
	int done, ok, right_body, refused, sent_flagged;
	size_t peak_active;
};

struct one {
	struct burst *b;
	char want[32];
};

static void on_done(void *ud, struct http_response *resp)
{
	struct one *o = ud;
	struct burst *b = o->b;
	b->done++;
	if (http_active(b->http) > b->peak_active)
		b->peak_active = http_active(b->http);
	if (!resp->transport_error && resp->status == 200) {
		b->ok++;
		if (resp->body.len == strlen(o->want) &&
		    !memcmp(resp->body.data, o->want, resp->body.len))
			b->right_body++;
	} else if (resp->transport_error == DS_ENET) {
		b->refused++;
		b->sent_flagged += resp->maybe_sent;
	}
	free(o);
}

static int submit(struct burst *b, const char *url, const char *method, int i)
{
	struct one *o = calloc(1, sizeof(*o));
	if (!o)
		return DS_ENOMEM;
	o->b = b;
	char body[32];
	snprintf(body, sizeof(body), "n=%d", i);
	snprintf(o->want, sizeof(o->want), "%s", strcmp(method, "GET") ? body : "get");
	const char *hdr[] = {"Content-Type: application/x-www-form-urlencoded"};
	char verb[8]; /* the caller's, overwritten once submitted: a waiting request keeps a copy */
	snprintf(verb, sizeof(verb), "%s", method);
	struct http_request req = {.method = verb,
				   .url = url,
				   .headers = hdr,
				   .n_headers = 1,
				   .body = strcmp(method, "GET") ? body : NULL,
				   .body_len = strcmp(method, "GET") ? strlen(body) : 0,
				   .timeout_ms = 10000,
				   .no_proxy = 1};
	int rc = http_submit(b->http, &req, on_done, o);
	memset(verb, 'X', sizeof(verb) - 1);
	if (rc)
		free(o);
	if (http_active(b->http) > b->peak_active)
		b->peak_active = http_active(b->http);
	return rc;
}

#define BURST 300

static void test_burst_waits_outside_curl(void)
{
	struct MHD_Daemon *d =
	    MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
			     respond, NULL, MHD_OPTION_SOCK_ADDR, NULL, MHD_OPTION_CONNECTION_LIMIT,
			     128u, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
	CHECK(d != NULL);
	if (!d)
		return;
	/* MHD binds every address unless told: loopback is what the client uses */
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", info->port);
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct burst b = {.http = http_client_new(loop)};
	int submitted = 0;
	for (int i = 0; i < BURST; i++)
		submitted += submit(&b, url, "POST", i) == DS_OK;
	submitted += submit(&b, url, "GET", 0) == DS_OK;
	CHECK_INT(submitted, BURST + 1);
	CHECK_INT(http_in_flight(b.http), BURST + 1);
	CHECK(http_active(b.http) <= HTTP_ACTIVE);
	for (int spins = 0; b.done < submitted && spins < 100000; spins++)
		ev_run(loop, EVRUN_ONCE);
	CHECK_INT(b.done, BURST + 1);
	CHECK_INT(b.ok, BURST + 1);
	CHECK_INT(b.right_body, BURST + 1);
	CHECK_INT(__atomic_load_n(&gets_seen, __ATOMIC_SEQ_CST), 1);
	CHECK_MSG(b.peak_active <= HTTP_ACTIVE && b.peak_active > 1,
		  "peak transfers in curl %zu, want 2..%d", b.peak_active, HTTP_ACTIVE);
	CHECK_INT(http_in_flight(b.http), 0);
	CHECK_INT(http_active(b.http), 0);

	/* a refused port: every request, waiting or in curl, fails once, as never sent */
	MHD_stop_daemon(d);
	struct burst r = {.http = b.http};
	for (int i = 0; i < 2 * HTTP_ACTIVE; i++)
		CHECK_INT(submit(&r, url, "POST", i), DS_OK);
	for (int spins = 0; r.done < 2 * HTTP_ACTIVE && spins < 100000; spins++)
		ev_run(loop, EVRUN_ONCE);
	CHECK_INT(r.done, 2 * HTTP_ACTIVE);
	CHECK_INT(r.refused, 2 * HTTP_ACTIVE);
	CHECK_INT(r.sent_flagged, 0);
	CHECK_INT(http_in_flight(b.http), 0);
	http_client_free(b.http);
	ev_loop_destroy(loop);
}

void test_http(void)
{
	test_burst_waits_outside_curl();
}
