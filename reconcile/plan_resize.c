/* Step 4: instance types without IPv6 (per DescribeInstanceTypes, never a list of our own) are
 * resized when the policy allows it - and only when the stop and the new type cannot leave the
 * instance worse off:
 *   - it may be stopped: not an Auto Scaling, EKS/ECS or Karpenter member (they replace a
 *     stopped instance), not Spot, not stop-protected (DisableApiStop), not hibernation-
 *     configured;
 *   - no instance-store data is lost: the owner's tag dualstack:instance-store says, else the
 *     root device, NVMe instance store (always attached on the types that have it), the AMI's
 *     ephemeral mappings; an AMI that cannot be read is "unknown", never "none";
 *   - the target takes the instance: IPv6, architecture, virtualization, ENA, NVMe (only with
 *     an explicit type_map entry), boot mode, offered in its Availability Zone.
 * Anything unknown is a finding and no stop. An interrupted resize (its tags) resumes toward
 * `to` only when the current policy would still choose it now; otherwise it is restored (no
 * stop, no retype: started again if it was running). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Tags of groups that replace or reclaim a stopped member. */
static const struct {
	const char *key; /* a prefix when it ends in '/' */
	const char *what;
} managed_tags[] = {
    {"aws:autoscaling:groupName", "it is an Auto Scaling group member (the group would "
				  "replace it when stopped)"},
    {"eks:nodegroup-name", "it is an EKS managed node group member"},
    {"eks:cluster-name", "it is an EKS cluster node"},
    {"kubernetes.io/cluster/", "it is a Kubernetes cluster node"},
    {"karpenter.sh/nodepool", "it is a Karpenter node"},
    {"AmazonECSManaged", "it is an ECS capacity provider instance"},
    {"aws:ec2spot:fleet-request-id", "it is a Spot Fleet member"},
    {"aws:ec2:fleet-id", "it is an EC2 Fleet member"},
};

const struct instance_type_info *plan_type_info(const struct observed *o, const char *t)
{
	for (size_t i = 0; i < o->instance_types.n; i++)
		if (!strcmp(o->instance_types.v[i].instance_type, t))
			return &o->instance_types.v[i];
	return NULL;
}

static bool in_csv(const char *csv, const char *word)
{
	size_t n = strlen(word);
	if (!n)
		return false;
	for (const char *p = csv; (p = strstr(p, word)) != NULL; p += n)
		if ((p == csv || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
			return true;
	return false;
}

/* Every word of a is in b. */
static bool csv_subset(const char *a, const char *b)
{
	char word[64];
	for (const char *p = a; *p;) {
		size_t n = strcspn(p, ",");
		if (n >= sizeof(word))
			return false;
		memcpy(word, p, n);
		word[n] = '\0';
		if (n && !in_csv(b, word))
			return false;
		p += n + (p[n] == ',');
	}
	return true;
}

/* EC2's size ladder: a successor family may lack the same size (c3 has no medium), and the
 * report then suggests the next size up. */
static const char *const sizes[] = {"nano",	"micro",    "small",	"medium",   "large",
				    "xlarge",	"2xlarge",  "4xlarge",	"8xlarge",  "9xlarge",
				    "12xlarge", "16xlarge", "18xlarge", "24xlarge", "32xlarge"};

static const char *size_up(const char *sz)
{
	for (size_t i = 0; i + 1 < sizeof(sizes) / sizeof(sizes[0]); i++)
		if (!strcmp(sizes[i], sz))
			return sizes[i + 1];
	return NULL;
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

static const char *mapped_type(const struct policy *p, const char *from)
{
	for (size_t i = 0; i < p->n_type_map; i++)
		if (!strcmp(p->type_map[i].from, from))
			return p->type_map[i].to;
	return NULL;
}

static bool offered(const struct observed *o, const char *type, const char *az)
{
	for (size_t i = 0; i < o->type_offerings.n; i++)
		if (!strcmp(o->type_offerings.v[i].instance_type, type) &&
		    !strcmp(o->type_offerings.v[i].location, az))
			return true;
	return false;
}

/* Whether `cand` can run this instance (of type `from`) with IPv6; why says what does not
 * fit. `explicit` is a type_map entry: the operator vouches for the NVMe drivers. */
static bool fits_for(const struct observed *o, const struct instance *in, const char *from,
		     const char *cand, bool explicit, bool need_ipv6, char *why, size_t why_size)
{
	const struct instance_type_info *ti = plan_type_info(o, cand);
	const struct instance_type_info *src = plan_type_info(o, from);
	const char *virt = in->virtualization_type[0] ? in->virtualization_type : "hvm";
	const char *boot = in->current_boot_mode[0] ? in->current_boot_mode : in->boot_mode;
	if (!ti)
		snprintf(why, why_size, "%s is not offered in this region", cand);
	else if (need_ipv6 && !ti->ipv6_supported)
		snprintf(why, why_size, "%s has no IPv6 either", cand);
	else if (in->architecture[0] && ti->architectures[0] &&
		 !in_csv(ti->architectures, in->architecture))
		snprintf(why, why_size, "%s does not run %s", cand, in->architecture);
	else if (ti->virtualization_types[0] && !in_csv(ti->virtualization_types, virt))
		snprintf(why, why_size, "%s does not run %s instances", cand, virt);
	else if (!strcmp(ti->ena_support, "required") && !in->ena_support)
		snprintf(why, why_size, "%s needs ENA and the instance has enaSupport off", cand);
	else if (!strcmp(ti->ebs_nvme, "required") && !explicit &&
		 !(src && !strcmp(src->ebs_nvme, "required")))
		snprintf(why, why_size,
			 "%s exposes EBS as NVMe: only with a type_map entry (the AMI needs NVMe "
			 "drivers)",
			 cand);
	else if (ti->boot_modes[0] && boot[0] && !in_csv(ti->boot_modes, boot))
		snprintf(why, why_size, "%s does not boot %s", cand, boot);
	else if (ti->boot_modes[0] && !boot[0] &&
		 !(src && src->boot_modes[0] && csv_subset(src->boot_modes, ti->boot_modes)))
		/* the instance boots one of its type's modes: a target taking them all fits */
		snprintf(why, why_size, "the instance's boot mode is unknown and %s boots only %s",
			 cand, ti->boot_modes);
	else if (!o->resize_facts_read)
		snprintf(why, why_size, "the offerings of %s could not be read", cand);
	else if (!in->availability_zone[0] || !offered(o, cand, in->availability_zone))
		snprintf(why, why_size, "%s is not offered in %s", cand,
			 in->availability_zone[0] ? in->availability_zone : "its zone (unknown)");
	else
		return true;
	return false;
}

static bool fits(const struct observed *o, const struct instance *in, const char *from,
		 const char *cand, bool explicit, char *why, size_t why_size)
{
	return fits_for(o, in, from, cand, explicit, true, why, why_size);
}

/* A type_map entry to suggest when no successor of the same size fits: the first successor
 * family's type, same size or one up, that EC2 knows with IPv6 and the instance's
 * architecture; NULL when none was read. */
static const char *suggest_type(const struct plan_ctx *c, const struct instance *in,
				const char *from, char *buf, size_t size)
{
	char family[16];
	const char *sz;
	if (!split_type(from, family, sizeof(family), &sz))
		return NULL;
	const char *arch = in->architecture[0] ? in->architecture : "x86_64";
	for (size_t i = 0; i < sizeof(successors) / sizeof(successors[0]); i++) {
		if (strcmp(successors[i].family, family) != 0)
			continue;
		for (int k = 0; k < 3 && successors[i].successors[k]; k++) {
			const char *try_sizes[] = {sz, size_up(sz)};
			for (int z = 0; z < 2 && try_sizes[z]; z++) {
				snprintf(buf, size, "%s.%s", successors[i].successors[k],
					 try_sizes[z]);
				const struct instance_type_info *t = plan_type_info(c->obs, buf);
				if (t && t->ipv6_supported && strstr(t->architectures, arch))
					return buf;
			}
		}
	}
	return NULL;
}

/* The policy's target for an instance of type `from`, or NULL with why filled. */
static const char *target_type(const struct plan_ctx *c, const struct instance *in,
			       const char *from, char *buf, size_t size, char *why, size_t why_size)
{
	bool pv = !strcmp(in->virtualization_type, "paravirtual");
	char family[16];
	const char *sz;
	const char *mapped = mapped_type(c->pol, from);
	if (mapped) {
		if (pv && strncmp(mapped, "c3.", 3) != 0) {
			snprintf(why, why_size, "paravirtual: type_map's %s is not a C3 type",
				 mapped);
			return NULL;
		}
		char w[200];
		if (!fits(c->obs, in, from, mapped, true, w, sizeof(w))) {
			snprintf(why, why_size, "type_map's target: %s", w);
			return NULL;
		}
		return mapped;
	}
	if (!split_type(from, family, sizeof(family), &sz)) {
		snprintf(why, why_size, "cannot read type %s", from);
		return NULL;
	}
	if (pv) {
		snprintf(buf, size, "c3.%s", sz);
		char w[200];
		if (fits(c->obs, in, from, buf, false, w, sizeof(w)))
			return buf;
		snprintf(why, why_size, "paravirtual: only C3 types take it: %s", w);
		return NULL;
	}
	why[0] = '\0';
	for (size_t i = 0; i < sizeof(successors) / sizeof(successors[0]); i++) {
		if (strcmp(successors[i].family, family) != 0)
			continue;
		for (int k = 0; k < 3 && successors[i].successors[k]; k++) {
			char w[200];
			snprintf(buf, size, "%s.%s", successors[i].successors[k], sz);
			if (fits(c->obs, in, from, buf, false, w, sizeof(w)))
				return buf;
			/* the first existing candidate's reason is the most telling */
			if (!why[0] && plan_type_info(c->obs, buf))
				snprintf(why, why_size, "%s", w);
		}
	}
	if (!why[0])
		snprintf(why, why_size, "no successor family has a %s size with IPv6", sz);
	snprintf(why + strlen(why), why_size - strlen(why), "; set a type_map entry");
	return NULL;
}

/* Why the instance must not be stopped, or NULL; code gets the finding's code. */
static const char *unstoppable(const struct plan_ctx *c, const struct instance *in,
			       const char **code)
{
	for (size_t i = 0; i < sizeof(managed_tags) / sizeof(managed_tags[0]); i++) {
		const char *k = managed_tags[i].key;
		size_t n = strlen(k);
		for (size_t t = 0; t < in->tags.n; t++)
			if (k[n - 1] == '/' ? !strncmp(in->tags.v[t].key, k, n)
					    : !strcmp(in->tags.v[t].key, k)) {
				*code = "managed-instance";
				return managed_tags[i].what;
			}
	}
	if (!strcmp(in->lifecycle, "spot")) {
		*code = "spot-instance";
		return "it is a Spot instance (its capacity is not held while stopped)";
	}
	if (in->hibernation_configured) {
		*code = "hibernation-configured";
		return "it is configured for hibernation (its type cannot change)";
	}
	const struct stop_protection *sp = NULL;
	for (size_t i = 0; i < c->obs->stop_protection.n; i++)
		if (!strcmp(c->obs->stop_protection.v[i].instance_id, in->instance_id))
			sp = &c->obs->stop_protection.v[i];
	if (!sp) {
		*code = "stop-protection-unknown";
		return "its DisableApiStop attribute could not be read, so a stop is not known "
		       "to be allowed";
	}
	if (sp->disable_api_stop) {
		*code = "stop-protected";
		return "it is stop-protected (DisableApiStop)";
	}
	return NULL;
}

enum store_verdict { STORE_NONE, STORE_PRESENT, STORE_UNKNOWN };

/* Whether a stop may erase instance-store data; how says what told. */
static enum store_verdict instance_store(const struct plan_ctx *c, const struct instance *in,
					 const char **how)
{
	const char *owner = tag_get(&in->tags, TAG_INSTANCE_STORE);
	if (owner && !strcmp(owner, "none")) {
		*how = "the owner's tag " TAG_INSTANCE_STORE "=none";
		return STORE_NONE;
	}
	if (owner && !strcmp(owner, "present")) {
		*how = "the owner's tag " TAG_INSTANCE_STORE "=present";
		return STORE_PRESENT;
	}
	if (!strcmp(in->root_device_type, "instance-store")) {
		*how = "its root device is instance store";
		return STORE_PRESENT;
	}
	for (size_t i = 0; i < in->block_devices.n; i++)
		if (!in->block_devices.v[i].ebs_volume_id[0]) {
			*how = "a non-EBS block device is attached";
			return STORE_PRESENT;
		}
	const struct instance_type_info *ti = plan_type_info(c->obs, in->instance_type);
	if (!ti || !ti->instance_storage_supported) {
		*how = "its type has no instance storage";
		return STORE_NONE;
	}
	if (!strcmp(ti->storage_nvme, "required")) {
		*how = "its type always attaches NVMe instance store";
		return STORE_PRESENT;
	}
	const struct image *img = NULL;
	for (size_t i = 0; i < c->obs->images.n; i++)
		if (!strcmp(c->obs->images.v[i].image_id, in->image_id))
			img = &c->obs->images.v[i];
	if (!img) {
		*how = "its type has instance storage and its AMI cannot be read (gone or not "
		       "shared); tag " TAG_INSTANCE_STORE "=none|present to decide";
		return STORE_UNKNOWN;
	}
	for (size_t i = 0; i < img->mappings.n; i++)
		if (!strncmp(img->mappings.v[i].virtual_name, "ephemeral", 9)) {
			*how = "its AMI maps ephemeral volumes";
			return STORE_PRESENT;
		}
	*how = "its AMI maps no ephemeral volume";
	return STORE_NONE;
}

static int add_resize(struct plan_ctx *c, const struct instance *in, const char *from,
		      const char *to, bool was_running, enum resize_mode mode, bool resume,
		      bool retype_back, const char *why)
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
	act->resize_mode = mode;
	act->retype_back = retype_back;
	bool typed = !strcmp(in->instance_type, to);
	bool running = !strcmp(in->state, "running");
	bool stopped = !strcmp(in->state, "stopped");
	if (mode == RESIZE_FORWARD) /* tag, [stop], retype, [start], untag - less what is done */
		act->calls = (resume ? 0 : 1) + (!typed && running) + !typed +
			     (was_running && (!typed || !running)) + 1;
	else if (mode == RESIZE_RESTORE) /* [start], untag */
		act->calls = (stopped && was_running) + 1;
	else /* [retype back], [start], tag failed, untag (the rollback tag is there already) */
		act->calls = (stopped && retype_back && typed) + (stopped && was_running) + 2;
	return a;
}

/* What an operator does about an instance dualstackd must not stop. */
static const char *unstoppable_fix(const char *code)
{
	if (!strcmp(code, "managed-instance"))
		return "move the group to an IPv6-capable type (launch template, node group or "
		       "fleet) and let it replace the instances";
	if (!strcmp(code, "spot-instance"))
		return "launch Spot capacity of an IPv6-capable type instead";
	if (!strcmp(code, "stop-protected") || !strcmp(code, "stop-protection-unknown"))
		return "lift stop protection (DisableApiStop) for the resize, or resize it "
		       "yourself";
	if (!strcmp(code, "hibernation-configured"))
		return "resize it yourself: a hibernation-configured instance keeps its type";
	return "resize it yourself to an IPv6-capable type";
}

/* The checks a stop needs; true when they pass, else a finding was added. */
static bool may_stop_for(struct plan_ctx *c, const struct instance *in, bool back)
{
	const char *id = in->instance_id;
	const char *code = NULL, *why = unstoppable(c, in, &code);
	if (why) {
		plan_add_finding(
		    c, FIND_BLOCKED, 4, id, code, "%s %s, but %s; not resized", in->instance_type,
		    back ? "would go back to its type before dualstackd" : "has no IPv6", why);
		plan_set_fix(c, "%s", unstoppable_fix(code));
		return false;
	}
	const char *how = "";
	enum store_verdict v = instance_store(c, in, &how);
	if (v != STORE_NONE && !c->pol->allow_instance_store_loss) {
		plan_add_finding(c, FIND_BLOCKED, 4, id,
				 v == STORE_PRESENT ? "instance-store" : "instance-store-unknown",
				 "%s: a stop may erase instance-store data: %s; not resized",
				 in->instance_type, how);
		plan_set_fix(c, "move or accept the loss of the instance-store data, then tag the "
				"instances dualstack:instance-store=none (or set "
				"instances.allow_instance_store_loss)");
		return false;
	}
	return true;
}

static bool may_stop(struct plan_ctx *c, const struct instance *in)
{
	return may_stop_for(c, in, false);
}

/* An instance carrying dualstackd's resize tags: finish, restore or roll back. */
static void plan_resume(struct plan_ctx *c, size_t slot, const char *from, const char *to)
{
	const struct instance *in = c->instances[slot].inst;
	const char *was = tag_get(&in->tags, TAG_RESIZE_WAS);
	bool was_running = was && !strcmp(was, "running");
	bool stopped = !strcmp(in->state, "stopped");
	char buf[DS_ID_LEN], why[256];
	/* tags are not authority: only the policy's own choice for `from` is resumed */
	const char *want = target_type(c, in, from, buf, sizeof(buf), why, sizeof(why));
	bool backed = c->pol->resize != RESIZE_NEVER && want && !strcmp(want, to);
	const char *opt_in = tag_get(&in->tags, "dualstack:resize");
	if (c->pol->resize == RESIZE_OPT_IN_TAG && !(opt_in && !strcmp(opt_in, "true")))
		backed = false;
	int a;
	if (tag_get(&in->tags, TAG_RESIZE_ROLLBACK)) {
		a = add_resize(c, in, from, to, was_running, RESIZE_ROLLBACK, true, backed,
			       "an interrupted rollback is finished: back to the original type");
	} else if (backed && (!stopped || policy_in_window(c->pol, c->in->now)) &&
		   (strcmp(in->state, "running") || may_stop(c, in))) {
		a = add_resize(c, in, from, to, was_running, RESIZE_FORWARD, true, false,
			       "an interrupted resize is driven to completion");
		snprintf(c->instances[slot].final_type, DS_ID_LEN, "%s", to);
	} else {
		a = add_resize(c, in, from, to, was_running, RESIZE_RESTORE, true, false,
			       backed ? "an interrupted resize outside the maintenance window: "
					"started again as it is, resized in the next window"
				      : "an interrupted resize the policy no longer backs: "
					"started again as it is, no retype");
	}
	c->instances[slot].resize_action = a;
}

static void plan_instance(struct plan_ctx *c, size_t slot)
{
	const struct instance *in = c->instances[slot].inst;
	const char *id = in->instance_id;
	const char *from = tag_get(&in->tags, TAG_RESIZE_FROM);
	const char *to = tag_get(&in->tags, TAG_RESIZE_TO);
	if (from && to) {
		plan_resume(c, slot, from, to);
		return;
	}
	const struct instance_type_info *ti = plan_type_info(c->obs, in->instance_type);
	if (!ti) {
		plan_add_finding(c, FIND_BLOCKED, 4, id, "unknown-instance-type",
				 "DescribeInstanceTypes does not know %s", in->instance_type);
		return;
	}
	if (ti->ipv6_supported)
		return;
	const char *failed = tag_get(&in->tags, TAG_RESIZE_FAILED);
	if (failed) {
		plan_add_finding(
		    c, FIND_BLOCKED, 4, id, "resize-failed",
		    "an earlier resize was rolled back (%s); remove the tag " TAG_RESIZE_FAILED
		    " to let dualstackd try again",
		    failed);
		plan_set_fix(c, "fix what the tag " TAG_RESIZE_FAILED " says, then remove the tag");
		return;
	}
	if (c->pol->resize == RESIZE_NEVER) {
		plan_add_finding(c, FIND_BLOCKED, 4, id, "resize-needed",
				 "%s has no IPv6; the policy's resize is never", in->instance_type);
		plan_set_fix(c, "set instances.resize to \"always\", or to \"opt-in-tag\" and tag "
				"the instances dualstack:resize=true");
		return;
	}
	const char *opt_in = tag_get(&in->tags, "dualstack:resize");
	if (c->pol->resize == RESIZE_OPT_IN_TAG && !(opt_in && !strcmp(opt_in, "true"))) {
		plan_add_finding(c, FIND_BLOCKED, 4, id, "resize-needs-opt-in",
				 "%s has no IPv6; tag dualstack:resize=true to allow the resize",
				 in->instance_type);
		plan_set_fix(c, "tag the instances dualstack:resize=true");
		return;
	}
	if (strcmp(in->state, "running") != 0 && strcmp(in->state, "stopped") != 0) {
		plan_add_finding(c, FIND_INFO, 4, id, "instance-transitioning",
				 "%s; the resize waits for running or stopped", in->state);
		return;
	}
	if (!may_stop(c, in))
		return;
	char buf[DS_ID_LEN], why[256];
	const char *target =
	    target_type(c, in, in->instance_type, buf, sizeof(buf), why, sizeof(why));
	if (!target) {
		plan_add_finding(c, FIND_BLOCKED, 4, id,
				 !strcmp(in->virtualization_type, "paravirtual")
				     ? "pv-no-c3"
				     : "no-ipv6-successor",
				 "%s: %s", in->instance_type, why);
		char sbuf[DS_ID_LEN];
		const char *s = suggest_type(c, in, in->instance_type, sbuf, sizeof(sbuf));
		if (s)
			plan_set_fix(c, "add \"%s: %s\" to instances.type_map", in->instance_type,
				     s);
		else
			plan_set_fix(c,
				     "add a \"%s: <a type with IPv6>\" entry to instances.type_map",
				     in->instance_type);
		return;
	}
	if (!policy_in_window(c->pol, c->in->now)) {
		plan_add_finding(c, FIND_BLOCKED, 4, id, "outside-maintenance-window",
				 "%s -> %s waits for the maintenance window", in->instance_type,
				 target);
		plan_set_fix(c, "none: it resizes in instances.maintenance_window (widen it to go "
				"sooner)");
		return;
	}
	bool running = !strcmp(in->state, "running");
	if (running && in->public_ip[0])
		plan_add_finding(c, FIND_WARNING, 4, id, "public-ipv4-changes",
				 "stop/start gives the instance a new public IPv4 address (now %s)",
				 in->public_ip);
	if (ti->instance_storage_supported)
		plan_add_finding(c, FIND_INFO, 4, id, "instance-store-launch-mapping",
				 "%s supports instance storage; a volume mapped at launch is "
				 "invisible to the API and would be erased by the stop",
				 in->instance_type);
	char reason[256];
	snprintf(reason, sizeof(reason), "%s has no IPv6; %s %s", in->instance_type,
		 mapped_type(c->pol, in->instance_type) ? "type_map says"
							: "the guide's successor is",
		 target);
	c->instances[slot].resize_action = add_resize(c, in, in->instance_type, target, running,
						      RESIZE_FORWARD, false, false, reason);
	snprintf(c->instances[slot].final_type, DS_ID_LEN, "%s", target);
}

void plan_step_resize(struct plan_ctx *c)
{
	for (size_t i = 0; i < c->n_instances; i++) {
		const char *st = c->instances[i].inst->state;
		if (!strcmp(st, "terminated") || !strcmp(st, "shutting-down"))
			continue;
		plan_instance(c, i);
	}
}

/* Step 4 in a revert. An instance carrying resize tags is never left as it is: a resize-back of
 * ours (asked for) is finished, an interrupted rollback is finished (back to the original type,
 * which is what a revert wants), and any other interrupted resize is settled as it stands -
 * started again if it was running, untagged. With back, an instance dualstackd resized goes back
 * to its dualstack:resized-from type under step 4's rules: the same stop checks, compatibility
 * (less IPv6), window and slots, and the same crash tags, so a resize-back that stops half-way is
 * finished by the next revert (and only started again as it is by apply). Returns the action, or
 * -1 with a finding (or nothing to do). */
int plan_resize_revert(struct plan_ctx *c, const struct instance *in, bool back_asked)
{
	const char *id = in->instance_id;
	const char *back = tag_get(&in->tags, TAG_RESIZED_FROM);
	const char *from = tag_get(&in->tags, TAG_RESIZE_FROM);
	const char *to = tag_get(&in->tags, TAG_RESIZE_TO);
	const char *was = tag_get(&in->tags, TAG_RESIZE_WAS);
	bool was_running = was && !strcmp(was, "running");
	int a = -1;
	if (from && to) { /* a resize under way, of any kind: settled here, never left */
		bool ours_back = back_asked && back && !strcmp(to, back);
		if (tag_get(&in->tags, TAG_RESIZE_ROLLBACK))
			a = add_resize(c, in, from, to, was_running, RESIZE_ROLLBACK, true, true,
				       "an interrupted rollback is finished: back to the original "
				       "type");
		else if (ours_back)
			a = add_resize(c, in, from, to, was_running, RESIZE_FORWARD, true, false,
				       "an interrupted resize-back is driven to completion");
		else
			a = add_resize(c, in, from, to, was_running, RESIZE_RESTORE, true, false,
				       "an interrupted resize: started again as it is, no retype");
		if (a >= 0)
			c->out->actions.v[a].resize_back = ours_back;
		return a;
	}
	if (!back_asked || !back || !strcmp(back, in->instance_type))
		return -1;
	const char *failed = tag_get(&in->tags, TAG_RESIZE_FAILED);
	if (failed) {
		plan_add_finding(c, FIND_BLOCKED, 4, id, "resize-failed",
				 "an earlier resize was rolled back (%s)", failed);
		plan_set_fix(c, "fix what the tag " TAG_RESIZE_FAILED " says, then remove the tag");
		return -1;
	}
	if (strcmp(in->state, "running") && strcmp(in->state, "stopped")) {
		plan_add_finding(c, FIND_INFO, 4, id, "instance-transitioning",
				 "%s; the resize-back waits for running or stopped", in->state);
		return -1;
	}
	if (!may_stop_for(c, in, true))
		return -1;
	char why[200];
	if (!fits_for(c->obs, in, in->instance_type, back, true, false, why, sizeof(why))) {
		plan_add_finding(c, FIND_BLOCKED, 4, id, "resize-back-unfit",
				 "%s -> %s: %s; not resized", in->instance_type, back, why);
		return -1;
	}
	if (!policy_in_window(c->pol, c->in->now)) {
		plan_add_finding(c, FIND_BLOCKED, 4, id, "outside-maintenance-window",
				 "%s -> %s waits for the maintenance window", in->instance_type,
				 back);
		return -1;
	}
	char reason[256];
	snprintf(reason, sizeof(reason), "dualstackd resized it from %s (%s)", back,
		 TAG_RESIZED_FROM);
	a = add_resize(c, in, in->instance_type, back, !strcmp(in->state, "running"),
		       RESIZE_FORWARD, false, false, reason);
	if (a >= 0)
		c->out->actions.v[a].resize_back = true;
	return a;
}

/* ---- what the reader asks EC2 for this step ---- */

static int add_name(char ***names, size_t *n, const char *t)
{
	if (!t || !*t)
		return DS_OK;
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

/* The types an instance of type `t` could move to. */
static int add_candidates(const struct policy *pol, const char *t, char ***names, size_t *n)
{
	char family[16], buf[DS_ID_LEN];
	const char *sz;
	int rc = add_name(names, n, mapped_type(pol, t));
	if (rc || !split_type(t, family, sizeof(family), &sz))
		return rc;
	snprintf(buf, sizeof(buf), "c3.%s", sz);
	rc = add_name(names, n, buf);
	for (size_t s = 0; s < sizeof(successors) / sizeof(successors[0]) && !rc; s++) {
		if (strcmp(successors[s].family, family) != 0)
			continue;
		for (int k = 0; k < 3 && successors[s].successors[k] && !rc; k++) {
			snprintf(buf, sizeof(buf), "%s.%s", successors[s].successors[k], sz);
			rc = add_name(names, n, buf);
			if (!rc && size_up(sz)) {
				snprintf(buf, sizeof(buf), "%s.%s", successors[s].successors[k],
					 size_up(sz));
				rc = add_name(names, n, buf);
			}
		}
	}
	return rc;
}

/* A type name from one of the instance's tags, or NULL unless it reads as one ("m3.large",
 * "u-6tb1.metal"): anyone with tag rights writes tags, and these names become filter values
 * of the reads, where '*' and '?' are wildcards. */
static const char *tag_type(const struct instance *in, const char *key)
{
	const char *v = tag_get(&in->tags, key);
	size_t n = v ? strlen(v) : 0, dots = 0;
	if (!n || n > 40 || v[0] == '.' || v[n - 1] == '.')
		return NULL;
	for (size_t i = 0; i < n; i++) {
		char c = v[i];
		dots += c == '.';
		if (!(c == '.' || c == '-' || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			return NULL;
	}
	return dots == 1 ? v : NULL;
}

int plan_wanted_instance_types(const struct policy *pol, const struct observed *obs, char ***names,
			       size_t *n)
{
	int rc = DS_OK;
	for (size_t i = 0; i < obs->instances.n && !rc; i++) {
		const struct instance *in = &obs->instances.v[i];
		const char *from = tag_type(in, TAG_RESIZE_FROM);
		rc = add_name(names, n, in->instance_type);
		if (!rc)
			rc = add_name(names, n, tag_type(in, TAG_RESIZE_TO));
		if (!rc)
			rc = add_name(names, n, from);
		if (!rc) /* revert --resize-back's target: one more name in the one batched read */
			rc = add_name(names, n, tag_type(in, TAG_RESIZED_FROM));
		if (!rc)
			rc = add_candidates(pol, in->instance_type, names, n);
		if (!rc && from)
			rc = add_candidates(pol, from, names, n);
	}
	return rc;
}

void plan_resize_reads_cleanup(struct plan_resize_reads *r)
{
	char **lists[] = {r->images, r->zones, r->types, r->instances};
	size_t counts[] = {r->n_images, r->n_zones, r->n_types, r->n_instances};
	for (size_t l = 0; l < 4; l++) {
		for (size_t i = 0; i < counts[l]; i++)
			free(lists[l][i]);
		free(lists[l]);
	}
	memset(r, 0, sizeof(*r));
}

int plan_resize_reads(const struct policy *pol, const struct observed *obs, bool resize_back,
		      struct plan_resize_reads *out)
{
	int rc = DS_OK;
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < obs->instances.n && !rc; i++) {
		const struct instance *in = &obs->instances.v[i];
		bool under_way = tag_get(&in->tags, TAG_RESIZE_FROM) != NULL;
		const char *from = tag_type(in, TAG_RESIZE_FROM);
		const char *back = resize_back ? tag_type(in, TAG_RESIZED_FROM) : NULL;
		const struct instance_type_info *ti = plan_type_info(obs, in->instance_type);
		bool candidate = under_way ||
				 (pol->resize != RESIZE_NEVER && ti && !ti->ipv6_supported) ||
				 (back && strcmp(back, in->instance_type));
		if (!candidate || !strcmp(in->state, "terminated"))
			continue;
		rc = add_name(&out->types, &out->n_types, back);
		if (!rc)
			rc = add_name(&out->instances, &out->n_instances, in->instance_id);
		if (!rc)
			rc = add_name(&out->images, &out->n_images, in->image_id);
		if (!rc)
			rc = add_name(&out->zones, &out->n_zones, in->availability_zone);
		if (!rc)
			rc = add_candidates(pol, from ? from : in->instance_type, &out->types,
					    &out->n_types);
	}
	return rc;
}
