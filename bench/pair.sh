# shellcheck shell=bash disable=SC2034 # the callers read what it sets
# Sourced by profile.sh and threads.sh (from bench/): one server role of
# benchtable and one client role loading it, each reading its commands on
# a fifo kept open on fds 3 and 4, with what make bench built and wrote
# (bench/out/benchtable and bench/out/pki).
#
# pair_check NAME MODE: checks the build, sets bt, out and, for MODE
# (handshake: sequential Dial and Close; echo: 16 workers over one
# connection; echomany: 16 workers over CONNS connections, default
# 5000), the client's arguments cargs and the phases it stops at.
# pair_start SERVER_BIN IMPL CLIENT_SECONDS: starts both (the client
# waiting at its first phase) and sets tmp, spid and cpid; both are
# killed and tmp removed on exit.

pair_check() {
	local name=$1 mode=$2
	out=$(realpath -m "${BENCH_OUT:-out}")
	bt=$out/benchtable
	if [ ! -x "$bt" ] || [ ! -d "$out/pki" ]; then
		echo "$name: run make bench (BENCH_QUICK=1 will do) first; $bt or $out/pki is missing" >&2
		exit 1
	fi
	case $mode in
	handshake) cargs=(-mode handshake -par 1) phases=(start) ;;
	echo) cargs=(-mode echo -conns 1 -workers 16) phases=(base idle) ;;
	echomany) cargs=(-mode echo -conns "${CONNS:-5000}" -workers 16) phases=(base idle) ;;
	*)
		echo "$name: mode is handshake, echo or echomany" >&2
		exit 2
		;;
	esac
}

pair_cleanup() {
	exec 3>&- 4>&- || true
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}

pair_start() {
	local sbin=$1 impl=$2 csecs=$3
	tmp=$(mktemp -d)
	pids=()
	trap pair_cleanup EXIT
	mkfifo "$tmp/server.in" "$tmp/client.in"
	"$sbin" server -impl "$impl" -pki "$out/pki" <"$tmp/server.in" >"$tmp/server.out" &
	spid=$!
	pids+=("$spid")
	exec 3>"$tmp/server.in"
	until grep -q '^ADDR ' "$tmp/server.out"; do sleep 0.1; done
	local addr
	addr=$(sed -n 's/^ADDR //p' "$tmp/server.out")
	"$bt" client -impl "$impl" -pki "$out/pki" -addr "$addr" -dur "${csecs}s" "${cargs[@]}" \
		<"$tmp/client.in" >"$tmp/client.out" &
	cpid=$!
	pids+=("$cpid")
	exec 4>"$tmp/client.in"
}
