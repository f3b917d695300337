#include "msk_iam.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "sigv4.h"

/* base64url without padding (RFC 4648 §5), as the MSK signers emit it. */
static int put_base64url(struct buf *out, const char *s, size_t n)
{
	size_t cap = 4 * ((n + 2) / 3) + 1;
	int rc = buf_reserve(out, cap);
	if (rc)
		return rc;
	char *o = out->data + out->len;
	int len = EVP_EncodeBlock((unsigned char *)o, (const unsigned char *)s, (int)n);
	if (len < 0)
		return DS_ECRYPTO;
	while (len > 0 && o[len - 1] == '=')
		len--;
	for (int i = 0; i < len; i++)
		o[i] = o[i] == '+' ? '-' : o[i] == '/' ? '_' : o[i];
	out->len += (size_t)len;
	out->data[out->len] = '\0';
	return DS_OK;
}

int msk_iam_token(const struct aws_creds *creds, const char *region, time_t when,
		  const char *user_agent, struct buf *out, int64_t *expiry_ms, struct buf *url)
{
	char host[128], date[17], scope[256], expires[16];
	struct buf query, full;
	struct sigv4_out sig;
	struct sigv4_signer *signer = sigv4_signer_new();
	int rc = signer ? DS_OK : DS_ENOMEM;
	buf_init(&query, 16384);
	buf_init(&full, 32768);
	sigv4_out_init(&sig);
	snprintf(host, sizeof(host), "kafka.%s.amazonaws.com", region);
	sigv4_amz_date(when, date);
	snprintf(scope, sizeof(scope), "%s/%.8s/%s/kafka-cluster/aws4_request",
		 creds->access_key_id, date, region);
	snprintf(expires, sizeof(expires), "%d", MSK_IAM_TOKEN_LIFETIME_S);
	/* botocore's order; the canonical query sorts them anyway */
	if (!rc)
		rc = buf_put_pair(&query, "Action", "kafka-cluster:Connect");
	if (!rc)
		rc = buf_put_pair(&query, "X-Amz-Algorithm", "AWS4-HMAC-SHA256");
	if (!rc)
		rc = buf_put_pair(&query, "X-Amz-Credential", scope);
	if (!rc)
		rc = buf_put_pair(&query, "X-Amz-Date", date);
	if (!rc)
		rc = buf_put_pair(&query, "X-Amz-Expires", expires);
	if (!rc)
		rc = buf_put_pair(&query, "X-Amz-SignedHeaders", "host");
	if (!rc && creds->session_token[0])
		rc = buf_put_pair(&query, "X-Amz-Security-Token", creds->session_token);
	if (!rc) {
		struct sigv4_header h[] = {{"host", host}};
		struct sigv4_request req = {"GET", "/", query.data, h, 1, "", 0};
		struct sigv4_creds sc = {creds->access_key_id, creds->secret_access_key, NULL};
		struct sigv4_scope sp = {region, "kafka-cluster", when};
		rc = sigv4_sign(signer, &sc, &sp, &req, &sig);
	}
	/* the signature is the Authorization value's last 64 hex digits */
	if (!rc && sig.authorization.len < 64)
		rc = DS_ECRYPTO;
	if (!rc)
		rc = buf_printf(&full, "https://%s/?%s&X-Amz-Signature=%s&User-Agent=%s", host,
				query.data, sig.authorization.data + sig.authorization.len - 64,
				user_agent);
	if (!rc && url)
		rc = buf_append(url, full.data, full.len);
	if (!rc)
		rc = put_base64url(out, full.data, full.len);
	if (!rc && expiry_ms)
		*expiry_ms = ((int64_t)when + MSK_IAM_TOKEN_LIFETIME_S) * 1000;
	buf_cleanup(&query);
	buf_cleanup(&full);
	sigv4_out_cleanup(&sig);
	sigv4_signer_free(signer);
	return rc;
}
