package main

import (
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl/internal/testpeer"
)

var floodRE = regexp.MustCompile(`(\w+)=(\d+)`)

// floodCountsOf reads the integer fields of the FLOOD line.
func floodCountsOf(t *testing.T, out string) map[string]int {
	t.Helper()
	line := regexp.MustCompile(`(?m)^FLOOD .*$`).FindString(out)
	require.NotEmpty(t, line, "flood prints its FLOOD line; stdout:\n%s", out)
	m := map[string]int{}
	for _, kv := range floodRE.FindAllStringSubmatch(line, -1) {
		n, err := strconv.Atoi(kv[2])
		require.NoError(t, err)
		m[kv[1]] = n
	}
	return m
}

// TestFloodOurServer floods our server from 16 ports while a real client
// connects and echoes: every answer is a HelloVerifyRequest, the server's
// own count covers each one, and it holds no connection for them. Lost
// datagrams on a loaded loopback (a full socket buffer) are allowed for,
// but not most of them.
func TestFloodOurServer(t *testing.T) {
	t.Parallel()
	srv, addr := startServer(t)
	const count = 3000
	flood := tool(t, "flood", "flood", "-connect", addr, "-count", strconv.Itoa(count), "-rate", "3000", "-ports", "16")
	res := runTool(t, "hello during a flood\n", "client", "-connect", addr, "-insecure")
	assert.Equal(t, 0, res.code, res.stderr)
	assert.Equal(t, "hello during a flood\n", res.stdout)
	require.Equal(t, 0, flood.WaitStatus(), flood.Stderr.String())
	out := flood.Stdout.String()
	t.Logf("flood:\n%s", out)
	assert.Contains(t, out, "flood: 3000 ClientHellos of ")
	assert.Contains(t, out, " at 3000/s from 16 local ports\n")
	assert.NotContains(t, flood.Stderr.String(), "flood: sent", "no progress line when stderr is not a terminal")
	f := floodCountsOf(t, out)
	assert.Equal(t, count, f["sent"])
	assert.Equal(t, f["answered"], f["hello_verify_requests"], "every answer is a HelloVerifyRequest")
	assert.Zero(t, f["server_hellos"])
	assert.GreaterOrEqual(t, f["answered"], count/2)

	stats := parseStats(t, stopServer(t, srv))
	t.Logf("server stats: %v", stats)
	assert.GreaterOrEqual(t, stats["cookies_sent"], f["answered"], "the server counted every answer the flood saw")
	assert.GreaterOrEqual(t, stats["cookies_sent"], count/2)
	assert.Equal(t, 1, stats["handshakes_completed"], "the real client only")
	assert.Equal(t, 1, stats["cookies_verified"])
	assert.Zero(t, stats["live_conns"])
}

// TestFloodReaders: with -readers 2 the server answers a flood from 16
// ports through both of its sockets while a real client connects; its
// counts are the same as with one.
func TestFloodReaders(t *testing.T) {
	t.Parallel()
	srv, addr := startServer(t, "-readers", "2")
	const count = 1000
	flood := tool(t, "flood", "flood", "-connect", addr, "-count", strconv.Itoa(count), "-rate", "2000", "-ports", "16")
	res := runTool(t, "hello beside two readers\n", "client", "-connect", addr, "-insecure")
	assert.Equal(t, 0, res.code, res.stderr)
	assert.Equal(t, "hello beside two readers\n", res.stdout)
	require.Equal(t, 0, flood.WaitStatus(), flood.Stderr.String())
	f := floodCountsOf(t, flood.Stdout.String())
	assert.Equal(t, f["answered"], f["hello_verify_requests"])
	assert.GreaterOrEqual(t, f["answered"], count/2)
	stats := parseStats(t, stopServer(t, srv))
	assert.Contains(t, srv.Stderr.String(), "readers=2", "the Listener was asked for two sockets")
	assert.GreaterOrEqual(t, stats["cookies_sent"], f["answered"])
	assert.Equal(t, 1, stats["handshakes_completed"])
	assert.Zero(t, stats["live_conns"])
}

// TestFloodProgressAndLimits: -progress on prints the progress line on
// stderr; -duration bounds a flood without a count.
func TestFloodProgressAndLimits(t *testing.T) {
	t.Parallel()
	srv, addr := startServer(t, "-quiet")
	res := runTool(t, "", "flood", "-connect", addr, "-count", "0", "-duration", "600ms", "-rate", "500", "-progress", "on", "-wait", "200ms")
	require.Equal(t, 0, res.code, res.stderr)
	assert.Contains(t, res.stdout, "flood: ClientHellos for 600ms of ")
	assert.Regexp(t, `flood: sent \d+, answered \d+, \d+ answers/s, out \d+ bytes, in \d+ bytes`, res.stderr)
	f := floodCountsOf(t, res.stdout)
	assert.InDelta(t, 300, f["sent"], 10, "600ms at 500/s")
	stopServer(t, srv)
}

// TestFloodRefusals: a flood is always bounded and, without -allow-remote,
// aimed at loopback only; both are usage errors that say why.
func TestFloodRefusals(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-connect", "192.0.2.1:4433"}, "ossl-stateless: flood: -connect 192.0.2.1:4433: 192.0.2.1 is not a loopback address: flood is a load tool and sends only to loopback addresses unless -allow-remote is given (see 'ossl-stateless flood -help')\n"},
		{[]string{"-count", "0"}, "ossl-stateless: flood: -count 0 needs a -duration: a flood is always bounded (see 'ossl-stateless flood -help')\n"},
		{[]string{"-rate", "0"}, "ossl-stateless: flood: -rate must be positive, not 0 (see 'ossl-stateless flood -help')\n"},
		{[]string{"-ports", "5000"}, "ossl-stateless: flood: -ports 5000 is outside 1 to 1024 (see 'ossl-stateless flood -help')\n"},
	} {
		res := runTool(t, "", append([]string{"flood"}, tc.args...)...)
		assert.Equal(t, exitUsage, res.code, "%v", tc.args)
		assert.Equal(t, tc.want, res.stderr, "%v", tc.args)
		assert.Empty(t, res.stdout)
	}
	res := runTool(t, "", "flood", "-help")
	assert.Equal(t, 0, res.code)
	assert.Contains(t, res.stdout, "This is a load tool: it sends to loopback addresses only, unless\n-allow-remote is given.")

	// -allow-remote lifts the refusal: a documentation address (RFC
	// 5737), nothing answers, the flood still ends on its count.
	res = runTool(t, "", "flood", "-connect", "192.0.2.1:4433", "-allow-remote", "-count", "3", "-ports", "1", "-wait", "0")
	assert.Equal(t, 0, res.code, res.stderr)
	f := floodCountsOf(t, res.stdout)
	assert.Equal(t, 3, f["sent"]+f["send_errors"])
	assert.Zero(t, f["answered"])
}

// A flood of a port where nothing listens says so: the kernel's ICMP port
// unreachable comes back on the flood's connected sockets. Before, it
// printed answered=0 and nothing else.
func TestFloodNothingListens(t *testing.T) {
	t.Parallel()
	addr := testpeer.FreeLoopbackAddr(t, "udp")
	res := runTool(t, "", "flood", "-connect", addr, "-count", "50", "-rate", "500", "-ports", "4")
	require.Equal(t, 0, res.code, res.stderr)
	f := floodCountsOf(t, res.stdout)
	assert.Zero(t, f["answered"])
	assert.Contains(t, res.stdout, "flood: no answer, and ICMP port unreachable came back ")
	assert.Contains(t, res.stdout, "nothing listens at "+addr)
}
