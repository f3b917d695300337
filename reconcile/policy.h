/* policy.h - the operator's policy (spec §2): what is in scope and how each step behaves.
 * Owns: the policy struct, its defaults, parsing JSON and YAML (same keys) and validating
 * with precise errors ("FILE: $.path: expected ..., got ..."), every error in one pass.
 * Not: reading files (callers pass the text) or acting on the policy (the planners). */
#ifndef DS_POLICY_H
#define DS_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "buf.h"
#include "guard.h"
#include "model.h"

#define POLICY_MAX_LIST 256

enum policy_mode { POLICY_ENFORCE, POLICY_DRY_RUN };
enum policy_subnet_index { INDEX_LOWEST_FREE, INDEX_IPV4_THIRD_OCTET };
enum policy_resize { RESIZE_NEVER, RESIZE_OPT_IN_TAG, RESIZE_ALWAYS };
enum policy_guest { GUEST_OFF, GUEST_SSM };

struct policy_tag {
	char key[DS_TAG_KEY];
	char value[DS_TAG_VALUE];
};

struct policy_cidr_map {
	char ipv4[DS_CIDR_LEN]; /* canonical */
	char ipv6[DS_CIDR_LEN]; /* canonical */
};

struct policy_type_map {
	char from[DS_ID_LEN];
	char to[DS_ID_LEN];
};

/* One wave of a rollout: the VPCs its selector admits (every given part must match; a VPC
 * belongs to the first wave that admits it), and how long it soaks once converged. */
#define POLICY_MAX_WAVES 16
struct policy_wave {
	char name[64];
	char accounts[64][16]; /* none: any account */
	size_t n_accounts;
	struct policy_tag vpc_tags[8]; /* the VPC carries all of these */
	size_t n_vpc_tags;
	double percent; /* of the VPCs, chosen by a hash of the VPC id (rollout.c); 100: all */
	int soak_s;	/* after the wave converged, before the next one starts */
};

/* ddd:hh:mm-ddd:hh:mm in UTC, as minutes of the week (Sunday 00:00 = 0). */
struct policy_window {
	bool set;
	int start_min;
	int end_min;
};

struct policy {
	enum policy_mode mode;
	/* scope: an empty list means "any" */
	char accounts[POLICY_MAX_LIST][16];
	size_t n_accounts;
	char regions[POLICY_MAX_LIST][32];
	size_t n_regions;
	char vpcs[POLICY_MAX_LIST][DS_ID_LEN];
	size_t n_vpcs;
	struct policy_tag include_tags[16]; /* a VPC must carry all of these */
	size_t n_include_tags;
	struct policy_tag exclude_tags[16]; /* any one opts a resource out */
	size_t n_exclude_tags;

	bool subnets_enabled;
	enum policy_subnet_index subnet_index;
	bool assign_ipv6_on_create;
	bool routes_enabled;
	bool security_groups_enabled;
	struct policy_cidr_map cidr_map[POLICY_MAX_LIST];
	size_t n_cidr_map;
	bool network_acls_enabled;
	int nacl_offset;

	enum policy_resize resize;
	struct policy_type_map type_map[POLICY_MAX_LIST];
	size_t n_type_map;
	struct policy_window maintenance_window;
	int max_concurrent_stops;
	bool allow_instance_store_loss;
	bool assign_ipv6;

	enum policy_guest guest_config;
	double api_budget;
	char assume_role[256];		    /* "" = the controller's own credentials */
	char assume_role_external_id[1225]; /* sts:ExternalId the member roles require, or "" */
	struct guard_limits guard;	    /* the blast-radius guard (guard.h) */
	struct policy_wave waves[POLICY_MAX_WAVES]; /* rollout.waves, in order (rollout.h) */
	size_t n_waves;

	int refs; /* policy_new's: every reconcile holds the policy it started with */
};

/* The defaults of spec §2 (enforce, everything on, resize never, budget 0.5, ...). */
void policy_defaults(struct policy *p);

/* Parses and validates text (JSON, or YAML when the name ends in .yaml/.yml or the text does
 * not start with '{'). Errors, one per line, are appended to errors, naming `name`. */
int policy_parse(const char *name, const char *text, size_t len, struct policy *out,
		 struct buf *errors);

/* A heap policy with one reference (policy_parse's rules); NULL with errors filled. */
struct policy *policy_new(const char *name, const char *text, size_t len, struct buf *errors);
/* References: a reload swaps the daemon's policy while runs keep the one they started with. */
struct policy *policy_ref(struct policy *p);
void policy_unref(struct policy *p); /* NULL is a no-op */

/* Parses a JSON or YAML document (same rule as policy_parse for which) into cJSON; NULL with
 * err filled on a syntax error. Shared with the daemon's config file. */
struct cJSON;
struct cJSON *policy_doc_parse(const char *name, const char *text, size_t len, char *err,
			       size_t err_len);

/* Scope checks. */
bool policy_account_in_scope(const struct policy *p, const char *account);
bool policy_region_in_scope(const struct policy *p, const char *region);
/* The scope's VPC list and include tags, without the opt-out tag: what revert may undo (an
 * opted-out VPC is where dualstackd's IPv6 is not wanted any more). */
bool policy_vpc_selected(const struct policy *p, const struct vpc *v);
bool policy_vpc_in_scope(const struct policy *p, const struct vpc *v);
/* The built-in opt-out (dualstack:opt-out=true) or any exclude_tags pair. */
bool policy_opted_out(const struct policy *p, const struct tag_vec *tags);
/* Whether `when` falls in the maintenance window (always true without one). */
bool policy_in_window(const struct policy *p, time_t when);
/* The role ARN for account, from the assume_role template ({account}); "" when none. */
void policy_role_arn(const struct policy *p, const char *account, char *out, size_t size);

const char *policy_mode_name(enum policy_mode m);

#endif
