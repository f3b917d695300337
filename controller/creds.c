/* The default credential chain in the SDKs' order; the first provider that has credentials
 * wins, and a provider that is configured but fails stops the chain (a broken web identity
 * setup must not silently fall through to the instance role). */
#include "creds.h"

#include <arpa/inet.h>
#include <cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aws_query.h"
#include "ec2_xml.h"
#include "log.h"

static const char *real_getenv(const char *name)
{
	return getenv(name);
}

static time_t real_now(void)
{
	return time(NULL);
}

const struct creds_env creds_env_default = {real_getenv, http_fetch_blocking, real_now};

static const char *env_get(const struct creds_env *env, const char *name)
{
	const char *v = env->getenv(name);
	return v && *v ? v : NULL;
}

static int copy_str(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);
	if (n >= size)
		return DS_ETOOBIG;
	memcpy(dst, src, n + 1);
	return DS_OK;
}

static void set_err(char *err, size_t err_len, const char *fmt, const char *a, const char *b)
{
	if (err && err_len)
		snprintf(err, err_len, fmt, a, b);
}

time_t creds_parse_iso8601(const char *s)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end)
		return -1;
	if (*end == '.')
		for (end++; *end >= '0' && *end <= '9'; end++)
			;
	if (strcmp(end, "Z") != 0 && strcmp(end, "+00:00") != 0)
		return -1;
	return timegm(&tm);
}

/* ---- shared files (INI) ---- */

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		s[--n] = '\0';
	return s;
}

/* Looks key up in [section] of an INI file. Returns 1 if found, 0 if not, -1 if no file. */
static int ini_lookup(const char *path, const char *section, const char *key, char *out,
		      size_t size)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	char line[4096];
	int in_section = 0, found = 0;
	while (!found && fgets(line, sizeof(line), f)) {
		char *p = trim(line);
		if (*p == '#' || *p == ';' || !*p)
			continue;
		if (*p == '[') {
			char *e = strchr(p, ']');
			if (e) {
				*e = '\0';
				in_section = strcmp(trim(p + 1), section) == 0;
			}
			continue;
		}
		char *eq = strchr(p, '=');
		if (!in_section || !eq)
			continue;
		*eq = '\0';
		if (strcmp(trim(p), key) == 0)
			found = copy_str(out, size, trim(eq + 1)) == DS_OK;
	}
	fclose(f);
	return found;
}

static void shared_paths(const struct creds_env *env, char *creds_path, char *config_path,
			 size_t size)
{
	const char *home = env_get(env, "HOME");
	const char *c = env_get(env, "AWS_SHARED_CREDENTIALS_FILE");
	const char *g = env_get(env, "AWS_CONFIG_FILE");
	if (c)
		snprintf(creds_path, size, "%s", c);
	else
		snprintf(creds_path, size, "%s/.aws/credentials", home ? home : "");
	if (g)
		snprintf(config_path, size, "%s", g);
	else
		snprintf(config_path, size, "%s/.aws/config", home ? home : "");
}

static const char *profile_name(const struct creds_env *env)
{
	const char *p = env_get(env, "AWS_PROFILE");
	return p ? p : "default";
}

/* A profile's value of key: the credentials file's [name], then the config file's
 * [profile name] ([default] for the default profile). */
static int named_profile_value(const struct creds_env *env, const char *profile, const char *key,
			       char *out, size_t size)
{
	char creds_path[1024], config_path[1024], section[300];
	shared_paths(env, creds_path, config_path, sizeof(creds_path));
	if (ini_lookup(creds_path, profile, key, out, size) == 1)
		return 1;
	if (strcmp(profile, "default") == 0)
		snprintf(section, sizeof(section), "default");
	else
		snprintf(section, sizeof(section), "profile %s", profile);
	return ini_lookup(config_path, section, key, out, size) == 1;
}

static int profile_value(const struct creds_env *env, const char *key, char *out, size_t size)
{
	return named_profile_value(env, profile_name(env), key, out, size);
}

/* Whether either shared file has a section for the profile. */
static bool profile_exists(const struct creds_env *env, const char *profile)
{
	char creds_path[1024], config_path[1024], section[300], line[4096];
	shared_paths(env, creds_path, config_path, sizeof(creds_path));
	const char *paths[] = {creds_path, config_path};
	for (int i = 0; i < 2; i++) {
		if (i == 0 || !strcmp(profile, "default"))
			snprintf(section, sizeof(section), "%s", profile);
		else
			snprintf(section, sizeof(section), "profile %s", profile);
		FILE *f = fopen(paths[i], "r");
		if (!f)
			continue;
		bool found = false;
		while (!found && fgets(line, sizeof(line), f)) {
			char *p = trim(line);
			char *e = *p == '[' ? strchr(p, ']') : NULL;
			if (e) {
				*e = '\0';
				found = strcmp(trim(p + 1), section) == 0;
			}
		}
		fclose(f);
		if (found)
			return true;
	}
	return false;
}

const char *creds_region(const struct creds_env *env, char *buf, size_t size)
{
	const char *r = env_get(env, "AWS_REGION");
	if (!r)
		r = env_get(env, "AWS_DEFAULT_REGION");
	if (r) {
		snprintf(buf, size, "%s", r);
		return buf;
	}
	return profile_value(env, "region", buf, size) ? buf : NULL;
}

void creds_endpoint(const struct creds_env *env, const char *service, const char *region, char *out,
		    size_t size)
{
	char name[64];
	snprintf(name, sizeof(name), "AWS_ENDPOINT_URL_%s", service);
	for (char *p = name; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 32);
	const char *v = env_get(env, name);
	if (!v)
		v = env_get(env, "AWS_ENDPOINT_URL");
	if (v)
		snprintf(out, size, "%s", v);
	else
		snprintf(out, size, "https://%s.%s.amazonaws.com", service, region);
}

/* ---- providers: each returns DS_OK (found), DS_ENOTFOUND (not configured) or an error ---- */

static int from_env(const struct creds_env *env, struct aws_creds *out, char *err, size_t len)
{
	const char *ak = env_get(env, "AWS_ACCESS_KEY_ID");
	const char *sk = env_get(env, "AWS_SECRET_ACCESS_KEY");
	const char *tok = env_get(env, "AWS_SESSION_TOKEN");
	if (!ak && !sk)
		return DS_ENOTFOUND;
	if (!ak || !sk) {
		set_err(err, len, "environment: %s is set but %s is not",
			ak ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
			ak ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
		return DS_ECREDS;
	}
	if (copy_str(out->access_key_id, sizeof(out->access_key_id), ak) ||
	    copy_str(out->secret_access_key, sizeof(out->secret_access_key), sk) ||
	    copy_str(out->session_token, sizeof(out->session_token), tok ? tok : ""))
		return DS_ETOOBIG;
	snprintf(out->source, sizeof(out->source), "env");
	return DS_OK;
}

static int from_container(const struct creds_env *env, struct aws_creds *out, char *err,
			  size_t len);
static int from_imds(const struct creds_env *env, struct aws_creds *out, char *err, size_t len);
/* credential_process: the command's JSON (Version 1) on stdout is the credentials. */
static int from_process(const char *profile, const char *cmd, struct aws_creds *out, char *err,
			size_t len)
{
	FILE *p = popen(cmd, "r");
	if (!p) {
		set_err(err, len, "profile %s: credential_process cannot run: %s", profile,
			strerror(errno));
		return DS_ECREDS;
	}
	static char text[65536];
	size_t n = fread(text, 1, sizeof(text) - 1, p);
	text[n] = '\0';
	int status = pclose(p);
	if (status != 0) {
		set_err(err, len, "profile %s: credential_process exited with status %s", profile,
			status == -1 ? "unknown" : "non-zero");
		return DS_ECREDS;
	}
	/* the process's JSON says SessionToken where the metadata endpoints say Token */
	cJSON *j = cJSON_Parse(text);
	const cJSON *tok = cJSON_GetObjectItemCaseSensitive(j, "SessionToken");
	if (cJSON_IsString(tok) && !cJSON_GetObjectItemCaseSensitive(j, "Token"))
		cJSON_AddStringToObject(j, "Token", tok->valuestring);
	char *norm = j ? cJSON_PrintUnformatted(j) : NULL;
	cJSON_Delete(j);
	int rc = creds_decode_json(norm ? norm : "", out, "credential_process", err, len);
	free(norm);
	explicit_bzero(text, sizeof(text));
	if (!rc)
		snprintf(out->source, sizeof(out->source), "process");
	return rc;
}

/* A profile's credentials: static keys, credential_process, or role_arn assumed with what
 * source_profile or credential_source gives (chains of source profiles, up to 4 deep).
 * A profile that AWS_PROFILE names and that does not exist is an error - never a silent fall
 * through to the next provider (instance metadata could hold another account's role). */
static int profile_creds(const struct creds_env *env, const char *profile, const char *region,
			 int depth, struct aws_creds *out, char *err, size_t len)
{
	char ak[sizeof(out->access_key_id)], sk[sizeof(out->secret_access_key)], v[2048];
	bool named = depth > 0 || env_get(env, "AWS_PROFILE");
	if (depth > 4) {
		set_err(err, len, "profile %s: source_profile chain deeper than 4%s", profile, "");
		return DS_ECREDS;
	}
	if (!profile_exists(env, profile)) {
		if (!named)
			return DS_ENOTFOUND;
		set_err(err, len, "profile %s not found in the shared credentials or config file%s",
			profile, "");
		return DS_ECREDS;
	}
	if (named_profile_value(env, profile, "sso_start_url", v, sizeof(v)) ||
	    named_profile_value(env, profile, "sso_session", v, sizeof(v))) {
		set_err(err, len,
			"profile %s uses IAM Identity Center (SSO), which dualstackd does not "
			"sign in to: use a role (role_arn), or credential_process with "
			"\"aws configure export-credentials --profile %s --format process\"",
			profile, profile);
		return DS_ECREDS;
	}
	char role[512];
	if (named_profile_value(env, profile, "role_arn", role, sizeof(role))) {
		struct aws_creds base;
		char src[256];
		int rc;
		memset(&base, 0, sizeof(base));
		if (named_profile_value(env, profile, "source_profile", src, sizeof(src))) {
			rc = !strcmp(src, profile)
				 ? DS_ECREDS /* a profile that is its own source: its static keys */
				 : profile_creds(env, src, region, depth + 1, &base, err, len);
			if (rc == DS_ECREDS && !strcmp(src, profile)) {
				int has_ak = named_profile_value(env, profile, "aws_access_key_id",
								 base.access_key_id,
								 sizeof(base.access_key_id));
				int has_sk = named_profile_value(
				    env, profile, "aws_secret_access_key", base.secret_access_key,
				    sizeof(base.secret_access_key));
				rc = has_ak && has_sk ? DS_OK : DS_ECREDS;
			}
		} else if (named_profile_value(env, profile, "credential_source", src,
					       sizeof(src))) {
			rc = !strcmp(src, "Environment")	   ? from_env(env, &base, err, len)
			     : !strcmp(src, "Ec2InstanceMetadata") ? from_imds(env, &base, err, len)
			     : !strcmp(src, "EcsContainer") ? from_container(env, &base, err, len)
							    : DS_EINVAL;
			if (rc == DS_EINVAL)
				set_err(err, len,
					"profile %s: credential_source %s is not Environment, "
					"Ec2InstanceMetadata or EcsContainer",
					profile, src);
			if (rc)
				rc = DS_ECREDS;
		} else {
			set_err(err, len,
				"profile %s: role_arn needs source_profile or "
				"credential_source%s",
				profile, "");
			return DS_ECREDS;
		}
		if (rc) {
			explicit_bzero(&base, sizeof(base));
			return rc == DS_ENOTFOUND ? DS_ECREDS : rc;
		}
		char ext[1225] = "", session[128] = "dualstackd";
		named_profile_value(env, profile, "external_id", ext, sizeof(ext));
		named_profile_value(env, profile, "role_session_name", session, sizeof(session));
		rc = sts_assume_role(env, &base, region, role, session, ext, out, err, len);
		explicit_bzero(&base, sizeof(base));
		if (!rc)
			snprintf(out->source, sizeof(out->source), "profile-role");
		return rc;
	}
	if (named_profile_value(env, profile, "credential_process", v, sizeof(v)))
		return from_process(profile, v, out, err, len);
	int has_ak = named_profile_value(env, profile, "aws_access_key_id", ak, sizeof(ak));
	int has_sk = named_profile_value(env, profile, "aws_secret_access_key", sk, sizeof(sk));
	if (!has_ak && !has_sk) {
		if (!named)
			return DS_ENOTFOUND;
		set_err(err, len,
			"profile %s has no credentials (keys, credential_process or "
			"role_arn)%s",
			profile, "");
		return DS_ECREDS;
	}
	if (!has_ak || !has_sk) {
		set_err(err, len, "profile %s: %s", profile,
			"needs both aws_access_key_id and aws_secret_access_key");
		return DS_ECREDS;
	}
	memcpy(out->access_key_id, ak, sizeof(ak));
	memcpy(out->secret_access_key, sk, sizeof(sk));
	explicit_bzero(sk, sizeof(sk));
	if (!named_profile_value(env, profile, "aws_session_token", out->session_token,
				 sizeof(out->session_token)))
		out->session_token[0] = '\0';
	snprintf(out->source, sizeof(out->source), "profile");
	return DS_OK;
}

static int from_profile(const struct creds_env *env, const char *region, struct aws_creds *out,
			char *err, size_t len)
{
	return profile_creds(env, profile_name(env), region, 0, out, err, len);
}

static int read_file_trimmed(const char *path, char *out, size_t size)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return DS_EIO;
	size_t n = fread(out, 1, size - 1, f);
	int too_big = n == size - 1 && fgetc(f) != EOF;
	fclose(f);
	if (too_big)
		return DS_ETOOBIG;
	out[n] = '\0';
	char *t = trim(out);
	memmove(out, t, strlen(t) + 1);
	return DS_OK;
}

static int from_web_identity(const struct creds_env *env, const char *region, struct aws_creds *out,
			     char *err, size_t len)
{
	const char *token_file = env_get(env, "AWS_WEB_IDENTITY_TOKEN_FILE");
	const char *role = env_get(env, "AWS_ROLE_ARN");
	if (!token_file && !role)
		return DS_ENOTFOUND;
	if (!token_file || !role) {
		set_err(err, len, "web identity: %s is set but %s is not",
			token_file ? "AWS_WEB_IDENTITY_TOKEN_FILE" : "AWS_ROLE_ARN",
			token_file ? "AWS_ROLE_ARN" : "AWS_WEB_IDENTITY_TOKEN_FILE");
		return DS_ECREDS;
	}
	static char token[16384];
	if (read_file_trimmed(token_file, token, sizeof(token))) {
		set_err(err, len, "web identity: cannot read %s%s", token_file, "");
		return DS_ECREDS;
	}
	const char *session = env_get(env, "AWS_ROLE_SESSION_NAME");
	int rc = sts_assume_role_with_web_identity(
	    env, region, role, session ? session : "dualstackd", token, out, err, len);
	if (!rc)
		snprintf(out->source, sizeof(out->source), "web-identity");
	return rc;
}

/* Decodes {"AccessKeyId","SecretAccessKey","Token","Expiration"} (container and IMDS). */
int creds_decode_json(const char *json, struct aws_creds *out, const char *who, char *err,
		      size_t len)
{
	cJSON *root = cJSON_Parse(json);
	const cJSON *ak = cJSON_GetObjectItemCaseSensitive(root, "AccessKeyId");
	const cJSON *sk = cJSON_GetObjectItemCaseSensitive(root, "SecretAccessKey");
	const cJSON *tok = cJSON_GetObjectItemCaseSensitive(root, "Token");
	const cJSON *exp = cJSON_GetObjectItemCaseSensitive(root, "Expiration");
	int rc = DS_OK;
	if (!cJSON_IsString(ak) || !cJSON_IsString(sk)) {
		set_err(err, len, "%s: answer has no %s", who, "AccessKeyId/SecretAccessKey");
		rc = DS_ECREDS;
	} else if (copy_str(out->access_key_id, sizeof(out->access_key_id), ak->valuestring) ||
		   copy_str(out->secret_access_key, sizeof(out->secret_access_key),
			    sk->valuestring) ||
		   copy_str(out->session_token, sizeof(out->session_token),
			    cJSON_IsString(tok) ? tok->valuestring : "")) {
		rc = DS_ETOOBIG;
	} else if (cJSON_IsString(exp)) {
		out->expires_at = creds_parse_iso8601(exp->valuestring);
		if (out->expires_at < 0) {
			set_err(err, len, "%s: bad Expiration %s", who, exp->valuestring);
			rc = DS_ECREDS;
		}
	}
	cJSON_Delete(root);
	return rc;
}

static int fetch_text(const struct creds_env *env, const char *method, const char *url,
		      const char *const *headers, size_t n_headers, struct http_response *resp)
{
	struct http_request req = {
	    .method = method,
	    .url = url,
	    .headers = headers,
	    .n_headers = n_headers,
	    .timeout_ms = 2000,
	    .connect_timeout_ms = 1000,
	    .max_body = 64 * 1024,
	    .no_proxy = 1, /* metadata endpoints: never through HTTP(S)_PROXY */
	};
	int rc = env->fetch(&req, resp);
	if (!rc && (resp->status < 200 || resp->status > 299)) {
		snprintf(resp->transport_msg, sizeof(resp->transport_msg), "HTTP %ld",
			 resp->status);
		rc = DS_EAWS;
	}
	if (!rc)
		buf_reserve(&resp->body, 0);
	return rc;
}

/* AWS_CONTAINER_CREDENTIALS_FULL_URI: https to any host; http only to loopback (127.0.0.0/8,
 * [::1], localhost), 169.254.170.2 (ECS), 169.254.170.23 or [fd00:ec2::23] (EKS Pod Identity). */
bool container_uri_allowed(const char *uri)
{
	if (!strncmp(uri, "https://", 8))
		return true;
	if (strncmp(uri, "http://", 7) != 0)
		return false;
	const char *h = uri + 7;
	char host[256];
	size_t n;
	if (*h == '[') {
		n = strcspn(h + 1, "]");
		if (h[1 + n] != ']')
			return false;
		h++;
	} else {
		n = strcspn(h, ":/?#");
	}
	if (!n || n >= sizeof(host))
		return false;
	memcpy(host, h, n);
	host[n] = '\0';
	if (!strcmp(host, "localhost") || !strcmp(host, "::1") || !strcmp(host, "169.254.170.2") ||
	    !strcmp(host, "169.254.170.23") || !strcasecmp(host, "fd00:ec2::23"))
		return true;
	unsigned char v4[4];
	return inet_pton(AF_INET, host, v4) == 1 && v4[0] == 127;
}

static int from_container(const struct creds_env *env, struct aws_creds *out, char *err, size_t len)
{
	const char *rel = env_get(env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = env_get(env, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
	if (!rel && !full)
		return DS_ENOTFOUND;
	char url[2048], auth_line[8192], token[8000];
	const char *headers[1];
	size_t nh = 0;
	if (rel)
		snprintf(url, sizeof(url), "http://169.254.170.2%s", rel);
	else
		snprintf(url, sizeof(url), "%s", full);
	if (!rel && !container_uri_allowed(full)) {
		/* the SDKs' rule: credentials go to https anywhere, plain http only to loopback or
		 * the ECS/EKS link-local agents - never to a host an environment variable names */
		set_err(err, len,
			"container credentials: %s is not https, loopback or the ECS/EKS "
			"agent address%s",
			full, "");
		return DS_ECREDS;
	}
	const char *tok = env_get(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN");
	const char *tok_file = env_get(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	if (tok_file && read_file_trimmed(tok_file, token, sizeof(token)) == DS_OK)
		tok = token;
	if (tok) {
		snprintf(auth_line, sizeof(auth_line), "Authorization: %s", tok);
		headers[nh++] = auth_line;
	}
	struct http_response resp;
	int rc = fetch_text(env, "GET", url, headers, nh, &resp);
	if (rc) {
		set_err(err, len, "container credentials: %s failed (%s)", url,
			resp.transport_msg[0] ? resp.transport_msg : "no answer");
		rc = DS_ECREDS;
	} else {
		rc = creds_decode_json(resp.body.data, out, "container credentials", err, len);
	}
	http_response_cleanup(&resp);
	if (!rc)
		snprintf(out->source, sizeof(out->source), "container");
	return rc;
}

/* IMDSv2: a session token first (PUT), then the role name, then its credentials. */
static int from_imds(const struct creds_env *env, struct aws_creds *out, char *err, size_t len)
{
	const char *disabled = env_get(env, "AWS_EC2_METADATA_DISABLED");
	if (disabled && strcmp(disabled, "true") == 0)
		return DS_ENOTFOUND;
	const char *base = env_get(env, "AWS_EC2_METADATA_SERVICE_ENDPOINT");
	if (!base)
		base = "http://169.254.169.254";
	char url[1024], token_line[512], role[256];
	struct http_response resp;
	const char *ttl[] = {"X-aws-ec2-metadata-token-ttl-seconds: 21600"};
	snprintf(url, sizeof(url), "%s/latest/api/token", base);
	int rc = fetch_text(env, "PUT", url, ttl, 1, &resp);
	if (rc) {
		http_response_cleanup(&resp);
		/* No metadata service: not on EC2. That is "not configured", not an error. */
		return DS_ENOTFOUND;
	}
	snprintf(token_line, sizeof(token_line), "X-aws-ec2-metadata-token: %.400s",
		 trim(resp.body.data));
	http_response_cleanup(&resp);
	const char *hdr[] = {token_line};
	snprintf(url, sizeof(url), "%s/latest/meta-data/iam/security-credentials/", base);
	rc = fetch_text(env, "GET", url, hdr, 1, &resp);
	if (!rc) {
		char *first = trim(resp.body.data);
		first[strcspn(first, "\r\n")] = '\0';
		rc = copy_str(role, sizeof(role), first);
		if (!rc && !role[0])
			rc = DS_ENOTFOUND;
	}
	http_response_cleanup(&resp);
	if (rc) {
		set_err(err, len, "instance metadata: %s%s", "no IAM role attached", "");
		return DS_ENOTFOUND;
	}
	snprintf(url, sizeof(url), "%s/latest/meta-data/iam/security-credentials/%s", base, role);
	rc = fetch_text(env, "GET", url, hdr, 1, &resp);
	if (rc) {
		set_err(err, len, "instance metadata: cannot read credentials of role %s (%s)",
			role, resp.transport_msg[0] ? resp.transport_msg : "no answer");
		rc = DS_ECREDS;
	} else {
		rc = creds_decode_json(resp.body.data, out, "instance metadata", err, len);
	}
	http_response_cleanup(&resp);
	if (!rc)
		snprintf(out->source, sizeof(out->source), "imds");
	return rc;
}

int creds_resolve(const struct creds_env *env, struct aws_creds *out, char *err, size_t err_len)
{
	char region_buf[64];
	const char *region = creds_region(env, region_buf, sizeof(region_buf));
	memset(out, 0, sizeof(*out));
	if (err && err_len)
		err[0] = '\0';
	int rc = from_env(env, out, err, err_len);
	if (rc == DS_ENOTFOUND)
		rc = from_profile(env, region ? region : "us-east-1", out, err, err_len);
	if (rc == DS_ENOTFOUND)
		rc = from_web_identity(env, region ? region : "us-east-1", out, err, err_len);
	if (rc == DS_ENOTFOUND)
		rc = from_container(env, out, err, err_len);
	if (rc == DS_ENOTFOUND)
		rc = from_imds(env, out, err, err_len);
	if (rc == DS_ENOTFOUND) {
		set_err(err, err_len, "no credentials: %s%s",
			"none in the environment, shared files, web identity, container "
			"endpoint or instance metadata",
			"");
		rc = DS_ECREDS;
	}
	return rc;
}

/* ---- STS ---- */

struct sts_answer {
	char access_key_id[128];
	char secret_access_key[256];
	char session_token[4096];
	char expiration[64];
};

static const struct xml_field sts_cred_fields[] = {
    F_STR(struct sts_answer, "AccessKeyId", access_key_id),
    F_STR(struct sts_answer, "SecretAccessKey", secret_access_key),
    F_STR(struct sts_answer, "SessionToken", session_token),
    F_STR(struct sts_answer, "Expiration", expiration),
};
static const struct xml_schema sts_cred_schema = {sizeof(struct sts_answer), sts_cred_fields, 4};
static const struct xml_field sts_result_fields[] = {
    F_INLINE("Credentials", sts_cred_schema),
};
static const struct xml_schema sts_result_schema = {sizeof(struct sts_answer), sts_result_fields,
						    1};
static const struct xml_field sts_root_fields[] = {
    F_INLINE("AssumeRoleResult", sts_result_schema),
    F_INLINE("AssumeRoleWithWebIdentityResult", sts_result_schema),
};
static const struct xml_schema sts_root_schema = {sizeof(struct sts_answer), sts_root_fields, 2};

/* Reads an STS answer (AssumeRole or AssumeRoleWithWebIdentity) into out. */
static int sts_decode(const struct http_response *resp, const char *endpoint, struct aws_creds *out,
		      char *err, size_t len)
{
	if (resp->transport_error) {
		set_err(err, len, "sts %.200s: %.200s", endpoint, resp->transport_msg);
		return resp->transport_error;
	}
	return sts_decode_answer(resp->status, resp->body.data, resp->body.len, out, err, len);
}

int sts_decode_answer(long status, const char *body, size_t body_len, struct aws_creds *out,
		      char *err, size_t len)
{
	struct sts_answer ans;
	char xerr[256];
	memset(&ans, 0, sizeof(ans));
	if (status != 200) {
		struct ec2_error e;
		ec2_xml_decode_error((int)status, body, body_len, &e);
		set_err(err, len, "sts: %s: %s", e.code, e.message);
		return DS_ECREDS;
	}
	int rc = ec2_xml_decode(&sts_root_schema, &ans, body, body_len, NULL, xerr, sizeof(xerr));
	if (rc || !ans.access_key_id[0] || !ans.secret_access_key[0]) {
		set_err(err, len, "sts: unreadable answer: %s%s", rc ? xerr : "no credentials", "");
		return DS_ECREDS;
	}
	memset(out, 0, sizeof(*out));
	memcpy(out->access_key_id, ans.access_key_id, sizeof(ans.access_key_id));
	memcpy(out->secret_access_key, ans.secret_access_key, sizeof(ans.secret_access_key));
	memcpy(out->session_token, ans.session_token, sizeof(ans.session_token));
	out->expires_at = creds_parse_iso8601(ans.expiration);
	snprintf(out->source, sizeof(out->source), "sts");
	if (out->expires_at < 0)
		set_err(err, len, "sts: bad Expiration %s%s", ans.expiration, "");
	explicit_bzero(&ans, sizeof(ans)); /* its copy of the secret goes */
	return out->expires_at < 0 ? DS_ECREDS : DS_OK;
}

/* Signs (when signer_creds) and sends an STS Query request; resp holds the answer. */
static int sts_fetch(const struct creds_env *env, const struct aws_creds *signer_creds,
		     const char *region, const char *body, size_t body_len,
		     struct http_response *resp, char *endpoint, size_t endpoint_size)
{
	struct aws_signed signed_req;
	const char *const *headers = NULL;
	const char *plain[] = {"Content-Type: application/x-www-form-urlencoded; charset=utf-8"};
	size_t n_headers = 1;
	struct sigv4_signer *signer = NULL;
	int rc = DS_OK;

	aws_signed_init(&signed_req);
	creds_endpoint(env, "sts", region, endpoint, endpoint_size);
	headers = plain;
	if (signer_creds) {
		signer = sigv4_signer_new();
		rc = signer ? aws_query_sign(signer, signer_creds, "sts", region, endpoint, body,
					     body_len, env->now(), &signed_req)
			    : DS_ENOMEM;
		if (rc)
			goto out;
		headers = signed_req.headers;
		n_headers = signed_req.n_headers;
	}
	struct http_request req = {
	    .method = "POST",
	    .url = endpoint,
	    .headers = headers,
	    .n_headers = n_headers,
	    .body = body,
	    .body_len = body_len,
	    .timeout_ms = 10000,
	    .max_body = 256 * 1024,
	};
	rc = env->fetch(&req, resp);
out:
	aws_signed_cleanup(&signed_req);
	sigv4_signer_free(signer);
	return rc;
}

static int sts_call(const struct creds_env *env, const struct aws_creds *signer_creds,
		    const char *region, const char *body, size_t body_len, struct aws_creds *out,
		    char *err, size_t len)
{
	char endpoint[1024];
	struct http_response resp;
	memset(&resp, 0, sizeof(resp));
	int rc =
	    sts_fetch(env, signer_creds, region, body, body_len, &resp, endpoint, sizeof(endpoint));
	if (!rc || resp.transport_error)
		rc = sts_decode(&resp, endpoint, out, err, len);
	http_response_cleanup(&resp);
	return rc;
}

struct caller_identity {
	char account[32];
	char arn[512];
};
static const struct xml_field identity_fields[] = {
    F_STR(struct caller_identity, "Account", account),
    F_STR(struct caller_identity, "Arn", arn),
};
static const struct xml_schema identity_schema = {sizeof(struct caller_identity), identity_fields,
						  2};
static const struct xml_field identity_root_fields[] = {
    F_INLINE("GetCallerIdentityResult", identity_schema),
};
static const struct xml_schema identity_root = {sizeof(struct caller_identity),
						identity_root_fields, 1};

int sts_get_caller_identity(const struct creds_env *env, const struct aws_creds *creds,
			    const char *region, char *account, size_t size, char *err,
			    size_t err_len)
{
	char endpoint[1024] = "", xerr[256];
	struct http_response resp;
	struct caller_identity id;
	struct buf body;
	memset(&resp, 0, sizeof(resp));
	memset(&id, 0, sizeof(id));
	buf_init(&body, 256);
	int rc = aws_form_add(&body, "Action", "GetCallerIdentity");
	if (!rc)
		rc = aws_form_add(&body, "Version", "2011-06-15");
	if (!rc)
		rc = sts_fetch(env, creds, region, body.data, body.len, &resp, endpoint,
			       sizeof(endpoint));
	buf_cleanup(&body);
	if (rc || resp.transport_error) {
		set_err(err, err_len, "sts %s: %s", endpoint,
			resp.transport_error ? resp.transport_msg : ds_strerror(rc));
		rc = rc ? rc : resp.transport_error;
	} else if (resp.status != 200) {
		struct ec2_error e;
		ec2_xml_decode_error((int)resp.status, resp.body.data, resp.body.len, &e);
		set_err(err, err_len, "sts GetCallerIdentity: %s: %s", e.code, e.message);
		rc = DS_ECREDS;
	} else if (ec2_xml_decode(&identity_root, &id, resp.body.data, resp.body.len, NULL, xerr,
				  sizeof(xerr)) ||
		   strlen(id.account) >= size || !id.account[0]) {
		set_err(err, err_len, "sts GetCallerIdentity: unreadable answer%s%s", "", "");
		rc = DS_ECREDS;
	} else {
		memcpy(account, id.account, strlen(id.account) + 1);
	}
	http_response_cleanup(&resp);
	return rc;
}

static int assume_role_body(struct buf *body, const char *role_arn, const char *session_name,
			    const char *external_id)
{
	int rc = aws_form_add(body, "Action", "AssumeRole");
	if (!rc)
		rc = aws_form_add(body, "Version", "2011-06-15");
	if (!rc)
		rc = aws_form_add(body, "RoleArn", role_arn);
	if (!rc)
		rc = aws_form_add(body, "RoleSessionName", session_name);
	if (!rc)
		rc = aws_form_add(body, "DurationSeconds", "3600");
	if (!rc && external_id && *external_id)
		rc = aws_form_add(body, "ExternalId", external_id);
	return rc;
}

int sts_assume_role(const struct creds_env *env, const struct aws_creds *base, const char *region,
		    const char *role_arn, const char *session_name, const char *external_id,
		    struct aws_creds *out, char *err, size_t err_len)
{
	struct buf body;
	buf_init(&body, 16384);
	int rc = assume_role_body(&body, role_arn, session_name, external_id);
	if (!rc)
		rc = sts_call(env, base, region, body.data, body.len, out, err, err_len);
	buf_cleanup(&body);
	return rc;
}

int sts_assume_role_with_web_identity(const struct creds_env *env, const char *region,
				      const char *role_arn, const char *session_name,
				      const char *token, struct aws_creds *out, char *err,
				      size_t err_len)
{
	struct buf body;
	buf_init(&body, 65536);
	int rc = aws_form_add(&body, "Action", "AssumeRoleWithWebIdentity");
	if (!rc)
		rc = aws_form_add(&body, "Version", "2011-06-15");
	if (!rc)
		rc = aws_form_add(&body, "RoleArn", role_arn);
	if (!rc)
		rc = aws_form_add(&body, "RoleSessionName", session_name);
	if (!rc)
		rc = aws_form_add(&body, "WebIdentityToken", token);
	/* Unsigned: the web identity token is the proof. */
	if (!rc)
		rc = sts_call(env, NULL, region, body.data, body.len, out, err, err_len);
	buf_cleanup(&body);
	return rc;
}

/* ---- cache ---- */

struct waiter {
	creds_ready_fn done;
	void *ud;
	struct waiter *next;
};

struct role_entry {
	char role_arn[512];
	struct aws_creds creds;
	bool valid;	 /* creds hold a session */
	bool refreshing; /* an AssumeRole is in flight on the loop */
	struct waiter *waiters;
};

struct creds_cache {
	const struct creds_env *env;
	char session_name[65];	/* AssumeRole's RoleSessionName: in CloudTrail, says who */
	char external_id[1225]; /* the member roles' trust policy may require it */
	char region[64];
	struct role_entry *roles; /* the loop's alone */
	size_t n_roles, cap_roles;

	/* The controller's own credentials. With a refresher, its thread writes them: everything
	 * below is under `lock`. */
	pthread_mutex_t lock;
	struct aws_creds base;
	bool have_base;
	bool stale_base; /* EC2 said the credentials expired: resolve again before the next use */

	/* the refresher (creds_cache_refresh_in_background) */
	bool refresher_on, stopping;
	pthread_t refresher;
	pthread_cond_t poke;	  /* to the refresher: look again (stale, a waiter, stop) */
	pthread_cond_t attempted; /* from it: an attempt ended (generation moved) */
	unsigned long generation; /* attempts ended */
	bool wanted;		  /* a caller waits for an attempt */
	time_t next_attempt; /* not before: the backoff after a failure, the pace after success */
	unsigned long failures_in_a_row;
	int last_rc;
	char last_err[512];
	struct creds_refresh_stats stats;
	struct ev_loop *loop;
	ev_async attempt_done;	     /* wakes base_waiters on the loop */
	struct waiter *base_waiters; /* the loop's calls waiting for an attempt */
};

struct creds_cache *creds_cache_new(const struct creds_env *env, const char *region)
{
	struct creds_cache *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->env = env;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->poke, NULL);
	pthread_cond_init(&c->attempted, NULL);
	snprintf(c->session_name, sizeof(c->session_name), "dualstackd");
	snprintf(c->region, sizeof(c->region), "%s", region ? region : "us-east-1");
	return c;
}

void creds_cache_set_session_name(struct creds_cache *c, const char *replica)
{
	/* RoleSessionName is [\w+=,.@-]{2,64}: anything else becomes '-' */
	int n = snprintf(c->session_name, sizeof(c->session_name), "dualstackd-%s", replica);
	for (int i = 0; i < n && c->session_name[i]; i++) {
		char ch = c->session_name[i];
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			  (ch >= '0' && ch <= '9') || strchr("_+=,.@-", ch);
		if (!ok)
			c->session_name[i] = '-';
	}
}

void creds_cache_set_external_id(struct creds_cache *c, const char *external_id)
{
	snprintf(c->external_id, sizeof(c->external_id), "%s", external_id ? external_id : "");
}

static void free_waiters(struct waiter *w)
{
	for (struct waiter *n; w; w = n) {
		n = w->next;
		free(w);
	}
}

void creds_cache_free(struct creds_cache *c)
{
	if (!c)
		return;
	if (c->refresher_on) {
		pthread_mutex_lock(&c->lock);
		c->stopping = true;
		pthread_cond_signal(&c->poke);
		pthread_mutex_unlock(&c->lock);
		pthread_join(c->refresher, NULL); /* at most one attempt's fetch timeouts */
		ev_async_stop(c->loop, &c->attempt_done);
	}
	free_waiters(c->base_waiters);
	for (size_t i = 0; i < c->n_roles; i++)
		free_waiters(c->roles[i].waiters);
	if (c->roles)
		explicit_bzero(c->roles, c->n_roles * sizeof(*c->roles));
	free(c->roles);
	pthread_cond_destroy(&c->poke);
	pthread_cond_destroy(&c->attempted);
	pthread_mutex_destroy(&c->lock);
	explicit_bzero(c, sizeof(*c)); /* the secrets go with the cache */
	free(c);
}

static int fresh(const struct creds_cache *c, const struct aws_creds *cr)
{
	return cr->expires_at == 0 || cr->expires_at - c->env->now() > CREDS_REFRESH_MARGIN_S;
}

/* Whether the base credentials may sign a request now (with the lock held). */
static bool base_usable(const struct creds_cache *c)
{
	if (!c->have_base || c->stale_base)
		return false;
	if (!c->refresher_on) /* refreshed here, at the margin */
		return fresh(c, &c->base);
	return c->base.expires_at == 0 || c->base.expires_at - c->env->now() > CREDS_USABLE_MIN_S;
}

/* Unusable ones that have not expired yet still beat none while a refresh fails. */
static bool base_unexpired(const struct creds_cache *c)
{
	return c->have_base && (c->base.expires_at == 0 || c->base.expires_at > c->env->now());
}

static struct role_entry *role_entry(struct creds_cache *c, const char *role_arn, bool create);

void creds_cache_invalidate(struct creds_cache *c, const char *role_arn)
{
	if (!role_arn || !*role_arn) {
		pthread_mutex_lock(&c->lock);
		if (c->have_base) {
			c->stale_base = true;
			pthread_cond_signal(&c->poke);
		}
		pthread_mutex_unlock(&c->lock);
		return;
	}
	struct role_entry *e = role_entry(c, role_arn, false);
	if (e && e->valid)
		e->creds.expires_at = c->env->now(); /* due: the next use refreshes it */
}

/* The chain walked on the caller's thread (no refresher: the CLI's short runs, tests). */
static int base_resolve_here(struct creds_cache *c, struct aws_creds *out, char *err,
			     size_t err_len)
{
	if (!base_usable(c)) {
		struct aws_creds next;
		int rc = creds_resolve(c->env, &next, err, err_len);
		if (rc) {
			/* Keep using unexpired credentials when a refresh fails. */
			if (c->have_base && c->base.expires_at > c->env->now()) {
				*out = c->base;
				return DS_OK;
			}
			return rc;
		}
		explicit_bzero(&c->base, sizeof(c->base)); /* no secret outlives its use */
		c->base = next;
		explicit_bzero(&next, sizeof(next));
		c->have_base = true;
		c->stale_base = false;
	}
	*out = c->base;
	return DS_OK;
}

/* With the lock held: what the last attempt left for a caller that could not wait. */
static int base_or_last_error(struct creds_cache *c, struct aws_creds *out, char *err,
			      size_t err_len)
{
	if (base_usable(c) || base_unexpired(c)) {
		*out = c->base;
		return DS_OK;
	}
	if (c->last_rc) {
		snprintf(err, err_len, "%s", c->last_err);
		return c->last_rc;
	}
	snprintf(err, err_len, "the controller's credentials expired and were not refreshed");
	return DS_ECREDS;
}

/* After a failed attempt, until the next: no caller waits out the backoff (up to a minute),
 * each gets what failed at once. */
static bool backing_off(const struct creds_cache *c)
{
	return c->failures_in_a_row && c->next_attempt > c->env->now();
}

int creds_cache_base(struct creds_cache *c, struct aws_creds *out, char *err, size_t err_len)
{
	pthread_mutex_lock(&c->lock);
	int rc;
	if (!c->refresher_on) {
		rc = base_resolve_here(c, out, err, err_len);
	} else if (base_usable(c) || backing_off(c)) {
		rc = base_or_last_error(c, out, err, err_len);
	} else {
		/* start-up, or stale: wait for the refresher's attempt */
		unsigned long gen = c->generation;
		c->wanted = true;
		pthread_cond_signal(&c->poke);
		while (c->generation == gen && !c->stopping)
			pthread_cond_wait(&c->attempted, &c->lock);
		rc = base_or_last_error(c, out, err, err_len);
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

/* The base credentials for a call on the loop: at once when usable, else after the
 * refresher's next attempt (done then runs on the loop, from on_attempt_done). */
static int base_async(struct creds_cache *c, creds_ready_fn done, void *ud)
{
	char err[512] = "";
	struct aws_creds copy;
	pthread_mutex_lock(&c->lock);
	if (!c->refresher_on || base_usable(c) || backing_off(c)) { /* an answer now */
		int rc = !c->refresher_on ? base_resolve_here(c, &copy, err, sizeof(err))
					  : base_or_last_error(c, &copy, err, sizeof(err));
		/* due: the refresher may not know yet (a clock that jumped) */
		if (c->refresher_on && !fresh(c, &c->base))
			pthread_cond_signal(&c->poke);
		pthread_mutex_unlock(&c->lock);
		done(ud, rc, rc ? NULL : &copy, err);
		explicit_bzero(&copy, sizeof(copy));
		return DS_OK;
	}
	struct waiter *w = malloc(sizeof(*w));
	if (!w) {
		pthread_mutex_unlock(&c->lock);
		return DS_ENOMEM;
	}
	w->done = done;
	w->ud = ud;
	w->next = c->base_waiters;
	c->base_waiters = w;
	c->wanted = true;
	pthread_cond_signal(&c->poke);
	pthread_mutex_unlock(&c->lock);
	return DS_OK;
}

/* On the loop, after an attempt: every waiting call gets the credentials or the error. */
static void on_attempt_done(struct ev_loop *loop, ev_async *w, int revents)
{
	struct creds_cache *c = w->data;
	char err[512] = "";
	struct aws_creds copy;
	(void)loop;
	(void)revents;
	pthread_mutex_lock(&c->lock);
	struct waiter *list = c->base_waiters;
	c->base_waiters = NULL;
	int rc = base_or_last_error(c, &copy, err, sizeof(err));
	pthread_mutex_unlock(&c->lock);
	while (list) {
		struct waiter *n = list->next;
		list->done(list->ud, rc, rc ? NULL : &copy, err);
		free(list);
		list = n;
	}
	explicit_bzero(&copy, sizeof(copy));
}

/* With the lock held: when the refresher should walk the chain next (0: now; -1: when poked). */
static time_t next_due(const struct creds_cache *c)
{
	time_t due;
	if (!c->have_base || c->stale_base || c->wanted)
		due = 0;
	else if (c->base.expires_at == 0)
		return -1; /* static credentials: only EC2's ExpiredToken makes them due */
	else
		due = c->base.expires_at - CREDS_REFRESH_MARGIN_S;
	return due > c->next_attempt ? due : c->next_attempt;
}

static void *refresher_main(void *arg)
{
	struct creds_cache *c = arg;
	pthread_mutex_lock(&c->lock);
	while (!c->stopping) {
		time_t now = c->env->now(), due = next_due(c);
		if (due < 0 || due > now) {
			/* Sleep until due, a minute at most: the wall clock may jump. */
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += due < 0 || due - now > 60 ? 60 : due - now;
			pthread_cond_timedwait(&c->poke, &c->lock, &until);
			continue;
		}
		c->wanted = false;
		pthread_mutex_unlock(&c->lock);
		struct aws_creds next;
		char err[512] = "";
		int rc =
		    creds_resolve(c->env, &next, err, sizeof(err)); /* blocking: off the loop */
		pthread_mutex_lock(&c->lock);
		c->wanted = false; /* whoever asked meanwhile is answered by this attempt */
		c->stats.attempts++;
		now = c->env->now();
		if (!rc) {
			if (c->failures_in_a_row)
				log_kv("info", "controller credentials refreshed again", "source",
				       next.source, NULL);
			explicit_bzero(&c->base, sizeof(c->base));
			c->base = next;
			c->have_base = true;
			c->stale_base = false;
			c->failures_in_a_row = 0;
			c->last_rc = 0;
			c->last_err[0] = '\0';
			/* credentials that expire within the margin are not asked for in a loop */
			c->next_attempt = now + CREDS_RETRY_MIN_S;
		} else {
			unsigned long k = c->failures_in_a_row++;
			time_t backoff = CREDS_RETRY_MIN_S;
			while (k-- && backoff < CREDS_RETRY_MAX_S)
				backoff *= 2;
			if (backoff > CREDS_RETRY_MAX_S)
				backoff = CREDS_RETRY_MAX_S;
			c->next_attempt = now + backoff;
			c->stats.failures++;
			c->last_rc = rc;
			snprintf(c->last_err, sizeof(c->last_err), "%s", err);
			if (c->failures_in_a_row == 1)
				log_kv("warn",
				       "controller credentials refresh failed; retrying with "
				       "backoff, unexpired ones still serve",
				       "error", err, NULL);
		}
		explicit_bzero(&next, sizeof(next));
		c->generation++;
		pthread_cond_broadcast(&c->attempted);
		if (c->base_waiters)
			ev_async_send(c->loop, &c->attempt_done);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

int creds_cache_refresh_in_background(struct creds_cache *c, struct ev_loop *loop)
{
	if (c->refresher_on)
		return DS_OK;
	c->loop = loop;
	ev_async_init(&c->attempt_done, on_attempt_done);
	c->attempt_done.data = c;
	ev_async_start(loop, &c->attempt_done);
	pthread_mutex_lock(&c->lock);
	c->refresher_on = true;
	pthread_mutex_unlock(&c->lock);
	if (pthread_create(&c->refresher, NULL, refresher_main, c)) {
		c->refresher_on = false;
		ev_async_stop(loop, &c->attempt_done);
		return DS_ENOMEM;
	}
	return DS_OK;
}

void creds_cache_refresh_stats(struct creds_cache *c, struct creds_refresh_stats *out)
{
	pthread_mutex_lock(&c->lock);
	*out = c->stats;
	out->failing = c->failures_in_a_row > 0;
	pthread_mutex_unlock(&c->lock);
}

static struct role_entry *role_entry(struct creds_cache *c, const char *role_arn, bool create)
{
	for (size_t i = 0; i < c->n_roles; i++)
		if (strcmp(c->roles[i].role_arn, role_arn) == 0)
			return &c->roles[i];
	if (!create || strlen(role_arn) >= sizeof(c->roles[0].role_arn))
		return NULL;
	if (c->n_roles == c->cap_roles) {
		size_t cap = c->cap_roles ? c->cap_roles * 2 : 8;
		struct role_entry *p = realloc(c->roles, cap * sizeof(*p));
		if (!p)
			return NULL;
		c->roles = p;
		c->cap_roles = cap;
	}
	struct role_entry *e = &c->roles[c->n_roles++];
	memset(e, 0, sizeof(*e));
	memcpy(e->role_arn, role_arn, strlen(role_arn) + 1);
	return e;
}

int creds_cache_role(struct creds_cache *c, const char *role_arn, struct aws_creds *out, char *err,
		     size_t err_len)
{
	if (!role_arn || !*role_arn)
		return creds_cache_base(c, out, err, err_len);
	struct role_entry *e = role_entry(c, role_arn, false);
	if (e && e->valid && fresh(c, &e->creds)) {
		*out = e->creds;
		return DS_OK;
	}
	struct aws_creds base, next;
	int rc = creds_cache_base(c, &base, err, err_len);
	if (!rc)
		rc = sts_assume_role(c->env, &base, c->region, role_arn, c->session_name,
				     c->external_id, &next, err, err_len);
	explicit_bzero(&base, sizeof(base));
	if (rc) {
		if (e && e->valid && e->creds.expires_at > c->env->now()) {
			*out = e->creds;
			return DS_OK;
		}
		return rc;
	}
	if (!e)
		e = role_entry(c, role_arn, true);
	if (!e)
		return DS_ENOMEM;
	e->creds = next;
	e->valid = true;
	*out = e->creds;
	return DS_OK;
}

/* ---- asynchronous AssumeRole, on the loop ---- */

struct role_refresh {
	struct creds_cache *c;
	struct http_client *http;
	char role_arn[512];
	char endpoint[1024];
};

/* Hands the outcome to every waiter. They get a copy: a waiter may ask for another role,
 * which may move the entries. */
static void wake(struct creds_cache *c, const char *role_arn, int rc, const char *err)
{
	struct role_entry *e = role_entry(c, role_arn, false);
	if (!e)
		return;
	struct aws_creds copy = e->creds;
	bool usable = !rc || (e->valid && copy.expires_at > c->env->now());
	struct waiter *w = e->waiters;
	e->waiters = NULL;
	e->refreshing = false;
	while (w) {
		struct waiter *n = w->next;
		if (usable)
			w->done(w->ud, DS_OK, &copy, NULL);
		else
			w->done(w->ud, rc, NULL, err);
		free(w);
		w = n;
	}
	explicit_bzero(&copy, sizeof(copy));
}

static void on_role_refreshed(void *ud, struct http_response *resp)
{
	struct role_refresh *r = ud;
	struct aws_creds next;
	char err[512] = "";
	int rc = sts_decode(resp, r->endpoint, &next, err, sizeof(err));
	struct role_entry *e = role_entry(r->c, r->role_arn, false);
	if (!rc && e) {
		e->creds = next;
		e->valid = true;
	}
	explicit_bzero(&next, sizeof(next));
	wake(r->c, r->role_arn, rc, err);
	free(r);
}

/* The controller's own credentials are at hand (or failed): AssumeRole goes on the loop. */
static void assume_role_with(void *ud, int rc, const struct aws_creds *base, const char *why)
{
	struct role_refresh *r = ud;
	struct creds_cache *c = r->c;
	char err[512] = "";
	struct buf body;
	struct aws_signed signed_req;
	struct sigv4_signer *signer = rc ? NULL : sigv4_signer_new();
	buf_init(&body, 16384);
	aws_signed_init(&signed_req);
	if (rc)
		snprintf(err, sizeof(err), "%s", why && *why ? why : ds_strerror(rc));
	else if (!signer)
		rc = DS_ENOMEM;
	if (!rc) {
		creds_endpoint(c->env, "sts", c->region, r->endpoint, sizeof(r->endpoint));
		rc = assume_role_body(&body, r->role_arn, c->session_name, c->external_id);
	}
	if (!rc)
		rc = aws_query_sign(signer, base, "sts", c->region, r->endpoint, body.data,
				    body.len, c->env->now(), &signed_req);
	if (!rc) {
		struct http_request req = {
		    .method = "POST",
		    .url = r->endpoint,
		    .headers = signed_req.headers,
		    .n_headers = signed_req.n_headers,
		    .body = body.data,
		    .body_len = body.len,
		    .timeout_ms = 10000,
		    .max_body = 256 * 1024,
		};
		rc = http_submit(r->http, &req, on_role_refreshed, r);
	}
	buf_cleanup(&body);
	aws_signed_cleanup(&signed_req);
	sigv4_signer_free(signer);
	if (rc) {
		if (!err[0])
			set_err(err, sizeof(err), "sts: %s%s", ds_strerror(rc), "");
		wake(c, r->role_arn, rc, err);
		free(r);
	}
}

int creds_cache_role_async(struct creds_cache *c, struct http_client *http, const char *role_arn,
			   creds_ready_fn done, void *ud)
{
	if (!role_arn || !*role_arn)
		return base_async(c, done, ud);
	struct role_entry *e = role_entry(c, role_arn, true);
	if (!e)
		return DS_ENOMEM;
	if (e->valid && fresh(c, &e->creds)) {
		struct aws_creds copy = e->creds;
		done(ud, DS_OK, &copy, NULL);
		explicit_bzero(&copy, sizeof(copy));
		return DS_OK;
	}
	struct waiter *w = malloc(sizeof(*w));
	if (!w)
		return DS_ENOMEM;
	w->done = done;
	w->ud = ud;
	w->next = e->waiters;
	e->waiters = w;
	if (e->refreshing)
		return DS_OK; /* one AssumeRole serves everyone waiting for the role */
	struct role_refresh *r = calloc(1, sizeof(*r));
	if (!r) {
		wake(c, role_arn, DS_ENOMEM, ds_strerror(DS_ENOMEM));
		return DS_OK;
	}
	e->refreshing = true;
	r->c = c;
	r->http = http;
	snprintf(r->role_arn, sizeof(r->role_arn), "%s", role_arn);
	if (base_async(c, assume_role_with, r)) {
		wake(c, role_arn, DS_ENOMEM, ds_strerror(DS_ENOMEM));
		free(r);
	}
	return DS_OK;
}
