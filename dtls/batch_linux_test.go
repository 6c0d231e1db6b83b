//go:build linux

package dtls

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl"
	"github.com/openssl-stateless/openssl/internal/record"
)

// batchOn returns a socket on address and its batch state, or skips when
// the system has no such address.
func batchOn(t *testing.T, network, address string) (*net.UDPConn, *batch) {
	t.Helper()
	udp, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(address)))
	if err != nil {
		t.Skipf("no %s socket on %s here: %v", network, address, err)
	}
	t.Cleanup(func() { udp.Close() })
	b := newBatch(udp, 0)
	require.NotNil(t, b)
	return udp, b
}

// readAll reads with b until want datagrams came, or fails after a second
// without any.
func readAll(t *testing.T, udp *net.UDPConn, b *batch, want int, f func(d []byte, from netip.AddrPort, ok bool)) (reads int) {
	t.Helper()
	for got := 0; got < want; reads++ {
		require.NoError(t, udp.SetReadDeadline(time.Now().Add(time.Second)))
		n, err := b.read()
		require.NoError(t, err, "%d of %d read", got, want)
		for i := range n {
			f(b.datagram(i))
		}
		got += n
	}
	return reads
}

// Sources decode as net.UDPConn's ReadFromUDPAddrPort gives them, unmapped:
// IPv4, IPv6, and IPv4 on a dual-stack socket.
func TestBatchSources(t *testing.T) {
	for _, tc := range []struct{ name, network, address, client, to string }{
		{"ipv4", "udp4", "127.0.0.1:0", "udp4", "127.0.0.1"},
		{"ipv6", "udp6", "[::1]:0", "udp6", "::1"},
		{"ipv4 on dual-stack", "udp", "[::]:0", "udp4", "127.0.0.1"},
		{"ipv6 on dual-stack", "udp", "[::]:0", "udp6", "::1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			udp, b := batchOn(t, tc.network, tc.address)
			to := netip.AddrPortFrom(netip.MustParseAddr(tc.to), udp.LocalAddr().(*net.UDPAddr).AddrPort().Port())
			const senders = 2*batchSize + 3
			want := map[netip.AddrPort]string{}
			for i := range senders {
				c, err := net.DialUDP(tc.client, nil, net.UDPAddrFromAddrPort(to))
				require.NoError(t, err)
				defer c.Close()
				msg := string(bytes.Repeat([]byte{byte('a' + i%26)}, 1+i))
				_, err = c.Write([]byte(msg))
				require.NoError(t, err)
				want[c.LocalAddr().(*net.UDPAddr).AddrPort()] = msg
			}
			got := map[netip.AddrPort]string{}
			reads := readAll(t, udp, b, senders, func(d []byte, from netip.AddrPort, ok bool) {
				require.True(t, ok)
				got[from] = string(d)
			})
			assert.Equal(t, want, got)
			assert.Less(t, reads, senders, "datagrams were read in batches")
		})
	}
}

// A datagram longer than its slot is whole unless a later one of the same
// read was long too; the earlier one is then dropped, and the next
// singleReads reads take one datagram each, whatever comes. A long
// datagram that loses nothing leaves the reader batching: otherwise one
// long datagram now and then would hold it to one datagram per read.
// Longer than bioBuffer is dropped.
func TestBatchLongDatagrams(t *testing.T) {
	udp, b := batchOn(t, "udp4", "127.0.0.1:0")
	c, err := net.DialUDP("udp4", nil, udp.LocalAddr().(*net.UDPAddr))
	require.NoError(t, err)
	defer c.Close()
	dgram := func(size int, fill byte) []byte { return bytes.Repeat([]byte{fill}, size) }
	send := func(ds ...[]byte) {
		t.Helper()
		for _, d := range ds {
			_, err := c.Write(d)
			require.NoError(t, err)
		}
	}
	// read reads once (loopback delivers a datagram before the write
	// returns, so all that was sent is there) and returns what survived,
	// nil for a dropped one.
	read := func() [][]byte {
		t.Helper()
		require.NoError(t, udp.SetReadDeadline(time.Now().Add(time.Second)))
		n, err := b.read()
		require.NoError(t, err)
		var out [][]byte
		for i := range n {
			d, _, ok := b.datagram(i)
			if ok {
				out = append(out, bytes.Clone(d))
			} else {
				out = append(out, nil)
			}
		}
		return out
	}

	send(dgram(100, 0), dgram(4000, 1), dgram(100, 2), dgram(100, 3))
	assert.Equal(t, [][]byte{dgram(100, 0), dgram(4000, 1), dgram(100, 2), dgram(100, 3)}, read(),
		"one long datagram in a read: whole")
	send(dgram(10, 0), dgram(10, 1), dgram(10, 2))
	assert.Len(t, read(), 3, "and the reader batches on")
	require.Zero(t, b.single)

	send(dgram(100, 0), dgram(4000, 1), dgram(100, 2), dgram(5000, 3), dgram(minSlot, 4))
	assert.Equal(t, [][]byte{dgram(100, 0), nil, dgram(100, 2), dgram(5000, 3), dgram(minSlot, 4)}, read(),
		"the first long one was overwritten by the second")
	assert.Equal(t, singleReads, b.single, "a loss: single reads")

	send(dgram(6000, 5), dgram(bioBuffer, 6), dgram(bioBuffer+1, 7), dgram(100, 8))
	assert.Equal(t, [][]byte{dgram(6000, 5)}, read(), "one at a time after a loss")
	assert.Equal(t, [][]byte{dgram(bioBuffer, 6)}, read())
	assert.Equal(t, [][]byte{nil}, read(), "longer than bioBuffer: dropped")
	assert.Equal(t, [][]byte{dgram(100, 8)}, read())

	for i := range singleReads - 4 { // queued all at once: each single read takes one
		send(dgram(10, byte(i)))
	}
	for i := range singleReads - 4 {
		assert.Len(t, read(), 1, "single read %d of %d", 5+i, singleReads)
	}
	send(dgram(10, 0), dgram(10, 1), dgram(10, 2))
	assert.Len(t, read(), 3, "after singleReads reads: batches again")
	assert.Zero(t, b.single)
}

// Replies reach their peers: IPv4 and IPv6 ones from a dual-stack socket,
// more than fit one sendmmsg, and past one whose send fails. A zone, or
// IPv6 on an IPv4 socket, is left to the caller.
func TestBatchReplies(t *testing.T) {
	_, b := batchOn(t, "udp", "[::]:0")

	peer4, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer peer4.Close()
	peers := []*net.UDPConn{peer4}
	if peer6, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback}); err == nil {
		defer peer6.Close()
		peers = append(peers, peer6)
	}
	q := &b.out
	queue := func(to netip.AddrPort, msg string) bool {
		buf := q.next()
		return q.commit(copy(buf, msg), to)
	}
	const each = batchSize + 5 // the queue fills and flushes on its own
	for i := range each {
		// Port 0 cannot be sent to: sendmmsg stops there, and the rest
		// go on.
		if i%10 == 3 {
			require.True(t, queue(netip.MustParseAddrPort("127.0.0.1:0"), "lost"))
		}
		for j, p := range peers {
			require.True(t, queue(p.LocalAddr().(*net.UDPAddr).AddrPort(), string(rune('A'+j))+string(rune('a'+i%26))))
		}
	}
	q.flush()
	buf := make([]byte, 64)
	for j, p := range peers {
		for i := range each {
			require.NoError(t, p.SetReadDeadline(time.Now().Add(time.Second)))
			n, err := p.Read(buf)
			require.NoError(t, err, "peer %d, reply %d", j, i)
			assert.Equal(t, string(rune('A'+j))+string(rune('a'+i%26)), string(buf[:n]), "in order")
		}
	}

	assert.False(t, queue(netip.MustParseAddrPort("[fe80::1%lo]:1"), "x"), "a zone needs the caller's send")
	_, b4 := batchOn(t, "udp4", "127.0.0.1:0")
	q = &b4.out
	assert.False(t, queue(netip.MustParseAddrPort("[::1]:1"), "x"), "IPv6 on an IPv4 socket")
	assert.True(t, queue(netip.MustParseAddrPort("[::ffff:127.0.0.1]:1"), "x"), "mapped IPv4 on an IPv4 socket")
	q.flush()
}

// A batch of forged ClientHellos costs the reader's loop no allocation:
// read, routed, answered through DTLSv1_listen into the replies' buffers,
// sent.
func TestBatchLoopAllocatesNothing(t *testing.T) {
	r := bareReader(t)
	l := r.ln
	udp, b := batchOn(t, "udp4", "127.0.0.1:0")
	r.udp, r.pc, l.pc = udp, udp, udp
	signer, err := openssl.NewCookieSigner(nil, 0)
	require.NoError(t, err)
	require.NoError(t, signer.Install(l.sslCtx))
	require.True(t, r.listening())
	t.Cleanup(func() { r.lssl.Close() })
	c, err := net.DialUDP("udp4", nil, udp.LocalAddr().(*net.UDPAddr))
	require.NoError(t, err)
	defer c.Close()
	hello := record.ClientHelloDatagram{}.Bytes()
	buf := make([]byte, 2048)
	reads := 0
	allocs := testing.AllocsPerRun(50, func() {
		for range batchSize {
			if _, err := c.Write(hello); err != nil {
				panic(err)
			}
		}
		for answered := 0; answered < batchSize; {
			before := l.cookiesSent.Load()
			if err := r.readBatch(b); err != nil {
				panic(err)
			}
			reads++
			answered += int(l.cookiesSent.Load() - before)
		}
		for range batchSize {
			if _, err := c.Read(buf); err != nil {
				panic(err)
			}
		}
	})
	assert.Zero(t, allocs, "per batch of %d", batchSize)
	assert.EqualValues(t, 51*batchSize, l.cookiesSent.Load(), "every one answered")
	assert.Zero(t, l.datagramsDropped.Load())
	assert.Less(t, reads, 51*batchSize/2, "read in batches")
}

// A Listener whose MTU is larger than minSlot gets slots of its MTU: the
// datagrams of peers with the same MTU all fit a slot, and several of them
// in one read all arrive whole.
func TestBatchSlotsFitTheMTU(t *testing.T) {
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer udp.Close()
	b := newBatch(udp, 9000)
	require.NotNil(t, b)
	assert.Equal(t, 9000, b.slot)
	c, err := net.DialUDP("udp4", nil, udp.LocalAddr().(*net.UDPAddr))
	require.NoError(t, err)
	defer c.Close()
	var want [][]byte
	for i := range 4 {
		d := bytes.Repeat([]byte{byte(i + 1)}, 8000+i)
		want = append(want, d)
		_, err := c.Write(d)
		require.NoError(t, err)
	}
	var got [][]byte
	readAll(t, udp, b, len(want), func(d []byte, _ netip.AddrPort, ok bool) {
		require.True(t, ok, "no datagram of the MTU is dropped")
		got = append(got, bytes.Clone(d))
	})
	assert.Equal(t, want, got)
}
