#include "ec2_port.h"

#include <stdlib.h>
#include <string.h>

#include "ec2_describe.h"
#include "ec2_xml.h"

_Static_assert((int)OBS_VPCS == (int)DESCRIBE_VPCS &&
		   (int)OBS_NETWORK_INTERFACES == (int)DESCRIBE_NETWORK_INTERFACES &&
		   (int)OBS_INSTANCE_TYPES == (int)DESCRIBE_INSTANCE_TYPES &&
		   (int)OBS_KIND_COUNT == (int)DESCRIBE_KIND_COUNT,
	       "obs_kind and describe_kind list the kinds in the same order");
_Static_assert(EC2_PORT_IDEMPOTENT == EC2_F_IDEMPOTENT && EC2_PORT_URGENT == EC2_F_URGENT,
	       "one flag, one value");

struct read_ud {
	ec2_read_fn done;
	void *ud;
};

static void on_describe(void *ud, int rc, const struct ec2_error *err, int calls)
{
	struct read_ud *r = ud;
	(void)calls;
	r->done(r->ud, rc, err);
	free(r);
}

static int port_read(void *ctx, const struct ec2_read *rq, struct observed *obs, ec2_read_fn done,
		     void *ud)
{
	struct ec2_port_impl *p = ctx;
	struct read_ud *r = malloc(sizeof(*r));
	if (!r)
		return DS_ENOMEM;
	r->done = done;
	r->ud = ud;
	struct describe_request req = {
	    .kind = (enum describe_kind)rq->kind,
	    .vpc_ids = rq->vpc_ids,
	    .n_vpc_ids = rq->n_vpc_ids,
	    .names = rq->names,
	    .n_names = rq->n_names,
	    .filter_name = rq->filter_name,
	    .filter_value = rq->filter_value,
	    .filter_values = rq->filter_values,
	    .n_filter_values = rq->n_filter_values,
	};
	/* instance types, images, offerings and attributes are not per VPC */
	if (rq->kind >= OBS_INSTANCE_TYPES)
		req.n_vpc_ids = 0;
	int rc = ec2_describe(p->client, &p->target, &req, obs, on_describe, r);
	if (rc)
		free(r);
	return rc;
}

struct call_ud {
	ec2_call_fn done;
	void *ud;
};

static void on_call(void *ud, const struct ec2_result *res)
{
	struct call_ud *c = ud;
	struct ec2_answer ans = {
	    .rc = res->rc,
	    .err = res->err,
	    .ambiguous = res->ambiguous,
	    .body = res->body,
	    .body_len = res->body_len,
	    .request_id = res->request_id[0] ? res->request_id : res->err.request_id,
	};
	c->done(c->ud, &ans);
	free(c);
}

/* One path for both protocols: the client paces, signs and retries either. */
static int submit(void *ctx, bool ssm, const char *op, const char *body, size_t len, unsigned flags,
		  ec2_call_fn done, void *ud)
{
	struct ec2_port_impl *p = ctx;
	struct call_ud *c = malloc(sizeof(*c));
	if (!c)
		return DS_ENOMEM;
	c->done = done;
	c->ud = ud;
	flags &= EC2_F_IDEMPOTENT | EC2_F_URGENT;
	int rc = ssm ? ec2_call_ssm(p->client, &p->target, op, flags, body, len, on_call, c)
		     : ec2_call(p->client, &p->target, op, flags, body, len, on_call, c);
	if (rc)
		free(c);
	return rc;
}

static int port_call(void *ctx, const char *action, const char *params, size_t len, unsigned flags,
		     ec2_call_fn done, void *ud)
{
	return submit(ctx, false, action, params, len, flags, done, ud);
}

static int port_ssm_call(void *ctx, const char *operation, const char *json, size_t len,
			 unsigned flags, ec2_call_fn done, void *ud)
{
	return submit(ctx, true, operation, json, len, flags, done, ud);
}

struct timer {
	struct ev_timer w;
	ec2_timer_fn fn;
	void *ud;
};

static void on_timer(struct ev_loop *loop, struct ev_timer *w, int revents)
{
	struct timer *t = (struct timer *)w;
	(void)loop;
	(void)revents;
	ec2_timer_fn fn = t->fn;
	void *ud = t->ud;
	free(t);
	fn(ud);
}

static int port_after(void *ctx, double delay_s, ec2_timer_fn fn, void *ud)
{
	struct ec2_port_impl *p = ctx;
	struct timer *t = malloc(sizeof(*t));
	if (!t)
		return DS_ENOMEM;
	t->fn = fn;
	t->ud = ud;
	ev_timer_init(&t->w, on_timer, delay_s, 0.);
	ev_timer_start(p->loop, &t->w);
	return DS_OK;
}

static double port_now(void *ctx)
{
	struct ec2_port_impl *p = ctx;
	return ev_now(p->loop);
}

static const struct xml_field eigw_answer_fields[] = {
    F_INLINE("egressOnlyInternetGateway", ec2_xml_gateway_eigw),
};
static const struct xml_schema eigw_answer = {sizeof(struct gateway), eigw_answer_fields, 1};

static int port_decode_eigw(const char *xml, size_t len, char *id, size_t size)
{
	struct gateway g;
	memset(&g, 0, sizeof(g));
	int rc = ec2_xml_decode(&eigw_answer, &g, xml, len, NULL, NULL, 0);
	if (!rc && strlen(g.gateway_id) < size)
		memcpy(id, g.gateway_id, strlen(g.gateway_id) + 1);
	else if (!rc)
		rc = DS_ETOOBIG;
	vec_free(&g.attachments);
	vec_free(&g.tags);
	return rc;
}

void ec2_port_init(struct ec2_port_impl *impl, struct ec2_client *client,
		   const struct ec2_target *target, struct ev_loop *loop)
{
	memset(impl, 0, sizeof(*impl));
	impl->client = client;
	impl->target = *target;
	impl->loop = loop;
	impl->port.ctx = impl;
	impl->port.read = port_read;
	impl->port.call = port_call;
	impl->port.ssm_call = port_ssm_call;
	impl->port.after = port_after;
	impl->port.now = port_now;
	impl->port.decode_eigw = port_decode_eigw;
}
