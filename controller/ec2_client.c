/* One call's life: reserve a token from its bucket (a timer waits out any debt), sign, send;
 * on a throttled or transient answer tell the bucket, take retry quota, back off with jitter and
 * go round again; otherwise hand the answer to the caller. */
#include "ec2_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws_query.h"
#include "ec2_xml.h"

#define MAX_BUCKETS 4096

struct bucket_slot {
	char account_id[16];
	char region[32];
	enum ec2_category cat;
	struct rate_bucket bucket;
};

struct ec2_client {
	struct http_client *http;
	struct ev_loop *loop;
	struct creds_cache *creds;
	struct sigv4_signer *signer;
	struct ec2_client_options opt;
	struct retry_policy retry;
	struct bucket_slot *slots;
	size_t n_slots, cap_slots;
	struct ec2_client_stats stats;
	size_t pending;
	void (*observer)(void *ud, const char *action, const char *outcome);
	void *observer_ud;
	void (*creds_error)(void *ud, const char *err);
	void *creds_error_ud;
	double skew_s; /* server time - ours, learnt from a RequestTimeTooSkewed answer's Date */
};

struct ec2_call_state {
	struct ec2_client *c;
	struct ec2_target target;
	char action[64];
	char amz_target[96]; /* "" for the EC2 Query protocol; else an SSM JSON call */
	enum ec2_category cat;
	unsigned flags;
	struct buf body;
	int attempt;
	int retry_cost;
	bool backing_off;     /* the timer is a backoff: a token is still to be reserved */
	bool creds_refreshed; /* ExpiredToken/RequestExpired: refreshed once and sent again */
	bool skew_fixed;      /* RequestTimeTooSkewed: the clock corrected once */
	double started;
	struct ev_timer timer; /* token wait or backoff */
	ec2_done_fn done;
	void *ud;
};

static double default_rand01(void)
{
	return arc4random() / 4294967296.0;
}

struct ec2_client *ec2_client_new(struct http_client *http, struct creds_cache *creds,
				  const struct ec2_client_options *opt)
{
	struct ec2_client *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->http = http;
	c->loop = http_client_loop(http);
	c->creds = creds;
	c->signer = sigv4_signer_new();
	if (opt)
		c->opt = *opt;
	if (c->opt.budget <= 0 || c->opt.budget > 1)
		c->opt.budget = 0.5;
	if (c->opt.bucket_scale <= 0)
		c->opt.bucket_scale = 1;
	if (c->opt.timeout_ms <= 0)
		c->opt.timeout_ms = 20000;
	if (!c->opt.rand01)
		c->opt.rand01 = default_rand01;
	retry_policy_init(&c->retry, c->opt.max_attempts);
	if (!c->signer) {
		free(c);
		return NULL;
	}
	return c;
}

void ec2_client_free(struct ec2_client *c)
{
	if (!c)
		return;
	sigv4_signer_free(c->signer);
	free(c->slots);
	free(c);
}

const struct ec2_client_stats *ec2_client_stats(const struct ec2_client *c)
{
	return &c->stats;
}

size_t ec2_client_pending(const struct ec2_client *c)
{
	return c->pending;
}

struct rate_bucket *ec2_client_bucket(struct ec2_client *c, const struct ec2_target *t,
				      enum ec2_category cat)
{
	for (size_t i = 0; i < c->n_slots; i++) {
		struct bucket_slot *s = &c->slots[i];
		if (s->cat == cat && strcmp(s->account_id, t->account_id) == 0 &&
		    strcmp(s->region, t->region) == 0)
			return &s->bucket;
	}
	if (c->n_slots == MAX_BUCKETS)
		return NULL;
	if (c->n_slots == c->cap_slots) {
		size_t cap = c->cap_slots ? c->cap_slots * 2 : 16;
		struct bucket_slot *p = realloc(c->slots, cap * sizeof(*p));
		if (!p)
			return NULL;
		c->slots = p;
		c->cap_slots = cap;
	}
	struct bucket_slot *s = &c->slots[c->n_slots++];
	memset(s, 0, sizeof(*s));
	memcpy(s->account_id, t->account_id, sizeof(s->account_id));
	memcpy(s->region, t->region, sizeof(s->region));
	s->cat = cat;
	struct ec2_bucket_spec spec = ec2_bucket_spec_of(cat);
	spec.size *= c->opt.bucket_scale;
	spec.refill_per_s *= c->opt.bucket_scale;
	rate_bucket_init(&s->bucket, spec, c->opt.budget, ev_now(c->loop));
	return &s->bucket;
}

static void call_free(struct ec2_call_state *st)
{
	buf_cleanup(&st->body);
	free(st);
}

static void finish(struct ec2_call_state *st, struct ec2_result *res)
{
	struct ec2_client *c = st->c;
	res->attempts = st->attempt;
	res->elapsed_s = ev_now(c->loop) - st->started;
	if (res->rc == DS_OK) {
		c->stats.ok++;
		retry_release(&c->retry, st->retry_cost);
	} else {
		c->stats.final_errors++;
	}
	c->pending--;
	if (c->observer)
		c->observer(c->observer_ud, st->action,
			    res->rc == DS_OK ? "ok" : ec2_class_name(res->err.cls));
	st->done(st->ud, res);
	call_free(st);
}

void ec2_client_set_budget(struct ec2_client *c, double budget)
{
	if (budget <= 0 || budget > 1)
		return;
	c->opt.budget = budget;
	for (size_t i = 0; i < c->n_slots; i++) {
		struct ec2_bucket_spec spec = ec2_bucket_spec_of(c->slots[i].cat);
		spec.size *= c->opt.bucket_scale;
		spec.refill_per_s *= c->opt.bucket_scale;
		rate_bucket_set_budget(&c->slots[i].bucket, spec, budget, ev_now(c->loop));
	}
}

void ec2_client_on_credentials_error(struct ec2_client *c, void (*fn)(void *ud, const char *err),
				     void *ud)
{
	c->creds_error = fn;
	c->creds_error_ud = ud;
}

void ec2_client_observe(struct ec2_client *c,
			void (*fn)(void *ud, const char *action, const char *outcome), void *ud)
{
	c->observer = fn;
	c->observer_ud = ud;
}

void ec2_client_each_bucket(struct ec2_client *c,
			    void (*fn)(void *ud, const char *account, const char *region,
				       const char *category, double level, double rate_per_s),
			    void *ud)
{
	double now = ev_now(c->loop);
	for (size_t i = 0; i < c->n_slots; i++) {
		struct bucket_slot *s = &c->slots[i];
		fn(ud, s->account_id, s->region, ec2_category_name(s->cat),
		   rate_bucket_level(&s->bucket, now), rate_bucket_rate(&s->bucket));
	}
}

static void fail_local(struct ec2_call_state *st, const char *code, const char *msg)
{
	struct ec2_result res;
	memset(&res, 0, sizeof(res));
	res.rc = DS_EAWS;
	snprintf(res.err.code, sizeof(res.err.code), "%s", code);
	snprintf(res.err.message, sizeof(res.err.message), "%s", msg);
	/* no credentials now is a passing state (a refresh failed, STS is down): the call was
	 * not sent, and the caller retries later - it never rolls a resize back */
	bool creds = !strcmp(code, "CredentialsError");
	res.err.cls = creds ? EC2_TRANSIENT : EC2_FATAL;
	if (creds && st->c->creds_error)
		st->c->creds_error(st->c->creds_error_ud, msg);
	finish(st, &res);
}

static void send_attempt(struct ec2_call_state *st);
static void acquire_and_send(struct ec2_call_state *st);

static void on_timer(struct ev_loop *loop, struct ev_timer *w, int revents)
{
	struct ec2_call_state *st = w->data;
	(void)loop;
	(void)revents;
	if (st->backing_off) {
		st->backing_off = false;
		acquire_and_send(st); /* a retry queues for a token like any call */
	} else {
		send_attempt(st);
	}
}

/* Reserves a token, then sends when it is due. */
static void acquire_and_send(struct ec2_call_state *st)
{
	struct rate_bucket *b = ec2_client_bucket(st->c, &st->target, st->cat);
	if (!b) {
		fail_local(st, "ClientLimit", "too many (account, region, category) buckets");
		return;
	}
	double wait = rate_bucket_take(b, ev_now(st->c->loop));
	if (wait <= 0) {
		send_attempt(st);
		return;
	}
	ev_timer_init(&st->timer, on_timer, wait, 0.);
	st->timer.data = st;
	ev_timer_start(st->c->loop, &st->timer);
}

static void on_http_done(void *ud, struct http_response *resp)
{
	struct ec2_call_state *st = ud;
	struct ec2_client *c = st->c;
	struct ec2_result res;
	memset(&res, 0, sizeof(res));
	memcpy(res.request_id, resp->request_id, sizeof(res.request_id));

	if (resp->transport_error) {
		res.rc = DS_EAWS;
		res.err.http_status = 0;
		snprintf(res.err.code, sizeof(res.err.code), "%s",
			 resp->transport_error == DS_ETIMEOUT ? "RequestTimeout"
							      : "ConnectionError");
		snprintf(res.err.message, sizeof(res.err.message), "%s", resp->transport_msg);
		res.err.cls = EC2_TRANSIENT;
	} else if (resp->status == 200) {
		res.rc = DS_OK;
		res.body = resp->body.data ? resp->body.data : "";
		res.body_len = resp->body.len;
	} else {
		res.rc = DS_EAWS;
		ec2_xml_decode_error((int)resp->status, resp->body.data, resp->body.len, &res.err);
		if (!res.request_id[0])
			memcpy(res.request_id, res.err.request_id, sizeof(res.request_id));
	}

	/* Our side of an auth failure, fixed once per call: expired credentials are refreshed,
	 * a clock that drifted is corrected from the server's Date; then the call goes again
	 * (it was refused, so it did not happen). */
	if (res.rc && !resp->transport_error &&
	    (!strcmp(res.err.code, "ExpiredToken") ||
	     !strcmp(res.err.code, "ExpiredTokenException") ||
	     !strcmp(res.err.code, "RequestExpired")) &&
	    !st->creds_refreshed) {
		st->creds_refreshed = true;
		creds_cache_invalidate(c->creds, st->target.role_arn);
		if (resp->server_date)
			c->skew_s = (double)resp->server_date - (double)time(NULL);
		send_attempt(st);
		return;
	}
	if (res.rc && !resp->transport_error && !strcmp(res.err.code, "RequestTimeTooSkewed") &&
	    resp->server_date && !st->skew_fixed) {
		st->skew_fixed = true;
		c->skew_s = (double)resp->server_date - (double)time(NULL);
		send_attempt(st);
		return;
	}
	bool throttled = res.rc && res.err.cls == EC2_THROTTLED;
	struct rate_bucket *b = ec2_client_bucket(c, &st->target, st->cat);
	if (b)
		rate_bucket_on_response(b, throttled, ev_now(c->loop));
	if (throttled)
		c->stats.throttled_answers++;
	if (res.rc && res.err.cls == EC2_TRANSIENT)
		c->stats.transient_answers++;

	/* A throttled answer or a refused connection means the call did not happen; a 5xx, a
	 * reset or a timeout may hide one that did. */
	bool not_done = throttled || (resp->transport_error && !resp->maybe_sent);
	res.ambiguous = res.rc && !not_done && res.err.cls == EC2_TRANSIENT;
	bool may_resend = not_done || (res.ambiguous && (st->flags & EC2_F_IDEMPOTENT));
	if (res.rc && may_resend) {
		bool timeout = resp->transport_error == DS_ETIMEOUT;
		int cost = retry_acquire(&c->retry, st->attempt, timeout);
		if (cost) {
			st->retry_cost += cost;
			c->stats.retries++;
			double delay = retry_backoff_s(&c->retry, st->attempt, c->opt.rand01());
			ev_timer_init(&st->timer, on_timer, delay, 0.);
			st->timer.data = st;
			st->backing_off = true;
			ev_timer_start(c->loop, &st->timer);
			return;
		}
	}
	finish(st, &res);
}

static void sign_and_send(void *ud, int rc, const struct aws_creds *creds, const char *err);

/* Wall-clock time for SigV4, corrected by what the server said when it found ours skewed. */
static time_t signing_time(const struct ec2_client *c)
{
	return (time_t)((double)time(NULL) + c->skew_s);
}

/* Credentials first: a member account's session is refreshed on the loop when due. */
static void send_attempt(struct ec2_call_state *st)
{
	int rc = creds_cache_role_async(st->c->creds, st->c->http, st->target.role_arn,
					sign_and_send, st);
	if (rc)
		fail_local(st, "CredentialsError", ds_strerror(rc));
}

static void sign_and_send(void *ud, int rc, const struct aws_creds *creds, const char *err)
{
	struct ec2_call_state *st = ud;
	struct ec2_client *c = st->c;
	if (rc) {
		fail_local(st, "CredentialsError", err && *err ? err : ds_strerror(rc));
		return;
	}
	struct aws_signed signed_req;
	aws_signed_init(&signed_req);
	bool ssm = st->amz_target[0] != '\0';
	const char *url = ssm ? st->target.ssm_endpoint : st->target.endpoint;
	if (ssm)
		rc = aws_json_sign(c->signer, creds, "ssm", st->target.region, url, st->amz_target,
				   st->body.data, st->body.len, signing_time(c), &signed_req);
	else
		rc = aws_query_sign(c->signer, creds, "ec2", st->target.region, url, st->body.data,
				    st->body.len, signing_time(c), &signed_req);
	if (!rc) {
		struct http_request req = {
		    .method = "POST",
		    .url = url,
		    .headers = signed_req.headers,
		    .n_headers = signed_req.n_headers,
		    .body = st->body.data,
		    .body_len = st->body.len,
		    .timeout_ms = c->opt.timeout_ms,
		    .max_body = (size_t)64 << 20,
		    .fresh_connection = !(st->flags & EC2_F_IDEMPOTENT),
		};
		st->attempt++;
		c->stats.attempts++;
		rc = http_submit(c->http, &req, on_http_done, st);
	}
	aws_signed_cleanup(&signed_req);
	if (rc)
		fail_local(st, "ClientError", ds_strerror(rc));
}

int ec2_call(struct ec2_client *c, const struct ec2_target *t, const char *action, unsigned flags,
	     const char *params, size_t params_len, ec2_done_fn done, void *ud)
{
	struct ec2_call_state *st = calloc(1, sizeof(*st));
	if (!st)
		return DS_ENOMEM;
	st->c = c;
	st->target = *t;
	snprintf(st->action, sizeof(st->action), "%s", action);
	st->cat = ec2_category_of(action, flags & EC2_F_FILTERED);
	st->flags = flags;
	st->done = done;
	st->ud = ud;
	st->started = ev_now(c->loop);
	buf_init(&st->body, (size_t)1 << 20);
	int rc = aws_form_add(&st->body, "Action", action);
	if (!rc)
		rc = aws_form_add(&st->body, "Version", "2016-11-15");
	if (!rc && params_len)
		rc = buf_putc(&st->body, '&');
	/* application/x-www-form-urlencoded writes a space as '+', as botocore sends it; EC2
	 * takes either, but emulators that re-encode the form to check the signature do not */
	for (size_t i = 0; !rc && i < params_len; i++) {
		if (params[i] == '%' && i + 2 < params_len && params[i + 1] == '2' &&
		    params[i + 2] == '0') {
			rc = buf_putc(&st->body, '+');
			i += 2;
		} else {
			rc = buf_putc(&st->body, params[i]);
		}
	}
	if (rc) {
		call_free(st);
		return rc;
	}
	c->stats.calls++;
	c->pending++;
	acquire_and_send(st);
	return DS_OK;
}

int ec2_call_ssm(struct ec2_client *c, const struct ec2_target *t, const char *operation,
		 unsigned flags, const char *json, size_t len, ec2_done_fn done, void *ud)
{
	struct ec2_call_state *st = calloc(1, sizeof(*st));
	if (!st)
		return DS_ENOMEM;
	st->c = c;
	st->target = *t;
	snprintf(st->action, sizeof(st->action), "%s", operation);
	snprintf(st->amz_target, sizeof(st->amz_target), "AmazonSSM.%s", operation);
	st->cat = EC2_CAT_SSM;
	st->flags = flags;
	st->done = done;
	st->ud = ud;
	st->started = ev_now(c->loop);
	buf_init(&st->body, (size_t)1 << 20);
	if (buf_append(&st->body, json, len)) {
		call_free(st);
		return DS_ETOOBIG;
	}
	c->stats.calls++;
	c->pending++;
	acquire_and_send(st);
	return DS_OK;
}

void ec2_target_set_region(struct ec2_target *t, const char *region)
{
	snprintf(t->region, sizeof(t->region), "%s", region);
	creds_endpoint(&creds_env_default, "ec2", t->region, t->endpoint, sizeof(t->endpoint));
	creds_endpoint(&creds_env_default, "ssm", t->region, t->ssm_endpoint,
		       sizeof(t->ssm_endpoint));
}

int ec2_target_from_env(const struct creds_env *env, struct ec2_target *t, char *err,
			size_t err_len)
{
	char region[64];
	memset(t, 0, sizeof(*t));
	if (!creds_region(env, region, sizeof(region))) {
		snprintf(err, err_len, "no region: set AWS_REGION");
		return DS_EINVAL;
	}
	if (strlen(region) >= sizeof(t->region)) {
		snprintf(err, err_len, "region too long: %s", region);
		return DS_EINVAL;
	}
	memcpy(t->region, region, strlen(region) + 1);
	creds_endpoint(env, "ec2", t->region, t->endpoint, sizeof(t->endpoint));
	creds_endpoint(env, "ssm", t->region, t->ssm_endpoint, sizeof(t->ssm_endpoint));
	return DS_OK;
}
