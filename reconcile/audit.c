/* Audit records -> the writes revert can recognise (audit.h). */
#include "audit.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "plan.h"

void audit_init(struct audit_log *a)
{
	memset(a, 0, sizeof(*a));
}

void audit_cleanup(struct audit_log *a)
{
	vec_free(&a->writes);
	memset(a, 0, sizeof(*a));
}

/* The value of key in a form body ("k=v&k=v", values percent-encoded), or false. A value that
 * does not fit, or a broken escape, is no value. */
static bool form_get(const char *form, const char *key, char *out, size_t size)
{
	size_t klen = strlen(key);
	for (const char *p = form; p && *p; p = strchr(p, '&'), p = p ? p + 1 : NULL) {
		if (strncmp(p, key, klen) || p[klen] != '=')
			continue;
		const char *v = p + klen + 1;
		size_t n = 0;
		for (; *v && *v != '&'; v++) {
			int c = (unsigned char)*v;
			if (c == '%') {
				int h = hex_digit(v[1]), l = h < 0 ? -1 : hex_digit(v[2]);
				if (l < 0)
					return false;
				c = h * 16 + l;
				v += 2;
			} else if (c == '+') {
				c = ' ';
			}
			if (n + 1 >= size || c == 0)
				return false;
			out[n++] = (char)c;
		}
		out[n] = '\0';
		return true;
	}
	return false;
}

static bool form_int(const char *form, const char *key, int *out)
{
	char v[16], *end = NULL;
	if (!form_get(form, key, v, sizeof(v)) || !v[0])
		return false;
	long x = strtol(v, &end, 10);
	if (*end || x < -1 || x > 65535)
		return false;
	*out = (int)x;
	return true;
}

/* The write one "ok" record names, if it is one revert can use; false otherwise. */
static bool decode_write(const char *action, const char *form, struct audit_write *w)
{
	char v[DS_CIDR_LEN];
	memset(w, 0, sizeof(*w));
	if (!strcmp(action, "AssociateVpcCidrBlock")) {
		w->kind = AUDIT_VPC_BLOCK;
		return form_get(form, "VpcId", w->id, sizeof(w->id));
	}
	if (!strcmp(action, "AssociateSubnetCidrBlock")) {
		w->kind = AUDIT_SUBNET_BLOCK;
		return form_get(form, "SubnetId", w->id, sizeof(w->id));
	}
	if (!strcmp(action, "ModifySubnetAttribute")) {
		w->kind = AUDIT_SUBNET_ATTR;
		return form_get(form, "AssignIpv6AddressOnCreation.Value", v, sizeof(v)) &&
		       !strcmp(v, "true") && form_get(form, "SubnetId", w->id, sizeof(w->id));
	}
	if (!strcmp(action, "CreateRoute") || !strcmp(action, "ReplaceRoute")) {
		w->kind = AUDIT_ROUTE;
		return form_get(form, "DestinationIpv6CidrBlock", v, sizeof(v)) &&
		       !strcmp(v, "::/0") && form_get(form, "RouteTableId", w->id, sizeof(w->id));
	}
	if (!strcmp(action, "CreateNetworkAclEntry")) {
		w->kind = AUDIT_NACL_ENTRY;
		return form_get(form, "Ipv6CidrBlock", w->cidr, sizeof(w->cidr)) &&
		       form_get(form, "NetworkAclId", w->id, sizeof(w->id)) &&
		       form_int(form, "RuleNumber", &w->rule_number) &&
		       form_get(form, "Egress", v, sizeof(v)) &&
		       ((w->egress = !strcmp(v, "true")) || !strcmp(v, "false"));
	}
	if (!strcmp(action, "AuthorizeSecurityGroupIngress") ||
	    !strcmp(action, "AuthorizeSecurityGroupEgress")) {
		w->kind = AUDIT_SG_RANGE;
		w->egress = !strcmp(action, "AuthorizeSecurityGroupEgress");
		char proto[sizeof(w->protocol)];
		if (!form_get(form, "GroupId", w->id, sizeof(w->id)) ||
		    !form_get(form, "IpPermissions.1.IpProtocol", proto, sizeof(proto)) ||
		    !form_get(form, "IpPermissions.1.Ipv6Ranges.1.CidrIpv6", w->cidr,
			      sizeof(w->cidr)))
			return false;
		w->has_ports = form_int(form, "IpPermissions.1.FromPort", &w->from_port) &&
			       form_int(form, "IpPermissions.1.ToPort", &w->to_port);
		snprintf(w->protocol, sizeof(w->protocol), "%s", plan_sg_protocol(proto));
		return true;
	}
	if (!strcmp(action, "AssignIpv6Addresses")) {
		w->kind = AUDIT_ADDRESS;
		return form_get(form, "NetworkInterfaceId", w->id, sizeof(w->id));
	}
	return false;
}

int audit_parse(struct audit_log *a, const char *text, size_t len, char *err, size_t err_len)
{
	for (size_t pos = 0; pos < len;) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - text) : len;
		size_t line = ++a->lines;
		size_t n = end - pos;
		const char *s = text + pos;
		pos = end + 1;
		while (n && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
			n--;
		if (!n)
			continue;
		cJSON *j = cJSON_ParseWithLength(s, n);
		const cJSON *action = cJSON_GetObjectItemCaseSensitive(j, "action");
		const cJSON *params = cJSON_GetObjectItemCaseSensitive(j, "parameters");
		const cJSON *outcome = cJSON_GetObjectItemCaseSensitive(j, "outcome");
		if (!cJSON_IsString(action) || !cJSON_IsString(params) ||
		    !cJSON_IsString(outcome)) {
			cJSON_Delete(j);
			snprintf(
			    err, err_len,
			    "line %zu: not an audit record (expected a JSON object with action, "
			    "parameters and outcome)",
			    line);
			return DS_EPARSE;
		}
		a->records++;
		struct audit_write w;
		if (!strcmp(outcome->valuestring, "ok") &&
		    decode_write(action->valuestring, params->valuestring, &w)) {
			struct audit_write *slot = vec_push(&a->writes, sizeof(*slot));
			if (!slot) {
				cJSON_Delete(j);
				snprintf(err, err_len, "line %zu: out of memory", line);
				return DS_ENOMEM;
			}
			*slot = w;
			a->used++;
		}
		cJSON_Delete(j);
	}
	return DS_OK;
}

static int cmp_write(const void *x, const void *y)
{
	const struct audit_write *a = x, *b = y;
	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	return strcmp(a->id, b->id);
}

void audit_index(struct audit_log *a)
{
	if (a->writes.n)
		qsort(a->writes.v, a->writes.n, sizeof(a->writes.v[0]), cmp_write);
}

/* The first write of (kind, id) in the sorted log, or NULL: the others follow it. */
static const struct audit_write *first_of(const struct audit_log *a, enum audit_kind kind,
					  const char *id)
{
	if (!a)
		return NULL;
	struct audit_write key = {.kind = kind};
	snprintf(key.id, sizeof(key.id), "%s", id);
	size_t lo = 0, hi = a->writes.n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cmp_write(&a->writes.v[mid], &key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < a->writes.n && !cmp_write(&a->writes.v[lo], &key) ? &a->writes.v[lo] : NULL;
}

/* Whether w, in the sorted log, still is a write of (kind, id). */
static bool same_key(const struct audit_log *a, const struct audit_write *w, enum audit_kind kind,
		     const char *id)
{
	return w < a->writes.v + a->writes.n && w->kind == kind && !strcmp(w->id, id);
}

bool audit_has(const struct audit_log *a, enum audit_kind kind, const char *id)
{
	return first_of(a, kind, id) != NULL;
}

bool audit_has_entry(const struct audit_log *a, const char *acl, int rule, bool egress)
{
	for (const struct audit_write *w = first_of(a, AUDIT_NACL_ENTRY, acl);
	     w && same_key(a, w, AUDIT_NACL_ENTRY, acl); w++)
		if (w->rule_number == rule && w->egress == egress)
			return true;
	return false;
}

bool audit_has_range(const struct audit_log *a, const char *group, bool egress,
		     const char *protocol, bool has_ports, int from, int to, const char *cidr)
{
	const char *proto = plan_sg_protocol(protocol);
	for (const struct audit_write *w = first_of(a, AUDIT_SG_RANGE, group);
	     w && same_key(a, w, AUDIT_SG_RANGE, group); w++)
		if (w->egress == egress && !strcmp(w->protocol, proto) && !strcmp(w->cidr, cidr) &&
		    w->has_ports == has_ports &&
		    (!has_ports || (w->from_port == from && w->to_port == to)))
			return true;
	return false;
}
