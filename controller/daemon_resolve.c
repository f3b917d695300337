/* Events often name a resource (a subnet, a group, an instance...) rather than its VPC. Every
 * resource waiting RESOLVE_BATCH_S is looked up with one Describe per (account, region, kind)
 * (ids as filter values, RESOLVE_MAX_IDS at most), and the answer is cached: a bounded LRU
 * (RESOLVE_CACHE_MAX entries, the least recently used one evicted and counted). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon_internal.h"
#include "log.h"

#define RESOLVE_BATCH_S	  0.02
#define RESOLVE_MAX_IDS	  200
#define RESOLVE_CACHE_MAX 100000
#define CACHE_BUCKETS	  65536

struct pending_resolve {
	char account[24];
	char region[40];
	char resource[WK_ID_LEN];
	uint64_t ticket;
	struct pending_resolve *next;
};

struct cache_entry {
	char key[24 + 40 + WK_ID_LEN]; /* account/region/resource */
	char vpc[WK_ID_LEN];
	struct cache_entry *hnext;
	struct cache_entry *older, *newer; /* LRU list */
};

struct resolver {
	struct daemon *d;
	struct ev_timer timer;
	struct pending_resolve *pending;
	struct cache_entry *buckets[CACHE_BUCKETS];
	struct cache_entry *oldest, *newest;
	size_t n_cached;
};

static const struct {
	const char *prefix;
	enum obs_kind kind;
	const char *filter;
} resolvable[] = {
    {"subnet-", OBS_SUBNETS, "subnet-id"},	  {"sg-", OBS_SECURITY_GROUPS, "group-id"},
    {"rtb-", OBS_ROUTE_TABLES, "route-table-id"}, {"acl-", OBS_NETWORK_ACLS, "network-acl-id"},
    {"i-", OBS_INSTANCES, "instance-id"},
};

static int kind_of(const char *resource)
{
	for (size_t i = 0; i < sizeof(resolvable) / sizeof(resolvable[0]); i++)
		if (!strncmp(resource, resolvable[i].prefix, strlen(resolvable[i].prefix)))
			return (int)i;
	return -1;
}

static uint32_t hash_str(const char *s)
{
	return ds_hash(DS_HASH_SEED, s);
}

static void lru_unlink(struct resolver *r, struct cache_entry *e)
{
	if (e->older)
		e->older->newer = e->newer;
	else
		r->oldest = e->newer;
	if (e->newer)
		e->newer->older = e->older;
	else
		r->newest = e->older;
	e->older = e->newer = NULL;
}

static void lru_push(struct resolver *r, struct cache_entry *e)
{
	e->older = r->newest;
	e->newer = NULL;
	if (r->newest)
		r->newest->newer = e;
	else
		r->oldest = e;
	r->newest = e;
}

static void cache_key(char *out, size_t size, const char *account, const char *region,
		      const char *resource)
{
	snprintf(out, size, "%s/%s/%s", account, region, resource);
}

static const char *cache_get(struct resolver *r, const char *key)
{
	for (struct cache_entry *e = r->buckets[hash_str(key) % CACHE_BUCKETS]; e; e = e->hnext)
		if (!strcmp(e->key, key)) {
			lru_unlink(r, e);
			lru_push(r, e);
			return e->vpc;
		}
	return NULL;
}

static void evict_oldest(struct resolver *r)
{
	struct cache_entry *e = r->oldest;
	if (!e)
		return;
	lru_unlink(r, e);
	for (struct cache_entry **pp = &r->buckets[hash_str(e->key) % CACHE_BUCKETS]; *pp;
	     pp = &(*pp)->hnext)
		if (*pp == e) {
			*pp = e->hnext;
			break;
		}
	free(e);
	r->n_cached--;
	metrics_add(r->d->metrics, "dualstackd_resolve_cache_evictions_total", 1, NULL);
}

static void cache_put(struct resolver *r, const char *key, const char *vpc)
{
	if (cache_get(r, key))
		return;
	if (r->n_cached >= RESOLVE_CACHE_MAX)
		evict_oldest(r);
	struct cache_entry *e = calloc(1, sizeof(*e));
	if (!e)
		return;
	snprintf(e->key, sizeof(e->key), "%s", key);
	snprintf(e->vpc, sizeof(e->vpc), "%s", vpc);
	uint32_t b = hash_str(key) % CACHE_BUCKETS;
	e->hnext = r->buckets[b];
	r->buckets[b] = e;
	lru_push(r, e);
	r->n_cached++;
}

size_t resolver_cached(const struct resolver *r)
{
	return r->n_cached;
}

struct resolve_batch {
	struct resolver *r;
	struct pending_resolve *items;
	struct observed obs;
	const char **ids;
};

/* The VPC of the item whose id is `id` in an array of n items of `size` bytes. */
static const char *find_vpc(const void *items, size_t n, size_t size, size_t id_off, size_t vpc_off,
			    const char *id)
{
	for (size_t i = 0; i < n; i++) {
		const char *item = (const char *)items + i * size;
		if (!strcmp(item + id_off, id))
			return item + vpc_off;
	}
	return NULL;
}

#define FIND_VPC(vec, type, id_member, id)                                  \
	find_vpc((vec).v, (vec).n, sizeof(type), offsetof(type, id_member), \
		 offsetof(type, vpc_id), id)

static const char *vpc_in(const struct observed *o, const char *id)
{
	const char *v = FIND_VPC(o->subnets, struct subnet, subnet_id, id);
	if (!v)
		v = FIND_VPC(o->security_groups, struct security_group, group_id, id);
	if (!v)
		v = FIND_VPC(o->route_tables, struct route_table, route_table_id, id);
	if (!v)
		v = FIND_VPC(o->network_acls, struct network_acl, network_acl_id, id);
	if (!v)
		v = FIND_VPC(o->instances, struct instance, instance_id, id);
	return v;
}

static void on_resolved(void *ud, int rc, const struct ec2_error *err)
{
	struct resolve_batch *b = ud;
	struct resolver *r = b->r;
	struct daemon *d = r->d;
	for (struct pending_resolve *p = b->items, *next; p; p = next) {
		next = p->next;
		const char *vpc = rc ? NULL : vpc_in(&b->obs, p->resource);
		/* EC2's answer is checked like an event: a VPC id goes into a key */
		if (vpc && wk_valid_id(vpc) && !strncmp(vpc, "vpc-", 4)) {
			char key[24 + 40 + WK_ID_LEN];
			cache_key(key, sizeof(key), p->account, p->region, p->resource);
			cache_put(r, key, vpc);
			struct work_key k = {0};
			snprintf(k.account, sizeof(k.account), "%s", p->account);
			snprintf(k.region, sizeof(k.region), "%s", p->region);
			snprintf(k.vpc_id, sizeof(k.vpc_id), "%s", vpc);
			ingest_produce_work(d, &k, p->resource, p->ticket);
		} else {
			log_kv(rc ? "warn" : "info",
			       rc ? "cannot resolve a resource to its VPC" : "resource not found",
			       "resource", p->resource, "error", rc && err ? err->code : "", NULL);
			metrics_add(d->metrics, "dualstackd_resolve_misses_total", 1, NULL);
		}
		daemon_release_ticket(d, p->ticket); /* the resolve's own reference */
		free(p);
	}
	observed_cleanup(&b->obs);
	free(b->ids);
	free(b);
}

/* One read per (account, region, kind) for everything that waited. */
static void flush(struct ev_loop *loop, struct ev_timer *w, int revents)
{
	struct resolver *r = w->data;
	(void)loop;
	(void)revents;
	while (r->pending) {
		struct pending_resolve *first = r->pending, **pp = &r->pending;
		int kind = kind_of(first->resource);
		struct resolve_batch *b = calloc(1, sizeof(*b));
		const char **ids = calloc(RESOLVE_MAX_IDS, sizeof(*ids));
		size_t n = 0;
		if (!b || !ids) {
			free(b);
			free(ids);
			ev_timer_set(w, 1.0, 0.); /* memory is short: try again in a second */
			ev_timer_start(r->d->loop, w);
			return;
		}
		b->r = r;
		b->ids = ids;
		observed_init(&b->obs);
		while (*pp) {
			struct pending_resolve *p = *pp;
			if (n < RESOLVE_MAX_IDS && kind_of(p->resource) == kind &&
			    !strcmp(p->account, first->account) &&
			    !strcmp(p->region, first->region)) {
				*pp = p->next;
				p->next = b->items;
				b->items = p;
				ids[n++] = p->resource;
			} else {
				pp = &p->next;
			}
		}
		struct target *t = daemon_target(r->d, first->account, first->region);
		struct ec2_read q = {.kind = resolvable[kind].kind,
				     .filter_name = resolvable[kind].filter,
				     .filter_values = ids,
				     .n_filter_values = n};
		if (!t || t->port.port.read(t->port.port.ctx, &q, &b->obs, on_resolved, b))
			on_resolved(b, DS_ENOMEM, NULL);
	}
}

void resolver_add(struct resolver *r, const struct work_key *k, uint64_t ticket)
{
	char key[24 + 40 + WK_ID_LEN];
	cache_key(key, sizeof(key), k->account, k->region, k->resource_id);
	const char *vpc = cache_get(r, key);
	if (vpc) {
		struct work_key w = *k;
		snprintf(w.vpc_id, sizeof(w.vpc_id), "%s", vpc);
		ingest_produce_work(r->d, &w, k->resource_id, ticket);
		return;
	}
	if (kind_of(k->resource_id) < 0)
		return; /* a gateway, an ENI...: nothing of a VPC's state to look at */
	struct pending_resolve *p = calloc(1, sizeof(*p));
	if (!p) {
		log_kv("error", "out of memory: a resource is not resolved", "resource",
		       k->resource_id, NULL);
		return;
	}
	snprintf(p->account, sizeof(p->account), "%s", k->account);
	snprintf(p->region, sizeof(p->region), "%s", k->region);
	snprintf(p->resource, sizeof(p->resource), "%s", k->resource_id);
	p->ticket = ticket;
	if (ticket)
		offsets_ref(r->d->offsets, ticket);
	p->next = r->pending;
	r->pending = p;
	if (!ev_is_active(&r->timer)) {
		ev_timer_set(&r->timer, RESOLVE_BATCH_S, 0.);
		ev_timer_start(r->d->loop, &r->timer);
	}
}

struct resolver *resolver_new(struct daemon *d)
{
	struct resolver *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->d = d;
	ev_timer_init(&r->timer, flush, RESOLVE_BATCH_S, 0.);
	r->timer.data = r;
	return r;
}

void resolver_free(struct resolver *r)
{
	if (!r)
		return;
	ev_timer_stop(r->d->loop, &r->timer);
	for (struct pending_resolve *p = r->pending, *n; p; p = n) {
		n = p->next;
		free(p);
	}
	for (struct cache_entry *e = r->oldest, *n; e; e = n) {
		n = e->newer;
		free(e);
	}
	free(r);
}
