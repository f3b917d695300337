/* json_arena.h - cJSON's allocations during one event decode come from a per-thread arena and
 * are released together when the decode ends, instead of a malloc and a free for every node
 * and string of the event (a quarter of the decode's CPU in `make bench`'s ingest profile).
 * Owns: cJSON's allocation hooks (json_arena_install, once, before any thread starts); outside
 * a scope they are malloc and free, so installing them changes nothing else. Not: objects
 * that outlive a scope - whoever opens one deletes or drops everything parsed in it before
 * json_arena_end - nor objects made before a scope and deleted inside it (their free would
 * wait for no scope: a leak). Sanitizer builds keep malloc and free (ASan must see every
 * allocation). */
#ifndef DS_JSON_ARENA_H
#define DS_JSON_ARENA_H

void json_arena_install(void);
/* From here this thread's cJSON allocations go to its arena; a scope opened inside another
 * is part of the outer one (released at the outer end). */
void json_arena_begin(void);
/* Releases everything allocated since json_arena_begin; back to malloc and free. */
void json_arena_end(void);

#endif
