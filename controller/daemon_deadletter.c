/* A dead letter is the original bytes with headers saying why and where from. It must fit what
 * the broker takes for the dead-letter topic (max.message.bytes, read at start): beyond that a
 * prefix is kept and a header says how much was there - a message too large for the broker
 * would otherwise fail for ever and hold its input partition's commits. */
#include <stdio.h>
#include <string.h>

#include "daemon_internal.h"
#include "log.h"

#define HEADROOM_BYTES 4096 /* headers, key and the record batch's framing */

size_t dead_letter_limit(size_t topic_max_bytes)
{
	if (topic_max_bytes <= 2 * HEADROOM_BYTES)
		return HEADROOM_BYTES;
	return topic_max_bytes - HEADROOM_BYTES;
}

void dead_letter(struct daemon *d, const rd_kafka_message_t *m, const char *reason, uint64_t ticket)
{
	char source[256], off[32], orig[32], truncated[96] = "";
	snprintf(source, sizeof(source), "%s/%d", rd_kafka_topic_name(m->rkt), m->partition);
	snprintf(off, sizeof(off), "%lld", (long long)m->offset);
	snprintf(orig, sizeof(orig), "%zu", m->len);
	size_t len = m->len;
	if (len > d->dead_letter_max) {
		len = d->dead_letter_max;
		snprintf(truncated, sizeof(truncated), "%zu bytes, first %zu kept", m->len, len);
	}
	struct kafka_header h[] = {
	    {"dualstackd-reason", reason},	 {"dualstackd-source", source},
	    {"dualstackd-offset", off},		 {"dualstackd-original-bytes", orig},
	    {"dualstackd-truncated", truncated},
	};
	offsets_ref(d->offsets, ticket);
	if (producer_send(d->producer, d->cfg->dead_letter_topic, NULL,
			  m->payload ? m->payload : "", len, h, truncated[0] ? 5 : 4, ticket)) {
		/* not even queued (out of memory): the reference goes back, the event is named */
		log_kv("error", "dead letter not produced", "reason", reason, "source", source,
		       "offset", off, NULL);
		daemon_release_ticket(d, ticket);
	}
	metrics_add(d->metrics, "dualstackd_dead_letters_total", 1, NULL);
	if (truncated[0])
		metrics_add(d->metrics, "dualstackd_dead_letters_truncated_total", 1, NULL);
	log_kv("warn", "event dead-lettered", "reason", reason, "source", source, "offset", off,
	       NULL);
}
