#include "event.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "json_arena.h"

const cJSON *ev_get(const cJSON *obj, const char *path)
{
	char key[128];
	const cJSON *cur = obj;
	const char *p = path;
	while (cur && *p) {
		size_t n = strcspn(p, ".");
		if (n >= sizeof(key))
			return NULL;
		memcpy(key, p, n);
		key[n] = '\0';
		cur = cJSON_IsObject(cur) ? cJSON_GetObjectItemCaseSensitive(cur, key) : NULL;
		p += n;
		if (*p == '.')
			p++;
	}
	return cur;
}

const char *ev_str(const cJSON *obj, const char *path)
{
	const cJSON *v = ev_get(obj, path);
	return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

void ev_set(struct event_result *r, enum event_verdict v, const char *fmt, ...)
{
	r->verdict = v;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
}

int ev_add_key(struct event_result *r, const char *account, const char *region, const char *vpc,
	       const char *resource)
{
	if ((!vpc || !*vpc) && (!resource || !*resource))
		return 0;
	for (size_t i = 0; i < r->n_keys; i++) { /* one key per place */
		const struct work_key *k = &r->keys[i];
		if (!strcmp(k->vpc_id, vpc ? vpc : "") &&
		    !strcmp(k->resource_id, vpc && *vpc ? ""
					    : resource	? resource
							: ""))
			return 0;
	}
	if (r->n_keys == EVENT_MAX_KEYS)
		return -1;
	struct work_key *k = &r->keys[r->n_keys++];
	memset(k, 0, sizeof(*k));
	snprintf(k->account, sizeof(k->account), "%s", account ? account : "");
	snprintf(k->region, sizeof(k->region), "%s", region ? region : "");
	if (vpc && *vpc)
		snprintf(k->vpc_id, sizeof(k->vpc_id), "%s", vpc);
	else
		snprintf(k->resource_id, sizeof(k->resource_id), "%s", resource);
	return 0;
}

/* Config and SNS carry nested JSON as strings; parses one when it is a string. */
static cJSON *parse_nested(const cJSON *v)
{
	if (cJSON_IsString(v))
		return cJSON_Parse(v->valuestring);
	return v ? cJSON_Duplicate(v, 1) : NULL;
}

static void decode_sns(const cJSON *sns, struct event_result *r)
{
	cJSON *msg = parse_nested(cJSON_GetObjectItemCaseSensitive(sns, "Message"));
	if (!msg) {
		ev_set(r, EVENT_REJECT, "SNS notification whose Message is not JSON");
		return;
	}
	ev_config_item(msg, NULL, NULL, r);
	cJSON_Delete(msg);
}

static void decode_records(const cJSON *records, struct event_result *r)
{
	size_t n = 0;
	struct event_result one;
	const cJSON *rec;
	cJSON_ArrayForEach(rec, records)
	{
		memset(&one, 0, sizeof(one));
		const cJSON *sns = cJSON_GetObjectItemCaseSensitive(rec, "Sns");
		if (sns)
			decode_sns(sns, &one);
		else if (ev_str(rec, "eventName"))
			ev_cloudtrail(rec, NULL, NULL, &one);
		else
			ev_set(&one, EVENT_REJECT, "record %zu is neither CloudTrail nor SNS", n);
		n++;
		if (one.verdict == EVENT_REJECT) {
			*r = one;
			return;
		}
		snprintf(r->source, sizeof(r->source), "%s", one.source);
		for (size_t k = 0; k < one.n_keys; k++)
			if (ev_add_key(r, one.keys[k].account, one.keys[k].region,
				       one.keys[k].vpc_id, one.keys[k].resource_id)) {
				ev_set(r, EVENT_REJECT, "more than %d places in one message",
				       EVENT_MAX_KEYS);
				return;
			}
		if (!r->n_keys)
			snprintf(r->reason, sizeof(r->reason), "%s", one.reason);
	}
	if (n == 0)
		ev_set(r, EVENT_REJECT, "empty Records list");
	else if (r->n_keys)
		ev_set(r, EVENT_WORK, "%zu record(s)", n);
	else
		r->verdict = EVENT_NONE;
}

static void decode_envelope(const cJSON *ev, struct event_result *r)
{
	const char *type = ev_str(ev, "detail-type");
	const char *account = ev_str(ev, "account");
	const char *region = ev_str(ev, "region");
	const cJSON *detail = cJSON_GetObjectItemCaseSensitive(ev, "detail");
	if (!cJSON_IsObject(detail)) {
		ev_set(r, EVENT_REJECT, "EventBridge event without a detail object");
		return;
	}
	if (!strcmp(type, "AWS API Call via CloudTrail"))
		ev_cloudtrail(detail, account, region, r);
	else if (!strcmp(type, "EC2 Instance State-change Notification"))
		ev_instance_state(detail, account, region, r);
	else if (!strcmp(type, "Config Configuration Item Change"))
		ev_config_item(detail, account, region, r);
	else {
		snprintf(r->source, sizeof(r->source), "eventbridge:%.80s", type);
		ev_set(r, EVENT_NONE, "detail-type \"%.80s\" is not one dualstackd follows", type);
	}
}

void event_decode(const char *data, size_t len, struct event_result *out)
{
	memset(out, 0, sizeof(*out));
	if (len > EVENT_MAX_BYTES) {
		ev_set(out, EVENT_REJECT, "oversized: %zu bytes (the limit is %d)", len,
		       EVENT_MAX_BYTES);
		return;
	}
	const char *end = NULL;
	json_arena_begin(); /* every cJSON object of this decode is gone by json_arena_end */
	cJSON *ev = cJSON_ParseWithLengthOpts(data, len, &end, 0);
	if (!ev) {
		size_t at = end && end >= data ? (size_t)(end - data) : 0;
		ev_set(out, EVENT_REJECT, "invalid JSON near byte %zu", at);
		json_arena_end();
		return;
	}
	if (!cJSON_IsObject(ev)) {
		ev_set(out, EVENT_REJECT, "not a JSON object");
	} else if (ev_str(ev, "detail-type")) {
		decode_envelope(ev, out);
	} else if (cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(ev, "Records"))) {
		decode_records(cJSON_GetObjectItemCaseSensitive(ev, "Records"), out);
	} else if (ev_str(ev, "eventName") && ev_str(ev, "eventSource")) {
		ev_cloudtrail(ev, NULL, NULL, out);
	} else if (ev_str(ev, "Type") && cJSON_GetObjectItemCaseSensitive(ev, "Message")) {
		decode_sns(ev, out);
	} else if (cJSON_GetObjectItemCaseSensitive(ev, "invokingEvent")) {
		cJSON *inv = parse_nested(cJSON_GetObjectItemCaseSensitive(ev, "invokingEvent"));
		if (!inv)
			ev_set(out, EVENT_REJECT, "invokingEvent is not JSON");
		else
			ev_config_item(inv, ev_str(ev, "accountId"), NULL, out);
		cJSON_Delete(inv);
	} else if (ev_str(ev, "messageType") &&
		   (cJSON_GetObjectItemCaseSensitive(ev, "configurationItem") ||
		    cJSON_GetObjectItemCaseSensitive(ev, "configurationItemSummary"))) {
		/* a Config notification without an envelope (SNS or rule), oversized or not */
		ev_config_item(ev, NULL, NULL, out);
	} else if (ev_str(ev, "resourceType") && ev_str(ev, "resourceId")) {
		ev_config_item(ev, NULL, NULL, out); /* a bare configuration item */
	} else {
		ev_set(out, EVENT_REJECT,
		       "unrecognised event shape (no detail-type, Records, eventName, Message, "
		       "invokingEvent, Config messageType or configuration item)");
	}
	if (out->verdict == EVENT_WORK && out->n_keys == 0)
		out->verdict = EVENT_NONE;
	/* Nothing ill-formed goes further: a region becomes a host name, an id a filter. */
	for (size_t i = 0; out->verdict == EVENT_WORK && i < out->n_keys; i++) {
		char why[160];
		if (work_key_validate(&out->keys[i], why, sizeof(why))) {
			ev_set(out, EVENT_REJECT, "%s", why);
			out->n_keys = 0;
		}
	}
	cJSON_Delete(ev);
	json_arena_end();
}

int work_record_decode(const char *data, size_t len, struct work_key *k, char *why, size_t why_len)
{
	memset(k, 0, sizeof(*k));
	json_arena_begin();
	cJSON *j = cJSON_ParseWithLength(data, len);
	const char *acc = ev_str(j, "account"), *reg = ev_str(j, "region"), *vpc = ev_str(j, "vpc");
	bool ok = acc && reg && vpc && strlen(acc) < sizeof(k->account) &&
		  strlen(reg) < sizeof(k->region) && strlen(vpc) < sizeof(k->vpc_id);
	if (ok) {
		memcpy(k->account, acc, strlen(acc) + 1);
		memcpy(k->region, reg, strlen(reg) + 1);
		memcpy(k->vpc_id, vpc, strlen(vpc) + 1);
	}
	cJSON_Delete(j);
	json_arena_end();
	if (!ok) {
		snprintf(why, why_len, "work record without account, region and vpc");
		return -1;
	}
	return work_key_validate(k, why, why_len);
}

cJSON *event_result_json(const struct event_result *r)
{
	static const char *const verdicts[] = {"work", "none", "reject"};
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "verdict", verdicts[r->verdict]);
	cJSON_AddStringToObject(o, "source", r->source);
	cJSON_AddStringToObject(o, "reason", r->reason);
	cJSON *keys = cJSON_AddArrayToObject(o, "keys");
	for (size_t i = 0; i < r->n_keys; i++) {
		const struct work_key *k = &r->keys[i];
		cJSON *j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "account", k->account);
		cJSON_AddStringToObject(j, "region", k->region);
		if (k->vpc_id[0])
			cJSON_AddStringToObject(j, "vpc", k->vpc_id);
		else
			cJSON_AddStringToObject(j, "resolve", k->resource_id);
		cJSON_AddItemToArray(keys, j);
	}
	return o;
}
