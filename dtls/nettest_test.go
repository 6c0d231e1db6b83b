package dtls_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"golang.org/x/net/nettest"

	"github.com/openssl-stateless/openssl/dtls"
)

// nettestApplies are the sub-tests of nettest.TestConn whose assumptions
// hold for a datagram connection. Left out:
//   - PresentTimeout and FutureTimeout write as fast as they can until a
//     deadline (tens of thousands of datagrams in 100ms, which nobody reads),
//     then "resync" by expecting one marker datagram to come back. UDP, and
//     so DTLS, drops datagrams a receiver cannot queue; the marker can be one
//     of them and the sub-test then waits forever. Deadlines themselves are
//     covered by ReadTimeout, WriteTimeout, PastTimeout, CloseTimeout and
//     TestDeadlinesAndClose.
//
// BasicIO (1 MiB in 1024-byte writes, no flow control) applies on loopback
// only because the receiving queue is deep enough for the reader to keep up.
const nettestApplies = "BasicIO|PingPong|RacyRead|RacyWrite|ReadTimeout|WriteTimeout|PastTimeout|CloseTimeout|ConcurrentMethods"

// nettestAppliesOwn are those for connections with sockets of their own.
// BasicIO is left out as well: its 1 MiB burst overflows the 64 KiB
// receive buffer such a socket has (socket_linux.go), as it would a plain
// UDP socket's, whenever the reader falls behind for a moment.
const nettestAppliesOwn = "PingPong|RacyRead|RacyWrite|ReadTimeout|WriteTimeout|PastTimeout|CloseTimeout|ConcurrentMethods"

// TestNetTestConn runs golang.org/x/net/nettest's conformance suite on a
// client Conn (c1) and the server Conn it is accepted as (c2), twice: over
// sockets given to NewListener and Client (the server connection shares
// the Listener's socket, the client has a reader goroutine), and over
// Listen and Dial (each connection reads a socket of its own, on Linux).
// nettest offers no way to pick sub-tests, so the test binary runs itself
// with a -test.run pattern that names the ones that apply.
func TestNetTestConn(t *testing.T) {
	mode := os.Getenv("DTLS_NETTEST_CHILD")
	if mode == "" {
		for _, mode := range []string{"shared", "own"} {
			t.Run(mode, func(t *testing.T) {
				applies := nettestApplies
				if mode == "own" {
					applies = nettestAppliesOwn
				}
				cmd := exec.Command(os.Args[0], "-test.run", "^TestNetTestConn$/^("+applies+")$", "-test.v", "-test.count=1")
				cmd.Env = append(os.Environ(), "DTLS_NETTEST_CHILD="+mode)
				out, err := cmd.CombinedOutput()
				t.Logf("nettest child:\n%s", out)
				require.NoError(t, err)
				for _, name := range strings.Split(applies, "|") {
					assert.Contains(t, string(out), "--- PASS: TestNetTestConn/"+name+" ")
				}
			})
		}
		return
	}
	p := newPKI(t)
	nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
		if mode == "own" {
			return ownPair(p)
		}
		pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return nil, nil, nil, err
		}
		_ = pc.SetReadBuffer(8 << 20)
		l, err := dtls.NewListener(pc, p.serverConfig())
		if err != nil {
			pc.Close()
			return nil, nil, nil, err
		}
		cpc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			l.Close()
			return nil, nil, nil, err
		}
		_ = cpc.SetReadBuffer(8 << 20)
		client, err := dtls.Client(cpc, l.Addr(), p.clientConfig())
		if err != nil {
			l.Close()
			return nil, nil, nil, err
		}
		if err := client.Handshake(); err != nil {
			client.Close()
			l.Close()
			return nil, nil, nil, err
		}
		c1, c2, stopPair, err := acceptPair(l, client)
		if err != nil {
			return nil, nil, nil, err
		}
		// BasicIO fails if one datagram is lost ("transmitted data
		// differs"), and hangs if it is the close_notify: say where.
		// Drops of the client's reader and of a datagram OpenSSL left
		// unread are counted nowhere.
		lport, cport := l.Addr().(*net.UDPAddr).Port, cpc.LocalAddr().(*net.UDPAddr).Port
		return c1, c2, func() {
			if st := l.Stats(); st.DatagramsDropped > 0 {
				t.Logf("the Listener dropped %d datagrams", st.DatagramsDropped)
			}
			if n := kernelDrops(lport); n > 0 {
				t.Logf("the kernel dropped %d datagrams for the Listener's socket", n)
			}
			if n := kernelDrops(cport); n > 0 {
				t.Logf("the kernel dropped %d datagrams for the client's socket", n)
			}
			stopPair()
		}, nil
	})
}

// ownPair is a client from Dial and the server connection from Listen's
// Accept: both read sockets of their own.
func ownPair(p *pki) (c1, c2 net.Conn, stop func(), err error) {
	l, err := dtls.Listen("udp", "127.0.0.1:0", p.serverConfig())
	if err != nil {
		return nil, nil, nil, err
	}
	client, err := dtls.Dial("udp", l.Addr().String(), p.clientConfig())
	if err != nil {
		l.Close()
		return nil, nil, nil, err
	}
	return acceptPair(l, client)
}

// acceptPair accepts client's connection on l: the pair and its stop.
func acceptPair(l *dtls.Listener, client *dtls.Conn) (c1, c2 net.Conn, stop func(), err error) {
	server, err := l.Accept()
	if err != nil {
		client.Close()
		l.Close()
		return nil, nil, nil, err
	}
	stop = func() {
		client.Close()
		server.Close()
		l.Close()
	}
	return client, server, stop, nil
}

// kernelDrops is what /proc/net/udp counts as dropped for the IPv4 socket
// bound to port on 127.0.0.1 (0 where there is no such file). The file
// prints the address in the host's byte order: little-endian here.
func kernelDrops(port int) int {
	b, err := os.ReadFile("/proc/net/udp")
	if err != nil {
		return 0
	}
	local := fmt.Sprintf("0100007F:%04X", port)
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 13 && f[1] == local {
			n, _ := strconv.Atoi(f[len(f)-1])
			return n
		}
	}
	return 0
}
