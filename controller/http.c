/* curl multi driven by libev, after curl's docs/examples/evhiperfifo.c: one ev_io per socket
 * curl asks about, one ev_timer for curl's timeout (converted with / 1000.0, not integer
 * division, which would spin on sub-second timeouts).
 * At most HTTP_ACTIVE transfers are in curl at once; the rest wait in a FIFO here as a copy of
 * their request (a few hundred bytes). Handed to curl all at once, each waiting transfer held
 * an easy handle and curl's 16 KiB receive buffer - 6 MB for the 300 calls a 100-VPC fleet's
 * first second releases (every action's bucket is full) - and its deadline ran while it
 * waited. Easy handles are reused (curl_easy_reset keeps nothing of the previous request). */
#include "http.h"

#define HTTP_CONNECTIONS_PER_HOST 32L

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct transfer;

struct http_client {
	struct ev_loop *loop;
	CURLM *multi;
	struct ev_timer timer;
	size_t in_flight;			/* submitted and not done: waiting + active */
	size_t active;				/* in curl */
	struct transfer *wait_head, *wait_tail; /* FIFO of transfers not yet in curl */
	CURL *idle[HTTP_ACTIVE];		/* easy handles to reuse */
	size_t n_idle;
};

struct sock_watch {
	struct ev_io io;
	struct http_client *c;
	curl_socket_t fd;
};

/* A request as it waits and runs: its own copy of what http_submit was given. */
struct transfer {
	struct http_client *c;
	struct transfer *next;	 /* in the waiting FIFO */
	CURL *easy;		 /* set while in curl */
	struct http_request req; /* its own copies: method, url, body; headers in `headers` */
	char method[8];
	char *url;
	struct curl_slist *headers;
	char *body;
	http_done_fn done;
	void *ud;
	struct http_response resp;
	char errbuf[CURL_ERROR_SIZE];
};

static void check_done(struct http_client *c);

static void on_timer(struct ev_loop *loop, struct ev_timer *w, int revents)
{
	struct http_client *c = w->data;
	int running;
	(void)loop;
	(void)revents;
	curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(c);
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct http_client *c = userp;
	(void)multi;
	ev_timer_stop(c->loop, &c->timer);
	if (timeout_ms >= 0) {
		ev_timer_set(&c->timer, timeout_ms / 1000.0, 0.);
		ev_timer_start(c->loop, &c->timer);
	}
	return 0;
}

static void on_io(struct ev_loop *loop, struct ev_io *w, int revents)
{
	struct sock_watch *sw = (struct sock_watch *)w;
	/* curl may remove (and so free) this watcher inside socket_action: copy what we need */
	struct http_client *c = sw->c;
	curl_socket_t fd = sw->fd;
	int running, action = (revents & EV_READ ? CURL_CSELECT_IN : 0) |
			      (revents & EV_WRITE ? CURL_CSELECT_OUT : 0);
	(void)loop;
	curl_multi_socket_action(c->multi, fd, action, &running);
	check_done(c);
}

static int socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct http_client *c = userp;
	struct sock_watch *sw = socketp;
	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (sw) {
			ev_io_stop(c->loop, &sw->io);
			free(sw);
			curl_multi_assign(c->multi, s, NULL);
		}
		return 0;
	}
	int events = (what & CURL_POLL_IN ? EV_READ : 0) | (what & CURL_POLL_OUT ? EV_WRITE : 0);
	if (!sw) {
		sw = calloc(1, sizeof(*sw));
		if (!sw)
			return -1;
		sw->c = c;
		sw->fd = s;
		curl_multi_assign(c->multi, s, sw);
	} else {
		ev_io_stop(c->loop, &sw->io);
	}
	ev_io_init(&sw->io, on_io, s, events);
	ev_io_start(c->loop, &sw->io);
	return 0;
}

struct http_client *http_client_new(struct ev_loop *loop)
{
	static int global_done;
	if (!global_done) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT))
			return NULL;
		global_done = 1;
	}
	struct http_client *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->loop = loop;
	c->multi = curl_multi_init();
	if (!c->multi) {
		free(c);
		return NULL;
	}
	ev_timer_init(&c->timer, on_timer, 0., 0.);
	c->timer.data = c;
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	/* Keep a few connections per host so parallel calls reuse them, and open no more: a
	 * fleet's first second releases hundreds of calls at once (every action's bucket is
	 * full), and a connection each would cost a socket apiece - the rest wait in the FIFO
	 * above for a free slot, a few milliseconds each. */
	curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, HTTP_CONNECTIONS_PER_HOST);
	curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, HTTP_CONNECTIONS_PER_HOST);
	return c;
}

/* Gives the easy handle back to the pool (or frees it) and the transfer's memory. */
static void transfer_free(struct transfer *t)
{
	if (!t)
		return;
	struct http_client *c = t->c;
	if (t->easy) {
		curl_multi_remove_handle(c->multi, t->easy);
		if (c->n_idle < HTTP_ACTIVE) {
			curl_easy_reset(t->easy);
			c->idle[c->n_idle++] = t->easy;
		} else {
			curl_easy_cleanup(t->easy);
		}
	}
	curl_slist_free_all(t->headers);
	free(t->url);
	free(t->body);
	http_response_cleanup(&t->resp);
	free(t);
}

void http_client_free(struct http_client *c)
{
	if (!c)
		return;
	/* Callers drain their transfers first (http_in_flight() == 0); any left are leaked by
	 * design rather than completed behind their owners' backs. */
	ev_timer_stop(c->loop, &c->timer);
	while (c->n_idle)
		curl_easy_cleanup(c->idle[--c->n_idle]);
	curl_multi_cleanup(c->multi);
	free(c);
}

struct ev_loop *http_client_loop(struct http_client *c)
{
	return c->loop;
}

size_t http_in_flight(const struct http_client *c)
{
	return c->in_flight;
}

size_t http_active(const struct http_client *c)
{
	return c->active;
}

void http_response_cleanup(struct http_response *resp)
{
	buf_cleanup(&resp->body);
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
	struct http_response *resp = ud;
	size_t n = size * nmemb;
	if (buf_append(&resp->body, p, n))
		return 0; /* over the limit: curl aborts with CURLE_WRITE_ERROR */
	return n;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
	struct http_response *resp = ud;
	size_t n = size * nmemb;
	if (n > 5 && strncasecmp(p, "date:", 5) == 0) {
		char v[64];
		size_t len = n - 5 < sizeof(v) - 1 ? n - 5 : sizeof(v) - 1;
		memcpy(v, p + 5, len);
		v[len] = '\0';
		resp->server_date = (long long)curl_getdate(v, NULL);
		if (resp->server_date < 0)
			resp->server_date = 0;
	}
	static const char *const names[] = {"x-amzn-requestid:", "x-amz-request-id:"};
	for (size_t i = 0; i < 2; i++) {
		size_t k = strlen(names[i]);
		if (n > k && strncasecmp(p, names[i], k) == 0) {
			const char *v = p + k;
			size_t len = n - k;
			while (len && (*v == ' ' || *v == '\t')) {
				v++;
				len--;
			}
			while (len &&
			       (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
				len--;
			if (len >= sizeof(resp->request_id))
				len = sizeof(resp->request_id) - 1;
			memcpy(resp->request_id, v, len);
			resp->request_id[len] = '\0';
		}
	}
	return n;
}

/* req's headers as curl's list, with "Expect:" (no 100-continue round trip for small bodies). */
static int build_headers(const struct http_request *req, struct curl_slist **headers)
{
	for (size_t i = 0; i < req->n_headers; i++) {
		struct curl_slist *h = curl_slist_append(*headers, req->headers[i]);
		if (!h)
			return DS_ENOMEM;
		*headers = h;
	}
	struct curl_slist *h = curl_slist_append(*headers, "Expect:");
	if (!h)
		return DS_ENOMEM;
	*headers = h;
	return DS_OK;
}

/* Sets up easy for req (its headers already built into `headers`). */
static void setup_easy(CURL *easy, const struct http_request *req, struct curl_slist *headers,
		       struct http_response *resp, char *errbuf)
{
	buf_init(&resp->body, req->max_body ? req->max_body : (size_t)16 << 20);
	curl_easy_setopt(easy, CURLOPT_URL, req->url);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(easy, CURLOPT_HEADERDATA, resp);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, req->timeout_ms > 0 ? req->timeout_ms : 30000L);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
			 req->connect_timeout_ms > 0 ? req->connect_timeout_ms : 5000L);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
	if (getenv("DS_HTTP_VERBOSE"))
		curl_easy_setopt(easy, CURLOPT_VERBOSE, 1L);
	if (req->no_proxy)
		curl_easy_setopt(easy, CURLOPT_NOPROXY, "*");
	if (req->fresh_connection) {
		curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, 1L);
		curl_easy_setopt(easy, CURLOPT_FORBID_REUSE, 1L);
	}
	if (strcmp(req->method, "POST") == 0) {
		curl_easy_setopt(easy, CURLOPT_POST, 1L);
		curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, (long)req->body_len);
	} else if (strcmp(req->method, "GET") != 0) {
		curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, req->method);
		if (req->body_len)
			curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, (long)req->body_len);
	}
	/* (setting POSTFIELDS at all makes a request a POST: a GET never gets it) */
	if (req->body_len || strcmp(req->method, "POST") == 0)
		curl_easy_setopt(easy, CURLOPT_POSTFIELDS, req->body_len ? req->body : "");
}

static void finish_response(CURL *easy, CURLcode code, struct http_response *resp,
			    const char *errbuf)
{
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &resp->status);
	curl_easy_getinfo(easy, CURLINFO_TOTAL_TIME, &resp->elapsed_s);
	if (code != CURLE_OK) {
		/* Only a failure to connect proves the server never saw the request. */
		resp->maybe_sent = code != CURLE_COULDNT_CONNECT &&
				   code != CURLE_COULDNT_RESOLVE_HOST &&
				   code != CURLE_COULDNT_RESOLVE_PROXY;
		resp->transport_error = code == CURLE_OPERATION_TIMEDOUT ? DS_ETIMEOUT
					: code == CURLE_WRITE_ERROR	 ? DS_ETOOBIG
									 : DS_ENET;
		snprintf(resp->transport_msg, sizeof(resp->transport_msg), "%.100s: %.140s",
			 curl_easy_strerror(code), errbuf[0] ? errbuf : "-");
	}
}

/* Hands t to curl: false when curl cannot take it (t is then finished with DS_ENOMEM by the
 * caller). */
static bool start_transfer(struct transfer *t)
{
	struct http_client *c = t->c;
	t->easy = c->n_idle ? c->idle[--c->n_idle] : curl_easy_init();
	if (!t->easy)
		return false;
	setup_easy(t->easy, &t->req, t->headers, &t->resp, t->errbuf);
	curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
	if (curl_multi_add_handle(c->multi, t->easy) != CURLM_OK) {
		curl_easy_cleanup(t->easy);
		t->easy = NULL;
		return false;
	}
	c->active++;
	return true;
}

/* A transfer that never reached curl ends with a transport error. */
static void fail_unstarted(struct transfer *t)
{
	t->resp.transport_error = DS_ENOMEM;
	t->resp.maybe_sent = 0;
	snprintf(t->resp.transport_msg, sizeof(t->resp.transport_msg), "%s",
		 "out of memory starting the transfer");
	t->c->in_flight--;
	t->done(t->ud, &t->resp);
	transfer_free(t);
}

/* Moves waiting transfers into curl while it has room. */
static void start_waiting(struct http_client *c)
{
	while (c->active < HTTP_ACTIVE && c->wait_head) {
		struct transfer *t = c->wait_head;
		c->wait_head = t->next;
		if (!c->wait_head)
			c->wait_tail = NULL;
		t->next = NULL;
		if (!start_transfer(t))
			fail_unstarted(t);
	}
}

int http_submit(struct http_client *c, const struct http_request *req, http_done_fn done, void *ud)
{
	struct transfer *t = calloc(1, sizeof(*t));
	if (!t)
		return DS_ENOMEM;
	t->c = c;
	t->done = done;
	t->ud = ud;
	t->req = *req;
	snprintf(t->method, sizeof(t->method), "%s", req->method);
	t->req.method = t->method;
	t->req.headers = NULL;
	t->req.n_headers = 0;
	t->url = strdup(req->url);
	int rc = t->url ? DS_OK : DS_ENOMEM;
	t->req.url = t->url;
	if (!rc && req->body_len) {
		t->body = malloc(req->body_len);
		if (!t->body)
			rc = DS_ENOMEM;
		else
			memcpy(t->body, req->body, req->body_len);
	}
	t->req.body = t->body;
	if (!rc)
		rc = build_headers(req, &t->headers);
	if (!rc && c->active < HTTP_ACTIVE && !c->wait_head && !start_transfer(t))
		rc = DS_ENOMEM;
	if (rc) {
		transfer_free(t);
		return rc;
	}
	if (!t->easy) { /* curl is full: wait in line */
		if (c->wait_tail)
			c->wait_tail->next = t;
		else
			c->wait_head = t;
		c->wait_tail = t;
	}
	c->in_flight++;
	return DS_OK;
}

static void check_done(struct http_client *c)
{
	CURLMsg *m;
	int left;
	while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		struct transfer *t = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&t);
		finish_response(t->easy, m->data.result, &t->resp, t->errbuf);
		c->in_flight--;
		c->active--;
		/* The callback may submit new requests; the handle is removed after it returns. */
		t->done(t->ud, &t->resp);
		transfer_free(t);
	}
	start_waiting(c);
}

int http_fetch_blocking(const struct http_request *req, struct http_response *resp)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *headers = NULL;
	memset(resp, 0, sizeof(*resp));
	CURL *easy = curl_easy_init();
	if (!easy)
		return DS_ENOMEM;
	int rc = build_headers(req, &headers);
	if (!rc) {
		setup_easy(easy, req, headers, resp, errbuf);
		finish_response(easy, curl_easy_perform(easy), resp, errbuf);
		rc = resp->transport_error;
	}
	curl_slist_free_all(headers);
	curl_easy_cleanup(easy);
	return rc;
}
