/* SigV4 per the AWS General Reference "Create a signed AWS API request".
 * Speed matters (every EC2 call is signed): the SHA-256 implementation is fetched once, the
 * day's signing key is derived once and kept as a keyed HMAC context that is duplicated per
 * signature, and the output buffers are reused. */
#include "sigv4.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define SIGV4_MAX_HEADERS      64
#define SIGV4_MAX_QUERY_PARAMS 512

struct sigv4_signer {
	EVP_MD *sha256;
	EVP_MAC *hmac;
	EVP_MAC_CTX *keyed; /* HMAC keyed with the cached signing key */
	char key_date[9];
	char key_region[64];
	char key_service[64];
	unsigned char secret_digest[32]; /* identifies the secret without keeping it */
	struct buf scratch;
};

static EVP_MD *g_sha256;
static EVP_MAC *g_hmac;

static int crypto_init(void)
{
	/* Fetching is the expensive part of OpenSSL 3's one-shot calls; do it once. */
	if (!g_sha256)
		g_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (!g_hmac)
		g_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	return g_sha256 && g_hmac ? DS_OK : DS_ECRYPTO;
}

int sigv4_sha256_hex(const void *p, size_t n, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[32];
	unsigned int len = 0;
	if (crypto_init() || !EVP_Digest(p, n, md, &len, g_sha256, NULL))
		return DS_ECRYPTO;
	for (int i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
	return DS_OK;
}

static EVP_MAC_CTX *hmac_keyed(const void *key, size_t key_len)
{
	OSSL_PARAM params[] = {
	    OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
	    OSSL_PARAM_construct_end(),
	};
	EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(g_hmac);
	if (ctx && !EVP_MAC_init(ctx, key, key_len, params)) {
		EVP_MAC_CTX_free(ctx);
		ctx = NULL;
	}
	return ctx;
}

static int hmac_finish(EVP_MAC_CTX *ctx, const void *msg, size_t msg_len, unsigned char out[32])
{
	size_t len = 0;
	if (!EVP_MAC_update(ctx, msg, msg_len) || !EVP_MAC_final(ctx, out, &len, 32) || len != 32)
		return DS_ECRYPTO;
	return DS_OK;
}

int sigv4_hmac(const void *key, size_t key_len, const void *msg, size_t msg_len,
	       unsigned char out[32])
{
	if (crypto_init())
		return DS_ECRYPTO;
	EVP_MAC_CTX *ctx = hmac_keyed(key, key_len);
	if (!ctx)
		return DS_ECRYPTO;
	int rc = hmac_finish(ctx, msg, msg_len, out);
	EVP_MAC_CTX_free(ctx);
	return rc;
}

struct sigv4_signer *sigv4_signer_new(void)
{
	if (crypto_init())
		return NULL;
	struct sigv4_signer *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	buf_init(&s->scratch, 1 << 20);
	return s;
}

void sigv4_signer_free(struct sigv4_signer *s)
{
	if (!s)
		return;
	EVP_MAC_CTX_free(s->keyed);
	OPENSSL_cleanse(s->secret_digest, sizeof(s->secret_digest));
	buf_cleanup(&s->scratch);
	free(s);
}

void sigv4_out_init(struct sigv4_out *out)
{
	buf_init(&out->canonical_request, 1 << 24);
	buf_init(&out->string_to_sign, 4096);
	buf_init(&out->authorization, 4096);
	out->amz_date[0] = '\0';
}

void sigv4_out_cleanup(struct sigv4_out *out)
{
	buf_cleanup(&out->canonical_request);
	buf_cleanup(&out->string_to_sign);
	buf_cleanup(&out->authorization);
}

/* digits of v, right-aligned in n characters */
static void put_digits(char *out, int v, int n)
{
	for (int i = n - 1; i >= 0; i--, v /= 10)
		out[i] = (char)('0' + v % 10);
}

void sigv4_amz_date(time_t when, char out[17])
{
	struct tm tm;
	gmtime_r(&when, &tm);
	if (tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999) { /* not a date SigV4 can carry */
		strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
		return;
	}
	put_digits(out, tm.tm_year + 1900, 4);
	put_digits(out + 4, tm.tm_mon + 1, 2);
	put_digits(out + 6, tm.tm_mday, 2);
	out[8] = 'T';
	put_digits(out + 9, tm.tm_hour, 2);
	put_digits(out + 11, tm.tm_min, 2);
	put_digits(out + 13, tm.tm_sec, 2);
	out[15] = 'Z';
	out[16] = '\0';
}

/* ---- canonical request ---- */

/* Removes "." and ".." segments and empty segments, keeping a trailing slash. */
static int put_normalized_path(struct buf *out, const char *path)
{
	const char *segs[256];
	size_t lens[256];
	size_t n = 0;
	const char *p = path && *path ? path : "/";
	size_t total = strlen(p);
	int trailing = total > 0 && p[total - 1] == '/';

	while (*p) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		const char *e = strchr(p, '/');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len == 1 && p[0] == '.') {
			trailing = e != NULL;
		} else if (len == 2 && p[0] == '.' && p[1] == '.') {
			if (n)
				n--;
			trailing = e != NULL;
		} else {
			if (n == 256)
				return DS_ETOOBIG;
			segs[n] = p;
			lens[n] = len;
			n++;
			trailing = e != NULL;
		}
		p += len;
	}
	int rc = buf_putc(out, '/');
	for (size_t i = 0; i < n && !rc; i++) {
		rc = buf_put_uri_encoded(out, segs[i], lens[i], 0);
		if (!rc && (i + 1 < n || trailing))
			rc = buf_putc(out, '/');
	}
	return rc;
}

struct qparam {
	char *key; /* encoded */
	char *value;
};

/* Decodes %XX (and '+' stays '+': SigV4 queries are not form-encoded) then re-encodes strictly. */
static char *reencode(const char *s, size_t n)
{
	char *dec = malloc(n + 1);
	if (!dec)
		return NULL;
	size_t j = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && hex_digit(s[i + 1]) >= 0 &&
		    hex_digit(s[i + 2]) >= 0) {
			dec[j++] = (char)(hex_digit(s[i + 1]) * 16 + hex_digit(s[i + 2]));
			i += 2;
		} else {
			dec[j++] = s[i];
		}
	}
	struct buf b;
	buf_init(&b, 0);
	if (buf_put_uri_encoded(&b, dec, j, 0) || buf_reserve(&b, 0)) {
		buf_cleanup(&b);
		free(dec);
		return NULL;
	}
	free(dec);
	return b.data;
}

static int qparam_cmp(const void *a, const void *b)
{
	const struct qparam *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	return c ? c : strcmp(x->value, y->value);
}

static int put_canonical_query(struct buf *out, const char *query)
{
	struct qparam params[SIGV4_MAX_QUERY_PARAMS];
	size_t n = 0;
	int rc = DS_OK;
	const char *p = query ? query : "";

	while (*p) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);
		if (len) {
			if (n == SIGV4_MAX_QUERY_PARAMS) {
				rc = DS_ETOOBIG;
				goto out;
			}
			const char *eq = memchr(p, '=', len);
			size_t klen = eq ? (size_t)(eq - p) : len;
			params[n].key = reencode(p, klen);
			params[n].value = eq ? reencode(eq + 1, len - klen - 1) : reencode("", 0);
			n++;
			if (!params[n - 1].key || !params[n - 1].value) {
				rc = DS_ENOMEM;
				goto out;
			}
		}
		p += len;
		if (*p == '&')
			p++;
	}
	qsort(params, n, sizeof(params[0]), qparam_cmp);
	for (size_t i = 0; i < n && !rc; i++) {
		if (i)
			rc = buf_putc(out, '&');
		if (!rc)
			rc = buf_cat(out, params[i].key, "=", params[i].value, NULL);
	}
out:
	for (size_t i = 0; i < n; i++) {
		free(params[i].key);
		free(params[i].value);
	}
	return rc;
}

struct hdr {
	char name[128];
	const char *value;
	size_t order;
};

static int hdr_cmp(const void *a, const void *b)
{
	const struct hdr *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Trims and collapses runs of white space (including folded line breaks) to one space: the
 * runs between them are appended whole. */
static int put_trimmed_value(struct buf *out, const char *v)
{
	int rc = DS_OK;
	bool started = false;
	while (*v && !rc) {
		while (is_space(*v))
			v++;
		if (!*v)
			break;
		const char *run = v;
		while (*v && !is_space(*v))
			v++;
		if (started)
			rc = buf_putc(out, ' ');
		if (!rc)
			rc = buf_append(out, run, (size_t)(v - run));
		started = true;
	}
	return rc;
}

static int put_canonical_headers(struct buf *out, struct buf *signed_headers,
				 const struct sigv4_header *headers, size_t n)
{
	struct hdr h[SIGV4_MAX_HEADERS];
	if (n > SIGV4_MAX_HEADERS)
		return DS_ETOOBIG;
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(headers[i].name);
		if (len >= sizeof(h[i].name))
			return DS_ETOOBIG;
		for (size_t k = 0; k <= len; k++) {
			char c = headers[i].name[k];
			h[i].name[k] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
		}
		h[i].value = headers[i].value;
		h[i].order = i;
	}
	qsort(h, n, sizeof(h[0]), hdr_cmp);
	int rc = DS_OK;
	for (size_t i = 0; i < n && !rc; i++) {
		int dup = i > 0 && strcmp(h[i].name, h[i - 1].name) == 0;
		if (dup) {
			rc = buf_putc(out, ',');
		} else {
			if (i)
				rc = buf_putc(out, '\n');
			if (!rc)
				rc = buf_cat(out, h[i].name, ":", NULL);
			if (!rc && signed_headers->len)
				rc = buf_putc(signed_headers, ';');
			if (!rc)
				rc = buf_puts(signed_headers, h[i].name);
		}
		if (!rc)
			rc = put_trimmed_value(out, h[i].value);
	}
	if (!rc)
		rc = buf_putc(out, '\n');
	return rc;
}

static int canonical_request(const struct sigv4_request *req, struct buf *out,
			     struct buf *signed_headers)
{
	char body_hash[65];
	int rc = buf_cat(out, req->method, "\n", NULL);
	if (!rc)
		rc = put_normalized_path(out, req->path);
	if (!rc)
		rc = buf_putc(out, '\n');
	if (!rc)
		rc = put_canonical_query(out, req->query);
	if (!rc)
		rc = buf_putc(out, '\n');
	if (!rc)
		rc = put_canonical_headers(out, signed_headers, req->headers, req->n_headers);
	if (!rc)
		rc = buf_cat(out, "\n", signed_headers->data ? signed_headers->data : "", "\n",
			     NULL);
	if (!rc)
		rc = sigv4_sha256_hex(req->body ? req->body : "", req->body_len, body_hash);
	if (!rc)
		rc = buf_append(out, body_hash, 64);
	return rc;
}

int sigv4_canonical_request(const struct sigv4_request *req, struct buf *out)
{
	struct buf signed_headers;
	buf_init(&signed_headers, 8192);
	int rc = canonical_request(req, out, &signed_headers);
	buf_cleanup(&signed_headers);
	return rc;
}

/* Derives kSigning = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request")
 * and keeps it as a keyed HMAC context; rederived only when an input changes. */
static int signer_key(struct sigv4_signer *s, const char *secret, const char *date,
		      const char *region, const char *service)
{
	unsigned char digest[32];
	unsigned int dlen = 0;
	if (!EVP_Digest(secret, strlen(secret), digest, &dlen, g_sha256, NULL))
		return DS_ECRYPTO;
	if (s->keyed && memcmp(digest, s->secret_digest, 32) == 0 &&
	    strcmp(date, s->key_date) == 0 && strcmp(region, s->key_region) == 0 &&
	    strcmp(service, s->key_service) == 0)
		return DS_OK;
	if (strlen(region) >= sizeof(s->key_region) || strlen(service) >= sizeof(s->key_service))
		return DS_EINVAL;

	unsigned char k[32];
	size_t slen = strlen(secret);
	unsigned char *k0 = malloc(slen + 4);
	if (!k0)
		return DS_ENOMEM;
	memcpy(k0, "AWS4", 4);
	memcpy(k0 + 4, secret, slen);
	int rc = sigv4_hmac(k0, slen + 4, date, strlen(date), k);
	OPENSSL_cleanse(k0, slen + 4);
	free(k0);
	if (!rc)
		rc = sigv4_hmac(k, 32, region, strlen(region), k);
	if (!rc)
		rc = sigv4_hmac(k, 32, service, strlen(service), k);
	if (!rc)
		rc = sigv4_hmac(k, 32, "aws4_request", 12, k);
	if (rc)
		return rc;
	EVP_MAC_CTX_free(s->keyed);
	s->keyed = hmac_keyed(k, 32);
	OPENSSL_cleanse(k, sizeof(k));
	if (!s->keyed)
		return DS_ECRYPTO;
	memcpy(s->secret_digest, digest, 32);
	memcpy(s->key_date, date, 9);
	memcpy(s->key_region, region, strlen(region) + 1);    /* length checked above */
	memcpy(s->key_service, service, strlen(service) + 1); /* length checked above */
	return DS_OK;
}

int sigv4_sign(struct sigv4_signer *s, const struct sigv4_creds *creds,
	       const struct sigv4_scope *scope, const struct sigv4_request *req,
	       struct sigv4_out *out)
{
	char date[9], creq_hash[65];
	unsigned char sig[32];
	int rc;

	if (!creds->access_key_id || !creds->secret_access_key)
		return DS_ECREDS;
	buf_reset(&out->canonical_request);
	buf_reset(&out->string_to_sign);
	buf_reset(&out->authorization);
	buf_reset(&s->scratch);

	sigv4_amz_date(scope->when, out->amz_date);
	memcpy(date, out->amz_date, 8);
	date[8] = '\0';

	rc = canonical_request(req, &out->canonical_request, &s->scratch);
	if (rc)
		goto out;
	rc = sigv4_sha256_hex(out->canonical_request.data, out->canonical_request.len, creq_hash);
	if (rc)
		goto out;
	rc = buf_cat(&out->string_to_sign, "AWS4-HMAC-SHA256\n", out->amz_date, "\n", date, "/",
		     scope->region, "/", scope->service, "/aws4_request\n", creq_hash, NULL);
	if (rc)
		goto out;
	rc = signer_key(s, creds->secret_access_key, date, scope->region, scope->service);
	if (rc)
		goto out;
	EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(s->keyed);
	if (!ctx) {
		rc = DS_ECRYPTO;
		goto out;
	}
	rc = hmac_finish(ctx, out->string_to_sign.data, out->string_to_sign.len, sig);
	EVP_MAC_CTX_free(ctx);
	if (rc)
		goto out;
	rc = buf_cat(&out->authorization, "AWS4-HMAC-SHA256 Credential=", creds->access_key_id, "/",
		     date, "/", scope->region, "/", scope->service,
		     "/aws4_request, SignedHeaders=", s->scratch.data, ", Signature=", NULL);
	if (!rc)
		rc = buf_put_hex(&out->authorization, sig, 32);
out:
	return rc;
}
