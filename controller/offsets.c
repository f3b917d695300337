/* Per partition, the in-flight messages sit in consumption order (offsets only grow within a
 * partition) in an array with a moving head; a ticket encodes the partition and the position. */
#include "offsets.h"

#include <stdlib.h>
#include <string.h>

struct entry {
	int64_t offset;
	int refs;
};

struct part {
	char topic[256];
	int32_t partition;
	struct entry *v;
	size_t head, n, cap; /* live entries are v[head..n) */
	uint64_t base;	     /* position of v[0] since the partition was first seen */
	int64_t next_commit; /* last committed (or -1) */
	int64_t last_offset;
};

struct offsets {
	struct part *parts;
	size_t n_parts, cap_parts;
	size_t in_flight;
};

#define TICKET_PART_SHIFT 40

struct offsets *offsets_new(void)
{
	return calloc(1, sizeof(struct offsets));
}

void offsets_free(struct offsets *o)
{
	if (!o)
		return;
	for (size_t i = 0; i < o->n_parts; i++)
		free(o->parts[i].v);
	free(o->parts);
	free(o);
}

static struct part *find(struct offsets *o, const char *topic, int32_t partition, bool create)
{
	for (size_t i = 0; i < o->n_parts; i++)
		if (o->parts[i].partition == partition && !strcmp(o->parts[i].topic, topic))
			return &o->parts[i];
	if (!create || strlen(topic) >= sizeof(o->parts[0].topic))
		return NULL;
	if (o->n_parts == o->cap_parts) {
		size_t cap = o->cap_parts ? o->cap_parts * 2 : 8;
		struct part *p = realloc(o->parts, cap * sizeof(*p));
		if (!p)
			return NULL;
		o->parts = p;
		o->cap_parts = cap;
	}
	struct part *p = &o->parts[o->n_parts++];
	memset(p, 0, sizeof(*p));
	memcpy(p->topic, topic, strlen(topic) + 1);
	p->partition = partition;
	p->next_commit = -1;
	p->last_offset = -1;
	return p;
}

uint64_t offsets_begin(struct offsets *o, const char *topic, int32_t partition, int64_t offset)
{
	struct part *p = find(o, topic, partition, true);
	if (!p)
		return 0;
	if (p->head > 64 && p->head * 2 > p->n) { /* compact the done prefix */
		memmove(p->v, p->v + p->head, (p->n - p->head) * sizeof(*p->v));
		p->n -= p->head;
		p->base += p->head;
		p->head = 0;
	}
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		struct entry *v = realloc(p->v, cap * sizeof(*v));
		if (!v)
			return 0;
		p->v = v;
		p->cap = cap;
	}
	p->v[p->n].offset = offset;
	p->v[p->n].refs = 1;
	p->n++;
	p->last_offset = offset;
	o->in_flight++;
	uint64_t pos = p->base + p->n - 1;
	return ((uint64_t)(p - o->parts + 1) << TICKET_PART_SHIFT) | (pos + 1);
}

static struct entry *lookup(struct offsets *o, uint64_t ticket, struct part **pp)
{
	uint64_t pi = ticket >> TICKET_PART_SHIFT;
	uint64_t pos = (ticket & (((uint64_t)1 << TICKET_PART_SHIFT) - 1)) - 1;
	if (pi == 0 || pi > o->n_parts)
		return NULL;
	struct part *p = &o->parts[pi - 1];
	if (pos < p->base + p->head || pos >= p->base + p->n)
		return NULL; /* already done, or the partition was dropped */
	*pp = p;
	return &p->v[pos - p->base];
}

void offsets_ref(struct offsets *o, uint64_t ticket)
{
	struct part *p;
	struct entry *e = lookup(o, ticket, &p);
	if (e && e->refs > 0)
		e->refs++;
}

void offsets_release(struct offsets *o, uint64_t ticket)
{
	struct part *p;
	struct entry *e = lookup(o, ticket, &p);
	if (!e || e->refs <= 0)
		return;
	if (--e->refs == 0)
		o->in_flight--;
	while (p->head < p->n && p->v[p->head].refs == 0)
		p->head++;
}

bool offsets_committable(struct offsets *o, const char *topic, int32_t partition, int64_t *offset)
{
	struct part *p = find(o, topic, partition, false);
	if (!p || p->last_offset < 0)
		return false;
	int64_t next = p->head < p->n ? p->v[p->head].offset : p->last_offset + 1;
	if (next <= p->next_commit)
		return false;
	p->next_commit = next;
	*offset = next;
	return true;
}

void offsets_each_committable(struct offsets *o,
			      void (*fn)(void *ud, const char *topic, int32_t partition,
					 int64_t offset),
			      void *ud)
{
	for (size_t i = 0; i < o->n_parts; i++) {
		int64_t off;
		if (offsets_committable(o, o->parts[i].topic, o->parts[i].partition, &off))
			fn(ud, o->parts[i].topic, o->parts[i].partition, off);
	}
}

size_t offsets_in_flight(const struct offsets *o)
{
	return o->in_flight;
}

void offsets_drop_partition(struct offsets *o, const char *topic, int32_t partition)
{
	struct part *p = find(o, topic, partition, false);
	if (!p)
		return;
	for (size_t i = p->head; i < p->n; i++)
		if (p->v[i].refs > 0)
			o->in_flight--;
	p->base += p->n;
	p->head = p->n = 0;
	p->last_offset = -1;
	p->next_commit = -1;
}
