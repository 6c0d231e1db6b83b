package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl/internal/testpeer"
)

// runDemo runs demo.sh with bin as the binary (no build: TestMain built
// it) and returns its combined output and exit status.
func runDemo(t *testing.T, bin string) (string, int) {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("demo.sh needs bash: " + err.Error())
	}
	ctx, cancel := context.WithTimeout(context.Background(), testpeer.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bash, "demo.sh")
	cmd.Env = append(os.Environ(), "OSSL_STATELESS_BIN="+bin)
	cmd.WaitDelay = 2 * time.Second
	out, err := cmd.CombinedOutput()
	require.NoError(t, ctx.Err(), "demo.sh finished within %v; output:\n%s", testpeer.Timeout, out)
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return string(out), code
}

// TestDemo runs demo.sh as `make demo` does (with the binary TestMain
// built): the client goes through the cookie exchange and gets its lines
// back, a second client is served during a flood of 20,000 ClientHellos
// that leaves no connection, probe finds the server stateless, the server
// prints its stats on SIGINT, and the script says OK.
func TestDemo(t *testing.T) {
	out, code := runDemo(t, toolBin)
	t.Logf("demo.sh output:\n%s", out)
	assert.Equal(t, 0, code)
	for _, want := range []string{
		"server stdout | ACCEPT 127.0.0.1:",
		"server stderr | ossl-stateless: no -cert given: using a throwaway self-signed ECDSA P-256 certificate",
		"client stderr | Cookie exchange: yes (HelloVerifyRequest)",
		"client stderr | DONE 2 line(s) sent, 2 replies received",
		"client stdout | hello, DTLS\n",
		"client stdout | stateless cookies\n",
		`msg="dtls: handshake completed"`,
		"client stdout | served during a flood\n",
		"flood | flood: 20000 ClientHellos of ",
		" at 5000/s from 64 local ports\n",
		"flood | FLOOD target=127.0.0.1:",
		" sent=20000 ",
		" server_hellos=0 other_answers=0 ",
		"probe |   keeps state before a cookie        no\n",
		"probe |   cookie length                      21 bytes\n",
		"probe |   cookie from another local port     HelloVerifyRequest: refused (bound to the source port)\n",
		"probe | VERDICT STATELESS: ",
		"server stdout | STATS cookies_sent=",
		" cookies_verified=3 ",
		"  handshakes_completed   3\n",
		"  handshakes_failed      0\n",
		"  live_conns             0\n",
		"demo: OK",
	} {
		assert.Contains(t, out, want)
	}
	assertNoCrash(t, out)
	assert.Equal(t, 3, strings.Count(out, `msg="dtls: handshake completed"`), "each server log line shown once: two clients and the probe")
	// The server's count of cookies covers the flood's answers (demo.sh
	// checks that against the flood's own count); loopback may drop
	// datagrams under load, not most of them.
	m := regexp.MustCompile(`cookies_sent=(\d+)`).FindStringSubmatch(out)
	require.NotNil(t, m)
	cookies, err := strconv.Atoi(m[1])
	require.NoError(t, err)
	assert.GreaterOrEqual(t, cookies, 20000/2)
}

// TestDemoFailsWithoutEcho runs demo.sh with a client whose output is
// lost: the script must notice that the echo did not come back.
func TestDemoFailsWithoutEcho(t *testing.T) {
	wrapper := filepath.Join(t.TempDir(), "ossl-stateless")
	script := "#!/bin/sh\nif [ \"$1\" = client ]; then \"$REAL\" \"$@\" >/dev/null; exit $?; fi\nexec \"$REAL\" \"$@\"\n"
	require.NoError(t, os.WriteFile(wrapper, []byte(script), 0o755))
	t.Setenv("REAL", toolBin)
	out, code := runDemo(t, wrapper)
	assert.NotEqual(t, 0, code, "output:\n%s", out)
	assert.Contains(t, out, "demo: FAILED: the echo did not come back")
	assert.NotContains(t, out, "demo: OK")
}
