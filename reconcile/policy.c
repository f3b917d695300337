/* Parsing turns YAML into the same cJSON tree JSON gives, so one validator serves both. The
 * validator knows every key; an unknown key is an error, because a misspelt guardrail
 * ("alow_instance_store_loss") silently ignored is worse than a refused file. */
#include "policy.h"

#include <cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "cidr.h"

void policy_defaults(struct policy *p)
{
	memset(p, 0, sizeof(*p));
	p->mode = POLICY_ENFORCE;
	p->subnets_enabled = true;
	p->subnet_index = INDEX_LOWEST_FREE;
	p->assign_ipv6_on_create = true;
	p->routes_enabled = true;
	p->security_groups_enabled = true;
	p->network_acls_enabled = true;
	p->nacl_offset = 1;
	p->resize = RESIZE_NEVER;
	p->max_concurrent_stops = 1;
	p->assign_ipv6 = true;
	p->guest_config = GUEST_OFF;
	p->api_budget = 0.5;
	/* a quarter of the calls (or reconciles) failing over 10 minutes, 20 at least, halts; no
	 * cap on changes per hour unless the operator sets one */
	p->guard = (struct guard_limits){.max_failure_ratio = 0.25,
					 .window_s = 600,
					 .min_samples = 20,
					 .max_changes_per_hour = 0};
}

const char *policy_mode_name(enum policy_mode m)
{
	return m == POLICY_DRY_RUN ? "dry-run" : "enforce";
}

/* ---- YAML -> cJSON ---- */

static cJSON *yaml_scalar(const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;
	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return cJSON_CreateString(v);
	/* the YAML 1.2 core schema for plain scalars */
	if (!strcmp(v, "true") || !strcmp(v, "True") || !strcmp(v, "TRUE"))
		return cJSON_CreateTrue();
	if (!strcmp(v, "false") || !strcmp(v, "False") || !strcmp(v, "FALSE"))
		return cJSON_CreateFalse();
	if (!*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
	    !strcmp(v, "NULL"))
		return cJSON_CreateNull();
	char *end;
	errno = 0;
	double d = strtod(v, &end);
	if (!errno && end != v && !*end &&
	    (isdigit((unsigned char)v[0]) || v[0] == '-' || v[0] == '+' || v[0] == '.'))
		return cJSON_CreateNumber(d);
	return cJSON_CreateString(v);
}

/* Builds the node starting at the current event; NULL on error (err filled). */
static cJSON *yaml_node(yaml_parser_t *p, yaml_event_t *ev, char *err, size_t err_len, int depth)
{
	if (depth > 32) {
		snprintf(err, err_len, "nested too deeply");
		return NULL;
	}
	if (ev->type == YAML_SCALAR_EVENT)
		return yaml_scalar(ev);
	if (ev->type == YAML_ALIAS_EVENT) {
		snprintf(err, err_len, "line %zu: aliases are not supported",
			 ev->start_mark.line + 1);
		return NULL;
	}
	int is_map = ev->type == YAML_MAPPING_START_EVENT;
	if (!is_map && ev->type != YAML_SEQUENCE_START_EVENT) {
		snprintf(err, err_len, "line %zu: unexpected YAML event", ev->start_mark.line + 1);
		return NULL;
	}
	cJSON *node = is_map ? cJSON_CreateObject() : cJSON_CreateArray();
	for (;;) {
		yaml_event_t e;
		if (!yaml_parser_parse(p, &e)) {
			snprintf(err, err_len, "line %zu: %s", p->problem_mark.line + 1,
				 p->problem ? p->problem : "YAML error");
			cJSON_Delete(node);
			return NULL;
		}
		if (e.type == YAML_MAPPING_END_EVENT || e.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&e);
			return node;
		}
		if (is_map) {
			if (e.type != YAML_SCALAR_EVENT) {
				snprintf(err, err_len, "line %zu: mapping keys must be scalars",
					 e.start_mark.line + 1);
				yaml_event_delete(&e);
				cJSON_Delete(node);
				return NULL;
			}
			char *key = strdup((const char *)e.data.scalar.value);
			yaml_event_delete(&e);
			yaml_event_t ve;
			if (!key || !yaml_parser_parse(p, &ve)) {
				snprintf(err, err_len, "line %zu: %s", p->problem_mark.line + 1,
					 p->problem ? p->problem : "YAML error");
				free(key);
				cJSON_Delete(node);
				return NULL;
			}
			cJSON *val = yaml_node(p, &ve, err, err_len, depth + 1);
			yaml_event_delete(&ve);
			if (!val) {
				free(key);
				cJSON_Delete(node);
				return NULL;
			}
			if (cJSON_GetObjectItemCaseSensitive(node, key)) {
				snprintf(err, err_len, "duplicate key '%s'", key);
				free(key);
				cJSON_Delete(val);
				cJSON_Delete(node);
				return NULL;
			}
			cJSON_AddItemToObject(node, key, val);
			free(key);
		} else {
			cJSON *val = yaml_node(p, &e, err, err_len, depth + 1);
			yaml_event_delete(&e);
			if (!val) {
				cJSON_Delete(node);
				return NULL;
			}
			cJSON_AddItemToArray(node, val);
		}
	}
}

static cJSON *yaml_to_json(const char *text, size_t len, char *err, size_t err_len)
{
	yaml_parser_t p;
	yaml_event_t e;
	cJSON *root = NULL;
	if (!yaml_parser_initialize(&p))
		return NULL;
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	for (;;) {
		if (!yaml_parser_parse(&p, &e)) {
			snprintf(err, err_len, "line %zu: %s", p.problem_mark.line + 1,
				 p.problem ? p.problem : "YAML error");
			break;
		}
		yaml_event_type_t t = e.type;
		if (t == YAML_MAPPING_START_EVENT || t == YAML_SEQUENCE_START_EVENT ||
		    t == YAML_SCALAR_EVENT) {
			root = yaml_node(&p, &e, err, err_len, 0);
			yaml_event_delete(&e);
			break;
		}
		yaml_event_delete(&e);
		if (t == YAML_STREAM_END_EVENT) {
			snprintf(err, err_len, "empty document");
			break;
		}
	}
	yaml_parser_delete(&p);
	return root;
}

/* ---- validation ---- */

struct vctx {
	const char *name;
	struct buf *errors;
	int n_errors;
};

static void verr(struct vctx *v, const char *path, const char *expected, const cJSON *got)
{
	char gotbuf[96];
	if (!got)
		snprintf(gotbuf, sizeof(gotbuf), "nothing");
	else if (cJSON_IsString(got))
		snprintf(gotbuf, sizeof(gotbuf), "\"%.80s\"", got->valuestring);
	else if (cJSON_IsNumber(got))
		snprintf(gotbuf, sizeof(gotbuf), "%g", got->valuedouble);
	else if (cJSON_IsBool(got))
		snprintf(gotbuf, sizeof(gotbuf), "%s", cJSON_IsTrue(got) ? "true" : "false");
	else if (cJSON_IsNull(got))
		snprintf(gotbuf, sizeof(gotbuf), "null");
	else
		snprintf(gotbuf, sizeof(gotbuf), "%s", cJSON_IsArray(got) ? "a list" : "an object");
	buf_printf(v->errors, "%s: %s: expected %s, got %s\n", v->name, path, expected, gotbuf);
	v->n_errors++;
}

struct key_spec {
	const char *key;
	void (*fn)(struct vctx *v, const char *path, const cJSON *val, struct policy *p);
};

static void check_keys(struct vctx *v, const char *path, const cJSON *obj,
		       const struct key_spec *keys, size_t n, struct policy *p)
{
	char sub[256];
	if (!cJSON_IsObject(obj)) {
		verr(v, path, "an object", obj);
		return;
	}
	for (const cJSON *c = obj->child; c; c = c->next) {
		size_t i;
		for (i = 0; i < n; i++)
			if (strcmp(c->string, keys[i].key) == 0)
				break;
		snprintf(sub, sizeof(sub), "%s.%s", path, c->string);
		if (i == n) {
			char expected[512] = "one of the keys";
			for (size_t k = 0; k < n; k++) {
				size_t used = strlen(expected);
				snprintf(expected + used, sizeof(expected) - used, "%s %s",
					 k ? "," : "", keys[k].key);
			}
			buf_printf(v->errors, "%s: %s: unknown key; expected %s\n", v->name, sub,
				   expected);
			v->n_errors++;
			continue;
		}
		keys[i].fn(v, sub, c, p);
	}
}

static bool get_bool(struct vctx *v, const char *path, const cJSON *val, bool *out)
{
	if (!cJSON_IsBool(val)) {
		verr(v, path, "true or false", val);
		return false;
	}
	*out = cJSON_IsTrue(val);
	return true;
}

static int get_enum(struct vctx *v, const char *path, const cJSON *val, const char *const *names,
		    int n, const char *expected)
{
	if (cJSON_IsString(val))
		for (int i = 0; i < n; i++)
			if (strcmp(val->valuestring, names[i]) == 0)
				return i;
	verr(v, path, expected, val);
	return -1;
}

static bool get_string(struct vctx *v, const char *path, const cJSON *val, char *out, size_t size,
		       const char *expected)
{
	if (!cJSON_IsString(val) || strlen(val->valuestring) >= size || !val->valuestring[0]) {
		verr(v, path, expected, val);
		return false;
	}
	memcpy(out, val->valuestring, strlen(val->valuestring) + 1);
	return true;
}

/* A list of strings each checked by `ok`. */
static size_t get_string_list(struct vctx *v, const char *path, const cJSON *val, char *out,
			      size_t item_size, size_t max, bool (*ok)(const char *),
			      const char *expected)
{
	char sub[256];
	size_t n = 0, i = 0;
	if (!cJSON_IsArray(val)) {
		verr(v, path, "a list", val);
		return 0;
	}
	for (const cJSON *c = val->child; c; c = c->next, i++) {
		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		if (n == max) {
			verr(v, sub, "at most 256 items", c);
			break;
		}
		if (!cJSON_IsString(c) || !ok(c->valuestring) ||
		    strlen(c->valuestring) >= item_size) {
			verr(v, sub, expected, c);
			continue;
		}
		memcpy(out + n * item_size, c->valuestring, strlen(c->valuestring) + 1);
		n++;
	}
	return n;
}

static bool is_account(const char *s)
{
	size_t n = strlen(s);
	if (n != 12)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

static bool is_region(const char *s)
{
	/* us-east-1, eu-central-2, us-gov-west-1, ap-southeast-4 */
	size_t n = strlen(s);
	if (n < 9 || n > 25 || !isdigit((unsigned char)s[n - 1]) || s[n - 2] != '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '-')
			return false;
	return true;
}

static bool is_vpc_id(const char *s)
{
	size_t n = strlen(s);
	if (strncmp(s, "vpc-", 4) != 0 || (n != 12 && n != 21))
		return false;
	for (size_t i = 4; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

static size_t get_tags(struct vctx *v, const char *path, const cJSON *val, struct policy_tag *out,
		       size_t max)
{
	char sub[256];
	size_t n = 0;
	if (!cJSON_IsObject(val)) {
		verr(v, path, "an object of tag key: value", val);
		return 0;
	}
	for (const cJSON *c = val->child; c; c = c->next) {
		snprintf(sub, sizeof(sub), "%s.%s", path, c->string);
		if (n == max) {
			verr(v, sub, "at most 16 tags", c);
			break;
		}
		if (!cJSON_IsString(c) || strlen(c->string) >= DS_TAG_KEY ||
		    strlen(c->valuestring) >= DS_TAG_VALUE) {
			verr(v, sub, "a string tag value", c);
			continue;
		}
		memcpy(out[n].key, c->string, strlen(c->string) + 1);
		memcpy(out[n].value, c->valuestring, strlen(c->valuestring) + 1);
		n++;
	}
	return n;
}

/* -- sections -- */

static void k_mode(struct vctx *v, const char *path, const cJSON *val, struct policy *p)
{
	static const char *const names[] = {"enforce", "dry-run"};
	int i = get_enum(v, path, val, names, 2, "\"enforce\" or \"dry-run\"");
	if (i >= 0)
		p->mode = (enum policy_mode)i;
}

static void k_accounts(struct vctx *v, const char *path, const cJSON *val, struct policy *p)
{
	p->n_accounts = get_string_list(v, path, val, &p->accounts[0][0], sizeof(p->accounts[0]),
					POLICY_MAX_LIST, is_account, "a 12-digit account id");
}

static void k_regions(struct vctx *v, const char *path, const cJSON *val, struct policy *p)
{
	p->n_regions = get_string_list(v, path, val, &p->regions[0][0], sizeof(p->regions[0]),
				       POLICY_MAX_LIST, is_region, "a region name like us-east-1");
}

static void k_vpcs(struct vctx *v, const char *path, const cJSON *val, struct policy *p)
{
	p->n_vpcs =
	    get_string_list(v, path, val, &p->vpcs[0][0], sizeof(p->vpcs[0]), POLICY_MAX_LIST,
			    is_vpc_id, "a VPC id like vpc-0123456789abcdef0");
}

static void k_include_tags(struct vctx *v, const char *path, const cJSON *val, struct policy *p)
{
	p->n_include_tags = get_tags(v, path, val, p->include_tags, 16);
}

static void k_exclude_tags(struct vctx *v, const char *path, const cJSON *val, struct policy *p)
{
	p->n_exclude_tags = get_tags(v, path, val, p->exclude_tags, 16);
}

static void k_scope(struct vctx *v, const char *path, const cJSON *val, struct policy *p)
{
	static const struct key_spec keys[] = {
	    {"accounts", k_accounts},	      {"regions", k_regions},		{"vpcs", k_vpcs},
	    {"include_tags", k_include_tags}, {"exclude_tags", k_exclude_tags},
	};
	check_keys(v, path, val, keys, sizeof(keys) / sizeof(keys[0]), p);
}

static void k_subnets_enabled(struct vctx *v, const char *path, const cJSON *val, struct policy *p)
{
	get_bool(v, path, val, &p->subnets_enabled);
}

static void k_subnets_index(struct vctx *v, const char *path, const cJSON *val, struct policy *p)
{
	static const char *const names[] = {"lowest-free", "ipv4-third-octet"};
	int i = get_enum(v, path, val, names, 2, "\"lowest-free\" or \"ipv4-third-octet\"");
	if (i >= 0)
		p->subnet_index = (enum policy_subnet_index)i;
}

static void k_assign_on_create(struct vctx *v, const char *path, const cJSON *val, struct policy *p)
{
	get_bool(v, path, val, &p->assign_ipv6_on_create);
}

static void k_subnets(struct vctx *v, const char *path, const cJSON *val, struct policy *p)
{
	static const struct key_spec keys[] = {
	    {"enabled", k_subnets_enabled},
	    {"index", k_subnets_index},
	    {"assign_ipv6_on_create", k_assign_on_create},
	};
	check_keys(v, path, val, keys, 3, p);
}

static void k_routes_enabled(struct vctx *v, const char *path, const cJSON *val, struct policy *p)
{
	get_bool(v, path, val, &p->routes_enabled);
}

static void k_routes(struct vctx *v, const char *path, const cJSON *val, struct policy *p)
{
	static const struct key_spec keys[] = {{"enabled", k_routes_enabled}};
	check_keys(v, path, val, keys, 1, p);
}

static void k_sg_enabled(struct vctx *v, const char *path, const cJSON *val, struct policy *p)
{
	get_bool(v, path, val, &p->security_groups_enabled);
}

static void k_cidr_map(struct vctx *v, const char *path, const cJSON *val, struct policy *p)
{
	char sub[256];
	if (!cJSON_IsObject(val)) {
		verr(v, path, "an object of \"IPv4 CIDR\": \"IPv6 CIDR\"", val);
		return;
	}
	for (const cJSON *c = val->child; c; c = c->next) {
		struct cidr k, m;
		snprintf(sub, sizeof(sub), "%s[\"%s\"]", path, c->string);
		if (p->n_cidr_map == POLICY_MAX_LIST) {
			verr(v, sub, "at most 256 mappings", c);
			break;
		}
		if (cidr_parse(c->string, &k) || k.family != 4) {
			buf_printf(v->errors, "%s: %s: expected an IPv4 CIDR as the key\n", v->name,
				   sub);
			v->n_errors++;
			continue;
		}
		if (cidr_is_any(&k)) {
			buf_printf(v->errors,
				   "%s: %s: 0.0.0.0/0 always maps to ::/0; it cannot be remapped\n",
				   v->name, sub);
			v->n_errors++;
			continue;
		}
		if (!cJSON_IsString(c) || cidr_parse(c->valuestring, &m) || m.family != 6) {
			verr(v, sub, "an IPv6 CIDR", c);
			continue;
		}
		if (cidr_is_any(&m)) {
			/* never widen exposure: a specific range must not become ::/0 */
			buf_printf(
			    v->errors,
			    "%s: %s: expected a specific IPv6 CIDR, got ::/0 (a specific IPv4 "
			    "range never becomes ::/0)\n",
			    v->name, sub);
			v->n_errors++;
			continue;
		}
		struct policy_cidr_map *e = &p->cidr_map[p->n_cidr_map++];
		cidr_format(&k, e->ipv4);
		cidr_format(&m, e->ipv6);
	}
}

static void k_sgs(struct vctx *v, const char *path, const cJSON *val, struct policy *p)
{
	static const struct key_spec keys[] = {{"enabled", k_sg_enabled}, {"cidr_map", k_cidr_map}};
	check_keys(v, path, val, keys, 2, p);
}

static void k_nacl_enabled(struct vctx *v, const char *path, const cJSON *val, struct policy *p)
{
	get_bool(v, path, val, &p->network_acls_enabled);
}

static void k_nacl_offset(struct vctx *v, const char *path, const cJSON *val, struct policy *p)
{
	if (!cJSON_IsNumber(val) || val->valuedouble != floor(val->valuedouble) ||
	    val->valuedouble < 1 || val->valuedouble > 1000) {
		verr(v, path, "an integer from 1 to 1000", val);
		return;
	}
	p->nacl_offset = (int)val->valuedouble;
}

static void k_nacls(struct vctx *v, const char *path, const cJSON *val, struct policy *p)
{
	static const struct key_spec keys[] = {{"enabled", k_nacl_enabled},
					       {"offset", k_nacl_offset}};
	check_keys(v, path, val, keys, 2, p);
}

static void k_resize(struct vctx *v, const char *path, const cJSON *val, struct policy *p)
{
	static const char *const names[] = {"never", "opt-in-tag", "always"};
	int i = get_enum(v, path, val, names, 3, "\"never\", \"opt-in-tag\" or \"always\"");
	if (i >= 0)
		p->resize = (enum policy_resize)i;
}

static bool is_instance_type(const char *s)
{
	const char *dot = strchr(s, '.');
	return dot && dot != s && dot[1] && strlen(s) < DS_ID_LEN;
}

static void k_type_map(struct vctx *v, const char *path, const cJSON *val, struct policy *p)
{
	char sub[256];
	if (!cJSON_IsObject(val)) {
		verr(v, path, "an object of \"from type\": \"to type\"", val);
		return;
	}
	for (const cJSON *c = val->child; c; c = c->next) {
		snprintf(sub, sizeof(sub), "%s[\"%s\"]", path, c->string);
		if (p->n_type_map == POLICY_MAX_LIST) {
			verr(v, sub, "at most 256 mappings", c);
			break;
		}
		if (!is_instance_type(c->string) || !cJSON_IsString(c) ||
		    !is_instance_type(c->valuestring)) {
			verr(v, sub, "instance types like \"m3.large\": \"m4.large\"", c);
			continue;
		}
		struct policy_type_map *e = &p->type_map[p->n_type_map++];
		memcpy(e->from, c->string, strlen(c->string) + 1);
		memcpy(e->to, c->valuestring, strlen(c->valuestring) + 1);
	}
}

static int parse_week_minute(const char *s, int *out)
{
	static const char *const days[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
	if (strlen(s) != 9 || s[3] != ':' || s[6] != ':')
		return -1;
	int day = -1;
	for (int i = 0; i < 7; i++)
		if (strncmp(s, days[i], 3) == 0)
			day = i;
	if (day < 0 || !isdigit((unsigned char)s[4]) || !isdigit((unsigned char)s[5]) ||
	    !isdigit((unsigned char)s[7]) || !isdigit((unsigned char)s[8]))
		return -1;
	int h = (s[4] - '0') * 10 + (s[5] - '0'), m = (s[7] - '0') * 10 + (s[8] - '0');
	if (h > 23 || m > 59)
		return -1;
	*out = day * 1440 + h * 60 + m;
	return 0;
}

static void k_window(struct vctx *v, const char *path, const cJSON *val, struct policy *p)
{
	const char *expected = "null or \"ddd:hh:mm-ddd:hh:mm\" in UTC (e.g. sun:02:00-sun:05:00)";
	if (cJSON_IsNull(val)) {
		p->maintenance_window.set = false;
		return;
	}
	char a[16], b[16];
	const char *s = cJSON_IsString(val) ? val->valuestring : NULL;
	if (!s || strlen(s) != 19 || s[9] != '-') {
		verr(v, path, expected, val);
		return;
	}
	memcpy(a, s, 9);
	a[9] = '\0';
	memcpy(b, s + 10, 9);
	b[9] = '\0';
	if (parse_week_minute(a, &p->maintenance_window.start_min) ||
	    parse_week_minute(b, &p->maintenance_window.end_min) ||
	    p->maintenance_window.start_min == p->maintenance_window.end_min) {
		verr(v, path, expected, val);
		return;
	}
	p->maintenance_window.set = true;
}

static void k_max_stops(struct vctx *v, const char *path, const cJSON *val, struct policy *p)
{
	if (!cJSON_IsNumber(val) || val->valuedouble != floor(val->valuedouble) ||
	    val->valuedouble < 1 || val->valuedouble > 100) {
		verr(v, path, "an integer from 1 to 100", val);
		return;
	}
	p->max_concurrent_stops = (int)val->valuedouble;
}

static void k_store_loss(struct vctx *v, const char *path, const cJSON *val, struct policy *p)
{
	get_bool(v, path, val, &p->allow_instance_store_loss);
}

static void k_assign_ipv6(struct vctx *v, const char *path, const cJSON *val, struct policy *p)
{
	get_bool(v, path, val, &p->assign_ipv6);
}

static void k_instances(struct vctx *v, const char *path, const cJSON *val, struct policy *p)
{
	static const struct key_spec keys[] = {
	    {"resize", k_resize},
	    {"type_map", k_type_map},
	    {"maintenance_window", k_window},
	    {"max_concurrent_stops", k_max_stops},
	    {"allow_instance_store_loss", k_store_loss},
	    {"assign_ipv6", k_assign_ipv6},
	};
	check_keys(v, path, val, keys, sizeof(keys) / sizeof(keys[0]), p);
}

static void k_guest(struct vctx *v, const char *path, const cJSON *val, struct policy *p)
{
	static const char *const names[] = {"off", "ssm"};
	int i = get_enum(v, path, val, names, 2, "\"off\" or \"ssm\"");
	if (i >= 0)
		p->guest_config = (enum policy_guest)i;
}

static void k_budget(struct vctx *v, const char *path, const cJSON *val, struct policy *p)
{
	if (!cJSON_IsNumber(val) || !(val->valuedouble > 0) || val->valuedouble > 1) {
		verr(v, path, "a fraction greater than 0 and at most 1", val);
		return;
	}
	p->api_budget = val->valuedouble;
}

static void get_int_range(struct vctx *v, const char *path, const cJSON *val, int lo, int hi,
			  const char *expected, int *out)
{
	if (!cJSON_IsNumber(val) || val->valuedouble != floor(val->valuedouble) ||
	    val->valuedouble < lo || val->valuedouble > hi) {
		verr(v, path, expected, val);
		return;
	}
	*out = (int)val->valuedouble;
}

static void k_failure_ratio(struct vctx *v, const char *path, const cJSON *val, struct policy *p)
{
	if (!cJSON_IsNumber(val) || val->valuedouble < 0 || val->valuedouble >= 1) {
		verr(v, path, "a fraction from 0 (off) to below 1", val);
		return;
	}
	p->guard.max_failure_ratio = val->valuedouble;
}

static void k_guard_window(struct vctx *v, const char *path, const cJSON *val, struct policy *p)
{
	get_int_range(v, path, val, 60, 86400, "an integer from 60 to 86400 (seconds)",
		      &p->guard.window_s);
}

static void k_min_samples(struct vctx *v, const char *path, const cJSON *val, struct policy *p)
{
	get_int_range(v, path, val, 1, 100000, "an integer from 1 to 100000",
		      &p->guard.min_samples);
}

static void k_max_changes(struct vctx *v, const char *path, const cJSON *val, struct policy *p)
{
	get_int_range(v, path, val, 0, 100000000, "an integer, 0 for no cap",
		      &p->guard.max_changes_per_hour);
}

static void k_guard(struct vctx *v, const char *path, const cJSON *val, struct policy *p)
{
	static const struct key_spec keys[] = {
	    {"max_failure_ratio", k_failure_ratio},
	    {"window_s", k_guard_window},
	    {"min_samples", k_min_samples},
	    {"max_changes_per_hour", k_max_changes},
	};
	check_keys(v, path, val, keys, sizeof(keys) / sizeof(keys[0]), p);
}

/* rollout.waves[i]: the fields write the wave being parsed, p->waves[p->n_waves] */
static void k_wave_name(struct vctx *v, const char *path, const cJSON *val, struct policy *p)
{
	get_string(v, path, val, p->waves[p->n_waves].name, sizeof(p->waves[0].name),
		   "a name of 1 to 63 characters");
}

static void k_wave_accounts(struct vctx *v, const char *path, const cJSON *val, struct policy *p)
{
	struct policy_wave *w = &p->waves[p->n_waves];
	w->n_accounts = get_string_list(v, path, val, &w->accounts[0][0], sizeof(w->accounts[0]),
					sizeof(w->accounts) / sizeof(w->accounts[0]), is_account,
					"a 12-digit account id");
}

static void k_wave_tags(struct vctx *v, const char *path, const cJSON *val, struct policy *p)
{
	struct policy_wave *w = &p->waves[p->n_waves];
	w->n_vpc_tags = get_tags(v, path, val, w->vpc_tags, 8);
}

static void k_wave_percent(struct vctx *v, const char *path, const cJSON *val, struct policy *p)
{
	if (!cJSON_IsNumber(val) || !(val->valuedouble > 0) || val->valuedouble > 100) {
		verr(v, path, "a percentage greater than 0 and at most 100", val);
		return;
	}
	p->waves[p->n_waves].percent = val->valuedouble;
}

static void k_wave_soak(struct vctx *v, const char *path, const cJSON *val, struct policy *p)
{
	get_int_range(v, path, val, 0, 30 * 86400, "an integer from 0 to 2592000 (seconds)",
		      &p->waves[p->n_waves].soak_s);
}

static void k_waves(struct vctx *v, const char *path, const cJSON *val, struct policy *p)
{
	static const struct key_spec keys[] = {
	    {"name", k_wave_name},	 {"accounts", k_wave_accounts}, {"vpc_tags", k_wave_tags},
	    {"percent", k_wave_percent}, {"soak_s", k_wave_soak},
	};
	char sub[256];
	size_t i = 0;
	if (!cJSON_IsArray(val)) {
		verr(v, path, "a list of waves", val);
		return;
	}
	p->n_waves = 0;
	for (const cJSON *c = val->child; c; c = c->next, i++) {
		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		if (p->n_waves == POLICY_MAX_WAVES) {
			verr(v, sub, "at most 16 waves", c);
			break;
		}
		struct policy_wave *w = &p->waves[p->n_waves];
		memset(w, 0, sizeof(*w));
		w->percent = 100;
		snprintf(w->name, sizeof(w->name), "wave %zu", i + 1);
		check_keys(v, sub, c, keys, sizeof(keys) / sizeof(keys[0]), p);
		p->n_waves++;
	}
}

static void k_rollout(struct vctx *v, const char *path, const cJSON *val, struct policy *p)
{
	static const struct key_spec keys[] = {{"waves", k_waves}};
	check_keys(v, path, val, keys, 1, p);
}

/* sts:ExternalId: 2 to 1224 characters of [\w+=,.@:/-] */
static void k_external_id(struct vctx *v, const char *path, const cJSON *val, struct policy *p)
{
	static const char *const want = "null or 2 to 1224 characters of letters, digits and "
					"+=,.@:/-";
	if (cJSON_IsNull(val)) {
		p->assume_role_external_id[0] = '\0';
		return;
	}
	if (!get_string(v, path, val, p->assume_role_external_id,
			sizeof(p->assume_role_external_id), want))
		return;
	size_t n = strlen(p->assume_role_external_id);
	bool ok = n >= 2;
	for (size_t i = 0; ok && i < n; i++) {
		char ch = p->assume_role_external_id[i];
		ok = isalnum((unsigned char)ch) || strchr("_+=,.@:/-", ch);
	}
	if (!ok)
		verr(v, path, want, val);
}

static void k_assume_role(struct vctx *v, const char *path, const cJSON *val, struct policy *p)
{
	if (cJSON_IsNull(val)) {
		p->assume_role[0] = '\0';
		return;
	}
	if (get_string(v, path, val, p->assume_role, sizeof(p->assume_role),
		       "null or a role ARN template like arn:aws:iam::{account}:role/dualstackd") &&
	    strncmp(p->assume_role, "arn:", 4) != 0) {
		verr(v, path,
		     "null or a role ARN template like arn:aws:iam::{account}:role/dualstackd",
		     val);
	}
}

cJSON *policy_doc_parse(const char *name, const char *text, size_t len, char *err, size_t err_len)
{
	size_t nlen = strlen(name);
	size_t i = 0;
	while (i < len && isspace((unsigned char)text[i]))
		i++;
	int yaml = (nlen > 5 && strcmp(name + nlen - 5, ".yaml") == 0) ||
		   (nlen > 4 && strcmp(name + nlen - 4, ".yml") == 0) ||
		   (i < len && text[i] != '{');
	if (err_len)
		err[0] = '\0';
	if (yaml)
		return yaml_to_json(text, len, err, err_len);
	cJSON *root = cJSON_ParseWithLength(text, len);
	if (!root) {
		const char *at = cJSON_GetErrorPtr();
		int line = 1;
		for (const char *c = text; at && c < at && c < text + len; c++)
			line += *c == '\n';
		snprintf(err, err_len, "line %d: invalid JSON", line);
	}
	return root;
}

int policy_parse(const char *name, const char *text, size_t len, struct policy *out,
		 struct buf *errors)
{
	static const struct key_spec keys[] = {
	    {"mode", k_mode},
	    {"scope", k_scope},
	    {"subnets", k_subnets},
	    {"routes", k_routes},
	    {"security_groups", k_sgs},
	    {"network_acls", k_nacls},
	    {"instances", k_instances},
	    {"guest_config", k_guest},
	    {"api_budget", k_budget},
	    {"assume_role", k_assume_role},
	    {"assume_role_external_id", k_external_id},
	    {"guard", k_guard},
	    {"rollout", k_rollout},
	};
	struct vctx v = {name, errors, 0};
	char err[256] = "";
	policy_defaults(out);
	cJSON *root = policy_doc_parse(name, text, len, err, sizeof(err));
	if (!root) {
		buf_printf(errors, "%s: %s\n", name, err[0] ? err : "cannot parse");
		return DS_EPARSE;
	}
	check_keys(&v, "$", root, keys, sizeof(keys) / sizeof(keys[0]), out);
	cJSON_Delete(root);
	return v.n_errors ? DS_EINVAL : DS_OK;
}

struct policy *policy_new(const char *name, const char *text, size_t len, struct buf *errors)
{
	struct policy *p = malloc(sizeof(*p));
	if (!p) {
		buf_printf(errors, "%s: out of memory\n", name);
		return NULL;
	}
	if (policy_parse(name, text, len, p, errors)) {
		free(p);
		return NULL;
	}
	p->refs = 1;
	return p;
}

struct policy *policy_ref(struct policy *p)
{
	if (p)
		p->refs++;
	return p;
}

void policy_unref(struct policy *p)
{
	if (p && --p->refs <= 0)
		free(p);
}

/* ---- scope ---- */

bool policy_account_in_scope(const struct policy *p, const char *account)
{
	if (!p->n_accounts)
		return true;
	for (size_t i = 0; i < p->n_accounts; i++)
		if (strcmp(p->accounts[i], account) == 0)
			return true;
	return false;
}

bool policy_region_in_scope(const struct policy *p, const char *region)
{
	if (!p->n_regions)
		return true;
	for (size_t i = 0; i < p->n_regions; i++)
		if (strcmp(p->regions[i], region) == 0)
			return true;
	return false;
}

bool policy_opted_out(const struct policy *p, const struct tag_vec *tags)
{
	const char *v = tag_get(tags, "dualstack:opt-out");
	if (v && strcmp(v, "true") == 0)
		return true;
	for (size_t i = 0; i < p->n_exclude_tags; i++) {
		v = tag_get(tags, p->exclude_tags[i].key);
		if (v && strcmp(v, p->exclude_tags[i].value) == 0)
			return true;
	}
	return false;
}

bool policy_vpc_in_scope(const struct policy *p, const struct vpc *vpc)
{
	return policy_vpc_selected(p, vpc) && !policy_opted_out(p, &vpc->tags);
}

bool policy_vpc_selected(const struct policy *p, const struct vpc *vpc)
{
	if (p->n_vpcs) {
		bool listed = false;
		for (size_t i = 0; i < p->n_vpcs; i++)
			listed |= strcmp(p->vpcs[i], vpc->vpc_id) == 0;
		if (!listed)
			return false;
	}
	for (size_t i = 0; i < p->n_include_tags; i++) {
		const char *v = tag_get(&vpc->tags, p->include_tags[i].key);
		if (!v || strcmp(v, p->include_tags[i].value) != 0)
			return false;
	}
	return true;
}

bool policy_in_window(const struct policy *p, time_t when)
{
	if (!p->maintenance_window.set)
		return true;
	struct tm tm;
	gmtime_r(&when, &tm);
	int now = tm.tm_wday * 1440 + tm.tm_hour * 60 + tm.tm_min;
	int s = p->maintenance_window.start_min, e = p->maintenance_window.end_min;
	return s < e ? (now >= s && now < e) : (now >= s || now < e); /* wraps the week */
}

void policy_role_arn(const struct policy *p, const char *account, char *out, size_t size)
{
	const char *t = p->assume_role;
	const char *at = strstr(t, "{account}");
	if (!*t)
		snprintf(out, size, "%s", "");
	else if (!at)
		snprintf(out, size, "%s", t);
	else
		snprintf(out, size, "%.*s%s%s", (int)(at - t), t, account, at + 9);
}
