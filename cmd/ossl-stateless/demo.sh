#!/usr/bin/env bash
# demo.sh: ossl-stateless end to end on 127.0.0.1 (what `make demo` runs).
#
# Builds the binary, starts a DTLS echo server with a throwaway self-signed
# certificate, runs a client through the cookie exchange
# (HelloVerifyRequest) and the echo of a few lines; then floods it with
# 20,000 ClientHellos from 64 ports while another client is served, and
# runs probe against it; then sends SIGINT to the server, which closes its
# connections and prints its stats, checked against the flood's counts.
# Exits non-zero if anything fails, in particular if an echo does not come
# back.
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

flood_count=20000
step "flood: ossl-stateless flood -connect $addr -count $flood_count -rate 5000 -ports 64, with a real client echoing meanwhile"
# The flood's ClientHellos come from 64 local ports and carry no cookie:
# each should get one HelloVerifyRequest and leave nothing on the server.
"$bin" flood -connect "$addr" -count "$flood_count" -rate 5000 -ports 64 >"$work/flood.out" 2>"$work/flood.err" &
flood_pid=$!
sleep 1
printf 'served during a flood\n' >"$work/input2"
rc=0
"$bin" client -connect "$addr" -insecure <"$work/input2" >"$work/client2.out" 2>"$work/client2.err" || rc=$?
show "client stderr" "$work/client2.err"
show "client stdout" "$work/client2.out"
[ "$rc" -eq 0 ] || fail "the client during the flood exited with status $rc"
cmp -s "$work/input2" "$work/client2.out" || fail "the echo during the flood did not come back"
rc=0
wait "$flood_pid" || rc=$?
show "flood" "$work/flood.out"
[ "$rc" -eq 0 ] || fail "flood exited with status $rc"
flood_line=$(grep '^FLOOD ' "$work/flood.out") || fail "flood printed no FLOOD line"
flood_field() { printf '%s\n' "$flood_line" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
flood_sent=$(flood_field sent)
flood_answered=$(flood_field answered)
flood_hvr=$(flood_field hello_verify_requests)
[ "$flood_sent" -eq "$flood_count" ] || fail "flood sent $flood_sent ClientHellos, not $flood_count"
[ "$flood_hvr" -eq "$flood_answered" ] || fail "flood got $flood_answered answers but only $flood_hvr HelloVerifyRequests"
server_log

step "probe: ossl-stateless probe -connect $addr -replay-max 1s"
rc=0
"$bin" probe -connect "$addr" -replay-max 1s >"$work/probe.out" 2>"$work/probe.err" || rc=$?
show "probe" "$work/probe.out"
show "probe stderr" "$work/probe.err"
[ "$rc" -eq 0 ] || fail "probe exited with status $rc"
grep -q '^VERDICT STATELESS: ' "$work/probe.out" || fail "probe did not find the server stateless"
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

stat() { printf '%s\n' "$stats" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
# Every ClientHello of the flood that reached the server answered: the
# server's own count of HelloVerifyRequests covers every answer the flood
# received. On a loaded machine the kernel drops datagrams when the
# server's socket buffer is full (one `make test` run on 2 busy cores lost
# 4%): the server cannot answer what it never received, so of what flood
# sent only half is required. Nothing kept for them: the only handshakes
# are the two real clients' and the probe's, and no connection is left.
cookies_sent=$(stat cookies_sent)
[ "$cookies_sent" -ge "$flood_answered" ] || fail "the server sent $cookies_sent cookies, fewer than the $flood_answered answers flood received"
[ "$cookies_sent" -ge $((flood_count / 2)) ] || fail "the server answered $cookies_sent ClientHellos of $flood_count"
[ "$(stat handshakes_completed)" -eq 3 ] || fail "$(stat handshakes_completed) handshakes completed, want 3 (two clients and the probe)"
[ "$(stat handshakes_failed)" -eq 0 ] || fail "$(stat handshakes_failed) handshakes failed"
[ "$(stat live_conns)" -eq 0 ] || fail "$(stat live_conns) connections left"
printf '\n  flood: %s ClientHellos sent, %s answered (flood'"'"'s count); the server sent %s cookies in all\n' "$flood_sent" "$flood_answered" "$cookies_sent"

printf '\ndemo: OK: cookie exchange, echo of 2 lines, %s unverified ClientHellos answered without state while a client was served, probe: stateless, clean shutdown\n' "$flood_count"
