package tests

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl/internal/record"
)

// helloVerifyCookie parses a datagram that opens with a HelloVerifyRequest
// and returns its cookie.
func helloVerifyCookie(dgram []byte) ([]byte, error) {
	h, m, err := record.FirstDTLSHandshake(dgram)
	if err != nil {
		return nil, fmt.Errorf("datagram of %d bytes: %w", len(dgram), err)
	}
	if h.Epoch != 0 || m.Type != record.TypeHelloVerifyRequest || m.IsFragment() {
		return nil, fmt.Errorf("%v (epoch %d, fragment %v), want a whole HelloVerifyRequest", m.Type, h.Epoch, m.IsFragment())
	}
	hv, err := record.ParseHelloVerifyRequest(m.Body)
	if err != nil {
		return nil, fmt.Errorf("HelloVerifyRequest: %w", err)
	}
	return hv.Cookie, nil
}

// cookieSniffer is a PacketConn that notes the cookie of the first
// HelloVerifyRequest it reads.
type cookieSniffer struct {
	net.PacketConn
	mu     sync.Mutex
	cookie []byte // nil until a HelloVerifyRequest arrived
}

func (c *cookieSniffer) ReadFrom(p []byte) (int, net.Addr, error) {
	n, a, err := c.PacketConn.ReadFrom(p)
	if err == nil {
		if cookie, herr := helloVerifyCookie(p[:n]); herr == nil {
			c.mu.Lock()
			if c.cookie == nil {
				c.cookie = append([]byte{}, cookie...)
			}
			c.mu.Unlock()
		}
	}
	return n, a, err
}

// firstCookie returns the cookie of the first HelloVerifyRequest read, and
// whether one was.
func (c *cookieSniffer) firstCookie() ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cookie, c.cookie != nil
}

// lossyRelay forwards UDP datagrams between one client and a server, and
// drops the server's first datagram: a real loss on a real path, for the
// retransmission timers to recover from.
type lossyRelay struct {
	front *net.UDPConn // the client sends here
	back  *net.UDPConn // connected to the server
	wg    sync.WaitGroup

	mu      sync.Mutex
	client  *net.UDPAddr
	dropped []byte // the server's first datagram, which was not delivered
}

func newLossyRelay(t *testing.T, server netip.AddrPort) *lossyRelay {
	t.Helper()
	front, err := net.ListenUDP("udp", &net.UDPAddr{IP: server.Addr().AsSlice()})
	require.NoError(t, err)
	back, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(server))
	if err != nil {
		front.Close()
		require.NoError(t, err)
	}
	r := &lossyRelay{front: front, back: back}
	r.wg.Add(2)
	go func() { // client -> server
		defer r.wg.Done()
		buf := make([]byte, 1<<16)
		for {
			n, from, err := front.ReadFromUDP(buf)
			if err != nil {
				return
			}
			r.mu.Lock()
			r.client = from
			r.mu.Unlock()
			_, _ = back.Write(buf[:n])
		}
	}()
	go func() { // server -> client, the first datagram lost
		defer r.wg.Done()
		buf := make([]byte, 1<<16)
		for {
			n, err := back.Read(buf)
			if err != nil {
				return
			}
			r.mu.Lock()
			client, first := r.client, r.dropped == nil
			if first {
				r.dropped = append([]byte(nil), buf[:n]...)
			}
			r.mu.Unlock()
			if !first && client != nil {
				_, _ = front.WriteToUDP(buf[:n], client)
			}
		}
	}()
	t.Cleanup(func() {
		front.Close()
		back.Close()
		r.wg.Wait()
	})
	return r
}

// addr is where the client should send.
func (r *lossyRelay) addr() netip.AddrPort { return r.front.LocalAddr().(*net.UDPAddr).AddrPort() }

// droppedDatagram returns the datagram the relay did not deliver, if any.
func (r *lossyRelay) droppedDatagram() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dropped
}
