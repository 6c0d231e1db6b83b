#!/usr/bin/env bash
# Profiles one server process with perf while its own client loads it, to
# see what limits a row of the table. Uses what make bench built and wrote
# (bench/out/benchtable and bench/out/pki).
#
#   bench/profile.sh handshake|echo [ours|pion] [seconds]
#
# handshake: sequential Dial and Close from one client process; echo: 16
# workers over one connection. Prints perf's flat profile (self time by
# shared object and symbol) and keeps perf.data in bench/out/.
set -euo pipefail
cd "$(dirname "$0")"
out=$(realpath -m "${BENCH_OUT:-out}")
mode=${1:-handshake}
impl=${2:-ours}
secs=${3:-5}
bt=$out/benchtable
if [ ! -x "$bt" ] || [ ! -d "$out/pki" ]; then
	echo "profile.sh: run make bench (BENCH_QUICK=1 will do) first; $bt or $out/pki is missing" >&2
	exit 1
fi
case $mode in
handshake) cargs=(-mode handshake -par 1) phases=(start) ;;
echo) cargs=(-mode echo -conns 1 -workers 16) phases=(base idle) ;;
*)
	echo "profile.sh: mode is handshake or echo" >&2
	exit 2
	;;
esac

tmp=$(mktemp -d)
pids=()
cleanup() {
	exec 3>&- 4>&- || true
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT
mkfifo "$tmp/server.in" "$tmp/client.in"

# The roles read commands on stdin: the fifos stay open on fds 3 and 4.
"$bt" server -impl "$impl" -pki "$out/pki" <"$tmp/server.in" >"$tmp/server.out" &
spid=$!
pids+=("$spid")
exec 3>"$tmp/server.in"
until grep -q '^ADDR ' "$tmp/server.out"; do sleep 0.1; done
addr=$(sed -n 's/^ADDR //p' "$tmp/server.out")

"$bt" client -impl "$impl" -pki "$out/pki" -addr "$addr" -dur "$((secs + 3))s" "${cargs[@]}" \
	<"$tmp/client.in" >"$tmp/client.out" &
pids+=("$!")
exec 4>"$tmp/client.in"
for phase in "${phases[@]}"; do
	until grep -q "^PHASE $phase" "$tmp/client.out"; do sleep 0.1; done
	echo go >&4
done
sleep 0.5
data=$out/perf-$mode-$impl.data
perf record -g -o "$data" -p "$spid" -- sleep "$secs"
# Self time by shared object (Go, libcrypto, libssl, kernel), then by symbol.
for sort in dso dso,symbol; do
	perf report -i "$data" --stdio --no-children -g none --sort "$sort" --percent-limit 1 2>/dev/null |
		grep '%' | grep -v '^#' | head -40
	echo
done
