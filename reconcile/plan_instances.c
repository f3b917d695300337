/* Steps 4 and 5: instances. Types without IPv6 (per DescribeInstanceTypes, never a list of
 * our own) are resized when the policy allows, to the type_map's target or the guide's rule of
 * thumb; every in-scope instance in a subnet with a /64 gets one IPv6 address on eth0. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest.h"
#include "plan_internal.h"

/* The guide's successor families, oldest first (spec §1). */
static const struct {
	const char *family;
	const char *successors[3];
} successors[] = {
    {"m1", {"m3", "m4", "m5"}},	 {"m2", {"r3", "r4", "r5"}},  {"m3", {"m4", "m5", NULL}},
    {"c1", {"c3", "c4", "c5"}},	 {"t1", {"t2", "t3", NULL}},  {"cc2", {"c3", "c4", NULL}},
    {"cr1", {"r3", "r4", NULL}}, {"hs1", {"d2", NULL, NULL}}, {"g2", {"g3", NULL, NULL}},
};

static const struct instance_type_info *type_info(const struct observed *o, const char *t)
{
	for (size_t i = 0; i < o->instance_types.n; i++)
		if (!strcmp(o->instance_types.v[i].instance_type, t))
			return &o->instance_types.v[i];
	return NULL;
}

static bool in_csv(const char *csv, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = csv; (p = strstr(p, word)) != NULL; p += n)
		if ((p == csv || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
			return true;
	return false;
}

static bool split_type(const char *t, char *family, size_t fsize, const char **size)
{
	const char *dot = strchr(t, '.');
	if (!dot || (size_t)(dot - t) >= fsize)
		return false;
	memcpy(family, t, (size_t)(dot - t));
	family[dot - t] = '\0';
	*size = dot + 1;
	return true;
}

/* Whether `cand` can run this instance with IPv6. */
static bool fits(const struct observed *o, const struct instance *in, const char *cand)
{
	const struct instance_type_info *ti = type_info(o, cand);
	if (!ti || !ti->ipv6_supported)
		return false;
	if (in->architecture[0] && ti->architectures[0] &&
	    !in_csv(ti->architectures, in->architecture))
		return false;
	const char *virt = in->virtualization_type[0] ? in->virtualization_type : "hvm";
	return !ti->virtualization_types[0] || in_csv(ti->virtualization_types, virt);
}

static const char *mapped_type(const struct policy *p, const char *from)
{
	for (size_t i = 0; i < p->n_type_map; i++)
		if (!strcmp(p->type_map[i].from, from))
			return p->type_map[i].to;
	return NULL;
}

/* The target type, or NULL with why filled. */
static const char *target_type(const struct plan_ctx *c, const struct instance *in, char *buf,
			       size_t size, char *why, size_t why_size)
{
	bool pv = !strcmp(in->virtualization_type, "paravirtual");
	char family[16];
	const char *sz;
	const char *mapped = mapped_type(c->pol, in->instance_type);
	if (mapped) {
		if (pv && strncmp(mapped, "c3.", 3) != 0) {
			snprintf(why, why_size, "paravirtual: type_map's %s is not a C3 type",
				 mapped);
			return NULL;
		}
		if (!fits(c->obs, in, mapped)) {
			snprintf(why, why_size,
				 "type_map's %s lacks IPv6, the architecture or the "
				 "virtualization type",
				 mapped);
			return NULL;
		}
		return mapped;
	}
	if (!split_type(in->instance_type, family, sizeof(family), &sz)) {
		snprintf(why, why_size, "cannot read type %s", in->instance_type);
		return NULL;
	}
	if (pv) {
		snprintf(buf, size, "c3.%s", sz);
		if (fits(c->obs, in, buf))
			return buf;
		snprintf(why, why_size, "paravirtual: only C3 types take it and c3.%s does not fit",
			 sz);
		return NULL;
	}
	for (size_t i = 0; i < sizeof(successors) / sizeof(successors[0]); i++) {
		if (strcmp(successors[i].family, family) != 0)
			continue;
		for (int k = 0; k < 3 && successors[i].successors[k]; k++) {
			snprintf(buf, size, "%s.%s", successors[i].successors[k], sz);
			if (fits(c->obs, in, buf))
				return buf;
		}
	}
	snprintf(why, why_size, "no successor family has a %s size with IPv6; set a type_map entry",
		 sz);
	return NULL;
}

static bool has_instance_store(const struct instance *in)
{
	if (!strcmp(in->root_device_type, "instance-store"))
		return true;
	for (size_t i = 0; i < in->block_devices.n; i++)
		if (!in->block_devices.v[i].ebs_volume_id[0])
			return true;
	return false;
}

static bool instance_in_scope(const struct plan_ctx *c, const struct instance *in)
{
	if (strcmp(in->vpc_id, c->vpc->vpc_id) != 0)
		return false;
	const struct subnet_state *s = plan_subnet(c, in->subnet_id);
	return s && s->in_scope && !policy_opted_out(c->pol, &in->tags);
}

static int cmp_instance_ptr(const void *a, const void *b)
{
	const struct instance *const *x = a, *const *y = b;
	return strcmp((*x)->instance_id, (*y)->instance_id);
}

static int add_resize(struct plan_ctx *c, const struct instance *in, const char *from,
		      const char *to, bool was_running, bool resume, const char *why)
{
	int a = plan_add_action(c, ACT_RESIZE_INSTANCE, 4, in->instance_id, "%s", why);
	if (a < 0)
		return a;
	struct plan_action *act = &c->out->actions.v[a];
	snprintf(act->instance_id, sizeof(act->instance_id), "%s", in->instance_id);
	snprintf(act->from_type, sizeof(act->from_type), "%s", from);
	snprintf(act->to_type, sizeof(act->to_type), "%s", to);
	act->was_running = was_running;
	act->resume = resume;
	/* tag, [stop], modify, [start], untag - less what an interrupted resize already did */
	bool typed = !strcmp(in->instance_type, to);
	bool running = !strcmp(in->state, "running");
	act->calls = (resume ? 0 : 1) + (!typed && running) + !typed +
		     (was_running && (!typed || !running)) + 1;
	return a;
}

static void plan_instance(struct plan_ctx *c, size_t slot)
{
	const struct instance *in = c->instances[slot].inst;
	const char *id = in->instance_id;
	const char *from = tag_get(&in->tags, TAG_RESIZE_FROM);
	const char *to = tag_get(&in->tags, TAG_RESIZE_TO);
	const char *was = tag_get(&in->tags, TAG_RESIZE_WAS);
	snprintf(c->instances[slot].final_type, DS_ID_LEN, "%s", in->instance_type);
	if (from && to) {
		/* An interrupted resize is always driven to completion: a running instance is
		 * never left stopped, whatever the policy or the window says now. */
		c->instances[slot].resize_action =
		    add_resize(c, in, from, to, was && !strcmp(was, "running"), true,
			       "an interrupted resize is driven to completion");
		snprintf(c->instances[slot].final_type, DS_ID_LEN, "%s", to);
		return;
	}
	const struct instance_type_info *ti = type_info(c->obs, in->instance_type);
	if (!ti) {
		plan_add_finding(c, FIND_BLOCKED, 4, id, "unknown-instance-type",
				 "DescribeInstanceTypes does not know %s", in->instance_type);
		return;
	}
	if (ti->ipv6_supported)
		return;
	if (c->pol->resize == RESIZE_NEVER) {
		plan_add_finding(c, FIND_BLOCKED, 4, id, "resize-needed",
				 "%s has no IPv6; the policy's resize is never", in->instance_type);
		return;
	}
	const char *opt_in = tag_get(&in->tags, "dualstack:resize");
	if (c->pol->resize == RESIZE_OPT_IN_TAG && !(opt_in && !strcmp(opt_in, "true"))) {
		plan_add_finding(c, FIND_BLOCKED, 4, id, "resize-needs-opt-in",
				 "%s has no IPv6; tag dualstack:resize=true to allow the resize",
				 in->instance_type);
		return;
	}
	if (has_instance_store(in) && !c->pol->allow_instance_store_loss) {
		plan_add_finding(
		    c, FIND_BLOCKED, 4, id, "instance-store",
		    "%s has instance-store storage that a stop would erase; not resized",
		    in->instance_type);
		return;
	}
	char buf[DS_ID_LEN], why[256];
	const char *target = target_type(c, in, buf, sizeof(buf), why, sizeof(why));
	if (!target) {
		plan_add_finding(c, FIND_BLOCKED, 4, id,
				 !strcmp(in->virtualization_type, "paravirtual")
				     ? "pv-no-c3"
				     : "no-ipv6-successor",
				 "%s: %s", in->instance_type, why);
		return;
	}
	if (strcmp(in->state, "running") != 0 && strcmp(in->state, "stopped") != 0) {
		plan_add_finding(c, FIND_INFO, 4, id, "instance-transitioning",
				 "%s; the resize waits for running or stopped", in->state);
		return;
	}
	if (!policy_in_window(c->pol, c->in->now)) {
		plan_add_finding(c, FIND_BLOCKED, 4, id, "outside-maintenance-window",
				 "%s -> %s waits for the maintenance window", in->instance_type,
				 target);
		return;
	}
	bool running = !strcmp(in->state, "running");
	if (running && in->public_ip[0])
		plan_add_finding(c, FIND_WARNING, 4, id, "public-ipv4-changes",
				 "stop/start gives the instance a new public IPv4 address (now %s)",
				 in->public_ip);
	char reason[256];
	snprintf(reason, sizeof(reason), "%s has no IPv6; %s %s", in->instance_type,
		 mapped_type(c->pol, in->instance_type) ? "type_map says"
							: "the guide's successor is",
		 target);
	c->instances[slot].resize_action =
	    add_resize(c, in, in->instance_type, target, running, false, reason);
	snprintf(c->instances[slot].final_type, DS_ID_LEN, "%s", target);
}

void plan_step_resize(struct plan_ctx *c)
{
	const struct observed *o = c->obs;
	const struct instance **list = calloc(o->instances.n + 1, sizeof(*list));
	size_t n = 0;
	if (!list) {
		c->rc = DS_ENOMEM;
		return;
	}
	for (size_t i = 0; i < o->instances.n; i++)
		if (instance_in_scope(c, &o->instances.v[i]))
			list[n++] = &o->instances.v[i];
	qsort(list, n, sizeof(*list), cmp_instance_ptr);
	for (size_t i = 0; i < n; i++) {
		c->instances[i].inst = list[i];
		c->instances[i].resize_action = -1;
		c->instances[i].address_action = -1;
		snprintf(c->instances[i].final_type, DS_ID_LEN, "%s", list[i]->instance_type);
	}
	c->n_instances = n;
	free(list);
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(c->instances[i].inst->state, "terminated") ||
		    !strcmp(c->instances[i].inst->state, "shutting-down"))
			continue;
		plan_instance(c, i);
	}
}

void plan_step_addresses(struct plan_ctx *c)
{
	for (size_t i = 0; i < c->n_instances; i++) {
		const struct instance *in = c->instances[i].inst;
		if (strcmp(in->state, "running") != 0 && strcmp(in->state, "stopped") != 0)
			continue;
		const struct subnet_state *s = plan_subnet(c, in->subnet_id);
		if (!s || !s->has_v6)
			continue;
		const struct instance_type_info *ti = type_info(c->obs, c->instances[i].final_type);
		bool resized = c->instances[i].resize_action >= 0;
		if (!resized && (!ti || !ti->ipv6_supported))
			continue; /* step 4 reported why */
		const struct network_interface *eth0 = NULL;
		for (size_t k = 0; k < in->interfaces.n; k++)
			if (in->interfaces.v[k].device_index == 0)
				eth0 = &in->interfaces.v[k];
		if (eth0 && eth0->ipv6_addresses.n)
			c->instances[i].v6_after = true;
		if (!eth0 || eth0->ipv6_addresses.n)
			continue;
		int a = plan_add_action(c, ACT_ASSIGN_IPV6_ADDRESS, 5, eth0->network_interface_id,
					"eth0 of %s has no IPv6 address", in->instance_id);
		if (a < 0)
			return;
		snprintf(c->out->actions.v[a].instance_id, sizeof(c->out->actions.v[a].instance_id),
			 "%s", in->instance_id);
		plan_add_dep(c, a, s->assoc_action);
		plan_add_dep(c, a, c->instances[i].resize_action);
		c->instances[i].v6_after = true;
		c->instances[i].address_action = a;
	}
}

/* Step 6: DHCPv6 inside the guests that need it, through SSM, once per instance. */
void plan_step_guest(struct plan_ctx *c)
{
	for (size_t i = 0; i < c->n_instances; i++) {
		const struct instance *in = c->instances[i].inst;
		if (strcmp(in->state, "running") != 0 || !c->instances[i].v6_after ||
		    tag_get(&in->tags, TAG_GUEST_CONFIG))
			continue;
		const struct ssm_instance *si = NULL;
		for (size_t k = 0; k < c->obs->ssm_instances.n; k++)
			if (!strcmp(c->obs->ssm_instances.v[k].instance_id, in->instance_id))
				si = &c->obs->ssm_instances.v[k];
		if (!si || strcmp(si->ping_status, "Online") != 0) {
			plan_add_finding(
			    c, FIND_WARNING, 6, in->instance_id, "guest-config-unmanaged",
			    "no online SSM agent (%s): configure DHCPv6 in the guest by "
			    "hand if its OS needs it",
			    si ? si->ping_status : "not managed");
			continue;
		}
		enum guest_os os = guest_os_classify(si);
		if (os == GUEST_OS_CONFIGURED)
			continue;
		if (os == GUEST_OS_UNKNOWN) {
			plan_add_finding(c, FIND_INFO, 6, in->instance_id, "guest-os-unknown",
					 "%s %s is not in the guide's list; nothing sent",
					 si->platform_name, si->platform_version);
			continue;
		}
		int a = plan_add_action(c, ACT_GUEST_DHCPV6, 6, in->instance_id,
					"%s %s needs DHCPv6 turned on (the guide's step 6)",
					si->platform_name, si->platform_version);
		if (a < 0)
			return;
		struct plan_action *act = &c->out->actions.v[a];
		snprintf(act->instance_id, sizeof(act->instance_id), "%s", in->instance_id);
		act->guest_os = (int)os;
		act->calls = 2; /* SendCommand, then the tag that records it */
		plan_add_dep(c, a, c->instances[i].address_action);
	}
}

/* ---- the instance types the planner will ask about ---- */

static int add_name(char ***names, size_t *n, const char *t)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*names)[i], t))
			return DS_OK;
	char **p = realloc(*names, (*n + 1) * sizeof(char *));
	if (!p)
		return DS_ENOMEM;
	*names = p;
	p[*n] = strdup(t);
	if (!p[*n])
		return DS_ENOMEM;
	(*n)++;
	return DS_OK;
}

int plan_wanted_instance_types(const struct policy *pol, const struct observed *obs, char ***names,
			       size_t *n)
{
	int rc = DS_OK;
	for (size_t i = 0; i < obs->instances.n && !rc; i++) {
		const struct instance *in = &obs->instances.v[i];
		char family[16], buf[DS_ID_LEN];
		const char *sz;
		rc = add_name(names, n, in->instance_type);
		const char *m = mapped_type(pol, in->instance_type);
		if (!rc && m)
			rc = add_name(names, n, m);
		const char *to = tag_get(&in->tags, TAG_RESIZE_TO);
		if (!rc && to)
			rc = add_name(names, n, to);
		if (rc || !split_type(in->instance_type, family, sizeof(family), &sz))
			continue;
		snprintf(buf, sizeof(buf), "c3.%s", sz);
		rc = add_name(names, n, buf);
		for (size_t s = 0; s < sizeof(successors) / sizeof(successors[0]) && !rc; s++) {
			if (strcmp(successors[s].family, family) != 0)
				continue;
			for (int k = 0; k < 3 && successors[s].successors[k] && !rc; k++) {
				snprintf(buf, sizeof(buf), "%s.%s", successors[s].successors[k],
					 sz);
				rc = add_name(names, n, buf);
			}
		}
	}
	return rc;
}
