/* Steps 5 and 6: every in-scope instance in a subnet with a /64 whose (possibly resized) type
 * has IPv6 gets one IPv6 address on eth0; guests whose OS needs it get DHCPv6 through SSM. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest.h"
#include "plan_internal.h"

void plan_step_addresses(struct plan_ctx *c)
{
	for (size_t i = 0; i < c->n_instances; i++) {
		const struct instance *in = c->instances[i].inst;
		if (strcmp(in->state, "running") != 0 && strcmp(in->state, "stopped") != 0)
			continue;
		const struct subnet_state *s = plan_subnet(c, in->subnet_id);
		if (!s || !s->has_v6)
			continue;
		/* the type it will run: the resize's target when one goes forward */
		const struct instance_type_info *ti =
		    plan_type_info(c->obs, c->instances[i].final_type);
		if (!ti || !ti->ipv6_supported)
			continue; /* step 4 reported why */
		const struct network_interface *eth0 = NULL;
		for (size_t k = 0; k < in->interfaces.n; k++)
			if (in->interfaces.v[k].device_index == 0)
				eth0 = &in->interfaces.v[k];
		if (eth0 && eth0->ipv6_addresses.n)
			c->instances[i].v6_after = true;
		if (!eth0 || eth0->ipv6_addresses.n)
			continue;
		int mark = plan_mark(c, 5, in->instance_id, &in->tags, NULL);
		int a = plan_add_action(c, ACT_ASSIGN_IPV6_ADDRESS, 5, eth0->network_interface_id,
					"eth0 of %s has no IPv6 address", in->instance_id);
		if (a < 0)
			return;
		snprintf(c->out->actions.v[a].instance_id, sizeof(c->out->actions.v[a].instance_id),
			 "%s", in->instance_id);
		plan_add_dep(c, a, s->assoc_action);
		plan_add_dep(c, a, c->instances[i].resize_action);
		plan_add_dep(c, a, mark);
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
