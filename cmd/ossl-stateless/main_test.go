package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl/internal/testcert"
)

// procTimeout bounds every process a test starts and every wait on one.
const procTimeout = 20 * time.Second

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
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// output collects a stream of a process and wakes a waiter on each write.
type output struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newOutput() *output { return &output{changed: make(chan struct{}, 1)} }

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	o.buf.Write(p)
	o.mu.Unlock()
	select {
	case o.changed <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// proc is a running process: ours or an openssl peer.
type proc struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *output
	stderr *output // the same as stdout when the streams are merged
	done   chan struct{}
	err    error // cmd.Wait's result, once done is closed
}

// startProc starts bin with args. With merge, stdout and stderr share one
// output (for openssl peers, whose lines we only search). The process is
// killed if still running, and waited for, in t.Cleanup; its output is
// logged when the test failed.
func startProc(t *testing.T, name string, merge bool, bin string, args ...string) *proc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), procTimeout)
	cmd := exec.CommandContext(ctx, bin, args...)
	p := &proc{t: t, name: name, cmd: cmd, stdout: newOutput(), done: make(chan struct{})}
	p.stderr = p.stdout
	if !merge {
		p.stderr = newOutput()
	}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	cmd.WaitDelay = 2 * time.Second
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	p.stdin = stdin
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting %s: %v", name, err)
	}
	t.Logf("started %s: %s", name, strings.Join(cmd.Args, " "))
	go func() {
		p.err = cmd.Wait()
		cancel()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = stdin.Close()
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			if merge {
				t.Logf("output of %s:\n%s", name, p.stdout)
			} else {
				t.Logf("stdout of %s:\n%s\nstderr of %s:\n%s", name, p.stdout, name, p.stderr)
			}
		}
	})
	return p
}

// tool starts ossl-stateless with args.
func tool(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	return startProc(t, name, false, toolBin, args...)
}

// opensslPeer starts the openssl command-line tool, skipping the test
// when it is not installed.
func opensslPeer(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	bin, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("this test needs the openssl command-line tool, not found in $PATH: " + err.Error())
	}
	return startProc(t, name, true, bin, args...)
}

// waitFor waits until o contains s and returns o's text. It fails the test
// when the process exits first or after procTimeout.
func (p *proc) waitFor(o *output, s string) string {
	p.t.Helper()
	timer := time.NewTimer(procTimeout)
	defer timer.Stop()
	for {
		if out := o.String(); strings.Contains(out, s) {
			return out
		}
		select {
		case <-o.changed:
		case <-p.done:
			if out := o.String(); strings.Contains(out, s) {
				return out
			}
			p.t.Fatalf("%s exited (%v) before printing %q; stdout:\n%s\nstderr:\n%s", p.name, p.err, s, p.stdout, p.stderr)
		case <-timer.C:
			p.t.Fatalf("%s did not print %q within %v; stdout:\n%s\nstderr:\n%s", p.name, s, procTimeout, p.stdout, p.stderr)
		}
	}
}

// send writes s to the process's stdin.
func (p *proc) send(s string) {
	p.t.Helper()
	_, err := io.WriteString(p.stdin, s)
	require.NoError(p.t, err, "writing to %s's stdin", p.name)
}

func (p *proc) closeStdin() { _ = p.stdin.Close() }

// wait waits for the process to exit and returns its exit status.
func (p *proc) wait() int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(procTimeout):
		p.t.Fatalf("%s did not exit within %v; stdout:\n%s\nstderr:\n%s", p.name, procTimeout, p.stdout, p.stderr)
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	require.NoError(p.t, p.err, "%s", p.name)
	return 0
}

// interrupt sends SIGINT and waits for the exit status.
func (p *proc) interrupt() int {
	p.t.Helper()
	return p.signal(syscall.SIGINT)
}

// signal sends sig and waits for the exit status.
func (p *proc) signal(sig os.Signal) int {
	p.t.Helper()
	require.NoError(p.t, p.cmd.Process.Signal(sig))
	return p.wait()
}

// startServer starts `ossl-stateless server -accept 127.0.0.1:0 args...`
// and returns it with the address of its ACCEPT line.
func startServer(t *testing.T, args ...string) (*proc, string) {
	t.Helper()
	p := tool(t, "server", append([]string{"server", "-accept", "127.0.0.1:0"}, args...)...)
	out := p.waitFor(p.stdout, "\n")
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
	p.send(stdin)
	p.closeStdin()
	code := p.wait()
	return result{code: code, stdout: p.stdout.String(), stderr: p.stderr.String(), elapsed: time.Since(start)}
}

// stopServer interrupts a server (SIGINT, or the signal given), checks that
// it exits 0, and returns its STATS line.
func stopServer(t *testing.T, p *proc, sig ...os.Signal) string {
	t.Helper()
	s := os.Signal(syscall.SIGINT)
	if len(sig) > 0 {
		s = sig[0]
	}
	assert.Equal(t, 0, p.signal(s), "the server exits 0 on %v", s)
	out := p.stdout.String()
	i := strings.Index(out, "STATS ")
	require.GreaterOrEqual(t, i, 0, "the server prints its STATS line on SIGINT; stdout:\n%s", out)
	stats, _, _ := strings.Cut(out[i:], "\n")
	assertNoCrash(t, p.stderr.String())
	return stats
}

// assertNoCrash checks that output shows no Go panic or stack trace.
func assertNoCrash(t *testing.T, out string) {
	t.Helper()
	for _, s := range []string{"goroutine ", "panic", "runtime error", ".go:", "DATA RACE"} {
		assert.NotContains(t, out, s, "no stack trace")
	}
}

// pki is a CA with server and client certificates, written to files.
type pki struct {
	ca             *testcert.CA
	server, client *testcert.Pair
	caFile         string
	dir            string
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	dir := t.TempDir()
	ca := testcert.NewCA(t, "ossl-stateless test CA")
	return &pki{
		ca:     ca,
		server: ca.Issue(t, "localhost", testcert.Options{}).Files(t, dir, "server"),
		client: ca.Issue(t, "client", testcert.Options{Client: true}).Files(t, dir, "client"),
		caFile: ca.WriteCA(t, dir),
		dir:    dir,
	}
}

// freePort returns a port of 127.0.0.1 nobody listens on right now.
func freePort(t *testing.T, network string) string {
	t.Helper()
	var addr string
	if network == "udp" {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		require.NoError(t, err)
		addr = c.LocalAddr().String()
		require.NoError(t, c.Close())
	} else {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		require.NoError(t, err)
		addr = l.Addr().String()
		require.NoError(t, l.Close())
	}
	return addr
}

// lines returns n distinct lines for one client.
func lines(client string, n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "line %d from %s at %d\n", i, client, time.Now().UnixNano())
	}
	return b.String()
}
