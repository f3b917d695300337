/* The decoder walks expat's events with a stack of frames. Each frame knows the schema of the
 * element it is inside and the base address its fields are written to, so one generic walker
 * serves every Describe call: adding a field is one line in a table below. */
#include "ec2_xml.h"

#include <cJSON.h>
#include <errno.h>
#include <expat.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64
#define MAX_TEXT  8192

enum frame_kind { FR_OBJ, FR_LIST, FR_STRLIST, FR_SCALAR, FR_META, FR_SKIP };

struct frame {
	enum frame_kind kind;
	const struct xml_schema *schema; /* FR_OBJ */
	const struct xml_field *field;	 /* FR_LIST, FR_STRLIST, FR_SCALAR */
	char *base;
	char *meta_dst; /* FR_META: where the text goes */
	size_t meta_size;
	bool *meta_bool;
};

struct decoder {
	XML_Parser parser;
	struct frame stack[MAX_DEPTH];
	int depth;
	char text[MAX_TEXT];
	size_t text_len;
	struct ec2_meta *meta;
	const struct xml_schema *root;
	char *root_base;
	int rc;
	char *err;
	size_t err_len;
};

static void fail(struct decoder *d, int rc, const char *fmt, const char *arg)
{
	if (d->rc)
		return;
	d->rc = rc;
	if (d->err && d->err_len)
		snprintf(d->err, d->err_len, fmt, arg);
	XML_StopParser(d->parser, XML_FALSE);
}

static const struct xml_field *find_field(const struct xml_schema *s, const char *name)
{
	for (size_t i = 0; i < s->n_fields; i++)
		if (strcmp(s->fields[i].name, name) == 0)
			return &s->fields[i];
	return NULL;
}

static struct frame *push(struct decoder *d, enum frame_kind kind)
{
	if (d->depth == MAX_DEPTH) {
		fail(d, DS_EPARSE, "XML nested deeper than %s levels", "64");
		return NULL;
	}
	struct frame *f = &d->stack[d->depth++];
	memset(f, 0, sizeof(*f));
	f->kind = kind;
	return f;
}

static void mark_seen(const struct xml_field *field, char *base)
{
	if (field->seen_off1) {
		bool yes = true;
		memcpy(base + field->seen_off1 - 1, &yes, sizeof(yes));
	}
}

static void on_start_in_obj(struct decoder *d, struct frame *top, const char *name)
{
	const struct xml_field *field = find_field(top->schema, name);
	struct frame *f;
	if (!field) {
		/* requestId, nextToken and return sit directly under the root element */
		if (d->depth == 1 && d->meta) {
			char *dst = NULL;
			size_t size = 0;
			bool *b = NULL;
			if (strcmp(name, "requestId") == 0) {
				dst = d->meta->request_id;
				size = sizeof(d->meta->request_id);
			} else if (strcmp(name, "nextToken") == 0) {
				dst = d->meta->next_token;
				size = sizeof(d->meta->next_token);
			} else if (strcmp(name, "return") == 0) {
				b = &d->meta->ret;
			}
			if (dst || b) {
				f = push(d, FR_META);
				if (f) {
					f->meta_dst = dst;
					f->meta_size = size;
					f->meta_bool = b;
				}
				d->text_len = 0;
				return;
			}
		}
		push(d, FR_SKIP);
		return;
	}
	mark_seen(field, top->base);
	switch (field->kind) {
	case XF_OBJ:
		f = push(d, FR_OBJ);
		if (f) {
			f->schema = field->sub;
			f->base = top->base + field->off;
		}
		return;
	case XF_LIST:
	case XF_FLAT: f = push(d, FR_LIST); break;
	case XF_STRLIST:
		f = push(d, FR_STRLIST);
		if (f)
			top->base[field->off] = '\0';
		break;
	default:
		f = push(d, FR_SCALAR);
		d->text_len = 0;
		break;
	}
	if (f) {
		f->field = field;
		f->base = top->base;
	}
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
	struct decoder *d = ud;
	(void)attrs;
	if (d->depth == 0) {
		/* The root element: <XxxResponse>. Its children decode with the root schema. */
		struct frame *f = push(d, FR_OBJ);
		if (f) {
			f->schema = d->root;
			f->base = d->root_base;
		}
		return;
	}
	struct frame *top = &d->stack[d->depth - 1];
	struct frame *f;
	switch (top->kind) {
	case FR_OBJ: on_start_in_obj(d, top, name); return;
	case FR_LIST:
		if (strcmp(name, "item") != 0) {
			push(d, FR_SKIP);
			return;
		}
		f = push(d, FR_OBJ);
		if (!f)
			return;
		f->schema = top->field->sub;
		if (top->field->kind == XF_FLAT) {
			f->base = top->base;
		} else {
			f->base = vec_push(top->base + top->field->off, top->field->sub->size);
			if (!f->base)
				fail(d, DS_ENOMEM, "out of memory decoding %s", name);
		}
		return;
	case FR_STRLIST:
		f = push(d, strcmp(name, "item") == 0 ? FR_SCALAR : FR_SKIP);
		if (f && f->kind == FR_SCALAR) {
			f->field = top->field;
			f->base = top->base;
			d->text_len = 0;
		}
		return;
	default: push(d, FR_SKIP); return;
	}
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
	struct decoder *d = ud;
	if (d->depth == 0)
		return;
	enum frame_kind k = d->stack[d->depth - 1].kind;
	if (k != FR_SCALAR && k != FR_META)
		return;
	if ((size_t)len > MAX_TEXT - 1 - d->text_len) {
		fail(d, DS_ETOOBIG, "XML text longer than %s bytes", "8191");
		return;
	}
	memcpy(d->text + d->text_len, s, (size_t)len);
	d->text_len += (size_t)len;
}

static int parse_long(const char *s, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end)
		return -1;
	*out = v;
	return 0;
}

/* moto prints subnet IPv6 association states as a Python dict repr, {'State': 'associated'},
 * where EC2 prints `associated` (../shared/reference/ec2-api.md). Accept both. */
static const char *state_value(const char *text, size_t *len)
{
	const char *p = strstr(text, "'State': '");
	if (!p)
		return text;
	p += strlen("'State': '");
	const char *e = strchr(p, '\'');
	*len = e ? (size_t)(e - p) : strlen(p);
	return p;
}

static void store_scalar(struct decoder *d, const struct xml_field *field, char *base)
{
	char *dst = base + field->off;
	const char *text = d->text;
	size_t len = d->text_len;
	long v;

	switch (field->kind) {
	case XF_STATE:
		text = state_value(d->text, &len);
		/* fall through */
	case XF_STR:
		if (len >= field->size) {
			fail(d, DS_ETOOBIG, "value of <%s> is too long", field->name);
			return;
		}
		memcpy(dst, text, len);
		dst[len] = '\0';
		return;
	case XF_STRLIST: {
		size_t used = strlen(dst);
		if (used + len + 2 > field->size) {
			fail(d, DS_ETOOBIG, "list <%s> is too long", field->name);
			return;
		}
		if (used)
			dst[used++] = ',';
		memcpy(dst + used, text, len);
		dst[used + len] = '\0';
		return;
	}
	case XF_INT:
		if (parse_long(text, &v) || v < INT_MIN || v > INT_MAX) {
			fail(d, DS_EPARSE, "<%s> is not an integer", field->name);
			return;
		}
		{
			int iv = (int)v;
			memcpy(dst, &iv, sizeof(iv));
		}
		return;
	case XF_LONG:
		if (parse_long(text, &v)) {
			fail(d, DS_EPARSE, "<%s> is not an integer", field->name);
			return;
		}
		memcpy(dst, &v, sizeof(v));
		return;
	case XF_BOOL: {
		bool b;
		if (strcmp(text, "true") == 0)
			b = true;
		else if (strcmp(text, "false") == 0)
			b = false;
		else {
			fail(d, DS_EPARSE, "<%s> is not true or false", field->name);
			return;
		}
		memcpy(dst, &b, sizeof(b));
		return;
	}
	default: return;
	}
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
	struct decoder *d = ud;
	(void)name;
	if (d->depth == 0)
		return;
	struct frame *top = &d->stack[d->depth - 1];
	d->text[d->text_len] = '\0';
	if (top->kind == FR_SCALAR) {
		store_scalar(d, top->field, top->base);
	} else if (top->kind == FR_META) {
		if (top->meta_bool) {
			*top->meta_bool = strcmp(d->text, "true") == 0;
		} else if (d->text_len >= top->meta_size) {
			fail(d, DS_ETOOBIG, "<%s> is too long", name);
		} else {
			memcpy(top->meta_dst, d->text, d->text_len + 1);
		}
	}
	d->depth--;
}

/* A parser with its hash salt from a generator seeded once per thread by arc4random: expat
 * would otherwise ask the kernel (getrandom) on every document - a system call per EC2 answer,
 * as is glibc's arc4random. The salt still differs per document and is never shown, which is
 * what keeps crafted element names from flooding expat's hash tables. (The loop decodes EC2's
 * answers, the credentials' refresher STS's: one generator each.) */
static XML_Parser new_parser(void)
{
	static _Thread_local uint64_t state;
	if (!state)
		state = ((uint64_t)arc4random() << 32 | arc4random()) | 1;
	state ^= state >> 12; /* xorshift64* */
	state ^= state << 25;
	state ^= state >> 27;
	XML_Parser p = XML_ParserCreate("UTF-8");
	if (p)
		XML_SetHashSalt(p, (unsigned long)(state * 0x2545F4914F6CDD1DULL));
	return p;
}

int ec2_xml_decode(const struct xml_schema *root, void *base, const char *xml, size_t len,
		   struct ec2_meta *meta, char *err, size_t err_len)
{
	struct decoder d;
	memset(&d, 0, sizeof(d));
	d.meta = meta;
	d.err = err;
	d.err_len = err_len;
	if (err && err_len)
		err[0] = '\0';
	if (meta)
		memset(meta, 0, sizeof(*meta));
	d.parser = new_parser();
	if (!d.parser)
		return DS_ENOMEM;
	XML_SetUserData(d.parser, &d);
	XML_SetElementHandler(d.parser, on_start, on_end);
	XML_SetCharacterDataHandler(d.parser, on_text);
	d.root = root;
	d.root_base = base;

	if (len > INT_MAX) {
		XML_ParserFree(d.parser);
		return DS_ETOOBIG;
	}
	enum XML_Status st = XML_Parse(d.parser, xml, (int)len, XML_TRUE);
	if (st != XML_STATUS_OK && !d.rc) {
		d.rc = DS_EPARSE;
		if (err && err_len)
			snprintf(err, err_len, "XML error at line %lu: %s",
				 (unsigned long)XML_GetCurrentLineNumber(d.parser),
				 XML_ErrorString(XML_GetErrorCode(d.parser)));
	}
	XML_ParserFree(d.parser);
	return d.rc;
}

/* ---- error documents ---- */

struct err_decoder {
	struct ec2_error *out;
	char path_leaf[32];
	char text[512];
	size_t text_len;
	int in_error; /* inside <Error> */
	int seen_code;
};

static void XMLCALL err_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
	struct err_decoder *e = ud;
	(void)attrs;
	if (strcmp(name, "Error") == 0)
		e->in_error++;
	e->text_len = 0;
}

static void XMLCALL err_text(void *ud, const XML_Char *s, int len)
{
	struct err_decoder *e = ud;
	size_t room = sizeof(e->text) - 1 - e->text_len;
	size_t n = (size_t)len < room ? (size_t)len : room;
	memcpy(e->text + e->text_len, s, n);
	e->text_len += n;
}

static void copy_text(char *dst, size_t size, const char *src, size_t len)
{
	if (len >= size)
		len = size - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

static void XMLCALL err_end(void *ud, const XML_Char *name)
{
	struct err_decoder *e = ud;
	struct ec2_error *out = e->out;
	/* Only the first <Error> of a document counts: EC2 reports the first problem first. */
	if (e->in_error == 1 && !e->seen_code && strcmp(name, "Code") == 0)
		copy_text(out->code, sizeof(out->code), e->text, e->text_len);
	else if (e->in_error == 1 && !e->seen_code && strcmp(name, "Message") == 0)
		copy_text(out->message, sizeof(out->message), e->text, e->text_len);
	else if (strcmp(name, "RequestID") == 0 || strcmp(name, "RequestId") == 0)
		copy_text(out->request_id, sizeof(out->request_id), e->text, e->text_len);
	else if (strcmp(name, "Error") == 0) {
		e->in_error--;
		if (out->code[0])
			e->seen_code = 1;
	}
	e->text_len = 0;
}

/* Copies the start of a non-XML body as a one-line printable message. */
static void body_excerpt(char *dst, size_t size, const char *body, size_t len)
{
	size_t j = 0;
	for (size_t i = 0; i < len && j + 1 < size && j < 200; i++) {
		unsigned char c = (unsigned char)body[i];
		dst[j++] = (c >= 0x20 && c < 0x7f) ? (char)c : ' ';
	}
	dst[j] = '\0';
}

/* JSON-protocol errors (SSM): {"__type": "ns#Code", "message": "..."}. */
static bool decode_json_error(const char *body, size_t len, struct ec2_error *out)
{
	cJSON *j = cJSON_ParseWithLength(body, len);
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "__type");
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");
	if (!m)
		m = cJSON_GetObjectItemCaseSensitive(j, "Message");
	bool ok = cJSON_IsString(t);
	if (ok) {
		const char *code = strrchr(t->valuestring, '#');
		code = code ? code + 1 : t->valuestring;
		copy_text(out->code, sizeof(out->code), code, strlen(code));
		if (cJSON_IsString(m))
			copy_text(out->message, sizeof(out->message), m->valuestring,
				  strlen(m->valuestring));
	}
	cJSON_Delete(j);
	return ok;
}

void ec2_xml_decode_error(int http_status, const char *body, size_t len, struct ec2_error *out)
{
	memset(out, 0, sizeof(*out));
	out->http_status = http_status;
	if (body && len && body[0] == '{' && decode_json_error(body, len, out)) {
		out->cls = ec2_classify(http_status, out->code);
		return;
	}
	struct err_decoder e;
	memset(&e, 0, sizeof(e));
	e.out = out;

	int parsed = 0;
	if (body && len && len <= INT_MAX) {
		XML_Parser p = new_parser();
		if (p) {
			XML_SetUserData(p, &e);
			XML_SetElementHandler(p, err_start, err_end);
			XML_SetCharacterDataHandler(p, err_text);
			parsed = XML_Parse(p, body, (int)len, XML_TRUE) == XML_STATUS_OK;
			XML_ParserFree(p);
		}
	}
	if (!parsed || !out->code[0]) {
		/* HTML 500 pages (moto crashes, proxies) and empty bodies. */
		snprintf(out->code, sizeof(out->code), "HttpStatus%d", http_status);
		if (body && len)
			body_excerpt(out->message, sizeof(out->message), body, len);
	}
	out->cls = ec2_classify(http_status, out->code);
}

/* ---- field tables ---- */

static const struct xml_field tag_fields[] = {
    F_STR(struct tag, "key", key),
    F_STR(struct tag, "value", value),
};
SCHEMA(tag_schema, struct tag, tag_fields);

static const struct xml_field assoc_state_fields[] = {
    F_STATE(struct cidr_assoc, "state", state),
};
SCHEMA(assoc_state_schema, struct cidr_assoc, assoc_state_fields);

static const struct xml_field cidr4_fields[] = {
    F_STR(struct cidr_assoc, "associationId", association_id),
    F_STR(struct cidr_assoc, "cidrBlock", cidr),
    F_INLINE("cidrBlockState", assoc_state_schema),
};
SCHEMA(cidr4_schema, struct cidr_assoc, cidr4_fields);

static const struct xml_field cidr6_fields[] = {
    F_STR(struct cidr_assoc, "associationId", association_id),
    F_STR(struct cidr_assoc, "ipv6CidrBlock", cidr),
    F_INLINE("ipv6CidrBlockState", assoc_state_schema),
    F_STR(struct cidr_assoc, "networkBorderGroup", network_border_group),
    F_STR(struct cidr_assoc, "ipv6Pool", ipv6_pool),
};
const struct xml_schema ec2_xml_cidr_assoc_ipv6 = {sizeof(struct cidr_assoc), cidr6_fields,
						   sizeof(cidr6_fields) / sizeof(cidr6_fields[0])};

static const struct xml_field vpc_fields[] = {
    F_STR(struct vpc, "vpcId", vpc_id),
    F_STR(struct vpc, "ownerId", owner_id),
    F_STR(struct vpc, "cidrBlock", cidr_block),
    F_STR(struct vpc, "state", state),
    F_BOOL(struct vpc, "isDefault", is_default),
    F_LIST(struct vpc, "cidrBlockAssociationSet", cidr_assocs, cidr4_schema),
    F_LIST(struct vpc, "ipv6CidrBlockAssociationSet", ipv6_assocs, ec2_xml_cidr_assoc_ipv6),
    F_LIST_J(struct vpc, "tagSet", "Tags", tags, tag_schema),
};
SCHEMA(vpc_schema, struct vpc, vpc_fields);
static const struct xml_field describe_vpcs_fields[] = {
    F_LIST_J(struct observed, "vpcSet", "Vpcs", vpcs, vpc_schema),
};
ROOT_SCHEMA(ec2_xml_describe_vpcs, describe_vpcs_fields);

static const struct xml_field subnet_fields[] = {
    F_STR(struct subnet, "subnetId", subnet_id),
    F_STR(struct subnet, "vpcId", vpc_id),
    F_STR(struct subnet, "cidrBlock", cidr_block),
    F_STR(struct subnet, "availabilityZone", availability_zone),
    F_STR(struct subnet, "state", state),
    F_BOOL(struct subnet, "assignIpv6AddressOnCreation", assign_ipv6_on_creation),
    F_BOOL(struct subnet, "mapPublicIpOnLaunch", map_public_ip_on_launch),
    F_LIST(struct subnet, "ipv6CidrBlockAssociationSet", ipv6_assocs, ec2_xml_cidr_assoc_ipv6),
    F_LIST_J(struct subnet, "tagSet", "Tags", tags, tag_schema),
};
SCHEMA(subnet_schema, struct subnet, subnet_fields);
static const struct xml_field describe_subnets_fields[] = {
    F_LIST_J(struct observed, "subnetSet", "Subnets", subnets, subnet_schema),
};
ROOT_SCHEMA(ec2_xml_describe_subnets, describe_subnets_fields);

static const struct xml_field rt_assoc_state_fields[] = {
    F_STR(struct rt_assoc, "state", state),
};
SCHEMA(rt_assoc_state_schema, struct rt_assoc, rt_assoc_state_fields);
static const struct xml_field rt_assoc_fields[] = {
    F_STR(struct rt_assoc, "routeTableAssociationId", association_id),
    F_STR(struct rt_assoc, "subnetId", subnet_id),
    F_STR(struct rt_assoc, "gatewayId", gateway_id),
    F_BOOL(struct rt_assoc, "main", main),
    F_INLINE("associationState", rt_assoc_state_schema),
};
SCHEMA(rt_assoc_schema, struct rt_assoc, rt_assoc_fields);
static const struct xml_field route_fields[] = {
    F_STR(struct route, "destinationCidrBlock", dest_cidr),
    F_STR(struct route, "destinationIpv6CidrBlock", dest_ipv6_cidr),
    F_STR(struct route, "destinationPrefixListId", dest_prefix_list),
    F_STR(struct route, "gatewayId", gateway_id),
    F_STR(struct route, "egressOnlyInternetGatewayId", egress_only_igw_id),
    F_STR(struct route, "natGatewayId", nat_gateway_id),
    F_STR(struct route, "instanceId", instance_id),
    F_STR(struct route, "networkInterfaceId", network_interface_id),
    F_STR(struct route, "transitGatewayId", transit_gateway_id),
    F_STR(struct route, "vpcPeeringConnectionId", peering_id),
    F_STR(struct route, "state", state),
    F_STR(struct route, "origin", origin),
};
SCHEMA(route_schema, struct route, route_fields);
static const struct xml_field route_table_fields[] = {
    F_STR(struct route_table, "routeTableId", route_table_id),
    F_STR(struct route_table, "vpcId", vpc_id),
    F_LIST_J(struct route_table, "associationSet", "Associations", assocs, rt_assoc_schema),
    F_LIST_J(struct route_table, "routeSet", "Routes", routes, route_schema),
    F_LIST_J(struct route_table, "tagSet", "Tags", tags, tag_schema),
};
SCHEMA(route_table_schema, struct route_table, route_table_fields);
static const struct xml_field describe_route_tables_fields[] = {
    F_LIST_J(struct observed, "routeTableSet", "RouteTables", route_tables, route_table_schema),
};
ROOT_SCHEMA(ec2_xml_describe_route_tables, describe_route_tables_fields);

static const struct xml_field gw_attachment_fields[] = {
    F_STR(struct gw_attachment, "vpcId", vpc_id),
    F_STR(struct gw_attachment, "state", state),
};
SCHEMA(gw_attachment_schema, struct gw_attachment, gw_attachment_fields);
static const struct xml_field igw_fields[] = {
    F_STR(struct gateway, "internetGatewayId", gateway_id),
    F_LIST_J(struct gateway, "attachmentSet", "Attachments", attachments, gw_attachment_schema),
    F_LIST_J(struct gateway, "tagSet", "Tags", tags, tag_schema),
};
SCHEMA(igw_schema, struct gateway, igw_fields);
static const struct xml_field describe_igws_fields[] = {
    F_LIST_J(struct observed, "internetGatewaySet", "InternetGateways", internet_gateways,
	     igw_schema),
};
ROOT_SCHEMA(ec2_xml_describe_internet_gateways, describe_igws_fields);
static const struct xml_field eigw_fields[] = {
    F_STR(struct gateway, "egressOnlyInternetGatewayId", gateway_id),
    F_LIST_J(struct gateway, "attachmentSet", "Attachments", attachments, gw_attachment_schema),
    F_LIST_J(struct gateway, "tagSet", "Tags", tags, tag_schema),
};
const struct xml_schema ec2_xml_gateway_eigw = {sizeof(struct gateway), eigw_fields,
						sizeof(eigw_fields) / sizeof(eigw_fields[0])};
static const struct xml_field describe_eigws_fields[] = {
    F_LIST_J(struct observed, "egressOnlyInternetGatewaySet", "EgressOnlyInternetGateways",
	     egress_only_gateways, ec2_xml_gateway_eigw),
};
ROOT_SCHEMA(ec2_xml_describe_egress_only_gateways, describe_eigws_fields);

static const struct xml_field sg_group_fields[] = {
    F_STR(struct sg_group_ref, "groupId", group_id),
    F_STR(struct sg_group_ref, "userId", user_id),
};
SCHEMA(sg_group_schema, struct sg_group_ref, sg_group_fields);
static const struct xml_field sg_range4_fields[] = {
    F_STR(struct sg_range, "cidrIp", cidr),
    F_STR(struct sg_range, "description", description),
};
SCHEMA(sg_range4_schema, struct sg_range, sg_range4_fields);
static const struct xml_field sg_range6_fields[] = {
    F_STR(struct sg_range, "cidrIpv6", cidr),
    F_STR(struct sg_range, "description", description),
};
SCHEMA(sg_range6_schema, struct sg_range, sg_range6_fields);
static const struct xml_field sg_pl_fields[] = {
    F_STR(struct sg_prefix_list, "prefixListId", prefix_list_id),
    F_STR(struct sg_prefix_list, "description", description),
};
SCHEMA(sg_pl_schema, struct sg_prefix_list, sg_pl_fields);
static const struct xml_field sg_perm_fields[] = {
    F_STR(struct sg_permission, "ipProtocol", protocol),
    {"fromPort", XF_INT, offsetof(struct sg_permission, from_port), sizeof(int), NULL,
     offsetof(struct sg_permission, has_ports) + 1, NULL},
    {"toPort", XF_INT, offsetof(struct sg_permission, to_port), sizeof(int), NULL,
     offsetof(struct sg_permission, has_ports) + 1, NULL},
    F_LIST_J(struct sg_permission, "groups", "UserIdGroupPairs", groups, sg_group_schema),
    F_LIST(struct sg_permission, "ipRanges", ipv4_ranges, sg_range4_schema),
    F_LIST(struct sg_permission, "ipv6Ranges", ipv6_ranges, sg_range6_schema),
    F_LIST(struct sg_permission, "prefixListIds", prefix_lists, sg_pl_schema),
};
SCHEMA(sg_perm_schema, struct sg_permission, sg_perm_fields);
static const struct xml_field sg_fields[] = {
    F_STR(struct security_group, "groupId", group_id),
    F_STR(struct security_group, "groupName", group_name),
    F_STR_J(struct security_group, "groupDescription", "Description", description),
    F_STR(struct security_group, "vpcId", vpc_id),
    F_STR(struct security_group, "ownerId", owner_id),
    F_LIST(struct security_group, "ipPermissions", ingress, sg_perm_schema),
    F_LIST(struct security_group, "ipPermissionsEgress", egress, sg_perm_schema),
    F_LIST_J(struct security_group, "tagSet", "Tags", tags, tag_schema),
};
SCHEMA(sg_schema, struct security_group, sg_fields);
static const struct xml_field describe_sgs_fields[] = {
    F_LIST_J(struct observed, "securityGroupInfo", "SecurityGroups", security_groups, sg_schema),
};
ROOT_SCHEMA(ec2_xml_describe_security_groups, describe_sgs_fields);

static const struct xml_field nacl_icmp_fields[] = {
    F_INT(struct nacl_entry, "type", icmp_type),
    F_INT(struct nacl_entry, "code", icmp_code),
};
SCHEMA(nacl_icmp_schema, struct nacl_entry, nacl_icmp_fields);
static const struct xml_field nacl_ports_fields[] = {
    F_INT(struct nacl_entry, "from", port_from),
    F_INT(struct nacl_entry, "to", port_to),
};
SCHEMA(nacl_ports_schema, struct nacl_entry, nacl_ports_fields);
static const struct xml_field nacl_entry_fields[] = {
    F_INT(struct nacl_entry, "ruleNumber", rule_number),
    F_STR(struct nacl_entry, "protocol", protocol),
    F_STR(struct nacl_entry, "ruleAction", rule_action),
    F_BOOL(struct nacl_entry, "egress", egress),
    F_STR(struct nacl_entry, "cidrBlock", cidr_block),
    F_STR(struct nacl_entry, "ipv6CidrBlock", ipv6_cidr_block),
    F_INLINE_SEEN(struct nacl_entry, "icmpTypeCode", nacl_icmp_schema, has_icmp),
    F_INLINE_SEEN(struct nacl_entry, "portRange", nacl_ports_schema, has_ports),
};
SCHEMA(nacl_entry_schema, struct nacl_entry, nacl_entry_fields);
static const struct xml_field nacl_assoc_fields[] = {
    F_STR(struct nacl_assoc, "networkAclAssociationId", association_id),
    F_STR(struct nacl_assoc, "subnetId", subnet_id),
};
SCHEMA(nacl_assoc_schema, struct nacl_assoc, nacl_assoc_fields);
static const struct xml_field nacl_fields[] = {
    F_STR(struct network_acl, "networkAclId", network_acl_id),
    F_STR(struct network_acl, "vpcId", vpc_id),
    F_BOOL_J(struct network_acl, "default", "IsDefault", is_default),
    F_LIST_J(struct network_acl, "associationSet", "Associations", assocs, nacl_assoc_schema),
    F_LIST_J(struct network_acl, "entrySet", "Entries", entries, nacl_entry_schema),
    F_LIST_J(struct network_acl, "tagSet", "Tags", tags, tag_schema),
};
SCHEMA(nacl_schema, struct network_acl, nacl_fields);
static const struct xml_field describe_nacls_fields[] = {
    F_LIST_J(struct observed, "networkAclSet", "NetworkAcls", network_acls, nacl_schema),
};
ROOT_SCHEMA(ec2_xml_describe_network_acls, describe_nacls_fields);

static const struct xml_field ipv6_addr_fields[] = {
    F_STR(struct ipv6_address, "ipv6Address", address),
};
SCHEMA(ipv6_addr_schema, struct ipv6_address, ipv6_addr_fields);
static const struct xml_field eni_attachment_fields[] = {
    F_INT(struct network_interface, "deviceIndex", device_index),
};
SCHEMA(eni_attachment_schema, struct network_interface, eni_attachment_fields);
static const struct xml_field eni_fields[] = {
    F_STR(struct network_interface, "networkInterfaceId", network_interface_id),
    F_STR(struct network_interface, "subnetId", subnet_id),
    F_INLINE("attachment", eni_attachment_schema),
    F_LIST_J(struct network_interface, "ipv6AddressesSet", "Ipv6Addresses", ipv6_addresses,
	     ipv6_addr_schema),
};
SCHEMA(eni_schema, struct network_interface, eni_fields);
static const struct xml_field ebs_fields[] = {
    F_STR(struct block_device, "volumeId", ebs_volume_id),
};
SCHEMA(ebs_schema, struct block_device, ebs_fields);
static const struct xml_field bdm_fields[] = {
    F_STR(struct block_device, "deviceName", device_name),
    F_STR(struct block_device, "virtualName", virtual_name),
    F_INLINE("ebs", ebs_schema),
};
SCHEMA(bdm_schema, struct block_device, bdm_fields);
static const struct xml_field instance_state_fields[] = {
    F_INT(struct instance, "code", state_code),
    F_STR(struct instance, "name", state),
};
SCHEMA(instance_state_schema, struct instance, instance_state_fields);
static const struct xml_field placement_fields[] = {
    F_STR(struct instance, "availabilityZone", availability_zone),
};
SCHEMA(placement_schema, struct instance, placement_fields);
static const struct xml_field hibernation_fields[] = {
    F_BOOL(struct instance, "configured", hibernation_configured),
};
SCHEMA(hibernation_schema, struct instance, hibernation_fields);
static const struct xml_field state_reason_fields[] = {
    F_STR(struct instance, "code", state_reason),
};
SCHEMA(state_reason_schema, struct instance, state_reason_fields);
static const struct xml_field instance_fields[] = {
    F_STR(struct instance, "instanceId", instance_id),
    F_STR(struct instance, "imageId", image_id),
    F_STR(struct instance, "instanceType", instance_type),
    F_INLINE_J("instanceState", "State", instance_state_schema),
    F_STR(struct instance, "subnetId", subnet_id),
    F_STR(struct instance, "vpcId", vpc_id),
    F_STR(struct instance, "privateIpAddress", private_ip),
    F_STR_J(struct instance, "ipAddress", "PublicIpAddress", public_ip),
    F_STR(struct instance, "architecture", architecture),
    F_STR(struct instance, "virtualizationType", virtualization_type),
    F_STR(struct instance, "rootDeviceType", root_device_type),
    F_STR(struct instance, "rootDeviceName", root_device_name),
    F_STR(struct instance, "platform", platform),
    F_STR(struct instance, "platformDetails", platform_details),
    F_INLINE("placement", placement_schema),
    F_STR(struct instance, "instanceLifecycle", lifecycle),
    F_INLINE("hibernationOptions", hibernation_schema),
    F_BOOL(struct instance, "enaSupport", ena_support),
    F_STR(struct instance, "bootMode", boot_mode),
    F_STR(struct instance, "currentInstanceBootMode", current_boot_mode),
    F_INLINE("stateReason", state_reason_schema),
    F_LIST_J(struct instance, "blockDeviceMapping", "BlockDeviceMappings", block_devices,
	     bdm_schema),
    F_LIST_J(struct instance, "networkInterfaceSet", "NetworkInterfaces", interfaces, eni_schema),
    F_LIST_J(struct instance, "tagSet", "Tags", tags, tag_schema),
};
SCHEMA(instance_schema, struct instance, instance_fields);
/* Reservations are not kept: their instances go straight into observed.instances. */
static const struct xml_field reservation_fields[] = {
    F_LIST_J(struct observed, "instancesSet", "Instances", instances, instance_schema),
};
SCHEMA(reservation_schema, struct observed, reservation_fields);
static const struct xml_field describe_instances_fields[] = {
    {"reservationSet", XF_FLAT, 0, 0, &reservation_schema, 0, NULL},
};
ROOT_SCHEMA(ec2_xml_describe_instances, describe_instances_fields);

static const struct xml_field vpc_eni_attachment_fields[] = {
    F_STR(struct vpc_interface, "instanceId", instance_id),
};
SCHEMA(vpc_eni_attachment_schema, struct vpc_interface, vpc_eni_attachment_fields);
static const struct xml_field vpc_eni_fields[] = {
    F_STR(struct vpc_interface, "networkInterfaceId", network_interface_id),
    F_STR(struct vpc_interface, "subnetId", subnet_id),
    F_STR(struct vpc_interface, "vpcId", vpc_id),
    F_STR(struct vpc_interface, "interfaceType", interface_type),
    F_STR(struct vpc_interface, "description", description),
    F_BOOL(struct vpc_interface, "requesterManaged", requester_managed),
    F_INLINE("attachment", vpc_eni_attachment_schema),
    F_LIST_J(struct vpc_interface, "ipv6AddressesSet", "Ipv6Addresses", ipv6_addresses,
	     ipv6_addr_schema),
};
SCHEMA(vpc_eni_schema, struct vpc_interface, vpc_eni_fields);
static const struct xml_field describe_enis_fields[] = {
    F_LIST_J(struct observed, "networkInterfaceSet", "NetworkInterfaces", interfaces,
	     vpc_eni_schema),
};
ROOT_SCHEMA(ec2_xml_describe_network_interfaces, describe_enis_fields);

static const struct xml_field itype_proc_fields[] = {
    F_STRLIST(struct instance_type_info, "supportedArchitectures", architectures),
};
SCHEMA(itype_proc_schema, struct instance_type_info, itype_proc_fields);
static const struct xml_field itype_net_fields[] = {
    F_BOOL(struct instance_type_info, "ipv6Supported", ipv6_supported),
    F_STR(struct instance_type_info, "enaSupport", ena_support),
};
SCHEMA(itype_net_schema, struct instance_type_info, itype_net_fields);
static const struct xml_field itype_vcpu_fields[] = {
    F_INT(struct instance_type_info, "defaultVCpus", default_vcpus),
};
SCHEMA(itype_vcpu_schema, struct instance_type_info, itype_vcpu_fields);
static const struct xml_field itype_mem_fields[] = {
    F_LONG(struct instance_type_info, "sizeInMiB", memory_mib),
};
SCHEMA(itype_mem_schema, struct instance_type_info, itype_mem_fields);
static const struct xml_field itype_ebs_fields[] = {
    F_STR(struct instance_type_info, "nvmeSupport", ebs_nvme),
};
SCHEMA(itype_ebs_schema, struct instance_type_info, itype_ebs_fields);
static const struct xml_field itype_storage_fields[] = {
    F_STR(struct instance_type_info, "nvmeSupport", storage_nvme),
};
SCHEMA(itype_storage_schema, struct instance_type_info, itype_storage_fields);
static const struct xml_field itype_fields[] = {
    F_STR(struct instance_type_info, "instanceType", instance_type),
    F_BOOL(struct instance_type_info, "currentGeneration", current_generation),
    F_BOOL(struct instance_type_info, "instanceStorageSupported", instance_storage_supported),
    F_STRLIST(struct instance_type_info, "supportedVirtualizationTypes", virtualization_types),
    F_INLINE("processorInfo", itype_proc_schema),
    F_INLINE("networkInfo", itype_net_schema),
    F_INLINE("vCpuInfo", itype_vcpu_schema),
    F_INLINE("memoryInfo", itype_mem_schema),
    F_INLINE("ebsInfo", itype_ebs_schema),
    F_INLINE("instanceStorageInfo", itype_storage_schema),
    F_STRLIST(struct instance_type_info, "supportedBootModes", boot_modes),
};
SCHEMA(itype_schema, struct instance_type_info, itype_fields);
static const struct xml_field describe_itypes_fields[] = {
    F_LIST_J(struct observed, "instanceTypeSet", "InstanceTypes", instance_types, itype_schema),
};
ROOT_SCHEMA(ec2_xml_describe_instance_types, describe_itypes_fields);

static const struct xml_field image_fields[] = {
    F_STR(struct image, "imageId", image_id),
    F_STR(struct image, "rootDeviceType", root_device_type),
    F_STR(struct image, "bootMode", boot_mode),
    F_LIST_J(struct image, "blockDeviceMapping", "BlockDeviceMappings", mappings, bdm_schema),
};
SCHEMA(image_schema, struct image, image_fields);
static const struct xml_field describe_images_fields[] = {
    F_LIST_J(struct observed, "imagesSet", "Images", images, image_schema),
};
ROOT_SCHEMA(ec2_xml_describe_images, describe_images_fields);

static const struct xml_field offering_fields[] = {
    F_STR(struct type_offering, "instanceType", instance_type),
    F_STR(struct type_offering, "location", location),
};
SCHEMA(offering_schema, struct type_offering, offering_fields);
static const struct xml_field describe_offerings_fields[] = {
    F_LIST_J(struct observed, "instanceTypeOfferingSet", "InstanceTypeOfferings", type_offerings,
	     offering_schema),
};
ROOT_SCHEMA(ec2_xml_describe_type_offerings, describe_offerings_fields);

static const struct xml_field stop_value_fields[] = {
    F_BOOL(struct stop_protection, "value", disable_api_stop),
};
SCHEMA(stop_value_schema, struct stop_protection, stop_value_fields);
static const struct xml_field stop_protection_fields[] = {
    F_STR(struct stop_protection, "instanceId", instance_id),
    F_INLINE("disableApiStop", stop_value_schema),
};
const struct xml_schema ec2_xml_describe_stop_protection = {
    sizeof(struct stop_protection), stop_protection_fields,
    sizeof(stop_protection_fields) / sizeof(stop_protection_fields[0])};
