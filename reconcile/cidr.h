/* cidr.h - IPv4 and IPv6 CIDR blocks: parsing, canonical text, and carving /64s from a /56.
 * Owns: the arithmetic the planner needs (exact-match mapping after canonicalisation, subnet
 * indices between /56 and /64). Not: policy (which CIDRs map where). */
#ifndef DS_CIDR_H
#define DS_CIDR_H

#include <stdbool.h>
#include <stdint.h>

#include "model.h"

struct cidr {
	int family; /* 4 or 6 */
	uint8_t addr[16];
	int len;
};

/* Parses "a.b.c.d/n" or "x::/n"; host bits are cleared (AWS canonicalises the same way). */
int cidr_parse(const char *s, struct cidr *out);
void cidr_format(const struct cidr *c, char out[DS_CIDR_LEN]);
/* Canonical text of s, or an error for text that is not a CIDR. */
int cidr_canonical(const char *s, char out[DS_CIDR_LEN]);
bool cidr_equal(const struct cidr *a, const struct cidr *b);
bool cidr_is_any(const struct cidr *c); /* 0.0.0.0/0 or ::/0 */

/* Blocks subnets are numbered from: IPv6 /44 (BYOIP, IPAM) to /64; Amazon's are /56. */
#define CIDR_BLOCK_MIN_LEN 44
/* How many /64s an IPv6 block holds (0 when its length is outside /44../64). */
long cidr_subnets64(const struct cidr *block);
/* The /64 at `index` (0..cidr_subnets64-1) inside an IPv6 block. */
int cidr_subnet64(const struct cidr *block, long index, struct cidr *out);
/* The index of a /64 inside a block, or -1 if it is not one of its /64s. */
long cidr_index_in_block(const struct cidr *block, const struct cidr *sub64);
/* The third octet of an IPv4 CIDR (10.0.7.0/24 -> 7). */
int cidr_v4_third_octet(const struct cidr *c);

#endif
