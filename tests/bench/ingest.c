/* ingest - consumes N events from a real Kafka topic through dualstackd's consumer, event
 * decoders and work queue (dedup and coalescing), with no AWS call, and prints one JSON line:
 * events/s (wall) and the CPU of the loop thread per event.
 *   ingest BROKERS TOPIC N */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../controller/kafka.h"
#include "../../controller/workqueue.h"
#include "../../handlers/event.h"
#include "../../handlers/json_arena.h"

struct ingest {
	struct ev_loop *loop;
	struct wq *wq;
	long n, want, work, keys;
	double t_first, cpu_first;
	struct event_result r;
};

static double thread_cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void on_message(void *ud, const rd_kafka_message_t *m)
{
	struct ingest *in = ud;
	if (in->n == 0) {
		in->t_first = ev_time();
		in->cpu_first = thread_cpu();
	}
	event_decode(m->payload ? m->payload : "", m->len, &in->r);
	if (in->r.verdict == EVENT_WORK)
		in->work++;
	for (size_t i = 0; i < in->r.n_keys; i++) {
		struct work_key k = in->r.keys[i];
		if (!k.vpc_id[0]) /* resolution would need AWS: key it by the resource here */
			snprintf(k.vpc_id, sizeof(k.vpc_id), "%s", k.resource_id);
		wq_add(in->wq, &k, 0, 0, 0);
		in->keys++;
	}
	if (++in->n == in->want)
		ev_break(in->loop, EVBREAK_ALL);
}

static void on_delivered(void *ud, void *opaque, rd_kafka_resp_err_t err)
{
	(void)ud;
	(void)opaque;
	(void)err;
}

int main(int argc, char **argv)
{
	if (argc != 4)
		return 2;
	json_arena_install(); /* as dualstackd's main does */
	struct ingest in;
	memset(&in, 0, sizeof(in));
	in.want = strtol(argv[3], NULL, 10);
	in.loop = ev_default_loop(0);
	in.wq = wq_new(1000000, 8, 8);
	char group[64], err[512];
	snprintf(group, sizeof(group), "ingest-%ld", (long)time(NULL));
	const char *topics[] = {argv[2]};
	cJSON *props = cJSON_CreateObject();
	cJSON_AddStringToObject(props, "fetch.max.bytes", "52428800");
	cJSON_AddStringToObject(props, "queued.max.messages.kbytes", "1048576");
	struct kafka_options ko = {.brokers = argv[1],
				   .group = group,
				   .topics = topics,
				   .n_topics = 1,
				   .properties = props,
				   .new_topic_partitions = -1};
	struct kafka_callbacks kc = {.ud = &in, .message = on_message, .delivered = on_delivered};
	struct kafka *k = kafka_new(in.loop, &ko, &kc, err, sizeof(err));
	if (!k) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	ev_run(in.loop, 0);
	double wall = ev_time() - in.t_first, cpu = thread_cpu() - in.cpu_first;
	printf("{\"events\": %ld, \"work_events\": %ld, \"keys\": %ld, \"queued_vpcs\": %zu, "
	       "\"wall_s\": %.3f, \"events_per_s\": %.0f, \"loop_cpu_us_per_event\": %.2f}\n",
	       in.n, in.work, in.keys, wq_items(in.wq), wall, in.n / wall, cpu / in.n * 1e6);
	kafka_close(k, 1000);
	kafka_free(k);
	wq_free(in.wq);
	cJSON_Delete(props);
	return 0;
}
