/* libFuzzer target: audit records (JSON lines, form-encoded parameters) for revert --audit. */
#include <stddef.h>
#include <stdint.h>

#include "../../reconcile/audit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct audit_log a;
	char err[256];
	audit_init(&a);
	if (audit_parse(&a, (const char *)data, size, err, sizeof(err)) == 0) {
		audit_index(&a);
		/* every write found must be found again by its own key */
		for (size_t i = 0; i < a.writes.n; i++)
			if (!audit_has(&a, a.writes.v[i].kind, a.writes.v[i].id))
				__builtin_trap();
	}
	audit_cleanup(&a);
	return 0;
}
