/* audit.h - what dualstackd wrote, as its audit topic tells it: the writes made before marks
 * existed (revert.h), recognised from the records the daemon produced for each mutating call.
 * Owns: parsing audit records (one JSON object per line, as kafka-console-consumer prints the
 * topic) into the writes revert can recognise, and looking them up.
 * Not: reading Kafka, or deciding what to remove (revert.c).
 *
 * A record counts only when its outcome is "ok": an "already exists" answer means the thing
 * was there before the call. Records of other actions are skipped; a line that is not a record
 * is an error with its line number (nothing is guessed from half a file). */
#ifndef DS_AUDIT_H
#define DS_AUDIT_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "model.h"

enum audit_kind {
	AUDIT_VPC_BLOCK,    /* AssociateVpcCidrBlock: id = VPC */
	AUDIT_SUBNET_BLOCK, /* AssociateSubnetCidrBlock: id = subnet */
	AUDIT_SUBNET_ATTR,  /* ModifySubnetAttribute AssignIpv6AddressOnCreation=true: subnet */
	AUDIT_ROUTE,	    /* CreateRoute/ReplaceRoute ::/0: id = route table */
	AUDIT_NACL_ENTRY,   /* CreateNetworkAclEntry IPv6: id = NACL, rule, egress */
	AUDIT_SG_RANGE,	    /* Authorize*: id = group, egress, protocol, ports, cidr */
	AUDIT_ADDRESS,	    /* AssignIpv6Addresses: id = network interface */
};

struct audit_write {
	enum audit_kind kind;
	char id[DS_ID_LEN];
	bool egress;
	int rule_number;
	char protocol[16];
	bool has_ports;
	int from_port, to_port;
	char cidr[DS_CIDR_LEN];
};

struct audit_log {
	DS_VEC(struct audit_write) writes;
	size_t lines; /* lines read so far: audit_parse may be fed a file a line at a time */
	size_t records, used; /* records among them, and those that named a write above */
};

void audit_init(struct audit_log *a);
void audit_cleanup(struct audit_log *a);

/* Adds the records of text (whole JSON lines; successive calls continue the file, so lines are
 * numbered across them); on a malformed line returns DS_EPARSE with "line N: what" in err.
 * Blank lines are skipped. */
int audit_parse(struct audit_log *a, const char *text, size_t len, char *err, size_t err_len);

/* Sorts the log for the lookups below (after the last audit_parse). */
void audit_index(struct audit_log *a);

/* Whether the log holds a write of kind on id (any details). */
bool audit_has(const struct audit_log *a, enum audit_kind kind, const char *id);
/* Whether it holds the NACL entry (acl, rule, direction). */
bool audit_has_entry(const struct audit_log *a, const char *acl, int rule, bool egress);
/* Whether it holds the security group range (group, direction, protocol, ports, IPv6 CIDR). */
bool audit_has_range(const struct audit_log *a, const char *group, bool egress,
		     const char *protocol, bool has_ports, int from, int to, const char *cidr);

#endif
