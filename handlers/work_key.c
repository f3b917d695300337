/* What a well-formed key looks like. Nothing from an event reaches a URL, a filter, a metric
 * label or a log line as a key before it passed these: an account is 12 digits, a region an
 * AWS region name (it becomes a host name), an id its prefix and 8 or 17 hex digits (it
 * becomes a Describe filter value, where "*" would match everything). */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "work_key.h"

bool wk_valid_account(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++)
		if (!isdigit((unsigned char)s[n]))
			return false;
	return n == 12;
}

/* partition-area-number: us-east-1, eu-central-2, ap-southeast-4, us-gov-west-1, cn-north-1,
 * us-isob-east-1: lower-case words joined by '-', the last one digits. */
bool wk_valid_region(const char *s)
{
	size_t n = strlen(s), parts = 0;
	if (n < 9 || n > 25)
		return false;
	const char *p = s;
	while (*p) {
		const char *start = p;
		bool last_digits = true, letters = true;
		for (; *p && *p != '-'; p++) {
			last_digits &= isdigit((unsigned char)*p) != 0;
			letters &= islower((unsigned char)*p) != 0;
		}
		if (p == start)
			return false;
		parts++;
		if (!*p)
			return parts >= 3 && last_digits;
		if (!letters)
			return false;
		p++; /* the '-' */
	}
	return false;
}

static const char *const id_prefixes[] = {"vpc-",  "subnet-", "sg-",  "acl-", "rtb-", "i-",
					  "eigw-", "igw-",    "eni-", "nat-", "tgw-"};

bool wk_valid_id(const char *s)
{
	for (size_t i = 0; i < sizeof(id_prefixes) / sizeof(id_prefixes[0]); i++) {
		size_t pl = strlen(id_prefixes[i]);
		if (strncmp(s, id_prefixes[i], pl) != 0)
			continue;
		size_t n = 0;
		for (const char *p = s + pl; *p; p++, n++)
			if (!isxdigit((unsigned char)*p) || isupper((unsigned char)*p))
				return false;
		return n == 8 || n == 17;
	}
	return false;
}

int work_key_validate(const struct work_key *k, char *why, size_t size)
{
	if (!wk_valid_account(k->account))
		snprintf(why, size, "account \"%.40s\" is not 12 digits", k->account);
	else if (!wk_valid_region(k->region))
		snprintf(why, size, "region \"%.40s\" is not an AWS region name", k->region);
	else if (k->vpc_id[0] && (strncmp(k->vpc_id, "vpc-", 4) || !wk_valid_id(k->vpc_id)))
		snprintf(why, size, "VPC id \"%.40s\" is not vpc- and 8 or 17 hex digits",
			 k->vpc_id);
	else if (!k->vpc_id[0] && !wk_valid_id(k->resource_id))
		snprintf(why, size,
			 "resource id \"%.40s\" is not a known prefix and 8 or 17 hex "
			 "digits",
			 k->resource_id);
	else
		return 0;
	return -1;
}
