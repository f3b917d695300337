#include "cidr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

int cidr_parse(const char *s, struct cidr *out)
{
	char host[DS_CIDR_LEN];
	const char *slash = strchr(s, '/');
	memset(out, 0, sizeof(*out));
	if (!slash || (size_t)(slash - s) >= sizeof(host))
		return DS_EPARSE;
	memcpy(host, s, (size_t)(slash - s));
	host[slash - s] = '\0';
	char *end;
	errno = 0;
	long len = strtol(slash + 1, &end, 10);
	if (errno || end == slash + 1 || *end)
		return DS_EPARSE;
	if (inet_pton(AF_INET, host, out->addr) == 1) {
		out->family = 4;
		if (len < 0 || len > 32)
			return DS_EPARSE;
	} else if (inet_pton(AF_INET6, host, out->addr) == 1) {
		out->family = 6;
		if (len < 0 || len > 128)
			return DS_EPARSE;
	} else {
		return DS_EPARSE;
	}
	out->len = (int)len;
	int bytes = out->family == 4 ? 4 : 16;
	for (int bit = out->len; bit < bytes * 8; bit++)
		out->addr[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
	return DS_OK;
}

void cidr_format(const struct cidr *c, char out[DS_CIDR_LEN])
{
	char host[INET6_ADDRSTRLEN];
	if (!inet_ntop(c->family == 4 ? AF_INET : AF_INET6, c->addr, host, sizeof(host)))
		host[0] = '\0';
	snprintf(out, DS_CIDR_LEN, "%s/%d", host, c->len);
}

int cidr_canonical(const char *s, char out[DS_CIDR_LEN])
{
	struct cidr c;
	int rc = cidr_parse(s, &c);
	if (!rc)
		cidr_format(&c, out);
	return rc;
}

bool cidr_equal(const struct cidr *a, const struct cidr *b)
{
	return a->family == b->family && a->len == b->len &&
	       memcmp(a->addr, b->addr, a->family == 4 ? 4 : 16) == 0;
}

bool cidr_is_any(const struct cidr *c)
{
	return c->len == 0;
}

long cidr_subnets64(const struct cidr *block)
{
	if (block->family != 6 || block->len < CIDR_BLOCK_MIN_LEN || block->len > 64)
		return 0;
	return 1L << (64 - block->len);
}

/* Bits len..63 of an IPv6 address as a number (the /64's index within a /len). */
static long bits_to_64(const uint8_t *addr, int len)
{
	long v = 0;
	for (int bit = len; bit < 64; bit++)
		v = (v << 1) | ((addr[bit / 8] >> (7 - bit % 8)) & 1);
	return v;
}

int cidr_subnet64(const struct cidr *block, long index, struct cidr *out)
{
	long n = cidr_subnets64(block);
	if (!n || index < 0 || index >= n)
		return DS_EINVAL;
	*out = *block;
	for (int bit = 63; bit >= block->len; bit--, index >>= 1) {
		uint8_t mask = (uint8_t)(0x80u >> (bit % 8));
		out->addr[bit / 8] =
		    (uint8_t)((out->addr[bit / 8] & ~mask) | ((index & 1) ? mask : 0));
	}
	out->len = 64;
	return DS_OK;
}

long cidr_index_in_block(const struct cidr *block, const struct cidr *sub64)
{
	if (!cidr_subnets64(block) || sub64->family != 6 || sub64->len != 64)
		return -1;
	for (int bit = 0; bit < block->len; bit++)
		if (((block->addr[bit / 8] ^ sub64->addr[bit / 8]) >> (7 - bit % 8)) & 1)
			return -1;
	return bits_to_64(sub64->addr, block->len);
}

int cidr_v4_third_octet(const struct cidr *c)
{
	return c->family == 4 ? c->addr[2] : -1;
}
