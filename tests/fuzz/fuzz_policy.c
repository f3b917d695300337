/* libFuzzer target: policy parsing and validation, JSON and YAML. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "../../reconcile/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct policy p;
	struct buf errors;
	buf_init(&errors, 1 << 20);
	/* the first byte picks the name, hence the parser the sniffing would not choose */
	const char *name = size && (data[0] & 1) ? "p.yaml" : "p.json";
	policy_parse(name, (const char *)data, size, &p, &errors);
	buf_cleanup(&errors);
	return 0;
}
