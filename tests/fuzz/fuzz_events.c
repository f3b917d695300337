/* libFuzzer target: the event decoders (every shape and family) and the explain-event JSON. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "../../handlers/event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct event_result r;
	event_decode((const char *)data, size, &r);
	if (r.verdict == EVENT_WORK && r.n_keys == 0)
		__builtin_trap();		/* work always names a place */
	for (size_t i = 0; i < r.n_keys; i++) { /* and only well-formed ones */
		char why[160];
		if (r.verdict != EVENT_WORK || work_key_validate(&r.keys[i], why, sizeof(why)))
			__builtin_trap();
	}
	cJSON *j = event_result_json(&r);
	char *s = cJSON_PrintUnformatted(j);
	free(s);
	cJSON_Delete(j);
	return 0;
}
