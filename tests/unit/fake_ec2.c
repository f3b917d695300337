/* The fake answers every call 10 ms (fake time) after it is made; instance state changes take
 * transition_s. Faults are matched by action, in the order they were added. */
#include "fake_ec2.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../reconcile/err.h"
#include "../../reconcile/executor.h"
#include "../../reconcile/poller.h"

#define ANSWER_S 0.01

static void settle(struct fake_ec2 *f)
{
	for (int i = 0; i < f->n_inst; i++) {
		struct fake_instance *in = &f->inst[i];
		if (in->target_state[0] && f->now >= in->settles_at) {
			_Static_assert(sizeof(in->state) == sizeof(in->target_state), "same size");
			memcpy(in->state, in->target_state, sizeof(in->state));
			in->target_state[0] = '\0';
		}
	}
}

static int add_timer(struct fake_ec2 *f, double delay_s, ec2_timer_fn fn, void *ud)
{
	for (int i = 0; i < FAKE_MAX_TIMERS; i++)
		if (!f->timers[i].live) {
			f->timers[i] =
			    (struct fake_timer){f->now + (delay_s > 0 ? delay_s : 0), fn, ud, true};
			return DS_OK;
		}
	return DS_ENOMEM;
}

static int port_after(void *ctx, double delay_s, ec2_timer_fn fn, void *ud)
{
	return add_timer(ctx, delay_s, fn, ud);
}

static double port_now(void *ctx)
{
	return ((struct fake_ec2 *)ctx)->now;
}

void fake_ec2_run(struct fake_ec2 *f, const int *done, double limit_s)
{
	while (!*done && !f->crashed && f->now <= limit_s) {
		int next = -1;
		for (int i = 0; i < FAKE_MAX_TIMERS; i++)
			if (f->timers[i].live && (next < 0 || f->timers[i].at < f->timers[next].at))
				next = i;
		if (next < 0)
			return;
		struct fake_timer t = f->timers[next];
		f->timers[next].live = false;
		if (t.at > f->now)
			f->now = t.at;
		settle(f);
		t.fn(t.ud);
	}
}

/* What a crashed process left behind: the memory its pending timers pointed to. Kept
 * reachable (valgrind counts it "still reachable", not lost) - a real exit frees it. */
void *fake_ec2_graveyard[4096]; /* global: a write-only static would be optimised away */
int fake_ec2_n_graveyard;

void fake_ec2_crash(struct fake_ec2 *f)
{
	for (int i = 0; i < FAKE_MAX_TIMERS; i++) {
		if (f->timers[i].live && fake_ec2_n_graveyard < 4096)
			fake_ec2_graveyard[fake_ec2_n_graveyard++] = f->timers[i].ud;
		f->timers[i].live = false;
	}
	f->crashed = false;
	f->crash_after = 0;
}

struct fake_instance *fake_ec2_add_instance(struct fake_ec2 *f, const char *id, const char *type,
					    const char *state)
{
	struct fake_instance *in = &f->inst[f->n_inst++];
	memset(in, 0, sizeof(*in));
	snprintf(in->id, sizeof(in->id), "%s", id);
	snprintf(in->type, sizeof(in->type), "%s", type);
	snprintf(in->state, sizeof(in->state), "%s", state);
	return in;
}

const char *fake_ec2_tag_get(const struct fake_instance *in, const char *key)
{
	for (int i = 0; i < in->n_tags; i++)
		if (!strcmp(in->tags[i].key, key))
			return in->tags[i].value;
	return NULL;
}

void fake_ec2_tag(struct fake_instance *in, const char *key, const char *value)
{
	for (int i = 0; i < in->n_tags; i++)
		if (!strcmp(in->tags[i].key, key)) {
			snprintf(in->tags[i].value, sizeof(in->tags[i].value), "%s", value);
			return;
		}
	if (in->n_tags < 12) {
		snprintf(in->tags[in->n_tags].key, DS_TAG_KEY, "%s", key);
		snprintf(in->tags[in->n_tags].value, DS_TAG_VALUE, "%s", value);
		in->n_tags++;
	}
}

static void untag(struct fake_instance *in, const char *key)
{
	for (int i = 0; i < in->n_tags; i++)
		if (!strcmp(in->tags[i].key, key)) {
			in->tags[i] = in->tags[--in->n_tags];
			return;
		}
}

void fake_ec2_fault_type(struct fake_ec2 *f, const char *action, enum fake_fault fault, int times,
			 const char *only_type)
{
	fake_ec2_fault(f, action, fault, times);
	snprintf(f->rules[f->n_rules - 1].only_type, sizeof(f->rules[0].only_type), "%s",
		 only_type);
}

void fake_ec2_fault(struct fake_ec2 *f, const char *action, enum fake_fault fault, int times)
{
	struct fake_rule *r = &f->rules[f->n_rules++];
	memset(r, 0, sizeof(*r));
	snprintf(r->action, sizeof(r->action), "%s", action);
	r->fault = fault;
	r->times = times;
}

int fake_ec2_count(const struct fake_ec2 *f, const char *action)
{
	int n = 0;
	for (int i = 0; i < f->n_calls; i++)
		n += !strcmp(f->calls[i].action, action);
	return n;
}

/* The value of key in "K=V&K=V" (our values need no decoding), or "". */
static const char *param(const char *params, const char *key, char *out, size_t size)
{
	size_t kl = strlen(key);
	out[0] = '\0';
	for (const char *p = params; p && *p;) {
		const char *amp = strchr(p, '&');
		size_t n = amp ? (size_t)(amp - p) : strlen(p);
		if (n > kl && !strncmp(p, key, kl) && p[kl] == '=') {
			/* percent-decoding, as EC2 does */
			size_t o = 0;
			for (const char *c = p + kl + 1; c < p + n && o + 1 < size; c++) {
				unsigned x;
				char hex[3] = {0};
				if (*c == '%' && c + 2 < p + n + 1 && c[1] && c[2]) {
					hex[0] = c[1];
					hex[1] = c[2];
					x = (unsigned)strtoul(hex, NULL, 16);
					out[o++] = (char)x;
					c += 2;
				} else {
					out[o++] = *c == '+' ? ' ' : *c;
				}
			}
			out[o] = '\0';
			break;
		}
		p = amp ? amp + 1 : NULL;
	}
	return out;
}

static struct fake_instance *find(struct fake_ec2 *f, const char *id)
{
	for (int i = 0; i < f->n_inst; i++)
		if (!strcmp(f->inst[i].id, id))
			return &f->inst[i];
	return NULL;
}

static void count_stopped(struct fake_ec2 *f)
{
	int n = 0;
	for (int i = 0; i < f->n_inst; i++)
		n += !strcmp(f->inst[i].state, "stopping") || !strcmp(f->inst[i].state, "stopped");
	if (n > f->max_stopped)
		f->max_stopped = n;
}

/* Applies a call; returns an error code ("" when it took effect). */
static const char *apply(struct fake_ec2 *f, const char *action, const char *params)
{
	char v[256], k[64];
	settle(f);
	if (!strcmp(action, "CreateTags") || !strcmp(action, "DeleteTags")) {
		struct fake_instance *in = find(f, param(params, "ResourceId.1", v, sizeof(v)));
		if (!in && strncmp(v, "i-", 2)) /* marks on VPCs, subnets, ACLs: taken, not kept */
			return "";
		if (!in)
			return "InvalidInstanceID.NotFound";
		for (int t = 1; t < 10; t++) {
			char key[DS_TAG_KEY], val[256];
			snprintf(k, sizeof(k), "Tag.%d.Key", t);
			if (!param(params, k, key, sizeof(key))[0])
				break;
			snprintf(k, sizeof(k), "Tag.%d.Value", t);
			param(params, k, val, sizeof(val));
			if (action[0] == 'C')
				fake_ec2_tag(in, key, val);
			else
				untag(in, key);
		}
		return "";
	}
	if (!strcmp(action, "UnassignIpv6Addresses")) { /* eni-<instance id without "i-"> */
		const char *eni = param(params, "NetworkInterfaceId", v, sizeof(v));
		for (int i = 0; i < f->n_inst; i++)
			if (!strncmp(eni, "eni-", 4) && !strcmp(eni + 4, f->inst[i].id + 2)) {
				f->inst[i].unassigned = true;
				return "";
			}
		return "InvalidNetworkInterfaceID.NotFound";
	}
	if (!param(params, "InstanceId.1", v, sizeof(v))[0] &&
	    !param(params, "InstanceId", v, sizeof(v))[0])
		return ""; /* not about an instance (rules, routes, blocks): taken, not modelled */
	struct fake_instance *in = find(f, v);
	if (!in)
		return "InvalidInstanceID.NotFound";
	if (!strcmp(action, "StopInstances")) {
		if (!strcmp(in->state, "running")) {
			snprintf(in->state, sizeof(in->state), "stopping");
			snprintf(in->target_state, sizeof(in->target_state), "stopped");
			in->settles_at = f->now + f->transition_s;
		} else if (strcmp(in->state, "stopped") && strcmp(in->state, "stopping")) {
			return "IncorrectInstanceState";
		}
		count_stopped(f);
		return "";
	}
	if (!strcmp(action, "StartInstances")) {
		if (!strcmp(in->state, "stopped")) {
			snprintf(in->state, sizeof(in->state), "pending");
			snprintf(in->target_state, sizeof(in->target_state), "%s",
				 in->no_place_on_start ? "stopped" : "running");
			snprintf(in->state_reason, sizeof(in->state_reason), "%s",
				 in->no_place_on_start ? "Server.InsufficientInstanceCapacity"
						       : "");
			in->settles_at = f->now + f->transition_s;
		} else if (strcmp(in->state, "running") && strcmp(in->state, "pending")) {
			return "IncorrectInstanceState";
		}
		return "";
	}
	if (!strcmp(action, "ModifyInstanceAttribute")) {
		if (strcmp(in->state, "stopped"))
			return "IncorrectInstanceState";
		snprintf(in->type, sizeof(in->type), "%s",
			 param(params, "InstanceType.Value", v, sizeof(v)));
		return "";
	}
	return "";
}

struct pending_answer {
	struct fake_ec2 *f;
	struct ec2_answer ans;
	ec2_call_fn done;
	void *ud;
};

static void deliver(void *ud)
{
	struct pending_answer *p = ud;
	p->done(p->ud, &p->ans);
	free(p);
}

static const struct {
	enum fake_fault fault;
	const char *code;
	enum ec2_class cls;
	int http;
} faults[] = {
    {FAULT_THROTTLED, "RequestLimitExceeded", EC2_THROTTLED, 503},
    {FAULT_TRANSIENT, "Unavailable", EC2_TRANSIENT, 503},
    {FAULT_AMBIGUOUS, "ConnectionError", EC2_TRANSIENT, 0},
    {FAULT_STATE, "IncorrectInstanceState", EC2_STATE, 400},
    {FAULT_FATAL, "UnauthorizedOperation", EC2_FATAL, 403},
    {FAULT_CAPACITY, "InsufficientInstanceCapacity", EC2_CAPACITY, 500},
};

static int port_call(void *ctx, const char *action, const char *params, size_t len, unsigned flags,
		     ec2_call_fn done, void *ud)
{
	struct fake_ec2 *f = ctx;
	(void)len;
	(void)flags;
	struct pending_answer *p = calloc(1, sizeof(*p));
	if (!p || f->n_calls >= FAKE_MAX_CALLS) {
		free(p);
		return DS_ENOMEM;
	}
	struct fake_call *c = &f->calls[f->n_calls++];
	snprintf(c->action, sizeof(c->action), "%s", action);
	snprintf(c->params, sizeof(c->params), "%.*s", (int)len, params);
	c->at = f->now;
	enum fake_fault fault = FAULT_NONE;
	for (int i = 0; i < f->n_rules; i++) {
		struct fake_rule *r = &f->rules[i];
		if (r->only_type[0]) { /* EC2 refuses only this type (capacity, compatibility) */
			char v[64];
			struct fake_instance *in =
			    find(f, param(params, "InstanceId.1", v, sizeof(v)));
			if (!in || strcmp(in->type, r->only_type) != 0)
				continue;
		}
		if (r->times && !strcmp(r->action, action)) {
			fault = r->fault;
			if (r->times > 0)
				r->times--;
			break;
		}
	}
	const char *code = "";
	if (fault == FAULT_START_NO_PLACE) {
		char v[64];
		struct fake_instance *in = find(f, param(params, "InstanceId.1", v, sizeof(v)));
		if (in)
			in->no_place_on_start = true;
		fault = FAULT_NONE;
	}
	if (fault == FAULT_NONE || fault == FAULT_AMBIGUOUS)
		code = apply(f, action, params);
	for (int i = 0; i < f->n_inst; i++)
		f->inst[i].no_place_on_start = false;
	p->f = f;
	p->done = done;
	p->ud = ud;
	p->ans.request_id = "fake-request";
	if (fault != FAULT_NONE || code[0]) {
		p->ans.rc = DS_EAWS;
		c->failed = true;
		for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++)
			if (faults[i].fault == fault) {
				snprintf(p->ans.err.code, sizeof(p->ans.err.code), "%s",
					 faults[i].code);
				p->ans.err.cls = faults[i].cls;
				p->ans.err.http_status = faults[i].http;
			}
		if (code[0]) {
			snprintf(p->ans.err.code, sizeof(p->ans.err.code), "%s", code);
			p->ans.err.cls = ec2_classify(400, code);
		}
		p->ans.ambiguous = fault == FAULT_AMBIGUOUS;
	}
	if (f->crash_after > 0 && f->n_calls >= f->crash_after) {
		f->crashed = true; /* the process dies: the answer never arrives */
		if (fake_ec2_n_graveyard < 4096)
			fake_ec2_graveyard[fake_ec2_n_graveyard++] =
			    p; /* holds what the caller waits with */
		return DS_OK;
	}
	return add_timer(f, ANSWER_S, deliver, p);
}

static void observe_instance(const struct fake_instance *fi, int index, struct observed *o)
{
	struct instance *in = vec_push(&o->instances, sizeof(*in));
	snprintf(in->instance_id, sizeof(in->instance_id), "%s", fi->id);
	snprintf(in->instance_type, sizeof(in->instance_type), "%s", fi->type);
	snprintf(in->state, sizeof(in->state), "%s", fi->state);
	snprintf(in->state_reason, sizeof(in->state_reason), "%s", fi->state_reason);
	snprintf(in->image_id, sizeof(in->image_id), "ami-fake");
	snprintf(in->vpc_id, sizeof(in->vpc_id), "vpc-fake");
	snprintf(in->subnet_id, sizeof(in->subnet_id), "subnet-fake");
	snprintf(in->availability_zone, sizeof(in->availability_zone), "us-east-1a");
	snprintf(in->architecture, sizeof(in->architecture), "x86_64");
	snprintf(in->virtualization_type, sizeof(in->virtualization_type), "hvm");
	snprintf(in->root_device_type, sizeof(in->root_device_type), "ebs");
	struct network_interface *n = vec_push(&in->interfaces, sizeof(*n));
	snprintf(n->network_interface_id, sizeof(n->network_interface_id), "eni-%s", fi->id + 2);
	snprintf(n->subnet_id, sizeof(n->subnet_id), "subnet-fake");
	if (!fi->unassigned) {
		struct ipv6_address *a = vec_push(&n->ipv6_addresses, sizeof(*a));
		snprintf(a->address, sizeof(a->address), "2600:1f18:aa:bb00::%x", index + 1);
	}
	for (int t = 0; t < fi->n_tags; t++)
		*(struct tag *)vec_push(&in->tags, sizeof(struct tag)) = fi->tags[t];
}

static void observe_network(struct observed *o)
{
	struct vpc *v = vec_push(&o->vpcs, sizeof(*v));
	snprintf(v->vpc_id, sizeof(v->vpc_id), "vpc-fake");
	snprintf(v->cidr_block, sizeof(v->cidr_block), "10.0.0.0/16");
	struct cidr_assoc *b = vec_push(&v->ipv6_assocs, sizeof(*b));
	snprintf(b->association_id, sizeof(b->association_id), "vpc-cidr-assoc-fake");
	snprintf(b->cidr, sizeof(b->cidr), "2600:1f18:aa:bb00::/56");
	snprintf(b->state, sizeof(b->state), "associated");
	struct subnet *s = vec_push(&o->subnets, sizeof(*s));
	snprintf(s->subnet_id, sizeof(s->subnet_id), "subnet-fake");
	snprintf(s->vpc_id, sizeof(s->vpc_id), "vpc-fake");
	snprintf(s->cidr_block, sizeof(s->cidr_block), "10.0.0.0/24");
	s->assign_ipv6_on_creation = true;
	struct cidr_assoc *sb = vec_push(&s->ipv6_assocs, sizeof(*sb));
	snprintf(sb->association_id, sizeof(sb->association_id), "subnet-cidr-assoc-fake");
	snprintf(sb->cidr, sizeof(sb->cidr), "2600:1f18:aa:bb00::/64");
	snprintf(sb->state, sizeof(sb->state), "associated");
}

struct pending_read {
	int rc;
	ec2_read_fn done;
	void *ud;
};

static void deliver_read(void *ud)
{
	struct pending_read *p = ud;
	p->done(p->ud, p->rc, NULL);
	free(p);
}

static int port_read(void *ctx, const struct ec2_read *r, struct observed *obs, ec2_read_fn done,
		     void *ud)
{
	struct fake_ec2 *f = ctx;
	struct pending_read *p = calloc(1, sizeof(*p));
	if (!p)
		return DS_ENOMEM;
	settle(f);
	if (r->kind == OBS_VPCS || r->kind == OBS_SUBNETS) {
		struct observed tmp;
		observed_init(&tmp);
		observe_network(&tmp);
		if (r->kind == OBS_VPCS) {
			obs->vpcs = tmp.vpcs;
			tmp.vpcs.v = NULL;
			tmp.vpcs.n = 0;
		} else {
			obs->subnets = tmp.subnets;
			tmp.subnets.v = NULL;
			tmp.subnets.n = 0;
		}
		observed_cleanup(&tmp);
	} else if (r->kind == OBS_INSTANCES) {
		for (int i = 0; i < f->n_inst; i++) {
			bool asked = !r->n_filter_values;
			for (size_t k = 0; k < r->n_filter_values; k++)
				asked |= !strcmp(r->filter_values[k], f->inst[i].id);
			if (asked)
				observe_instance(&f->inst[i], i, obs);
		}
	}
	p->done = done;
	p->ud = ud;
	return add_timer(f, ANSWER_S, deliver_read, p);
}

static int decode_none(const char *xml, size_t len, char *id, size_t size)
{
	(void)xml;
	(void)len;
	(void)id;
	(void)size;
	return DS_EINVAL;
}

void fake_ec2_observe(struct fake_ec2 *f, struct observed *o)
{
	settle(f);
	observe_network(o);
	for (int i = 0; i < f->n_inst; i++) {
		observe_instance(&f->inst[i], i, o);
		struct stop_protection *sp = vec_push(&o->stop_protection, sizeof(*sp));
		snprintf(sp->instance_id, sizeof(sp->instance_id), "%s", f->inst[i].id);
	}
	static const struct {
		const char *type;
		bool ipv6, storage;
	} types[] = {{"m3.large", false, true}, {"m4.large", true, false}};
	for (size_t i = 0; i < 2; i++) {
		struct instance_type_info *t = vec_push(&o->instance_types, sizeof(*t));
		snprintf(t->instance_type, sizeof(t->instance_type), "%s", types[i].type);
		t->ipv6_supported = types[i].ipv6;
		t->instance_storage_supported = types[i].storage;
		snprintf(t->architectures, sizeof(t->architectures), "x86_64");
		snprintf(t->virtualization_types, sizeof(t->virtualization_types), "hvm");
		snprintf(t->boot_modes, sizeof(t->boot_modes), "legacy-bios");
		struct type_offering *off = vec_push(&o->type_offerings, sizeof(*off));
		snprintf(off->instance_type, sizeof(off->instance_type), "%s", types[i].type);
		snprintf(off->location, sizeof(off->location), "us-east-1a");
	}
	struct image *img = vec_push(&o->images, sizeof(*img));
	snprintf(img->image_id, sizeof(img->image_id), "ami-fake");
	o->resize_facts_read = true;
}

void fake_ec2_init(struct fake_ec2 *f)
{
	memset(f, 0, sizeof(*f));
	f->transition_s = 2;
	f->port = (struct ec2_port){.ctx = f,
				    .read = port_read,
				    .call = port_call,
				    .after = port_after,
				    .now = port_now,
				    .decode_eigw = decode_none};
}

static void on_executed(void *ud, const struct exec_report *rep)
{
	(void)rep;
	*(int *)ud = 1;
}

bool fake_ec2_execute(struct fake_ec2 *f, const struct plan *plan, const struct policy *pol)
{
	struct poller *poller = poller_new(&f->port, 1);
	struct exec_options opt = {.max_concurrent_stops = 1, .poller = poller, .policy = pol};
	int done = 0;
	struct executor *e = executor_start(&f->port, plan, &opt, on_executed, &done);
	fake_ec2_run(f, &done, f->now + 600);
	executor_free(e);
	poller_free(poller);
	return done;
}
