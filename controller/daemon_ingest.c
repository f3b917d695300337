/* An input message is decoded (handlers/, which also validates every field a key takes from
 * the event); a rejection is dead-lettered, an account or region out of scope is counted and
 * dropped, a key naming a VPC becomes a work record keyed account/region/vpc (so one
 * partition, and one replica, owns each VPC), and one naming another resource is resolved to
 * its VPC first. */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../handlers/event.h"
#include "daemon_internal.h"
#include "log.h"

void ingest_produce_work(struct daemon *d, const struct work_key *k, const char *cause,
			 uint64_t ticket)
{
	char key[160];
	const char *account = daemon_account(d, k->account);
	snprintf(key, sizeof(key), "%s/%s/%s", account, k->region, k->vpc_id);
	cJSON *v = cJSON_CreateObject();
	cJSON_AddStringToObject(v, "account", account);
	cJSON_AddStringToObject(v, "region", k->region);
	cJSON_AddStringToObject(v, "vpc", k->vpc_id);
	cJSON_AddStringToObject(v, "cause", cause);
	char *text = cJSON_PrintUnformatted(v);
	cJSON_Delete(v);
	if (ticket)
		offsets_ref(d->offsets, ticket);
	if (!text || producer_send(d->producer, d->cfg->work_topic, key, text, strlen(text), NULL,
				   0, ticket)) {
		/* not even queued (out of memory): said, and the resync finds the VPC later */
		log_kv("error", "work record not produced", "key", key, NULL);
		daemon_release_ticket(d, ticket);
	}
	free(text);
}

void ingest_message(struct daemon *d, const rd_kafka_message_t *m, uint64_t ticket)
{
	struct event_result *r = malloc(sizeof(*r));
	if (!r) {
		log_kv("error", "out of memory: an input message is not decoded", NULL);
		return;
	}
	event_decode(m->payload ? m->payload : "", m->len, r);
	static const char *const verdicts[] = {"work", "none", "reject"};
	metrics_add(d->metrics, "dualstackd_events_total", 1, "verdict", verdicts[r->verdict],
		    NULL);
	if (r->verdict == EVENT_REJECT) {
		dead_letter(d, m, r->reason, ticket);
	} else {
		const struct policy *pol = reconciler_policy(d->rc);
		for (size_t i = 0; i < r->n_keys; i++) {
			const struct work_key *k = &r->keys[i];
			if (!policy_account_in_scope(pol, k->account) ||
			    !policy_region_in_scope(pol, k->region)) {
				metrics_add(d->metrics, "dualstackd_events_out_of_scope_total", 1,
					    NULL);
				continue;
			}
			if (k->vpc_id[0])
				ingest_produce_work(d, k, r->source, ticket);
			else
				resolver_add(d->resolver, k, ticket);
		}
	}
	free(r);
}
