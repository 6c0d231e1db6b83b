// Package testpeer starts and manages the external processes that tests
// talk to: command-line peers (openssl s_client and s_server, gnutls-cli,
// gnutls-serv) and the built ossl-stateless tool. A process is started
// under a Timeout context, awaited by a line of its output, fed through its
// stdin, and killed (if still running) and waited for in t.Cleanup; its
// output is logged when the test failed.
package testpeer

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Timeout bounds every process started here and every wait on one: no
// test can hang on a peer for longer.
const Timeout = 20 * time.Second

// LookPath returns the path of the command-line program name, skipping the
// test when it is not installed (CI installs them all, so CI never skips).
func LookPath(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("this test needs %s, not found in $PATH (apt-get install openssl gnutls-bin): %v", name, err)
	}
	return path
}

// Output collects what a process prints on a stream (or on both, when
// they are merged: one pipe, so lines keep the order in which they were
// written) and wakes up a waiter on every write.
type Output struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // capacity 1: "something was written"
}

func newOutput() *Output { return &Output{changed: make(chan struct{}, 1)} }

// Write appends p.
func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	o.buf.Write(p)
	o.mu.Unlock()
	select {
	case o.changed <- struct{}{}:
	default:
	}
	return len(p), nil
}

// String is what was written so far.
func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// Proc is a running process.
type Proc struct {
	// Name names the process in logs and failure messages.
	Name string
	// Stdout and Stderr collect the process's streams; they are the same
	// Output when the streams are merged (Start).
	Stdout, Stderr *Output

	t     testing.TB
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{} // closed once the process has exited and its output is drained
	err   error         // cmd.Wait's result, valid after done
}

// Start starts bin with args, its stdout and stderr merged into one Output
// (for peers whose lines are only searched).
func Start(t testing.TB, name, bin string, args ...string) *Proc {
	t.Helper()
	return start(t, name, true, bin, args)
}

// StartSplit starts bin with args, its stdout and stderr kept apart.
func StartSplit(t testing.TB, name, bin string, args ...string) *Proc {
	t.Helper()
	return start(t, name, false, bin, args)
}

func start(t testing.TB, name string, merge bool, bin string, args []string) *Proc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	cmd := exec.CommandContext(ctx, bin, args...)
	p := &Proc{Name: name, Stdout: newOutput(), t: t, cmd: cmd, done: make(chan struct{})}
	p.Stderr = p.Stdout
	if !merge {
		p.Stderr = newOutput()
	}
	// When merged, the same comparable writer for both: exec uses one pipe
	// and one copying goroutine, which Wait waits for.
	cmd.Stdout, cmd.Stderr = p.Stdout, p.Stderr
	cmd.WaitDelay = 2 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		cancel()
		t.Fatalf("stdin pipe for %s: %v", name, err)
	}
	p.stdin = stdin
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting %s (%s): %v", name, cmd, err)
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
				t.Logf("output of %s (%v):\n%s", name, p.err, p.Stdout)
			} else {
				t.Logf("stdout of %s (%v):\n%s\nstderr of %s:\n%s", name, p.err, p.Stdout, name, p.Stderr)
			}
		}
	})
	return p
}

// String is what the process printed on stdout so far: all it printed
// when its streams are merged.
func (p *Proc) String() string { return p.Stdout.String() }

// dump renders the output for a failure message.
func (p *Proc) dump() string {
	if p.Stdout == p.Stderr {
		return "output:\n" + p.Stdout.String()
	}
	return "stdout:\n" + p.Stdout.String() + "\nstderr:\n" + p.Stderr.String()
}

// WaitFor waits until the process's stdout (all its output when merged)
// contains s, its readiness line or a line the test expects, and returns
// the text. It fails the test when the process exits first or after
// Timeout.
func (p *Proc) WaitFor(s string) string {
	p.t.Helper()
	return p.waitFor(p.Stdout, s)
}

// WaitForStderr is WaitFor on stderr.
func (p *Proc) WaitForStderr(s string) string {
	p.t.Helper()
	return p.waitFor(p.Stderr, s)
}

func (p *Proc) waitFor(o *Output, s string) string {
	p.t.Helper()
	timer := time.NewTimer(Timeout)
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
			p.t.Fatalf("%s exited (%v) before printing %q; %s", p.Name, p.err, s, p.dump())
		case <-timer.C:
			p.t.Fatalf("%s did not print %q within %v; %s", p.Name, s, Timeout, p.dump())
		}
	}
}

// Send writes s to the process's stdin.
func (p *Proc) Send(s string) {
	p.t.Helper()
	_, err := io.WriteString(p.stdin, s)
	require.NoError(p.t, err, "writing to %s's stdin", p.Name)
}

// CloseStdin gives the process end of file on its stdin.
func (p *Proc) CloseStdin() error { return p.stdin.Close() }

// Done is closed once the process has exited and its output is drained.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err is cmd.Wait's result (nil for exit status 0), valid once Done is
// closed.
func (p *Proc) Err() error { return p.err }

// Wait waits for the process to exit on its own and returns its exit
// status as cmd.Wait's error (nil for status 0). It fails the test after
// Timeout.
func (p *Proc) Wait() error {
	p.t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(Timeout):
		p.t.Fatalf("%s did not exit within %v; %s", p.Name, Timeout, p.dump())
		return nil
	}
}

// WaitStatus is Wait returning the exit status as a number. An error other
// than an exit status fails the test.
func (p *Proc) WaitStatus() int {
	p.t.Helper()
	err := p.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	require.NoError(p.t, err, "%s", p.Name)
	return 0
}

// Signal sends sig and waits for the exit status.
func (p *Proc) Signal(sig os.Signal) int {
	p.t.Helper()
	require.NoError(p.t, p.cmd.Process.Signal(sig))
	return p.WaitStatus()
}

// Interrupt sends SIGINT and waits for the exit status.
func (p *Proc) Interrupt() int {
	p.t.Helper()
	return p.Signal(syscall.SIGINT)
}

// FreePort returns a port of ip nobody listens on right now, for a peer
// that must be told its port. network is one of "udp", "udp4", "udp6",
// "tcp", "tcp4", "tcp6"; a nil ip is the wildcard address, with "udp" or
// "tcp" the dual-stack one (for peers, such as gnutls-serv, that bind
// 0.0.0.0 and :: both).
func FreePort(t testing.TB, network string, ip net.IP) int {
	t.Helper()
	var port int
	if strings.HasPrefix(network, "udp") {
		c, err := net.ListenUDP(network, &net.UDPAddr{IP: ip})
		require.NoError(t, err)
		port = c.LocalAddr().(*net.UDPAddr).Port
		require.NoError(t, c.Close())
	} else {
		l, err := net.ListenTCP(network, &net.TCPAddr{IP: ip})
		require.NoError(t, err)
		port = l.Addr().(*net.TCPAddr).Port
		require.NoError(t, l.Close())
	}
	return port
}

// FreeLoopbackAddr returns "127.0.0.1:port" with a port nobody listens on
// right now; network is "udp" or "tcp".
func FreeLoopbackAddr(t testing.TB, network string) string {
	t.Helper()
	port := FreePort(t, network+"4", net.IPv4(127, 0, 0, 1))
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}
