/* The MSK IAM token against vectors computed independently with botocore's SigV4QueryAuth
 * (tests/py/gen_msk_vector.py), at a fixed time, with and without a session token. */
#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "../../controller/msk_iam.h"
#include "check.h"

void test_msk(void)
{
	char *text = check_read_fixture("msk/token.json", NULL);
	cJSON *cases = text ? cJSON_Parse(text) : NULL;
	CHECK(cJSON_GetArraySize(cases) == 2);
	const cJSON *c;
	cJSON_ArrayForEach(c, cases)
	{
		struct aws_creds creds;
		memset(&creds, 0, sizeof(creds));
		snprintf(creds.access_key_id, sizeof(creds.access_key_id), "%s",
			 cJSON_GetObjectItem(c, "access_key_id")->valuestring);
		snprintf(creds.secret_access_key, sizeof(creds.secret_access_key), "%s",
			 cJSON_GetObjectItem(c, "secret_access_key")->valuestring);
		snprintf(creds.session_token, sizeof(creds.session_token), "%s",
			 cJSON_GetObjectItem(c, "session_token")->valuestring);
		struct buf token, url;
		buf_init(&token, 0);
		buf_init(&url, 0);
		int64_t expiry = 0;
		time_t when = (time_t)cJSON_GetObjectItem(c, "time")->valuedouble;
		CHECK(msk_iam_token(&creds, cJSON_GetObjectItem(c, "region")->valuestring, when,
				    cJSON_GetObjectItem(c, "user_agent")->valuestring, &token,
				    &expiry, &url) == 0);
		CHECK_STR(url.data, cJSON_GetObjectItem(c, "url")->valuestring);
		CHECK_STR(token.data, cJSON_GetObjectItem(c, "token")->valuestring);
		CHECK(expiry == ((int64_t)when + 900) * 1000);
		buf_cleanup(&token);
		buf_cleanup(&url);
	}
	cJSON_Delete(cases);
	free(text);
}
