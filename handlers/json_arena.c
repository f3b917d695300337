#include "json_arena.h"

#include <cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

#if defined(__SANITIZE_ADDRESS__)
#define ARENA_DISABLED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define ARENA_DISABLED 1
#endif
#endif

#ifdef ARENA_DISABLED
void json_arena_install(void)
{
}
void json_arena_begin(void)
{
}
void json_arena_end(void)
{
}
#else

#define FIRST_CHUNK (128 * 1024) /* kept between decodes: a 2 KB event's tree fits many times */
#define ALIGN	    16

struct chunk {
	struct chunk *next; /* the chunks beyond the first, freed at the scope's end */
	size_t cap, used;
	_Alignas(ALIGN) unsigned char data[];
};

struct arena {
	bool active;
	unsigned depth;	     /* a scope opened inside another one belongs to the outer one */
	struct chunk *first; /* kept */
	struct chunk *extra;
};

static _Thread_local struct arena arena;

static struct chunk *new_chunk(size_t cap)
{
	struct chunk *c = malloc(sizeof(*c) + cap);
	if (c) {
		c->next = NULL;
		c->cap = cap;
		c->used = 0;
	}
	return c;
}

static void *from_chunk(struct chunk *c, size_t n)
{
	size_t at = (c->used + ALIGN - 1) & ~(size_t)(ALIGN - 1);
	if (at > c->cap || n > c->cap - at)
		return NULL;
	c->used = at + n;
	return c->data + at;
}

static void *hook_malloc(size_t n)
{
	struct arena *a = &arena;
	if (!a->active)
		return malloc(n);
	void *p = a->first ? from_chunk(a->first, n) : NULL;
	if (!p && a->extra)
		p = from_chunk(a->extra, n);
	if (!p) { /* a big event: one more chunk, at least as big as the request */
		struct chunk *c = new_chunk(n + ALIGN > FIRST_CHUNK ? n + ALIGN : FIRST_CHUNK);
		if (!c)
			return NULL; /* cJSON fails the parse: the event is rejected, not lost */
		c->next = a->extra;
		a->extra = c;
		p = from_chunk(c, n);
	}
	return p;
}

static void hook_free(void *p)
{
	if (!arena.active)
		free(p);
	/* in a scope: released with the scope */
}

void json_arena_install(void)
{
	cJSON_Hooks hooks = {hook_malloc, hook_free};
	cJSON_InitHooks(&hooks);
}

void json_arena_begin(void)
{
	struct arena *a = &arena;
	if (a->depth++)
		return;
	if (!a->first)
		a->first = new_chunk(FIRST_CHUNK); /* none: the extra chunks serve */
	if (a->first)
		a->first->used = 0;
	a->active = true;
}

void json_arena_end(void)
{
	struct arena *a = &arena;
	if (!a->depth || --a->depth)
		return;
	a->active = false;
	while (a->extra) {
		struct chunk *c = a->extra;
		a->extra = c->next;
		free(c);
	}
}
#endif
