#!/usr/bin/env bash
# Per-thread accounting of one server process while a client loads it:
# for each of the server's threads, its context switches and CPU time per
# operation (handshake or echo round trip), from /proc (schedstat, status).
# A Go process's second thread is the runtime's sysmon (runtime.main starts
# it first); the rows say which. Uses what make bench built and wrote
# (bench/out/benchtable and bench/out/pki).
#
#   bench/threads.sh handshake|echo [ours|pion|udp] [seconds]
#
# handshake: sequential Dial and Close from one client process; echo: 16
# workers over one connection. SERVER_BIN runs another build of the server
# role against the same client (an A/B of two builds).
set -euo pipefail
cd "$(dirname "$0")"
mode=${1:-handshake}
impl=${2:-ours}
secs=${3:-5}
if [ "$mode" = echomany ]; then
	echo "threads.sh: mode is handshake or echo" >&2
	exit 2
fi
# shellcheck source-path=SCRIPTDIR source=pair.sh
. ./pair.sh
pair_check threads.sh "$mode"
pair_start "${SERVER_BIN:-$bt}" "$impl" "$secs"

# tid, context switches (voluntary + not), CPU ns (schedstat), per thread,
# sorted as join wants; a thread gone since is dropped, one started since
# counts from zero.
snap() {
	for t in /proc/"$spid"/task/*; do
		echo "$(basename "$t") $(awk '/ctxt_switches/{s+=$2} END{print s}' "$t/status") $(cut -d' ' -f1 "$t/schedstat")"
	done | LC_ALL=C sort
}
for phase in "${phases[@]}"; do
	until grep -q "^PHASE $phase" "$tmp/client.out"; do sleep 0.05; done
	[ "$phase" = "${phases[-1]}" ] && snap >"$tmp/before"
	echo go >&4
done
until grep -q '^RESULT' "$tmp/client.out"; do sleep 0.1; done
snap >"$tmp/after"
# The runtime starts sysmon before any other thread: the second tid.
sysmon=$(cut -d' ' -f1 "$tmp/before" | sort -n | sed -n 2p)
n=$(sed -n 's/^RESULT n=\([0-9]*\).*/\1/p' "$tmp/client.out")
what=handshake
[ "$mode" = echo ] && what="round trip"
echo "== server ($impl, $mode): $n operations; per $what:"
LC_ALL=C join -a 2 -e 0 -o 0,1.2,1.3,2.2,2.3 "$tmp/before" "$tmp/after" | sort -n | awk -v n="$n" -v sysmon="$sysmon" '
	{ csw = ($4 - $2) / n; cpu = ($5 - $3) / n / 1000; tc += csw; tu += cpu
	  role = ($1 == sysmon) ? "  (Go sysmon)" : ""
	  if (csw > 0.005 || cpu > 0.5 || role != "") printf "  thread %-8s %6.2f context switches %8.1f µs CPU%s\n", $1, csw, cpu, role }
	END { printf "  all threads     %6.2f context switches %8.1f µs CPU\n", tc, tu }'
