#include "aws_query.h"

#include <stdio.h>
#include <string.h>

int aws_form_add(struct buf *body, const char *key, const char *value)
{
	return buf_put_pair(body, key, value);
}

void aws_signed_init(struct aws_signed *s)
{
	memset(s, 0, sizeof(*s));
	sigv4_out_init(&s->sig);
}

void aws_signed_cleanup(struct aws_signed *s)
{
	sigv4_out_cleanup(&s->sig);
}

int aws_url_host(const char *url, char *host, size_t size)
{
	const char *p = strstr(url, "://");
	if (!p)
		return DS_EINVAL;
	p += 3;
	size_t n = strcspn(p, "/?#");
	if (n == 0 || n >= size)
		return DS_EINVAL;
	memcpy(host, p, n);
	host[n] = '\0';
	return DS_OK;
}

static int line(struct aws_signed *s, const char *name, const char *value)
{
	if (s->n_headers == AWS_QUERY_HEADERS)
		return DS_ETOOBIG;
	int n = snprintf(s->lines[s->n_headers], sizeof(s->lines[0]), "%s: %s", name, value);
	if (n < 0 || (size_t)n >= sizeof(s->lines[0]))
		return DS_ETOOBIG;
	s->headers[s->n_headers] = s->lines[s->n_headers];
	s->n_headers++;
	return DS_OK;
}

static int sign_post(struct sigv4_signer *signer, const struct aws_creds *creds,
		     const char *service, const char *region, const char *endpoint,
		     const char *content_type, const char *amz_target, const char *body,
		     size_t body_len, time_t when, struct aws_signed *out)
{
	char amz_date[17];
	int rc = aws_url_host(endpoint, out->host, sizeof(out->host));
	if (rc)
		return rc;
	sigv4_amz_date(when, amz_date);
	struct sigv4_header h[5];
	size_t nh = 0;
	h[nh++] = (struct sigv4_header){"Content-Type", content_type};
	h[nh++] = (struct sigv4_header){"Host", out->host};
	h[nh++] = (struct sigv4_header){"X-Amz-Date", amz_date};
	if (creds->session_token[0])
		h[nh++] = (struct sigv4_header){"X-Amz-Security-Token", creds->session_token};
	if (amz_target)
		h[nh++] = (struct sigv4_header){"X-Amz-Target", amz_target};
	struct sigv4_request req = {"POST", "/", NULL, h, nh, body, body_len};
	struct sigv4_creds sc = {creds->access_key_id, creds->secret_access_key, NULL};
	struct sigv4_scope scope = {region, service, when};
	rc = sigv4_sign(signer, &sc, &scope, &req, &out->sig);
	if (rc)
		return rc;
	out->n_headers = 0;
	for (size_t i = 0; i < nh && !rc; i++)
		if (strcmp(h[i].name, "Host") != 0) /* curl sets Host from the URL, as signed */
			rc = line(out, h[i].name, h[i].value);
	if (!rc)
		rc = line(out, "Authorization", out->sig.authorization.data);
	return rc;
}

int aws_query_sign(struct sigv4_signer *signer, const struct aws_creds *creds, const char *service,
		   const char *region, const char *endpoint, const char *body, size_t body_len,
		   time_t when, struct aws_signed *out)
{
	return sign_post(signer, creds, service, region, endpoint,
			 "application/x-www-form-urlencoded; charset=utf-8", NULL, body, body_len,
			 when, out);
}

int aws_json_sign(struct sigv4_signer *signer, const struct aws_creds *creds, const char *service,
		  const char *region, const char *endpoint, const char *amz_target,
		  const char *body, size_t body_len, time_t when, struct aws_signed *out)
{
	return sign_post(signer, creds, service, region, endpoint, "application/x-amz-json-1.1",
			 amz_target, body, body_len, when, out);
}
