#!/usr/bin/env bash
# make bench: runs the benchmarks and rewrites docs/benchmarks.md with their figures:
# the client and ingest micro-benchmarks, then the fleet benchmark (fleet_bench.py).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=docs/benchmarks.md
rows=$(build/rel/bench tests/fixtures/xml/DescribeVpcs.xml)
rows="$rows
$(python3 tests/bench/ingest.py)"
{
	echo "# Benchmarks"
	echo
	echo "Written by \`make bench\` ($(date -u +%Y-%m-%d), $(nproc) cores, $(uname -m),"
	echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))."
	echo "Integration-level figures (pacing at the fault proxy, fuzzing) are recorded below the"
	echo "table by the runs that measure them."
	echo
	echo "| what | measured | target |"
	echo "|---|---|---|"
	echo "$rows"
	echo
	if [ -f docs/benchmarks-recorded.md ]; then cat docs/benchmarks-recorded.md; fi
} >"$out"
# the fleet at EC2's rate limits, next to a plain boto3 script (about 40 minutes for all six;
# FLEET_SIZES / FLEET_RESIZE pick fewer, FLEET_SIZES=none keeps the recorded section as it is);
# it writes its own section of both files
if [ "${FLEET_SIZES:-}" != none ]; then
	python3 tests/bench/fleet_bench.py --sizes "${FLEET_SIZES:-20,50,100}" \
		--resize "${FLEET_RESIZE:-off,on}"
fi
cat "$out"
