/* offsets.h - at-least-once offset tracking for consumed Kafka messages.
 * Owns: which offsets of each partition are still in flight, and the offset that may be
 * committed: the lowest one whose work is not finished (everything before it is done).
 * Not: talking to Kafka (kafka.c stores what offsets_committable says). Pure. */
#ifndef DS_OFFSETS_H
#define DS_OFFSETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct offsets;

struct offsets *offsets_new(void);
void offsets_free(struct offsets *o);

/* A consumed message: returns its ticket (0 on allocation failure). It holds one reference. */
uint64_t offsets_begin(struct offsets *o, const char *topic, int32_t partition, int64_t offset);
/* Work derived from the message takes another reference / gives one back. */
void offsets_ref(struct offsets *o, uint64_t ticket);
void offsets_release(struct offsets *o, uint64_t ticket);

/* The offset to commit for (topic, partition) - the next one to consume after a restart -
 * or false when nothing new can be committed since the last call. */
bool offsets_committable(struct offsets *o, const char *topic, int32_t partition, int64_t *offset);
/* Visits every partition with something new to commit. */
void offsets_each_committable(struct offsets *o,
			      void (*fn)(void *ud, const char *topic, int32_t partition,
					 int64_t offset),
			      void *ud);
/* Messages whose work is not finished. */
size_t offsets_in_flight(const struct offsets *o);
/* Forgets a partition (revoked): its in-flight work will be redone by the new owner. */
void offsets_drop_partition(struct offsets *o, const char *topic, int32_t partition);

#endif
