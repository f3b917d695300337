/* libFuzzer target: SigV4 canonicalisation of arbitrary paths, queries and headers.
 * Input: method \n path \n query \n (name:value \n)* \n body */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../controller/sigv4.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	char *fields[3] = {"GET", "/", ""};
	char *p = text;
	for (int i = 0; i < 3 && p; i++) {
		fields[i] = p;
		p = strchr(p, '\n');
		if (p)
			*p++ = '\0';
	}
	struct sigv4_header h[16];
	size_t nh = 0;
	while (p && *p && *p != '\n' && nh < 16) {
		char *line = p;
		p = strchr(p, '\n');
		if (p)
			*p++ = '\0';
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = '\0';
		h[nh].name = line;
		h[nh].value = colon + 1;
		nh++;
	}
	const char *body = p && *p == '\n' ? p + 1 : "";
	struct sigv4_request req = {fields[0], fields[1], fields[2], h, nh, body, strlen(body)};
	struct sigv4_creds creds = {"AKIDEXAMPLE", "secret", NULL};
	struct sigv4_scope scope = {"us-east-1", "ec2", 1440938160};
	struct sigv4_out out;
	struct sigv4_signer *s = sigv4_signer_new();
	sigv4_out_init(&out);
	if (s)
		sigv4_sign(s, &creds, &scope, &req, &out);
	sigv4_out_cleanup(&out);
	sigv4_signer_free(s);
	free(text);
	return 0;
}
