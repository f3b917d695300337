/* libFuzzer target: the error-document decoder (EC2, STS/IAM and non-XML bodies). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../controller/ec2_xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ec2_error e;
	int status = size ? 400 + data[0] % 200 : 500;
	ec2_xml_decode_error(status, (const char *)data, size, &e);
	/* every answer is classified and its strings terminated */
	if (e.cls > EC2_FATAL || strlen(e.code) >= sizeof(e.code) ||
	    strlen(e.message) >= sizeof(e.message))
		__builtin_trap();
	return 0;
}
