package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl/internal/testcert"
	"github.com/openssl-stateless/openssl/internal/testmain"
	"github.com/openssl-stateless/openssl/internal/testpeer"
)

// raceEnabled is set (by race_test.go) when the tests run with -race:
// TestMain then builds the tool with -race too.
var raceEnabled bool

// toolBin is the ossl-stateless binary, built once by TestMain (with -race
// when the tests run with -race).
var toolBin string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "ossl-stateless-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "TestMain:", err)
		os.Exit(1)
	}
	toolBin = filepath.Join(dir, prog)
	args := []string{"build", "-o", toolBin}
	if raceEnabled {
		args = append(args, "-race")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	start := time.Now()
	build := exec.Command(goBin, append(args, ".")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "TestMain: building", prog+":", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "TestMain: built %s (race %v) in %v\n", toolBin, raceEnabled, time.Since(start).Round(time.Millisecond))
	}
	if raceEnabled {
		// The race runtime sleeps a second at exit by default: that
		// would add a second to every process the tests start. A race
		// report still fails the run (exit status 66, "DATA RACE").
		os.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	}
	code := testmain.Run(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

// tool starts ossl-stateless with args, its stdout and stderr apart.
func tool(t *testing.T, name string, args ...string) *testpeer.Proc {
	t.Helper()
	return testpeer.StartSplit(t, name, toolBin, args...)
}

// opensslPeer starts the openssl command-line tool, its stdout and stderr
// merged (we only search its lines), skipping the test when it is not
// installed.
func opensslPeer(t *testing.T, name string, args ...string) *testpeer.Proc {
	t.Helper()
	return testpeer.Start(t, name, testpeer.LookPath(t, "openssl"), args...)
}

// startServer starts `ossl-stateless server -accept 127.0.0.1:0 args...`
// and returns it with the address of its ACCEPT line.
func startServer(t *testing.T, args ...string) (*testpeer.Proc, string) {
	t.Helper()
	p := tool(t, "server", append([]string{"server", "-accept", "127.0.0.1:0"}, args...)...)
	out := p.WaitFor("\n")
	line, _, _ := strings.Cut(out, "\n")
	addr, ok := strings.CutPrefix(line, "ACCEPT ")
	require.True(t, ok, "the server's first line is its ACCEPT line: %q", line)
	return p, addr
}

// result is how a process ended.
type result struct {
	code           int
	stdout, stderr string
	elapsed        time.Duration
}

// runTool runs ossl-stateless with stdin and waits for it.
func runTool(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	start := time.Now()
	name := prog
	if len(args) > 0 {
		name = args[0]
	}
	p := tool(t, name, args...)
	p.Send(stdin)
	_ = p.CloseStdin()
	code := p.WaitStatus()
	return result{code: code, stdout: p.Stdout.String(), stderr: p.Stderr.String(), elapsed: time.Since(start)}
}

// stopServer interrupts a server (SIGINT, or the signal given), checks that
// it exits 0, and returns its STATS line.
func stopServer(t *testing.T, p *testpeer.Proc, sig ...os.Signal) string {
	t.Helper()
	s := os.Signal(syscall.SIGINT)
	if len(sig) > 0 {
		s = sig[0]
	}
	assert.Equal(t, 0, p.Signal(s), "the server exits 0 on %v", s)
	out := p.Stdout.String()
	i := strings.Index(out, "STATS ")
	require.GreaterOrEqual(t, i, 0, "the server prints its STATS line on SIGINT; stdout:\n%s", out)
	stats, _, _ := strings.Cut(out[i:], "\n")
	assertNoCrash(t, p.Stderr.String())
	return stats
}

// assertNoCrash checks that output shows no Go panic or stack trace.
func assertNoCrash(t *testing.T, out string) {
	t.Helper()
	for _, s := range []string{"goroutine ", "panic", "runtime error", ".go:", "DATA RACE"} {
		assert.NotContains(t, out, s, "no stack trace")
	}
}

// newPKI is a CA with server and client certificates, written to files.
func newPKI(t *testing.T) *testcert.PKI {
	t.Helper()
	return testcert.NewPKI(t, "ossl-stateless test CA", testcert.Options{})
}

// lines returns n distinct lines for one client.
func lines(client string, n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "line %d from %s at %d\n", i, client, time.Now().UnixNano())
	}
	return b.String()
}
