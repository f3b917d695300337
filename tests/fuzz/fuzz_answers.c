/* libFuzzer target: the smaller parsers of untrusted bytes, the first byte picking which - the
 * credentials JSON of IMDS, the container endpoint and credential_process; STS answers (any
 * HTTP status); SSM's DescribeInstanceInformation JSON; the halt file; work topic records. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../controller/creds.h"
#include "../../controller/halt_file.h"
#include "../../handlers/event.h"
#include "../../reconcile/reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	/* NUL-terminated copy: the credentials JSON is a C string where it is read */
	char *text = malloc(size);
	if (!text)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	size_t len = size - 1;
	char err[512], token[2048];
	struct aws_creds c;
	switch (data[0] % 6) {
	case 0: creds_decode_json(text, &c, "fuzz", err, sizeof(err)); break;
	case 1: sts_decode_answer(200, text, len, &c, err, sizeof(err)); break;
	case 2: sts_decode_answer(403, text, len, &c, err, sizeof(err)); break;
	case 3: {
		struct observed obs;
		observed_init(&obs);
		reader_decode_ssm(text, len, &obs, token, sizeof(token));
		observed_cleanup(&obs);
		break;
	}
	case 4: {
		struct guard_halt *halts = NULL;
		size_t n = 0;
		halt_file_parse("fuzz", text, len, &halts, &n, err, sizeof(err));
		free(halts);
		break;
	}
	default: {
		struct work_key k;
		work_record_decode(text, len, &k, err, sizeof(err));
		break;
	}
	}
	free(text);
	return 0;
}
