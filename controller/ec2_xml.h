/* ec2_xml.h - decodes EC2 Query API XML answers (expat, SAX) straight into model structs.
 * Owns: the field tables that say where each element goes, the streaming decoder, and the
 * error-document decoder (EC2's <Response><Errors>, STS/IAM's <ErrorResponse>, non-XML bodies).
 * Not: transport or retries. Unknown elements are skipped; malformed XML, over-long values and
 * bad numbers are errors (DS_EPARSE / DS_ETOOBIG), never silently truncated. */
#ifndef DS_EC2_XML_H
#define DS_EC2_XML_H

#include <stddef.h>

#include "../reconcile/ec2_ops.h"
#include "../reconcile/err.h"
#include "../reconcile/model.h"

enum xf_kind {
	XF_STR,	    /* char[size] */
	XF_STATE,   /* char[size]; also reads moto's "{'State': 'x'}" (see ec2_xml.c) */
	XF_INT,	    /* int */
	XF_LONG,    /* long */
	XF_BOOL,    /* bool, "true"/"false" */
	XF_STRLIST, /* <x><item>a</item><item>b</item></x> -> "a,b" in char[size] */
	XF_OBJ,	    /* a nested element whose children decode into base + off with `sub` */
	XF_LIST,    /* <xSet><item>..</item></xSet> -> DS_VEC at base + off of sub->size items */
	XF_FLAT,    /* <xSet><item>..</item></xSet> whose items decode into the same base */
};

struct xml_schema;

struct xml_field {
	const char *name;
	enum xf_kind kind;
	size_t off;
	size_t size;
	const struct xml_schema *sub;
	size_t seen_off1; /* offset + 1 of a bool set when the element appears; 0 for none */
	const char *json; /* name in JSON output (boto3's); NULL: the XML name capitalised */
};

struct xml_schema {
	size_t size; /* size of one element (for XF_LIST items) */
	const struct xml_field *fields;
	size_t n_fields;
};

/* Field-table builders (used by ec2_xml.c and other Query-protocol decoders). */
#include <stddef.h>
#define MEMBER_SIZE(T, m) sizeof(((T *)0)->m)
#define F_STR(T, name, m)                                                      \
	{                                                                      \
		name, XF_STR, offsetof(T, m), MEMBER_SIZE(T, m), NULL, 0, NULL \
	}
#define F_STR_J(T, name, json, m)                                              \
	{                                                                      \
		name, XF_STR, offsetof(T, m), MEMBER_SIZE(T, m), NULL, 0, json \
	}
#define F_STATE(T, name, m)                                                      \
	{                                                                        \
		name, XF_STATE, offsetof(T, m), MEMBER_SIZE(T, m), NULL, 0, NULL \
	}
#define F_INT(T, name, m)                                                \
	{                                                                \
		name, XF_INT, offsetof(T, m), sizeof(int), NULL, 0, NULL \
	}
#define F_LONG(T, name, m)                                                 \
	{                                                                  \
		name, XF_LONG, offsetof(T, m), sizeof(long), NULL, 0, NULL \
	}
#define F_BOOL(T, name, m)                                                 \
	{                                                                  \
		name, XF_BOOL, offsetof(T, m), sizeof(bool), NULL, 0, NULL \
	}
#define F_BOOL_J(T, name, json, m)                                         \
	{                                                                  \
		name, XF_BOOL, offsetof(T, m), sizeof(bool), NULL, 0, json \
	}
#define F_STRLIST(T, name, m)                                                      \
	{                                                                          \
		name, XF_STRLIST, offsetof(T, m), MEMBER_SIZE(T, m), NULL, 0, NULL \
	}
#define F_LIST(T, name, m, sub)                                 \
	{                                                       \
		name, XF_LIST, offsetof(T, m), 0, &sub, 0, NULL \
	}
#define F_LIST_J(T, name, json, m, sub)                         \
	{                                                       \
		name, XF_LIST, offsetof(T, m), 0, &sub, 0, json \
	}
/* A wrapper element whose children belong to the enclosing struct. */
#define F_INLINE(name, sub)                       \
	{                                         \
		name, XF_OBJ, 0, 0, &sub, 0, NULL \
	}
#define F_INLINE_J(name, json, sub)               \
	{                                         \
		name, XF_OBJ, 0, 0, &sub, 0, json \
	}
#define F_INLINE_SEEN(T, name, sub, seen)                             \
	{                                                             \
		name, XF_OBJ, 0, 0, &sub, offsetof(T, seen) + 1, NULL \
	}
#define SCHEMA(var, T, fields) \
	static const struct xml_schema var = {sizeof(T), fields, sizeof(fields) / sizeof(fields[0])}
#define ROOT_SCHEMA(var, fields)                                        \
	const struct xml_schema var = {sizeof(struct observed), fields, \
				       sizeof(fields) / sizeof(fields[0])}

/* Things every EC2 answer may carry at the top level. */
struct ec2_meta {
	char request_id[64];
	char next_token[4096];
	bool ret; /* <return>true</return> of mutating calls */
};

/* Root schemas: each decodes one Describe answer into struct observed (items are appended,
 * so pages accumulate). */
extern const struct xml_schema ec2_xml_describe_vpcs;
extern const struct xml_schema ec2_xml_describe_subnets;
extern const struct xml_schema ec2_xml_describe_route_tables;
extern const struct xml_schema ec2_xml_describe_internet_gateways;
extern const struct xml_schema ec2_xml_describe_egress_only_gateways;
extern const struct xml_schema ec2_xml_describe_security_groups;
extern const struct xml_schema ec2_xml_describe_network_acls;
extern const struct xml_schema ec2_xml_describe_instances;
extern const struct xml_schema ec2_xml_describe_network_interfaces;
extern const struct xml_schema ec2_xml_describe_instance_types;
extern const struct xml_schema ec2_xml_describe_images;
extern const struct xml_schema ec2_xml_describe_type_offerings;
extern const struct xml_schema ec2_xml_describe_stop_protection; /* into a stop_protection */

/* Item schemas, for answers of mutating calls that return one object. */
extern const struct xml_schema ec2_xml_cidr_assoc_ipv6; /* ipv6CidrBlockAssociation */
extern const struct xml_schema ec2_xml_gateway_eigw;	/* egressOnlyInternetGateway */

/* Decodes xml[0..len) with root schema into base. meta may be NULL. On failure, err (if not
 * NULL) gets a human message. */
int ec2_xml_decode(const struct xml_schema *root, void *base, const char *xml, size_t len,
		   struct ec2_meta *meta, char *err, size_t err_len);

/* Decodes an error answer of any shape into out (code, message, request id, class).
 * A body that is not XML gives code "HttpStatusNNN" and its first bytes as the message. */
void ec2_xml_decode_error(int http_status, const char *body, size_t len, struct ec2_error *out);

#endif
