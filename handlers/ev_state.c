/* "EC2 Instance State-change Notification": an instance became pending, running, stopping or
 * stopped - its VPC may now need an address or a resize finished. Terminated instances need
 * nothing. Some producers write instance_id instead of instance-id. */
#include <stdio.h>
#include <string.h>

#include "event.h"

void ev_instance_state(const cJSON *detail, const char *account, const char *region,
		       struct event_result *r)
{
	const char *id = ev_str(detail, "instance-id");
	if (!id)
		id = ev_str(detail, "instance_id");
	const char *state = ev_str(detail, "state");
	snprintf(r->source, sizeof(r->source), "ec2-state:%.40s", state ? state : "?");
	if (!id || !state) {
		ev_set(r, EVENT_REJECT, "state-change notification without %s",
		       id ? "state" : "instance-id");
		return;
	}
	if (!account || !region) {
		ev_set(r, EVENT_REJECT, "state-change notification without %s",
		       account ? "region" : "account");
		return;
	}
	if (!strcmp(state, "terminated") || !strcmp(state, "shutting-down")) {
		ev_set(r, EVENT_NONE, "instance %.40s is %s", id, state);
		return;
	}
	ev_add_key(r, account, region, NULL, id);
	ev_set(r, EVENT_WORK, "instance %.40s is %s", id, state);
}
