#!/usr/bin/env bash
# demo.sh: ossl-stateless end to end on 127.0.0.1 (what `make demo` runs).
#
# Builds the binary, starts a DTLS echo server with a throwaway self-signed
# certificate, runs a client through the cookie exchange
# (HelloVerifyRequest) and the echo of a few lines, then sends SIGINT to the
# server, which closes its connections and prints its stats. Exits non-zero
# if anything fails, in particular if the echo does not come back.
#
# Environment: GO (default "go") builds the binary; OSSL_STATELESS_BIN
# names a binary to use instead of building one.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/ossl-stateless-demo.XXXXXX")
server_pid=""

cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }
show() { sed "s/^/  $1 | /" "$2"; }
# server_log shows the server's stderr lines not shown yet.
shown=0
server_log() {
  local n
  n=$(wc -l <"$work/server.log")
  if [ "$n" -gt "$shown" ]; then
    tail -n "+$((shown + 1))" "$work/server.log" | head -n "$((n - shown))" | sed 's/^/  server stderr | /'
    shown=$n
  fi
}
fail() {
  printf '\ndemo: FAILED: %s\n' "$*" >&2
  exit 1
}

bin=${OSSL_STATELESS_BIN:-}
if [ -z "$bin" ]; then
  step "build: ${GO:-go} build -o ossl-stateless ./cmd/ossl-stateless"
  (cd "$root" && "${GO:-go}" build -o "$work/ossl-stateless" ./cmd/ossl-stateless)
  bin=$work/ossl-stateless
fi

step "server: ossl-stateless server -accept 127.0.0.1:0  (DTLS echo; no -cert, so a throwaway certificate)"
# The server's stdout comes through a FIFO, so the script can wait for its
# ACCEPT line (and later its STATS line) without polling.
mkfifo "$work/server.out"
"$bin" server -accept 127.0.0.1:0 >"$work/server.out" 2>"$work/server.log" &
server_pid=$!
exec 3<"$work/server.out"
addr=""
while IFS= read -r -t 20 line <&3; do
  echo "  server stdout | $line"
  case $line in
  "ACCEPT "*)
    addr=${line#ACCEPT }
    break
    ;;
  esac
done
server_log
[ -n "$addr" ] || fail "the server printed no ACCEPT line"

step "client: printf 'hello, DTLS\\nstateless cookies\\n' | ossl-stateless client -connect $addr -insecure"
printf 'hello, DTLS\nstateless cookies\n' >"$work/input"
rc=0
"$bin" client -connect "$addr" -insecure <"$work/input" >"$work/client.out" 2>"$work/client.err" || rc=$?
show "client stderr" "$work/client.err"
show "client stdout" "$work/client.out"
[ "$rc" -eq 0 ] || fail "the client exited with status $rc"
cmp -s "$work/input" "$work/client.out" || fail "the echo did not come back"
grep -q '^Cookie exchange: yes' "$work/client.err" || fail "the client saw no cookie exchange"
server_log

step "SIGINT to the server: it closes its connections, prints its stats and exits 0"
kill -INT "$server_pid"
stats=""
while IFS= read -r -t 20 line <&3; do
  echo "  server stdout | $line"
  case $line in "STATS "*) stats=${line#STATS } ;; esac
done
rc=0
wait "$server_pid" || rc=$?
server_pid=""
server_log
[ "$rc" -eq 0 ] || fail "the server exited with status $rc"
[ -n "$stats" ] || fail "the server printed no STATS line"

step "server stats"
for kv in $stats; do
  printf '  %-22s %s\n' "${kv%%=*}" "${kv#*=}"
done

printf '\ndemo: OK: cookie exchange, echo of 2 lines, clean shutdown\n'
