#!/usr/bin/env bash
# Profiles one server process and its client process with perf while the
# client loads the server, to see what limits a row of the table. Uses what
# make bench built and wrote (bench/out/benchtable and bench/out/pki).
#
#   bench/profile.sh handshake|echo|echomany [ours|pion|udp|udpconns] [seconds]
#
# handshake: sequential Dial and Close from one client process; echo: 16
# workers over one connection; echomany: 16 workers over CONNS connections
# (default 5000).
# Prints, for each side, the CPU it used, perf's flat profile (self time by
# shared object and symbol) and the breakdown by bench/perfsplit.py (kernel
# by syscall, Go runtime, cgo, OpenSSL, ours), and keeps the perf.data files
# in bench/out/.
set -euo pipefail
cd "$(dirname "$0")"
mode=${1:-handshake}
impl=${2:-ours}
secs=${3:-5}
# shellcheck source-path=SCRIPTDIR source=pair.sh
. ./pair.sh
pair_check profile.sh "$mode"
pair_start "$bt" "$impl" "$((secs + 60))"
for phase in "${phases[@]}"; do
	until grep -q "^PHASE $phase" "$tmp/client.out"; do sleep 0.1; done
	echo go >&4
done
sleep 0.5
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
s0=$(ticks "$spid") c0=$(ticks "$cpid")
# Both sides at once, each in a file of its own; cpu-clock, as VMs often
# have no hardware counters.
for side in server client; do
	pid=$spid
	[ "$side" = client ] && pid=$cpid
	perf record -e cpu-clock -g -o "$out/perf-$mode-$impl-$side.data" -p "$pid" -- sleep "$secs" 2>/dev/null &
	pids+=("$!")
done
wait "${pids[@]:2}"
s1=$(ticks "$spid") c1=$(ticks "$cpid")
hz=$(getconf CLK_TCK)
for side in server client; do
	data=$out/perf-$mode-$impl-$side.data
	used=$((s1 - s0))
	[ "$side" = client ] && used=$((c1 - c0))
	echo "== $side ($impl, $mode): $(awk -v t="$used" -v hz="$hz" -v s="$secs" 'BEGIN{printf "%.2f", t/hz/s}') cores"
	# Self time by shared object (Go, libcrypto, libssl, kernel), then by symbol.
	for sort in dso dso,symbol; do
		perf report -i "$data" --stdio --no-children -g none --sort "$sort" --percent-limit 1 2>/dev/null |
			grep '%' | grep -v '^#' | head -40
		echo
	done
	perf script -i "$data" -F ip,sym,dso 2>/dev/null | python3 perfsplit.py
	echo
done
