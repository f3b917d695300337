/* event.h - decodes one event (as consumed from Kafka) into work keys, or a reason for none.
 * Owns: recognising the shape - an EventBridge envelope, a CloudTrail record or log file, an SNS
 * or Lambda-SNS notification, an AWS Config rule event or a bare configuration item - and
 * handing it to its family's decoder (ev_cloudtrail.c, ev_state.c, ev_config.c). Pure: bytes in,
 * a result out; no I/O. Every sample in ../shared/events decodes. */
#ifndef DS_EVENT_H
#define DS_EVENT_H

#include <cJSON.h>
#include <stddef.h>

#include "work_key.h"

/* EventBridge's own limit on an event; larger messages are rejected as oversized. */
#define EVENT_MAX_BYTES (256 * 1024)

void event_decode(const char *data, size_t len, struct event_result *out);

/* A record of the work topic ({"account", "region", "vpc"}, what the ingest stage produces):
 * 0 with k filled, or -1 with why - the topic can be written to by others, so a record is
 * checked like an event. */
int work_record_decode(const char *data, size_t len, struct work_key *k, char *why, size_t why_len);

/* Renders a result as the JSON `explain-event` prints. Caller frees with cJSON_Delete. */
cJSON *event_result_json(const struct event_result *r);

/* ---- for the family decoders ---- */

/* The string at a dotted path ("detail.requestParameters.vpcId"), or NULL. */
const char *ev_str(const cJSON *obj, const char *path);
const cJSON *ev_get(const cJSON *obj, const char *path);
/* Adds a key; returns 0, or -1 when the result is full. Empty ids are ignored. */
int ev_add_key(struct event_result *r, const char *account, const char *region, const char *vpc,
	       const char *resource);
void ev_set(struct event_result *r, enum event_verdict v, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Family decoders: each fills r from its part of the event. account/region come from the
 * envelope when the family's own fields lack them. */
void ev_cloudtrail(const cJSON *record, const char *account, const char *region,
		   struct event_result *r);
void ev_instance_state(const cJSON *detail, const char *account, const char *region,
		       struct event_result *r);
void ev_config_item(const cJSON *message, const char *account, const char *region,
		    struct event_result *r);

#endif
