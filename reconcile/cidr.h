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

/* The /64 at `index` (0..255) inside a /56. */
int cidr_subnet64(const struct cidr *block56, int index, struct cidr *out);
/* The index of a /64 inside a /56, or -1 if it is not one of its /64s. */
int cidr_index_in56(const struct cidr *block56, const struct cidr *sub64);
/* The third octet of an IPv4 CIDR (10.0.7.0/24 -> 7). */
int cidr_v4_third_octet(const struct cidr *c);

#endif
