//go:build linux

package dtls_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl/dtls"
	"github.com/openssl-stateless/openssl/internal/record"
)

// A connection gets a socket of its own whatever the Listener's address
// family: IPv4, IPv6, and an IPv6 wildcard socket taking both (an IPv4
// peer then appears as an IPv4-mapped address to the kernel).
func TestOwnSocketAddressFamilies(t *testing.T) {
	for _, tc := range []struct{ name, listen, dial string }{
		{"ipv4", "127.0.0.1:0", "127.0.0.1"},
		{"ipv6", "[::1]:0", "::1"},
		{"dual-stack over ipv4", ":0", "127.0.0.1"},
		{"dual-stack over ipv6", ":0", "::1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if strings.Contains(tc.listen+tc.dial, "::") || tc.listen == ":0" {
				if c, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback}); err != nil {
					t.Skipf("no IPv6 loopback here: %v", err)
				} else {
					c.Close()
				}
			}
			p := newPKI(t)
			l, err := dtls.Listen("udp", tc.listen, p.serverConfig())
			require.NoError(t, err)
			defer l.Close()
			port := l.Addr().(*net.UDPAddr).Port
			c, err := dtls.Dial("udp", net.JoinHostPort(tc.dial, strconv.Itoa(port)), p.clientConfig())
			require.NoError(t, err)
			defer c.Close()
			sc := acceptOne(t, l)
			assert.True(t, dtls.OwnSocket(sc.(*dtls.Conn)), "the server connection reads a socket of its own")
			go echo(sc)
			for i := 0; i < 3; i++ {
				roundTrip(t, c, []byte(fmt.Sprintf("%s %d", tc.name, i)))
			}
		})
	}
}

// udpRxQueue returns the receive queue (bytes, as the kernel accounts
// them) of the connected UDP socket from localPort to remotePort, read from
// /proc/net/udp and udp6.
func udpRxQueue(t *testing.T, localPort, remotePort int) (int, bool) {
	t.Helper()
	for _, f := range []string{"/proc/net/udp", "/proc/net/udp6"} {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			if len(fs) < 5 || !strings.Contains(fs[1], ":") {
				continue
			}
			lp, _ := strconv.ParseInt(fs[1][strings.LastIndex(fs[1], ":")+1:], 16, 32)
			rp, _ := strconv.ParseInt(fs[2][strings.LastIndex(fs[2], ":")+1:], 16, 32)
			if int(lp) != localPort || int(rp) != remotePort {
				continue
			}
			_, rx, _ := strings.Cut(fs[4], ":")
			q, err := strconv.ParseInt(rx, 16, 64)
			fh.Close()
			return int(q), err == nil
		}
		fh.Close()
	}
	return 0, false
}

// With a socket per connection, what anyone sends from a connected peer's
// address waits in that socket's kernel receive buffer, not in Go: an
// application that never reads holds at most that buffer (64 KiB asked,
// which Linux doubles for its accounting) whatever the flood, nothing is
// queued in the Listener, and once the application reads the junk fails to
// authenticate and real data arrives.
func TestOwnSocketFloodFromPeerAddress(t *testing.T) {
	p := newPKI(t)
	l := listen(t, p.serverConfig())
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	require.NoError(t, udp.SetWriteBuffer(8<<20))
	client, err := dtls.Client(udp, l.Addr(), p.clientConfig())
	require.NoError(t, err)
	defer client.Close()
	require.NoError(t, client.Handshake())
	server := acceptOne(t, l)
	require.True(t, dtls.OwnSocket(server.(*dtls.Conn)))
	// The client's first record ends the server's lingering, which would
	// otherwise read (and drop) the flood; the application does not read.
	endLinger(t, client, server)

	junk := record.AppendDTLSRecord(nil, record.Header{Type: record.ApplicationData, Version: record.VersionDTLS12, Epoch: 1, Sequence: 1 << 40},
		bytes.Repeat([]byte{0xa5}, 30<<10))
	const sent = 200 // 6 MiB
	for i := 0; i < sent; i++ {
		_, err := udp.WriteTo(junk, l.Addr())
		require.NoError(t, err)
	}
	sport, cport := l.Addr().(*net.UDPAddr).Port, udp.LocalAddr().(*net.UDPAddr).Port
	time.Sleep(100 * time.Millisecond) // loopback delivers at once; leave room for a loaded machine
	rx, ok := udpRxQueue(t, sport, cport)
	require.True(t, ok, "the connection's own socket is in /proc/net/udp")
	t.Logf("sent %d datagrams of %d bytes (%d MiB); the connection's socket holds %d KiB", sent, len(junk), sent*len(junk)>>20, rx>>10)
	assert.LessOrEqual(t, rx, 256<<10, "the kernel bounds what waits for the connection")
	assert.Greater(t, rx, 0, "the flood reached the connection's socket")
	assert.Zero(t, l.Stats().QueuedBytes, "nothing waits in the Listener's queues")

	realDataArrives(t, client, server)
}

// secondFreeFD returns the second lowest descriptor number not in use:
// with RLIMIT_NOFILE there, exactly one more descriptor can be opened (the
// limit bounds numbers, not counts).
func secondFreeFD(t *testing.T) uint64 {
	t.Helper()
	free := 0
	for fd := 0; fd < 1<<16; fd++ {
		var st syscall.Stat_t
		if err := syscall.Fstat(fd, &st); err == syscall.EBADF {
			if free++; free == 2 {
				return uint64(fd)
			}
		}
	}
	t.Fatal("no free descriptor numbers")
	return 0
}

// Out of descriptors, a new connection shares the Listener's socket
// instead of failing: the process's limit is lowered so that exactly one
// more descriptor can be opened, two clients connect, the first gets a
// socket of its own, the second does not, and both are served.
func TestOwnSocketOutOfDescriptors(t *testing.T) {
	p := newPKI(t)
	l := listen(t, p.serverConfig())
	var pcs []*net.UDPConn
	for i := 0; i < 2; i++ {
		pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		require.NoError(t, err)
		pcs = append(pcs, pc)
	}
	var saved syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &saved))
	lowered := saved
	lowered.Cur = secondFreeFD(t)
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lowered))
	restored := false
	restore := func() {
		if !restored {
			restored = true
			require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &saved))
		}
	}
	defer restore()

	var servers []*dtls.Conn
	var clients []*dtls.Conn
	for _, pc := range pcs {
		c, err := dtls.Client(pc, l.Addr(), p.clientConfig())
		require.NoError(t, err)
		defer c.Close()
		require.NoError(t, c.Handshake())
		clients = append(clients, c)
		servers = append(servers, acceptOne(t, l).(*dtls.Conn))
	}
	restore()
	assert.True(t, dtls.OwnSocket(servers[0]), "the first connection got the last descriptor")
	assert.False(t, dtls.OwnSocket(servers[1]), "the second shares the Listener's socket")
	for i, c := range clients {
		go echo(servers[i])
		roundTrip(t, c, []byte(fmt.Sprintf("client %d", i)))
	}
}

// A client's established connection keeps OpenSSL's record buffers
// through its waits while it is busy, and gives them back once a sweep
// finds it quiet; the next round trip takes them again, and a closed
// connection leaves the sweep's list. A server connection frees them
// before every wait.
func TestQuietConnectionGivesBuffersBack(t *testing.T) {
	p := newPKI(t)
	l := listen(t, p.serverConfig())
	c, err := dtls.Dial("udp", l.Addr().String(), p.clientConfig())
	require.NoError(t, err)
	defer c.Close()
	sc := acceptOne(t, l).(*dtls.Conn)
	defer sc.Close()
	go echo(sc)
	busy := func() {
		for i := 0; i < 3; i++ {
			roundTrip(t, c, []byte(fmt.Sprintf("busy %d", i)))
		}
		assert.True(t, dtls.HoldsBuffers(c), "the client waited for the echo with its buffers")
		assert.False(t, dtls.HoldsBuffers(sc), "a server connection frees them before every wait")
	}
	busy()
	quiet := func() bool { return !dtls.HoldsBuffers(c) }
	require.Eventually(t, quiet, 3*dtls.BufferLinger, 10*time.Millisecond, "a quiet connection gives its buffers back")
	busy()
	c.Close()
	sc.Close()
	require.Eventually(t, func() bool { return !dtls.Lingering(c) && !dtls.Lingering(sc) }, 3*dtls.BufferLinger, 10*time.Millisecond,
		"closed connections leave the sweep's list")
}
