#include "model.h"

#include <stdlib.h>
#include <string.h>

/* The layout every DS_VEC has; generic code reads and writes it with memcpy. */
struct vec_raw {
	void *v;
	size_t n, cap;
};

void *vec_push(void *vec, size_t elem_size)
{
	struct vec_raw r;
	memcpy(&r, vec, sizeof(r));
	if (r.n == r.cap) {
		size_t cap = r.cap ? r.cap * 2 : 1; /* most lists hold one or two */
		void *p = realloc(r.v, cap * elem_size);
		if (!p)
			return NULL;
		r.v = p;
		r.cap = cap;
	}
	void *elem = (char *)r.v + r.n * elem_size;
	memset(elem, 0, elem_size);
	r.n++;
	memcpy(vec, &r, sizeof(r));
	return elem;
}

uint32_t ds_hash(uint32_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

void vec_free(void *vec)
{
	struct vec_raw r;
	memcpy(&r, vec, sizeof(r));
	free(r.v);
	memset(vec, 0, sizeof(r));
}

void observed_init(struct observed *o)
{
	memset(o, 0, sizeof(*o));
}

static void permissions_free(struct sg_permission_vec *perms)
{
	for (size_t i = 0; i < perms->n; i++) {
		vec_free(&perms->v[i].groups);
		vec_free(&perms->v[i].ipv4_ranges);
		vec_free(&perms->v[i].ipv6_ranges);
		vec_free(&perms->v[i].prefix_lists);
	}
	vec_free(perms);
}

void observed_cleanup(struct observed *o)
{
	for (size_t i = 0; i < o->vpcs.n; i++) {
		vec_free(&o->vpcs.v[i].cidr_assocs);
		vec_free(&o->vpcs.v[i].ipv6_assocs);
		vec_free(&o->vpcs.v[i].tags);
	}
	for (size_t i = 0; i < o->subnets.n; i++) {
		vec_free(&o->subnets.v[i].ipv6_assocs);
		vec_free(&o->subnets.v[i].tags);
	}
	for (size_t i = 0; i < o->route_tables.n; i++) {
		vec_free(&o->route_tables.v[i].assocs);
		vec_free(&o->route_tables.v[i].routes);
		vec_free(&o->route_tables.v[i].tags);
	}
	for (size_t i = 0; i < o->internet_gateways.n; i++) {
		vec_free(&o->internet_gateways.v[i].attachments);
		vec_free(&o->internet_gateways.v[i].tags);
	}
	for (size_t i = 0; i < o->egress_only_gateways.n; i++) {
		vec_free(&o->egress_only_gateways.v[i].attachments);
		vec_free(&o->egress_only_gateways.v[i].tags);
	}
	for (size_t i = 0; i < o->security_groups.n; i++) {
		permissions_free(&o->security_groups.v[i].ingress);
		permissions_free(&o->security_groups.v[i].egress);
		vec_free(&o->security_groups.v[i].tags);
	}
	for (size_t i = 0; i < o->network_acls.n; i++) {
		vec_free(&o->network_acls.v[i].assocs);
		vec_free(&o->network_acls.v[i].entries);
		vec_free(&o->network_acls.v[i].tags);
	}
	for (size_t i = 0; i < o->instances.n; i++) {
		struct instance *in = &o->instances.v[i];
		for (size_t k = 0; k < in->interfaces.n; k++)
			vec_free(&in->interfaces.v[k].ipv6_addresses);
		vec_free(&in->interfaces);
		vec_free(&in->block_devices);
		vec_free(&in->tags);
	}
	vec_free(&o->vpcs);
	vec_free(&o->subnets);
	vec_free(&o->route_tables);
	vec_free(&o->internet_gateways);
	vec_free(&o->egress_only_gateways);
	vec_free(&o->security_groups);
	vec_free(&o->network_acls);
	vec_free(&o->instances);
	for (size_t i = 0; i < o->interfaces.n; i++)
		vec_free(&o->interfaces.v[i].ipv6_addresses);
	vec_free(&o->interfaces);
	vec_free(&o->instance_types);
	vec_free(&o->ssm_instances);
	for (size_t i = 0; i < o->images.n; i++)
		vec_free(&o->images.v[i].mappings);
	vec_free(&o->images);
	vec_free(&o->type_offerings);
	vec_free(&o->stop_protection);
	o->resize_facts_read = false;
}

const char *tag_get(const struct tag_vec *tags, const char *key)
{
	for (size_t i = 0; i < tags->n; i++)
		if (strcmp(tags->v[i].key, key) == 0)
			return tags->v[i].value;
	return NULL;
}
