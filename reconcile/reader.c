#include "reader.h"

#include <cJSON.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"

struct read_state {
	const struct ec2_port *port;
	const struct policy *pol;
	bool resize_back;
	struct observed *obs;
	reader_done_fn done;
	void *ud;
	int outstanding;
	int rc;
	struct ec2_error err;
	char **vpc_ids;
	size_t n_vpc_ids;
	char **types;
	size_t n_types;
	size_t ssm_offset; /* first instance of the current SSM request (50 ids per request) */
	struct plan_resize_reads rz;
	bool rz_failed;
};

int reader_decode_ssm(const char *json, size_t len, struct observed *obs, char *next_token,
		      size_t size)
{
	cJSON *j = cJSON_ParseWithLength(json, len);
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(j, "InstanceInformationList");
	const cJSON *tok = cJSON_GetObjectItemCaseSensitive(j, "NextToken");
	int rc = cJSON_IsArray(list) ? DS_OK : DS_EPARSE;
	const cJSON *it, *items = rc ? NULL : list;
	cJSON_ArrayForEach(it, items)
	{
		struct ssm_instance *s = vec_push(&obs->ssm_instances, sizeof(*s));
		if (!s) {
			rc = DS_ENOMEM;
			break;
		}
		static const struct {
			const char *key;
			size_t off, size;
		} fields[] = {
		    {"InstanceId", offsetof(struct ssm_instance, instance_id), DS_ID_LEN},
		    {"PingStatus", offsetof(struct ssm_instance, ping_status), DS_STATE_LEN},
		    {"PlatformType", offsetof(struct ssm_instance, platform_type), DS_STATE_LEN},
		    {"PlatformName", offsetof(struct ssm_instance, platform_name), DS_DESC_LEN},
		    {"PlatformVersion", offsetof(struct ssm_instance, platform_version), DS_ID_LEN},
		};
		for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(it, fields[f].key);
			if (cJSON_IsString(v))
				snprintf((char *)s + fields[f].off, fields[f].size, "%s",
					 v->valuestring);
		}
	}
	snprintf(next_token, size, "%s", cJSON_IsString(tok) ? tok->valuestring : "");
	cJSON_Delete(j);
	return rc;
}

static void finish(struct read_state *st)
{
	st->done(st->ud, st->rc, st->rc ? &st->err : NULL);
	plan_resize_reads_cleanup(&st->rz);
	for (size_t i = 0; i < st->n_vpc_ids; i++)
		free(st->vpc_ids[i]);
	for (size_t i = 0; i < st->n_types; i++)
		free(st->types[i]);
	free(st->vpc_ids);
	free(st->types);
	free(st);
}

/* Step 4's facts are optional: a failure leaves them unknown, and the planner stops nothing
 * it cannot vouch for (resize_facts_read stays false). */
static void on_resize_fact(void *ud, int rc, const struct ec2_error *err)
{
	struct read_state *st = ud;
	(void)err;
	if (rc)
		st->rz_failed = true;
	if (--st->outstanding)
		return;
	st->obs->resize_facts_read = !st->rz_failed;
	finish(st);
}

#define IDS_PER_READ 100 /* under EC2's 200 values per filter */

/* The last phase: AMIs, type offerings in the instances' zones, stop protection - only for
 * instances a resize could stop. */
static void read_resize_facts(struct read_state *st)
{
	const struct ec2_port *p = st->port;
	struct plan_resize_reads *rz = &st->rz;
	if (plan_resize_reads(st->pol, st->obs, st->resize_back, rz)) {
		st->rz_failed = true;
		rz->n_instances = 0;
	}
	st->outstanding = 1; /* held until every read is submitted */
	for (size_t i = 0; i < rz->n_images; i += IDS_PER_READ) {
		size_t n = rz->n_images - i < IDS_PER_READ ? rz->n_images - i : IDS_PER_READ;
		struct ec2_read q = {
		    .kind = OBS_IMAGES, .names = (const char *const *)rz->images + i, .n_names = n};
		st->outstanding++;
		if (p->read(p->ctx, &q, st->obs, on_resize_fact, st))
			on_resize_fact(st, DS_ENOMEM, NULL);
	}
	for (size_t i = 0; rz->n_zones && i < rz->n_types; i += IDS_PER_READ) {
		size_t n = rz->n_types - i < IDS_PER_READ ? rz->n_types - i : IDS_PER_READ;
		struct ec2_read q = {.kind = OBS_TYPE_OFFERINGS,
				     .names = (const char *const *)rz->types + i,
				     .n_names = n,
				     .filter_name = "location",
				     .filter_values = (const char *const *)rz->zones,
				     .n_filter_values = rz->n_zones};
		st->outstanding++;
		if (p->read(p->ctx, &q, st->obs, on_resize_fact, st))
			on_resize_fact(st, DS_ENOMEM, NULL);
	}
	/* DescribeInstanceAttribute takes one instance: one call per instance a resize would
	 * stop (rare, and never for a VPC that needs none) */
	for (size_t i = 0; i < rz->n_instances; i++) {
		struct ec2_read q = {.kind = OBS_STOP_PROTECTION,
				     .names = (const char *const *)rz->instances + i,
				     .n_names = 1};
		st->outstanding++;
		if (p->read(p->ctx, &q, st->obs, on_resize_fact, st))
			on_resize_fact(st, DS_ENOMEM, NULL);
	}
	on_resize_fact(st, DS_OK, NULL);
}

static void on_types(void *ud, int rc, const struct ec2_error *err)
{
	struct read_state *st = ud;
	if (rc && !st->rc) {
		st->rc = rc;
		if (err)
			st->err = *err;
	}
	if (--st->outstanding)
		return;
	if (st->rc)
		finish(st);
	else
		read_resize_facts(st);
}

static int ssm_page(struct read_state *st, const char *token);

/* SSM is optional: an error leaves the instances unmanaged, which the planner reports. */
static void on_ssm(void *ud, const struct ec2_answer *ans)
{
	struct read_state *st = ud;
	char next[2048] = "";
	bool ok =
	    !ans->rc && !reader_decode_ssm(ans->body, ans->body_len, st->obs, next, sizeof(next));
	if (ok && next[0] && !ssm_page(st, next))
		return; /* the next page of these instances */
	/* the InstanceIds filter takes 50 ids: the next 50 instances, if any */
	if (ok && st->ssm_offset + 50 < st->obs->instances.n) {
		st->ssm_offset += 50;
		if (!ssm_page(st, NULL))
			return;
	}
	on_types(st, DS_OK, NULL);
}

static int ssm_page(struct read_state *st, const char *token)
{
	cJSON *req = cJSON_CreateObject();
	cJSON *filters = cJSON_AddArrayToObject(req, "Filters");
	cJSON *f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "Key", "InstanceIds");
	cJSON *values = cJSON_AddArrayToObject(f, "Values");
	for (size_t i = st->ssm_offset; i < st->obs->instances.n && i < st->ssm_offset + 50; i++)
		cJSON_AddItemToArray(values,
				     cJSON_CreateString(st->obs->instances.v[i].instance_id));
	cJSON_AddItemToArray(filters, f);
	cJSON_AddNumberToObject(req, "MaxResults", 50);
	if (token)
		cJSON_AddStringToObject(req, "NextToken", token);
	char *json = cJSON_PrintUnformatted(req);
	cJSON_Delete(req);
	int rc = json ? st->port->ssm_call(st->port->ctx, "DescribeInstanceInformation", json,
					   strlen(json), EC2_PORT_IDEMPOTENT, on_ssm, st)
		      : DS_ENOMEM;
	free(json);
	return rc;
}

static void on_kind(void *ud, int rc, const struct ec2_error *err)
{
	struct read_state *st = ud;
	if (rc && !st->rc) {
		st->rc = rc;
		if (err)
			st->err = *err;
	}
	if (--st->outstanding)
		return;
	if (st->rc || !st->obs->instances.n) {
		finish(st);
		return;
	}
	/* the instance types: what the VPCs run and every candidate a resize could pick; and,
	 * for step 6, what SSM knows of the instances */
	bool ssm = st->pol->guest_config == GUEST_SSM && st->port->ssm_call;
	st->outstanding = ssm ? 2 : 1;
	int r = plan_wanted_instance_types(st->pol, st->obs, &st->types, &st->n_types);
	struct ec2_read req = {.kind = OBS_INSTANCE_TYPES,
			       .names = (const char *const *)st->types,
			       .n_names = st->n_types};
	if (ssm && ssm_page(st, NULL))
		st->outstanding--;
	if (!r)
		r = st->port->read(st->port->ctx, &req, st->obs, on_types, st);
	if (r) {
		st->rc = r;
		on_types(st, r, NULL);
	}
}

int reader_read(const struct ec2_port *port, const struct policy *pol, unsigned extra,
		const char *const *vpc_ids, size_t n, struct observed *obs, reader_done_fn done,
		void *ud)
{
	struct read_state *st = calloc(1, sizeof(*st));
	if (!st)
		return DS_ENOMEM;
	st->port = port;
	st->pol = pol;
	st->resize_back = extra & READ_RESIZE_BACK;
	st->obs = obs;
	st->done = done;
	st->ud = ud;
	st->vpc_ids = calloc(n + 1, sizeof(char *));
	for (size_t i = 0; st->vpc_ids && i < n; i++) {
		st->vpc_ids[i] = strdup(vpc_ids[i]);
		if (st->vpc_ids[i])
			st->n_vpc_ids++;
	}
	if (!st->vpc_ids || st->n_vpc_ids != n) {
		st->done = NULL;
		for (size_t i = 0; i < st->n_vpc_ids; i++)
			free(st->vpc_ids[i]);
		free(st->vpc_ids);
		free(st);
		return DS_ENOMEM;
	}
	/* everything but instance types, in parallel; the limiter paces them */
	st->outstanding = 1; /* held until every read is submitted */
	for (int k = 0; k < OBS_INSTANCE_TYPES; k++) {
		if (k == OBS_NETWORK_INTERFACES && !(extra & READ_INTERFACES))
			continue;
		struct ec2_read req = {.kind = (enum obs_kind)k,
				       .vpc_ids = (const char *const *)st->vpc_ids,
				       .n_vpc_ids = st->n_vpc_ids};
		st->outstanding++;
		int r = port->read(port->ctx, &req, obs, on_kind, st);
		if (r) {
			st->outstanding--;
			if (!st->rc)
				st->rc = r;
			break;
		}
	}
	on_kind(st, 0, NULL); /* releases the hold */
	return DS_OK;
}
