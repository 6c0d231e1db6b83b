package tests

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// netns is a named network namespace, made with `ip netns add` and deleted
// in t.Cleanup. Its name is unique per process and per call, so that
// -count=3 and concurrent runs of the suite do not collide.
type netns struct{ name string }

// netnsSeq numbers the namespaces a process makes.
var netnsSeq atomic.Uint64

// newNetns makes a network namespace named after role, the process's id and
// a counter, with its loopback interface up. It skips the test, with the
// exact error, where the kernel or the permissions refuse namespaces: not
// root, or `ip netns add` failing (no CAP_SYS_ADMIN in a container, no
// iproute2). Every later failure fails the test.
func newNetns(t *testing.T, role string) *netns {
	t.Helper()
	if euid := os.Geteuid(); euid != 0 {
		t.Skipf("network namespaces need root (CAP_SYS_ADMIN); running as euid %d", euid)
	}
	n := &netns{name: fmt.Sprintf("dtls-%s-%d-%d", role, os.Getpid(), netnsSeq.Add(1))}
	if out, err := exec.Command("ip", "netns", "add", n.name).CombinedOutput(); err != nil {
		why := "the kernel or the permissions refuse network namespaces"
		if errors.Is(err, exec.ErrNotFound) {
			why = "iproute2's ip is not installed"
		}
		t.Skipf("%s: `ip netns add %s`: %v %s", why, n.name, err, strings.TrimSpace(string(out)))
	}
	// Deleting the namespace destroys the interfaces in it (a veth pair
	// goes with either end) once the last socket made in it is closed: the
	// cleanups registered after this one close them first.
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", n.name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", n.name, err, strings.TrimSpace(string(out)))
		}
	})
	n.ip(t, "link", "set", "lo", "up")
	return n
}

// ip runs `ip -n <n> args...` and fails the test with its output if it
// fails.
func (n *netns) ip(t *testing.T, args ...string) {
	t.Helper()
	args = append([]string{"-n", n.name}, args...)
	out, err := exec.Command("ip", args...).CombinedOutput()
	require.NoError(t, err, "ip %s: %s", strings.Join(args, " "), out)
}

// do runs f on an OS thread that is inside n for the duration of f. A
// socket belongs to the namespace of the thread that made it, for its whole
// life, whatever thread uses it later: f makes sockets with socket(2)
// (net.ListenUDP, syscall.Socket) and the rest of the test uses them from
// any goroutine. f must not start goroutines that expect to be in n.
//
// This is chosen over `ip netns exec` child processes: everything stays in
// one test process, so the Listener's Stats and PeerCount are read
// directly and the leak checks see every goroutine. It is safe because f
// runs on a goroutine of its own, locked to its thread: no other goroutine
// runs on that thread meanwhile; the runtime starts new threads from a
// template thread while the current one is locked (Go 1.10 and later), so
// none inherits n; and the thread is unlocked only once it is back in its
// own namespace. If setns back fails the thread stays locked, and the
// runtime ends it with the goroutine instead of reusing it.
func (n *netns) do(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		home, err := syscall.Open("/proc/thread-self/ns/net", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open this thread's network namespace: %w", err)
			return
		}
		defer syscall.Close(home)
		if err := n.setns(); err != nil {
			runtime.UnlockOSThread() // still at home
			errc <- err
			return
		}
		ferr := f()
		if err := setns(home); err != nil {
			// Left locked: the runtime ends the thread with this goroutine.
			errc <- errors.Join(ferr, fmt.Errorf("setns back from %s: %w", n.name, err))
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// setns moves the calling thread into n.
func (n *netns) setns() error {
	fd, err := syscall.Open("/run/netns/"+n.name, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open network namespace %s: %w", n.name, err)
	}
	defer syscall.Close(fd)
	if err := setns(fd); err != nil {
		return fmt.Errorf("setns into %s: %w", n.name, err)
	}
	return nil
}

// setns wraps setns(2) for a network namespace. Package syscall has no
// wrapper, and its tables for amd64, 386 and s390x have no number for it:
// the numbers come from the kernel's syscall tables.
func setns(fd int) error {
	nr, ok := sysSetns[runtime.GOARCH]
	if !ok {
		return fmt.Errorf("setns(2): no system call number known for %s", runtime.GOARCH)
	}
	if _, _, errno := syscall.Syscall(nr, uintptr(fd), syscall.CLONE_NEWNET, 0); errno != 0 {
		return errno
	}
	return nil
}

var sysSetns = map[string]uintptr{
	"amd64": 308, "386": 346, "arm": 375, "arm64": 268, "riscv64": 268, "loong64": 268,
	"ppc64": 350, "ppc64le": 350, "s390x": 339, "mips": 4344, "mipsle": 4344, "mips64": 5303, "mips64le": 5303,
}

// snmpCounters reads the kernel's protocol counters in n
// (/proc/net/snmp, as seen from a thread inside it) for proto ("Udp",
// "Ip"...): name to value.
func (n *netns) snmpCounters(proto string) (map[string]uint64, error) {
	var text []byte
	if err := n.do(func() (err error) {
		text, err = os.ReadFile("/proc/thread-self/net/snmp")
		return err
	}); err != nil {
		return nil, err
	}
	var names []string
	for _, line := range strings.Split(string(text), "\n") {
		head, rest, ok := strings.Cut(line, ":")
		if !ok || head != proto {
			continue
		}
		fields := strings.Fields(rest)
		if names == nil {
			names = fields
			continue
		}
		if len(fields) != len(names) {
			return nil, fmt.Errorf("/proc/net/snmp: %s has %d names and %d values", proto, len(names), len(fields))
		}
		m := make(map[string]uint64, len(names))
		for i, f := range fields {
			v, err := strconv.ParseUint(f, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("/proc/net/snmp: %s %s: %w", proto, names[i], err)
			}
			m[names[i]] = v
		}
		return m, nil
	}
	return nil, fmt.Errorf("/proc/net/snmp: no %s counters", proto)
}
