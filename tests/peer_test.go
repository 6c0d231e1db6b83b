package tests

import (
	"bytes"
	"context"
	"io"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// peerTimeout bounds every peer process and every wait on one: nothing in
// this package can hang for longer.
const peerTimeout = 20 * time.Second

// opensslBin returns the path of the openssl command-line tool, skipping the
// test when it is not installed (CI installs it, so CI never skips).
func opensslBin(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("interop test needs the openssl command-line tool, not found in $PATH: " + err.Error())
	}
	return path
}

// opensslCLIVersion returns the first line of `openssl version`, such as
// "OpenSSL 3.0.13 30 Jan 2024 (Library: OpenSSL 3.0.13 30 Jan 2024)".
func opensslCLIVersion(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), peerTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, opensslBin(t), "version").Output()
	require.NoError(t, err)
	return strings.TrimSpace(string(out))
}

var cliVersionRE = regexp.MustCompile(`^OpenSSL (\d+)\.(\d+)\.`)

// opensslCLISeries returns the release series of the openssl tool: "1.1"
// for 1.1.1w, "3.0" for 3.0.13, "3.5" for 3.5.9; "" when `openssl version`
// names no OpenSSL (LibreSSL, say).
func opensslCLISeries(t *testing.T) string {
	t.Helper()
	m := cliVersionRE.FindStringSubmatch(opensslCLIVersion(t))
	if m == nil {
		return ""
	}
	return m[1] + "." + m[2]
}

// output collects what a peer prints on stdout and stderr (one pipe, so the
// order of lines is the order in which they were written) and wakes up a
// waiter on every write.
type output struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // capacity 1: "something was written"
}

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

// peer is a running `openssl s_client` or `openssl s_server`.
type peer struct {
	t     *testing.T
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *output
	done  chan struct{} // closed once the process has exited and its output is drained
	err   error         // cmd.Wait's result, valid after done
}

// startPeer starts `openssl args...`. The process is killed (if still
// running) and waited for in t.Cleanup; its output is logged when the test
// failed.
func startPeer(t *testing.T, args ...string) *peer {
	t.Helper()
	bin := opensslBin(t)
	ctx, cancel := context.WithTimeout(context.Background(), peerTimeout)
	cmd := exec.CommandContext(ctx, bin, args...)
	out := &output{changed: make(chan struct{}, 1)}
	// The same comparable writer for both: exec uses one pipe and one
	// copying goroutine, which Wait waits for.
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.WaitDelay = 2 * time.Second
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	p := &peer{t: t, name: args[0], cmd: cmd, stdin: stdin, out: out, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting %s: %v", cmd, err)
	}
	t.Logf("started %s", strings.Join(cmd.Args, " "))
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
			t.Logf("output of %s:\n%s", p.name, p.out.String())
		}
	})
	return p
}

// waitFor waits until the peer's output contains s: its readiness line or a
// line the test expects. It fails the test when the peer exits first or
// after peerTimeout.
func (p *peer) waitFor(s string) {
	p.t.Helper()
	timer := time.NewTimer(peerTimeout)
	defer timer.Stop()
	for !strings.Contains(p.out.String(), s) {
		select {
		case <-p.out.changed:
		case <-p.done:
			if !strings.Contains(p.out.String(), s) {
				p.t.Fatalf("%s exited (%v) before printing %q; output:\n%s", p.name, p.err, s, p.out.String())
			}
		case <-timer.C:
			p.t.Fatalf("%s did not print %q within %v; output:\n%s", p.name, s, peerTimeout, p.out.String())
		}
	}
}

// send writes s to the peer's stdin.
func (p *peer) send(s string) {
	p.t.Helper()
	_, err := io.WriteString(p.stdin, s)
	require.NoError(p.t, err, "writing to %s's stdin", p.name)
}

// wait waits for the peer to exit on its own and returns its exit status
// (cmd.Wait's error: nil for status 0).
func (p *peer) wait() error {
	p.t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(peerTimeout):
		p.t.Fatalf("%s did not exit within %v; output:\n%s", p.name, peerTimeout, p.out.String())
		return nil
	}
}

// String is the peer's output so far.
func (p *peer) String() string { return p.out.String() }
