/* aws_query.h - the AWS Query protocol's request side: form bodies and signed headers.
 * Owns: `Action=..&Version=..` form encoding (RFC 3986, as SigV4 requires), and turning a body
 * plus credentials into the header lines of a signed POST (Host, X-Amz-Date, token, auth).
 * Not: sending (http.c) or decoding answers (ec2_xml.c). Shared by EC2 and STS calls. */
#ifndef DS_AWS_QUERY_H
#define DS_AWS_QUERY_H

#include <time.h>

#include "../reconcile/buf.h"
#include "creds.h"
#include "sigv4.h"

/* Appends "&key=value" (no '&' when the body is empty), both percent-encoded. */
int aws_form_add(struct buf *body, const char *key, const char *value);

#define AWS_QUERY_HEADERS 6

/* The header lines of one signed request; valid until the next aws_query_sign on it. */
struct aws_signed {
	struct sigv4_out sig;
	char host[256];
	char lines[AWS_QUERY_HEADERS][4352];
	const char *headers[AWS_QUERY_HEADERS];
	size_t n_headers;
};

void aws_signed_init(struct aws_signed *s);
void aws_signed_cleanup(struct aws_signed *s);

/* Signs a form POST of body to endpoint (a URL; its host is signed). */
int aws_query_sign(struct sigv4_signer *signer, const struct aws_creds *creds, const char *service,
		   const char *region, const char *endpoint, const char *body, size_t body_len,
		   time_t when, struct aws_signed *out);

/* Signs a JSON-protocol POST (SSM): Content-Type application/x-amz-json-1.1 and X-Amz-Target
 * (e.g. "AmazonSSM.SendCommand") are sent and signed. */
int aws_json_sign(struct sigv4_signer *signer, const struct aws_creds *creds, const char *service,
		  const char *region, const char *endpoint, const char *amz_target,
		  const char *body, size_t body_len, time_t when, struct aws_signed *out);

/* The host[:port] part of a URL, or an error for a URL without one. */
int aws_url_host(const char *url, char *host, size_t size);

#endif
