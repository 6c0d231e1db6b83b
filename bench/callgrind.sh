#!/usr/bin/env bash
# Instructions per call of the listen path and Stateless, ours against C,
# counted by valgrind's callgrind: a ratio that does not depend on the load
# of a shared machine. Each program runs twice, with a short and a long run;
# the difference of the two totals over the difference of the two call
# counts is the cost of one call, without the setup either run pays.
#
#   bench/callgrind.sh BENCHTABLE CDIR PKIDIR [BENCHTABLE2 ...]
#
# BENCHTABLE is a build of bench/pion/cmd/benchtable (several may be given,
# for before and after), CDIR holds bench/c's listen and stateless, PKIDIR
# the output of `benchtable prep`. Prints one line per program and case:
# instructions per call, and ours over C. Valgrind 3.19 decodes no RDTSCP,
# which Go's runtime uses for its lock timing, and its callgrind trips on
# Go's preemption signals: GODEBUG turns both off for the Go runs.
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: $0 BENCHTABLE CDIR PKIDIR [BENCHTABLE2 ...]" >&2; exit 2; }
ours=("$1") cdir=$2 pki=$3
shift 3
ours+=("$@")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# total instructions of a command under callgrind; its stdout to $tmp/out
ir() {
	valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" "$@" >"$tmp/out" 2>"$tmp/err" || {
		cat "$tmp/err" >&2
		return 1
	}
	sed -n 's/^summary: //p' "$tmp/cg.out" | awk '{print $1}'
}

# calls reported in go test's format ("BenchmarkX/impl=y N ns/op")
calls() { awk '/^Benchmark/ {print $2}' "$tmp/out"; }

per_call() { # Ir1 n1 Ir2 n2
	awk -v a="$1" -v n="$2" -v b="$3" -v m="$4" 'BEGIN { printf "%.0f", (b - a) / (m - n) }'
}

c_case() { # seconds1 seconds2 program args... (time-based: seconds are its 4th argument)
	local s1=$1 s2=$2 prog=$3 a1 n1 a2 n2
	shift 3
	a1=$(ir "$cdir/$prog" "$1" "$2" "$3" "$s1" "${@:4}"); n1=$(calls)
	a2=$(ir "$cdir/$prog" "$1" "$2" "$3" "$s2" "${@:4}"); n2=$(calls)
	per_call "$a1" "$n1" "$a2" "$n2"
}

go_case() { # benchtable name n1 n2
	local a1 a2
	# One P: idle Ps would spin in the scheduler, and valgrind runs
	# threads one at a time, so their spinning would count as work.
	export GODEBUG=cpu.rdtscp=off,asyncpreemptoff=1 GOMAXPROCS=1
	a1=$(ir "$1" micro -pki "$pki" -names "$2" -benchtime "$3x")
	a2=$(ir "$1" micro -pki "$pki" -names "$2" -benchtime "$4x")
	per_call "$a1" "$3" "$a2" "$4"
}

# Under valgrind a listen call takes about 0.1 ms, SSL_stateless 5 ms.
declare -A c n1 n2
c[ListenHelloVerify]=$(c_case 0.3 1.5 listen "$pki/dtls-hello.bin" "$pki/server.pem" "$pki/server.key" hello)
c[ListenValidCookie]=$(c_case 0.3 1.5 listen "$pki/dtls-hello.bin" "$pki/server.pem" "$pki/server.key" valid)
c[StatelessHRR]=$(c_case 1 5 stateless "$pki/tls13-hello.bin" "$pki/server.pem" "$pki/server.key")
n1=([ListenHelloVerify]=2000 [ListenValidCookie]=2000 [StatelessHRR]=200)
n2=([ListenHelloVerify]=12000 [ListenValidCookie]=12000 [StatelessHRR]=1200)
for name in ListenHelloVerify ListenValidCookie StatelessHRR; do
	echo "$name c: ${c[$name]} Ir/call"
	for b in "${ours[@]}"; do
		o=$(go_case "$b" "$name" "${n1[$name]}" "${n2[$name]}")
		awk -v n="$name" -v b="$b" -v o="$o" -v c="${c[$name]}" \
			'BEGIN { printf "%s ours (%s): %d Ir/call, %.2fx C (C over ours: %.2f)\n", n, b, o, o / c, c / o }'
	done
done
