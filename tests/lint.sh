#!/usr/bin/env bash
# make lint: clang-format conformance and the banned-call check (curl's list of unsafe calls).
set -uo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files '*.c' '*.h' 2>/dev/null; git ls-files -o --exclude-standard '*.c' '*.h' 2>/dev/null)
rc=0
if ! clang-format --dry-run -Werror $files 2>/tmp/ds-lint.$$; then
	head -40 /tmp/ds-lint.$$
	echo "lint: clang-format differences (run 'make format')"
	rc=1
fi
rm -f /tmp/ds-lint.$$
banned='\b(sprintf|vsprintf|strcpy|strcat|strtok|atoi|atol|atof|sscanf|gets|strncpy|tmpnam)\s*\('
if grep -nEH "$banned" $files | grep -v 'lint: allow'; then
	echo "lint: banned calls above (use snprintf, memcpy with a checked length, strtol, strtok_r)"
	rc=1
fi
[ $rc = 0 ] && echo "lint: ok"
exit $rc
