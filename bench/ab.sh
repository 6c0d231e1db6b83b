#!/usr/bin/env bash
# The listen path and Stateless rows, before and after a change, side by
# side: rounds in which C and each given build of benchtable run back to
# back (the order of the builds flipped every round), then per build the
# median ns/op and the median of the per-round ratios of C's time over
# its own (its rate over C's, as the table's first rows), and the ratio of
# the fastest rounds (the least disturbed by other load).
#
#   bench/ab.sh CDIR PKIDIR BENCHTABLE... (ROUNDS=5, SECONDS_PER_RUN=0.5)
#
# CDIR holds bench/c's listen and stateless, PKIDIR the output of
# `benchtable prep`; bench/callgrind.sh gives the same comparison in
# instructions, which the load on a shared machine does not move.
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: $0 CDIR PKIDIR BENCHTABLE..." >&2; exit 2; }
cdir=$1 pki=$2
shift 2
builds=("$@")
rounds=${ROUNDS:-5} secs=${SECONDS_PER_RUN:-0.5}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

for ((r = 0; r < rounds; r++)); do
	order=("${builds[@]}")
	if ((r % 2)); then
		for ((i = 0; i < ${#builds[@]}; i++)); do order[i]=${builds[${#builds[@]} - 1 - i]}; done
	fi
	"$cdir/listen" "$pki/dtls-hello.bin" "$pki/server.pem" "$pki/server.key" "$secs" | sed "s|^|$r c |" >>"$out"
	"$cdir/stateless" "$pki/tls13-hello.bin" "$pki/server.pem" "$pki/server.key" "$secs" | sed "s|^|$r c |" >>"$out"
	for b in "${order[@]}"; do
		"$b" micro -pki "$pki" -names ListenHelloVerify,ListenValidCookie,StatelessHRR -benchtime "${secs}s" |
			sed "s|^|$r $b |" >>"$out"
	done
done

# lines: round impl BenchmarkName/impl=x N ns ns/op ...
awk '
function median(a, n,   i, j, t) {
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{ name = $3; sub(/\/impl=.*/, "", name); sub(/^Benchmark/, "", name); ns[$1, $2, name] = $5; impls[$2] = 1; names[name] = 1; rs[$1] = 1 }
END {
	for (name in names) {
		n = 0; for (r in rs) { n++; v[n] = ns[r, "c", name] }
		printf "%s: c %.0f ns/op\n", name, median(v, n)
		for (b in impls) {
			if (b == "c") continue
			n = 0; for (r in rs) { n++; v[n] = ns[r, b, name]; q[n] = ns[r, "c", name] / ns[r, b, name] }
			lo = q[1]; hi = q[1]; for (i = 2; i <= n; i++) { if (q[i] < lo) lo = q[i]; if (q[i] > hi) hi = q[i] }
			best = v[1]; cbest = ns[1 - 1, "c", name]
			for (r in rs) { if (ns[r, b, name] < best) best = ns[r, b, name]; if (ns[r, "c", name] < cbest) cbest = ns[r, "c", name] }
			printf "  %s: %.0f ns/op, rate %.2fx C (rounds %.2f..%.2f); fastest rounds: %.0f vs C %.0f ns/op, %.2fx\n",
				b, median(v, n), median(q, n), lo, hi, best, cbest, cbest / best
		}
	}
}' "$out"
