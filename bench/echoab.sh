#!/usr/bin/env bash
# The echo rows, before and after a change to dtls, side by side: rounds in
# which bare UDP and ours of each given build of benchtable run back to
# back (the order of the builds flipped every round), 16 workers over 1
# connection and over CONNS. Per build and row: the median rate and its
# ratio to bare UDP's of the same round (with the range of those ratios),
# and each side's CPU per round trip (the server's by its own getrusage,
# the client's by its own), which the machine's other load moves less than
# the rate.
#
#   bench/echoab.sh PKIDIR BENCHTABLE... (ROUNDS=5, DUR=2s, CONNS=5000)
#
# PKIDIR is the output of `benchtable prep` (make bench writes bench/out/pki).
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 PKIDIR BENCHTABLE..." >&2; exit 2; }
pki=$1
shift
builds=("$@")
rounds=${ROUNDS:-5} dur=${DUR:-2s} conns=${CONNS:-5000}
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT

waitfor() { # file pattern [nth]
	local n=${3:-1}
	until [ "$(grep -c "$2" "$1")" -ge "$n" ]; do sleep 0.05; done
}

# one BIN IMPL CONNS: one echo measurement; prints "rate server_ns client_ns".
one() {
	local bin=$1 impl=$2 nconns=$3
	rm -f "$tmp"/*
	mkfifo "$tmp/s.in" "$tmp/c.in"
	# The roles' shells open their output after their fifo: there from the start.
	: >"$tmp/s.out"
	: >"$tmp/c.out"
	"$bin" server -impl "$impl" -pki "$pki" <"$tmp/s.in" >"$tmp/s.out" &
	local spid=$!
	pids+=("$spid")
	exec 3>"$tmp/s.in"
	waitfor "$tmp/s.out" '^ADDR '
	local addr
	addr=$(sed -n 's/^ADDR //p' "$tmp/s.out")
	"$bin" client -impl "$impl" -pki "$pki" -addr "$addr" -mode echo -dur "$dur" \
		-conns "$nconns" -workers 16 <"$tmp/c.in" >"$tmp/c.out" &
	local cpid=$!
	pids+=("$cpid")
	exec 4>"$tmp/c.in"
	waitfor "$tmp/c.out" '^PHASE base'
	echo go >&4
	waitfor "$tmp/c.out" '^PHASE idle'
	sleep 1 # handshakes finish on the server a moment after Dial
	echo stat >&3
	waitfor "$tmp/s.out" '^STAT ' 1
	echo go >&4
	waitfor "$tmp/c.out" '^RESULT '
	echo stat >&3
	waitfor "$tmp/s.out" '^STAT ' 2
	exec 3>&- 4>&-
	wait "$spid" "$cpid" 2>/dev/null || true
	awk '/^STAT /{cpu[++n] = $2} /^RESULT /{for (i = 2; i <= NF; i++) {split($i, kv, "="); f[kv[1]] = kv[2]}}
		END {printf "%.0f %.0f %.0f\n", f["n"] / (f["wall_ns"] / 1e9), (cpu[2] - cpu[1]) / f["n"], f["cpu_ns"] / f["n"]}' \
		"$tmp/s.out" "$tmp/c.out"
}

res=$tmp.res
: >"$res"
for ((r = 0; r < rounds; r++)); do
	order=("${builds[@]}")
	if ((r % 2)); then
		for ((i = 0; i < ${#builds[@]}; i++)); do order[i]=${builds[${#builds[@]} - 1 - i]}; done
	fi
	echo "round $((r + 1))/$rounds" >&2
	for row in 1 "$conns"; do
		echo "$r udp $row $(one "${builds[0]}" udp "$row")" >>"$res"
		for b in "${order[@]}"; do
			echo "$r $b $row $(one "$b" ours "$row")" >>"$res"
		done
	done
done

# lines: round build conns rate server_ns client_ns
awk '
function median(a, n,   i, j, t) {
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{ rate[$1, $2, $3] = $4; srv[$1, $2, $3] = $5; cli[$1, $2, $3] = $6; bs[$2] = 1; cs[$3] = 1; rs[$1] = 1 }
END {
	for (c in cs) {
		printf "16 workers, %d connection(s):\n", c
		for (b in bs) {
			n = 0
			for (r in rs) { n++; v[n] = rate[r, b, c]; s[n] = srv[r, b, c]; k[n] = cli[r, b, c]; q[n] = rate[r, b, c] / rate[r, "udp", c] }
			lo = q[1]; hi = q[1]; for (i = 2; i <= n; i++) { if (q[i] < lo) lo = q[i]; if (q[i] > hi) hi = q[i] }
			slo = s[1]; shi = s[1]; klo = k[1]; khi = k[1]
			for (i = 2; i <= n; i++) { slo = s[i] < slo ? s[i] : slo; shi = s[i] > shi ? s[i] : shi; klo = k[i] < klo ? k[i] : klo; khi = k[i] > khi ? k[i] : khi }
			printf "  %s: %.1fk/s, %.2fx UDP (%.2f..%.2f); server %.1f µs/rt (%.1f..%.1f), client %.1f µs/rt (%.1f..%.1f)\n",
				b, median(v, n) / 1e3, median(q, n), lo, hi, median(s, n) / 1e3, slo / 1e3, shi / 1e3, median(k, n) / 1e3, klo / 1e3, khi / 1e3
		}
	}
}' "$res"
rm -f "$res"
