#include "ec2_ops.h"

#include <string.h>

const char *ec2_class_name(enum ec2_class cls)
{
	static const char *const names[] = {"ok",	 "duplicate", "not-found", "throttled",
					    "transient", "state",     "fatal",	   "capacity"};
	return (unsigned)cls < sizeof(names) / sizeof(names[0]) ? names[cls] : "unknown";
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Codes from the EC2 API Reference "Error codes" page and ../shared/reference/ec2-api.md. */
static const struct {
	const char *code;
	enum ec2_class cls;
} code_classes[] = {
    {"RequestLimitExceeded", EC2_THROTTLED},
    {"EC2ThrottledException", EC2_THROTTLED},
    {"Throttling", EC2_THROTTLED},
    {"ThrottlingException", EC2_THROTTLED},
    {"InternalError", EC2_TRANSIENT},
    {"InternalFailure", EC2_TRANSIENT},
    {"ServiceUnavailable", EC2_TRANSIENT},
    {"Unavailable", EC2_TRANSIENT},
    {"RequestTimeout", EC2_TRANSIENT},
    {"RequestTimeoutException", EC2_TRANSIENT},
    {"ConnectionError", EC2_TRANSIENT},
    {"InvalidPermission.Duplicate", EC2_DUPLICATE},
    {"RouteAlreadyExists", EC2_DUPLICATE},
    {"NetworkAclEntryAlreadyExists", EC2_DUPLICATE},
    {"IncorrectInstanceState", EC2_STATE},
    {"IncorrectState", EC2_STATE},
    {"InvalidState", EC2_STATE},
    {"PendingVerification", EC2_STATE},
    /* EC2 answers these with HTTP 500, but resending the same request will not help: the
     * caller decides (a resize rolls back) */
    {"InsufficientInstanceCapacity", EC2_CAPACITY},
    {"InsufficientHostCapacity", EC2_CAPACITY},
    {"InsufficientCapacity", EC2_CAPACITY},
    {"InsufficientReservedInstanceCapacity", EC2_CAPACITY},
    {"InsufficientCapacityOnHost", EC2_CAPACITY},
};

enum ec2_class ec2_classify(int http_status, const char *code)
{
	if (code && *code) {
		for (size_t i = 0; i < sizeof(code_classes) / sizeof(code_classes[0]); i++)
			if (strcmp(code, code_classes[i].code) == 0)
				return code_classes[i].cls;
		if (ends_with(code, ".NotFound") || ends_with(code, ".Malformed.NotFound"))
			return EC2_NOT_FOUND;
	}
	if (http_status == 429)
		return EC2_THROTTLED;
	if (http_status >= 500 || http_status == 0)
		return EC2_TRANSIENT;
	return EC2_FATAL;
}
