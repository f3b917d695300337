/* sigv4.h - AWS Signature Version 4 (header form) for any service.
 * Owns: canonical request, string to sign, signing-key derivation and caching, Authorization.
 * Not: choosing headers to send (callers add Host, X-Amz-Date, X-Amz-Security-Token) or I/O.
 * The signing time is a parameter, so the AWS test vectors can be replayed exactly. */
#ifndef DS_SIGV4_H
#define DS_SIGV4_H

#include <stddef.h>
#include <time.h>

#include "../reconcile/buf.h"

struct sigv4_header {
	const char *name;
	const char *value;
};

struct sigv4_request {
	const char *method;
	const char *path;  /* raw path, before URI encoding; normalised unless no_normalize */
	const char *query; /* raw query string without '?', or NULL */
	const struct sigv4_header *headers; /* every header that is sent and signed */
	size_t n_headers;
	const void *body;
	size_t body_len;
};

struct sigv4_creds {
	const char *access_key_id;
	const char *secret_access_key;
	const char *session_token; /* unused by the signer; callers send it as a header */
};

struct sigv4_scope {
	const char *region;
	const char *service;
	time_t when; /* signing time, UTC seconds */
};

/* Results of one signature; the bufs are reused across calls on the same signer. */
struct sigv4_out {
	struct buf canonical_request;
	struct buf string_to_sign;
	struct buf authorization;
	char amz_date[17]; /* YYYYMMDDTHHMMSSZ */
};

struct sigv4_signer;

struct sigv4_signer *sigv4_signer_new(void);
void sigv4_signer_free(struct sigv4_signer *s);

/* Formats `when` as the X-Amz-Date value (16 chars + NUL). */
void sigv4_amz_date(time_t when, char out[17]);

/* Builds the canonical request of req into out (appending). */
int sigv4_canonical_request(const struct sigv4_request *req, struct buf *out);

/* Signs req: fills out->canonical_request, string_to_sign, authorization and amz_date.
 * The derived signing key is cached per (secret, date, region, service). */
int sigv4_sign(struct sigv4_signer *s, const struct sigv4_creds *creds,
	       const struct sigv4_scope *scope, const struct sigv4_request *req,
	       struct sigv4_out *out);

void sigv4_out_init(struct sigv4_out *out);
void sigv4_out_cleanup(struct sigv4_out *out);

/* Lowercase hex SHA-256 of p (65 bytes with NUL). */
int sigv4_sha256_hex(const void *p, size_t n, char out[65]);
/* HMAC-SHA256(key, msg) -> 32 bytes. */
int sigv4_hmac(const void *key, size_t key_len, const void *msg, size_t msg_len,
	       unsigned char out[32]);

#endif
