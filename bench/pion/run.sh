#!/bin/sh
# Runs the comparison: six rounds of every benchmark, each round one test
# binary run with -count=1, so that ours and pion's alternate (BENCH_ROUND's
# parity decides which goes first in a round); then benchstat with the
# implementations side by side. Equivalent to -count=6, interleaved.
set -eu
cd "$(dirname "$0")"
rounds=${ROUNDS:-6}
out=${OUT:-raw.txt}
go test -c -o pion.test .
: > "$out"
for i in $(seq 1 "$rounds"); do
	BENCH_ROUND=$i ./pion.test -test.run '^$' -test.bench . -test.benchmem \
		-test.benchtime=1x -test.count=1 -test.timeout 10m >> "$out"
done
rm -f pion.test
go run golang.org/x/perf/cmd/benchstat@latest -col '/impl@(ours pion udp)' "$out"
echo
python3 ratios.py "$out"
