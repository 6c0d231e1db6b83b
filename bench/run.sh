#!/usr/bin/env bash
# What `make bench` runs: builds the C references (bench/c, over the system
# OpenSSL found by pkg-config) and the driver (bench/pion/cmd/benchtable),
# runs the driver, which prints the table, then benchstat over every raw
# measurement. Everything it writes goes to $BENCH_OUT (bench/out, ignored
# by git).
#
#   BENCH_QUICK=1   a short run (2 rounds, short measurements, 1000 connections)
#   ROUNDS=n        rounds (default 5, or 2 with BENCH_QUICK)
#   BENCH_OUT=dir   output directory
#   STEPS=a,b       only these groups of rows (listen, handshake, echo, cores,
#                   readers), e.g. STEPS=readers for Config.Readers' rows
set -euo pipefail
cd "$(dirname "$0")"
out=$(realpath -m "${BENCH_OUT:-out}")
mkdir -p "$out/c"

CC=${CC:-gcc}
read -r -a ssl <<<"$(pkg-config --cflags --libs libssl libcrypto)"
for prog in listen stateless handshake load server sslmem; do
	"$CC" -O2 -g -Wall -Wextra -Werror -o "$out/c/$prog" "c/$prog.c" c/common.c "${ssl[@]}"
done

(cd pion && ${GO:-go} build -o "$out/benchtable" ./cmd/benchtable)

args=(-out "$out" -cbin "$out/c")
if [ -n "${BENCH_QUICK:-}" ] && [ "${BENCH_QUICK}" != 0 ]; then args+=(-quick); fi
if [ -n "${ROUNDS:-}" ]; then args+=(-rounds "$ROUNDS"); fi
if [ -n "${STEPS:-}" ]; then args+=(-steps "$STEPS"); fi
"$out/benchtable" "${args[@]}"

# benchstat over the same measurements, by implementation; it needs the
# module proxy the first time, so a failure here does not fail the run.
if (cd pion && ${GO:-go} run golang.org/x/perf/cmd/benchstat@latest -col /impl "$out/raw.txt") >"$out/benchstat.txt" 2>&1; then
	echo "benchstat by implementation: $out/benchstat.txt"
else
	echo "benchstat failed (see $out/benchstat.txt); the table above does not need it"
fi
