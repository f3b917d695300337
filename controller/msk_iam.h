/* msk_iam.h - Amazon MSK IAM authentication: the SASL OAUTHBEARER token.
 * Owns: the token AWS's MSK IAM signer libraries produce - a SigV4 presigned GET of
 * https://kafka.<region>.amazonaws.com/?Action=kafka-cluster:Connect (service kafka-cluster,
 * valid 900 s) with a User-Agent, base64url-encoded without padding.
 * Not: refreshing it (kafka.c asks again before it expires) or finding credentials (creds.c). */
#ifndef DS_MSK_IAM_H
#define DS_MSK_IAM_H

#include <stdint.h>
#include <time.h>

#include "../reconcile/buf.h"
#include "creds.h"

#define MSK_IAM_TOKEN_LIFETIME_S 900

/* Appends the token to out; *expiry_ms is when it stops being valid (ms since the epoch).
 * url (optional) gets the presigned URL before encoding, for diagnostics and tests. */
int msk_iam_token(const struct aws_creds *creds, const char *region, time_t when,
		  const char *user_agent, struct buf *out, int64_t *expiry_ms, struct buf *url);

#endif
