package dtls_test

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl/dtls"
	"github.com/openssl-stateless/openssl/internal/record"
)

// The reader takes datagrams in batches on Linux (batch_linux.go) and
// sends the batch's answers together: these hold on every system, on
// every kind of socket a Listener may have.

// listenOn starts a Listener on address, or skips when the system has no
// such address (an IPv6 loopback, say).
func listenOn(t *testing.T, network, address string) *dtls.Listener {
	t.Helper()
	l, err := dtls.Listen(network, address, newPKI(t).serverConfig())
	if err != nil {
		t.Skipf("no %s socket on %s here: %v", network, address, err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// A burst of forged ClientHellos from many sources, all sent before any is
// read, so that reads take many at once: each source gets one
// HelloVerifyRequest, its own. A ClientHello's record sequence number is
// echoed in its HelloVerifyRequest (RFC 6347, 4.2.1), so each source sends
// a number of its own and checks it comes back.
func TestBurstFromManySourcesAnswered(t *testing.T) {
	for _, tc := range []struct {
		name, network, address, client string
	}{
		{"ipv4", "udp4", "127.0.0.1:0", "udp4"},
		{"ipv6", "udp6", "[::1]:0", "udp6"},
		{"ipv4 on dual-stack", "udp", "[::]:0", "udp4"}, // sources arrive v4-mapped
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := listenOn(t, tc.network, tc.address)
			port := l.Addr().(*net.UDPAddr).Port
			to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
			if tc.client == "udp6" {
				to = &net.UDPAddr{IP: net.IPv6loopback, Port: port}
			}
			const sources = 100 // more than one batch
			clients := make([]*net.UDPConn, sources)
			for i := range clients {
				c, err := net.DialUDP(tc.client, nil, to)
				require.NoError(t, err)
				defer c.Close()
				clients[i] = c
			}
			for i, c := range clients {
				_, err := c.Write(record.ClientHelloDatagram{Sequence: uint64(1000 + i)}.Bytes())
				require.NoError(t, err)
			}
			buf := make([]byte, 2048)
			for i, c := range clients {
				require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
				n, err := c.Read(buf)
				require.NoError(t, err, "source %d answered", i)
				require.True(t, isHelloVerifyRequest(buf[:n]), "source %d got a HelloVerifyRequest", i)
				h, _, err := record.FirstDTLSHandshake(buf[:n])
				require.NoError(t, err)
				assert.EqualValues(t, 1000+i, h.Sequence, "source %d got its own answer", i)
			}
			quiet := time.Now().Add(50 * time.Millisecond)
			for i, c := range clients {
				require.NoError(t, c.SetReadDeadline(quiet))
				_, err := c.Read(buf)
				require.Error(t, err, "source %d got one answer only", i)
			}
			st := l.Stats()
			assert.EqualValues(t, sources, st.CookiesSent)
			assert.Zero(t, st.DatagramsDropped)
		})
	}
}

// A datagram longer than a batch slot (2 KiB) and within what a
// connection takes (32 KiB) is served whole: a ClientHello padded to 4000
// bytes, as a jumbo-frame client might send, is answered, alone or in a
// burst of them. A datagram longer than 32 KiB is dropped and counted, as
// it was before batching.
func TestLongClientHello(t *testing.T) {
	for _, network := range []string{"udp4", "udp6"} {
		t.Run(network, func(t *testing.T) {
			address := "127.0.0.1:0"
			if network == "udp6" {
				address = "[::1]:0"
			}
			l := listenOn(t, network, address)
			c, err := net.DialUDP(network, nil, l.Addr().(*net.UDPAddr))
			require.NoError(t, err)
			defer c.Close()
			long := paddedClientHello(t, 4000)
			buf := make([]byte, 2048)
			answered := func(what string) {
				t.Helper()
				require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
				n, err := c.Read(buf)
				require.NoError(t, err, what)
				require.True(t, isHelloVerifyRequest(buf[:n]), what)
			}
			_, err = c.Write(long)
			require.NoError(t, err)
			answered("a 4000-byte ClientHello")

			// Short ones, then long ones among short ones: a long one can
			// be lost only when another long one follows it in the same
			// read (batch_linux.go; how many share a read depends on the
			// reader's timing), and every loss is counted.
			const burst = 40
			short := forgedClientHello(nil)
			for range burst {
				_, err = c.Write(short)
				require.NoError(t, err)
			}
			for i := range burst {
				d := short
				if i%4 == 0 {
					d = long
				}
				_, err = c.Write(d)
				require.NoError(t, err)
			}
			got := 0
			for {
				require.NoError(t, c.SetReadDeadline(time.Now().Add(500*time.Millisecond)))
				if _, err := c.Read(buf); err != nil {
					break
				}
				got++
			}
			st := l.Stats()
			t.Logf("%d of %d answered; %+v", got, 2*burst, st)
			assert.EqualValues(t, 2*burst, got+int(st.DatagramsDropped), "each either answered or counted")
			assert.Less(t, int(st.DatagramsDropped), burst/4, "the last long one of a read is never lost")

			dropped := st.DatagramsDropped
			_, err = c.Write(make([]byte, 40<<10))
			require.NoError(t, err)
			require.Eventually(t, func() bool { return l.Stats().DatagramsDropped == dropped+1 },
				5*time.Second, time.Millisecond, "a 40 KiB datagram is dropped and counted")
			_, err = c.Write(short)
			require.NoError(t, err)
			answered("a short ClientHello after the drop")
		})
	}
}

// paddedClientHello returns a forged ClientHello in one datagram of size
// bytes.
func paddedClientHello(t *testing.T, size int) []byte {
	t.Helper()
	d, err := record.EditDTLSClientHello(forgedClientHello(nil), func(ch *record.ClientHello) {
		require.True(t, ch.PadTo(size))
	})
	require.NoError(t, err)
	require.Len(t, d, size)
	return d
}

// Close ends a reader blocked waiting for datagrams (with no connection
// left, the socket closes and the loop returns).
func TestCloseEndsBlockedRead(t *testing.T) {
	for _, readers := range []int{1, 2} {
		cfg := newPKI(t).serverConfig()
		cfg.Readers = readers
		l, err := dtls.Listen("udp", "127.0.0.1:0", cfg)
		if err != nil && readers > 1 {
			t.Skipf("Config.Readers: %v", err)
		}
		require.NoError(t, err)
		// Answered once: the loop is past its first read, and blocked in
		// the next.
		c, err := net.DialUDP("udp", nil, l.Addr().(*net.UDPAddr))
		require.NoError(t, err)
		_, err = c.Write(forgedClientHello(nil))
		require.NoError(t, err)
		require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
		_, err = c.Read(make([]byte, 2048))
		require.NoError(t, err)
		c.Close()
		time.Sleep(10 * time.Millisecond)
		require.NoError(t, l.Close())
		done := make(chan struct{})
		go func() { dtls.AwaitShutdown(l); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("readers=%d: the read loop did not end on Close", readers)
		}
	}
}
