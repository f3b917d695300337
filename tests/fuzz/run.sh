#!/usr/bin/env bash
# Runs every libFuzzer target for RUNS executions (default 20000: CI's short pass; the long
# pass is 1000000 and its figures go to docs/benchmarks.md). Corpora start from the fixtures.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${1:-20000}
OUT=build/fuzz
mkdir -p "$OUT/corpus"
seed() { # name, files...
	local dir="$OUT/corpus/$1"
	shift
	mkdir -p "$dir"
	for f in "$@"; do [ -f "$f" ] && cp -n "$f" "$dir/" 2>/dev/null || true; done
}
seed ec2_xml tests/fixtures/xml/*.xml
seed ec2_error tests/fixtures/errors/*
for d in tests/fixtures/sigv4-testsuite/*/ tests/fixtures/sigv4-testsuite/*/*/; do
	seed sigv4 "$d"*.req
done
seed events tests/fixtures/events/*.json
seed policy tests/policies/*.json
seed audit tests/fixtures/audit/*.jsonl
seed answers tests/fixtures/fuzz/answers/*
status=0
for t in $(ls tests/fuzz/fuzz_*.c | sed 's|tests/fuzz/fuzz_||; s|\.c$||'); do
	[ -x "$OUT/fuzz_$t" ] || { echo "fuzz: $OUT/fuzz_$t not built"; exit 1; }
	mkdir -p "$OUT/corpus/$t"
	echo "fuzz: $t, $RUNS runs"
	if ! "$OUT/fuzz_$t" -runs="$RUNS" -max_len=65536 -print_final_stats=1 \
		"$OUT/corpus/$t" >"$OUT/$t.log" 2>&1; then
		tail -40 "$OUT/$t.log"
		status=1
	else
		grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$OUT/$t.log" | tr '\n' ' '
		echo
	fi
done
exit $status
