/* creds.h - AWS credentials: the SDKs' default chain, caching, and per-account AssumeRole.
 * Owns: environment, shared credentials/config files (AWS_PROFILE), web identity (STS
 * AssumeRoleWithWebIdentity), the container credentials endpoint, IMDSv2, and refreshing any
 * of them before they expire (on a thread of the cache's, never the loop's); a cache of
 * AssumeRole sessions per member-account role (refreshed on the loop).
 * Not: signing (sigv4.c). The environment, the clock and HTTP are injected (struct creds_env)
 * so every provider is unit-tested against a fake transport. */
#ifndef DS_CREDS_H
#define DS_CREDS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "http.h"

struct aws_creds {
	char access_key_id[128];
	char secret_access_key[256];
	char session_token[4096];
	time_t expires_at; /* 0: does not expire */
	char source[32];   /* which provider: env, profile, web-identity, container, imds, sts */
};

struct creds_env {
	const char *(*getenv)(const char *name);
	/* A blocking HTTP request; http_fetch_blocking in production. */
	int (*fetch)(const struct http_request *req, struct http_response *resp);
	time_t (*now)(void);
};

/* The production environment: getenv(3), http_fetch_blocking, time(2). */
extern const struct creds_env creds_env_default;

/* Walks the chain once. On failure err says what each provider lacked. */
int creds_resolve(const struct creds_env *env, struct aws_creds *out, char *err, size_t err_len);

/* The region: AWS_REGION, AWS_DEFAULT_REGION, then the profile's `region`; NULL when unset. */
const char *creds_region(const struct creds_env *env, char *buf, size_t size);

/* Resolves an endpoint for `service` per the SDK convention: AWS_ENDPOINT_URL_<SERVICE>,
 * AWS_ENDPOINT_URL, else https://<service>.<region>.amazonaws.com. */
void creds_endpoint(const struct creds_env *env, const char *service, const char *region, char *out,
		    size_t size);

/* Credentials that refresh themselves: the chain's, and one AssumeRole session per role. */
struct creds_cache;

struct creds_cache *creds_cache_new(const struct creds_env *env, const char *region);
void creds_cache_free(struct creds_cache *c);
/* AssumeRole sessions are named "dualstackd-<replica>" (CloudTrail then says which replica). */
void creds_cache_set_session_name(struct creds_cache *c, const char *replica);
/* The ExternalId member-account roles are assumed with ("" for none). */
void creds_cache_set_external_id(struct creds_cache *c, const char *external_id);
/* The controller's own credentials (a copy), refreshed when within the refresh margin of
 * expiry. Without a refresher the chain is walked here, blocking; with one (below) this returns
 * at once while they are usable and otherwise waits for the refresher's attempt - at start-up,
 * or when the chain has failed until they expired. */
int creds_cache_base(struct creds_cache *c, struct aws_creds *out, char *err, size_t err_len);
/* Credentials for role_arn (NULL: the base credentials; a copy), via STS AssumeRole, cached. */
int creds_cache_role(struct creds_cache *c, const char *role_arn, struct aws_creds *out, char *err,
		     size_t err_len);

/* Walks the chain for the controller's own credentials on a thread of the cache's, ahead of
 * their expiry, so no provider (IMDS, the container endpoint, web identity, a
 * credential_process, a profile's AssumeRole) ever blocks `loop`: their refresh starts
 * CREDS_REFRESH_MARGIN_S before expiry, at once after EC2 said ExpiredToken, and a failed one
 * is tried again after a backoff (CREDS_RETRY_MIN_S doubling to CREDS_RETRY_MAX_S) while the
 * old credentials keep being served until CREDS_USABLE_MIN_S before they expire. A failure
 * logs once per run of failures, and its recovery logs too. creds_cache_free stops the thread;
 * free the cache before the loop. */
int creds_cache_refresh_in_background(struct creds_cache *c, struct ev_loop *loop);

/* What the refresher has done, for metrics: attempts and failures so far, and whether the
 * last attempt failed. */
struct creds_refresh_stats {
	unsigned long attempts, failures;
	bool failing;
};
void creds_cache_refresh_stats(struct creds_cache *c, struct creds_refresh_stats *out);

/* EC2 answered ExpiredToken or RequestExpired: the credentials of role_arn (NULL or "": the
 * base ones) are refreshed before their next use, whatever their expiry said. */
void creds_cache_invalidate(struct creds_cache *c, const char *role_arn);

/* Like creds_cache_role, but the AssumeRole refresh goes over `http` on the event loop instead
 * of blocking it; everyone waiting for one role shares one refresh. done gets a copy of the
 * credentials (or rc and a message); it may run before this returns. While a refresh fails,
 * unexpired credentials keep being served. */
typedef void (*creds_ready_fn)(void *ud, int rc, const struct aws_creds *creds, const char *err);
int creds_cache_role_async(struct creds_cache *c, struct http_client *http, const char *role_arn,
			   creds_ready_fn done, void *ud);

/* Whether AWS_CONTAINER_CREDENTIALS_FULL_URI may be asked for credentials (the SDKs' rule). */
bool container_uri_allowed(const char *uri);

/* Seconds before expiry at which credentials are refreshed. */
#define CREDS_REFRESH_MARGIN_S 300
/* With a refresher: credentials are signed with until this close to their expiry (a request
 * signed with them must reach AWS before they expire). */
#define CREDS_USABLE_MIN_S 60
/* The refresher's backoff after a failed attempt, doubling from min to max. */
#define CREDS_RETRY_MIN_S 5
#define CREDS_RETRY_MAX_S 60

/* Decoders of what the providers answer (fuzzed: tests/fuzz/fuzz_answers.c). The credentials
 * JSON of IMDS, the container endpoint and credential_process ({AccessKeyId, SecretAccessKey,
 * Token, Expiration}); who names the provider in err. */
int creds_decode_json(const char *json, struct aws_creds *out, const char *who, char *err,
		      size_t len);
/* An STS AssumeRole / AssumeRoleWithWebIdentity answer of HTTP status `status`. */
int sts_decode_answer(long status, const char *body, size_t body_len, struct aws_creds *out,
		      char *err, size_t len);

/* STS calls (Query protocol, XML answers). */
int sts_assume_role(const struct creds_env *env, const struct aws_creds *base, const char *region,
		    const char *role_arn, const char *session_name, const char *external_id,
		    struct aws_creds *out, char *err, size_t err_len);
int sts_assume_role_with_web_identity(const struct creds_env *env, const char *region,
				      const char *role_arn, const char *session_name,
				      const char *token, struct aws_creds *out, char *err,
				      size_t err_len);

/* The account of creds (STS GetCallerIdentity). */
int sts_get_caller_identity(const struct creds_env *env, const struct aws_creds *creds,
			    const char *region, char *account, size_t size, char *err,
			    size_t err_len);

/* Parses an ISO 8601 UTC time ("2026-11-26T07:00:00Z", fractions allowed); -1 if invalid. */
time_t creds_parse_iso8601(const char *s);

#endif
