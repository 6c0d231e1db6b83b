package tests

// Forged source addresses for real (issue 10): a dtls.Listener in one
// network namespace, an attacker in another, a veth pair between them. The
// attacker writes whole IPv4 packets on a raw socket, source addresses
// forged from a subnet that the server's namespace routes back over the
// veth, so the Listener's answers travel to the attacker's namespace, where
// they are caught. Run it alone with
//
//	go test -race -run TestForgedSourcesAcrossNamespaces -v ./tests/
//
// It needs root (network namespaces) and iproute2, which .ci/run installs;
// elsewhere it skips, saying why.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl"
	"github.com/openssl-stateless/openssl/dtls"
	"github.com/openssl-stateless/openssl/internal/record"
)

// The addresses, from the benchmarking block 198.18.0.0/15 (RFC 2544),
// which nothing routes: the veth link, and the subnet the attacker forges
// sources from.
var (
	spoofServerIP   = netip.MustParseAddr("198.18.0.1")
	spoofAttackerIP = netip.MustParseAddr("198.18.0.2")
	spoofForged     = netip.MustParsePrefix("198.19.0.0/16")
	// spoofCorrupt is the source of the one ClientHello sent with a wrong
	// UDP checksum; the flood forges every address of spoofForged before
	// it.
	spoofCorrupt = netip.MustParseAddr("198.19.255.254")
)

const (
	// spoofMinForged is how many forged ClientHellos the flood sends at
	// least, each from a source of its own; it goes on until the real
	// client is done, up to the subnet's size.
	spoofMinForged = 10000
	// spoofWindow bounds the forged ClientHellos not yet answered: the
	// flood runs as fast as the Listener answers, without overrunning a
	// socket buffer, so that every one must be answered.
	spoofWindow = 64
)

// TestForgedSourcesAcrossNamespaces floods a Listener with ClientHellos
// from thousands of forged source addresses, over a raw socket in another
// network namespace, and checks that every HelloVerifyRequest goes to the
// forged source it answers, carries a cookie bound to that source, and is
// no larger than the ClientHello that caused it; that the Listener keeps
// nothing for them; and that a real client in the attacker's namespace
// completes its handshake and echoes while the flood runs.
func TestForgedSourcesAcrossNamespaces(t *testing.T) {
	checkGoroutines(t)
	srv := newNetns(t, "srv")
	atk := newNetns(t, "atk")
	id := strings.TrimPrefix(srv.name, "dtls-srv-") // pid-counter
	vethSrv, vethAtk := "vs"+id, "va"+id
	srv.ip(t, "link", "add", vethSrv, "type", "veth", "peer", "name", vethAtk, "netns", atk.name)
	srv.ip(t, "addr", "add", spoofServerIP.String()+"/24", "dev", vethSrv)
	atk.ip(t, "addr", "add", spoofAttackerIP.String()+"/24", "dev", vethAtk)
	srv.ip(t, "link", "set", vethSrv, "up")
	atk.ip(t, "link", "set", vethAtk, "up")
	// The server answers the forged subnet through the attacker; the
	// attacker's namespace takes every address of it as its own, so that
	// a UDP socket bound to 0.0.0.0 receives what is sent to any of them.
	srv.ip(t, "route", "add", spoofForged.String(), "via", spoofAttackerIP.String())
	atk.ip(t, "route", "add", "local", spoofForged.String(), "dev", "lo")

	// The server: a Listener on a socket made in its namespace, with a
	// CookieSigner of ours to check the cookies with, accepting and
	// echoing.
	p := newPKI(t)
	signer, err := openssl.NewCookieSigner(nil, 0)
	require.NoError(t, err)
	scfg := p.serverConfig()
	scfg.CookieSigner = signer
	var spc *net.UDPConn
	require.NoError(t, srv.do(func() (err error) {
		spc, err = net.ListenUDP("udp4", &net.UDPAddr{IP: spoofServerIP.AsSlice()})
		return err
	}))
	l, err := dtls.NewListener(spc, scfg)
	if err != nil {
		spc.Close()
		require.NoError(t, err)
	}
	acceptAndEcho(t, l)
	server := l.Addr().(*net.UDPAddr).AddrPort()

	// The attacker: a raw socket to forge with, and a UDP socket to catch
	// the answers, whose port is the forged sources' port.
	var raw int
	require.NoError(t, atk.do(func() (err error) {
		raw, err = newRawIPv4Socket()
		return err
	}))
	t.Cleanup(func() { syscall.Close(raw) })
	var catch *net.UDPConn
	require.NoError(t, atk.do(func() (err error) {
		catch, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4zero})
		return err
	}))
	cc := newCatcher(t, catch, server, signer)
	port := cc.port

	udpBefore, err := srv.snmpCounters("Udp")
	require.NoError(t, err)
	stBefore := l.Stats()

	// The flood.
	var (
		sent, badCookies, maxPeers atomic.Int64
		clientDone, exhausted      atomic.Bool
		floodErr                   error
	)
	started, stop, floodDone := make(chan struct{}), make(chan struct{}), make(chan struct{})
	floodStart := time.Now()
	var floodTime time.Duration
	go func() {
		defer close(floodDone)
		defer func() { floodTime = time.Since(floodStart) }()
		last := spoofForged.Masked().Addr()
		bogus := make([]byte, 21) // a cookie's length, not a cookie
		for i := 0; ; i++ {
			if i >= spoofMinForged && clientDone.Load() {
				return
			}
			src := last.Next()
			if src == spoofCorrupt {
				exhausted.Store(true)
				return
			}
			last = src
			ch := record.ClientHelloDatagram{}
			if i%2 == 1 {
				_, _ = rand.Read(bogus)
				ch.Cookie = bogus
				badCookies.Add(1)
			}
			hello := ch.Bytes()
			select {
			case <-cc.credits:
			case <-stop:
				return
			}
			cc.expect(src, len(hello))
			pkt := ipv4UDPPacket(netip.AddrPortFrom(src, port), server, uint16(i), hello, false)
			if err := sendRaw(raw, pkt, server.Addr()); err != nil {
				floodErr = err
				return
			}
			if sent.Add(1) == spoofMinForged/10 {
				close(started)
			}
			if i%16 == 0 {
				maxPeers.Store(max(maxPeers.Load(), int64(l.PeerCount())))
			}
		}
	}()
	t.Cleanup(func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		<-floodDone
	})

	// The real client, in the attacker's namespace, during the flood.
	select {
	case <-started:
	case <-floodDone:
		require.NoError(t, floodErr)
		t.Fatalf("the flood ended after %d ClientHellos, before the real client started", sent.Load())
	}
	var cpc *net.UDPConn
	require.NoError(t, atk.do(func() (err error) {
		cpc, err = net.ListenUDP("udp4", &net.UDPAddr{IP: spoofAttackerIP.AsSlice()})
		return err
	}))
	c, err := dtls.Client(cpc, net.UDPAddrFromAddrPort(server), p.clientConfig("localhost"))
	if err != nil {
		cpc.Close()
		require.NoError(t, err)
	}
	t.Cleanup(func() { c.Close() })
	sentAtDial := sent.Load()
	hsStart := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	err = c.HandshakeContext(ctx)
	cancel()
	require.NoError(t, err, "the real client's handshake during the flood")
	hsTime := time.Since(hsStart)
	sentAtHandshake := sent.Load()
	// Each echo waits for more of the flood to have gone out since the
	// last, so that forged ClientHellos arrive between the records.
	buf := make([]byte, 2048)
	for i := 0; i < 3; i++ {
		waitFor := sent.Load() + spoofWindow
		for deadline := time.Now().Add(5 * time.Second); sent.Load() < waitFor; time.Sleep(time.Millisecond) {
			require.True(t, time.Now().Before(deadline), "the flood stalled at %d ClientHellos", sent.Load())
		}
		msg := fmt.Appendf(nil, "through the forged flood %d", i)
		_, err := c.Write(msg)
		require.NoError(t, err)
		require.NoError(t, c.SetReadDeadline(time.Now().Add(3*time.Second)))
		n, err := c.Read(buf)
		require.NoError(t, err, "echo %d", i)
		require.Equal(t, msg, buf[:n], "echo %d", i)
	}
	sentAtEcho := sent.Load()
	require.NoError(t, c.Close())
	clientDone.Store(true)

	<-floodDone
	require.NoError(t, floodErr)
	require.False(t, exhausted.Load(), "the flood ran out of forged sources in %v before the real client was done", spoofForged)
	total := sent.Load()

	// One more, with a wrong UDP checksum, which the server's kernel must
	// drop: the checksums of the others were right, since they were
	// answered.
	cc.expectNoAnswer(spoofCorrupt)
	hello := record.ClientHelloDatagram{}.Bytes()
	require.NoError(t, sendRaw(raw, ipv4UDPPacket(netip.AddrPortFrom(spoofCorrupt, port), server, 0, hello, true), server.Addr()))

	require.Eventually(t, func() bool { return cc.answeredCount() == int(total) }, 5*time.Second, 10*time.Millisecond,
		"every forged source is answered")
	var udpAfter map[string]uint64
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		udpAfter, err = srv.snmpCounters("Udp")
		require.NoError(t, err)
		if udpAfter["InCsumErrors"] > udpBefore["InCsumErrors"] {
			break
		}
		require.True(t, time.Now().Before(deadline), "the server's kernel never counted the datagram with the wrong checksum: Udp %v", udpAfter)
	}
	require.Eventually(t, func() bool { return l.PeerCount() == 0 }, 5*time.Second, 10*time.Millisecond,
		"nothing is kept once the real client has gone")
	cc.stop()

	// The answers.
	r := cc.report()
	for _, pr := range r.problems {
		t.Error(pr)
	}
	assert.Equal(t, int(total), r.answered, "forged sources answered, of %d", total)
	assert.Zero(t, r.duplicates, "forged sources answered more than once")
	assert.Zero(t, r.stray, "answers to addresses that were not forged")
	assert.Zero(t, r.notHVR, "answers that are not a HelloVerifyRequest")
	assert.Zero(t, r.larger, "answers larger than their ClientHello")
	assert.Zero(t, r.unbound, "cookies not bound to their forged source")
	assert.False(t, r.corruptAnswered, "the ClientHello with a wrong checksum was answered")
	assert.Equal(t, uint64(1), udpAfter["InCsumErrors"]-udpBefore["InCsumErrors"], "UDP checksum errors in the server's namespace")

	// What the Listener kept and counted.
	st := l.Stats()
	assert.LessOrEqual(t, maxPeers.Load(), int64(1), "PeerCount during the flood: the real client at most")
	assert.Equal(t, 0, l.PeerCount())
	assert.GreaterOrEqual(t, st.CookiesSent-stBefore.CookiesSent, uint64(total)+1, "a HelloVerifyRequest per forged ClientHello, and the real client's")
	assert.Equal(t, uint64(badCookies.Load()), st.CookiesRejected-stBefore.CookiesRejected, "the forged cookies, each rejected")
	assert.Equal(t, uint64(1), st.CookiesVerified, "only the real client's cookie verified")
	assert.Equal(t, uint64(1), st.HandshakesCompleted)
	assert.Zero(t, st.HandshakesRefused)
	if sentAtHandshake == sentAtDial {
		// A handshake of a few milliseconds can fall between two of the
		// flood goroutine's time slices on a loaded machine (seen in a
		// checkptr run): the echoes below are what must interleave.
		t.Logf("no forged ClientHello went out during the real client's %v handshake", hsTime)
	}
	assert.GreaterOrEqual(t, sentAtEcho-sentAtHandshake, int64(3*spoofWindow), "forged ClientHellos went out between the echoes")

	t.Logf("forged: %d ClientHellos from %d sources in %v (%.0f/s), %d of them with a forged cookie; window %d",
		total, total, floodTime.Round(time.Millisecond), float64(total)/floodTime.Seconds(), badCookies.Load(), spoofWindow)
	t.Logf("answered: %d HelloVerifyRequests to forged sources in %v port %d; %d stray, %d twice, %d not a HelloVerifyRequest, %d cookies not bound to their source",
		r.answered, spoofForged, port, r.stray, r.duplicates, r.notHVR, r.unbound)
	t.Logf("sizes (UDP payload, +28 bytes of IPv4 and UDP headers each): ClientHello %d..%d bytes, HelloVerifyRequest %d..%d bytes, %d larger than its ClientHello; %d bytes in, %d out (%.2fx)",
		r.minHello, r.maxHello, r.minReply, r.maxReply, r.larger, r.helloBytes, r.replyBytes, float64(r.replyBytes)/float64(r.helloBytes))
	t.Logf("real client: handshake in %v while %d forged ClientHellos were sent, echo done %d ClientHellos later",
		hsTime.Round(time.Microsecond), sentAtHandshake-sentAtDial, sentAtEcho-sentAtHandshake)
	t.Logf("server namespace, Udp: InDatagrams +%d, InCsumErrors +%d, RcvbufErrors +%d, OutDatagrams +%d",
		udpAfter["InDatagrams"]-udpBefore["InDatagrams"], udpAfter["InCsumErrors"]-udpBefore["InCsumErrors"],
		udpAfter["RcvbufErrors"]-udpBefore["RcvbufErrors"], udpAfter["OutDatagrams"]-udpBefore["OutDatagrams"])
	t.Logf("listener: PeerCount at most %d during the flood, %d after; stats %+v", maxPeers.Load(), l.PeerCount(), st)
}

// acceptAndEcho accepts l's connections and echoes each record back, until
// l is closed. In t.Cleanup it closes l and the connections and waits for
// every goroutine it started.
func acceptAndEcho(t *testing.T, l *dtls.Listener) {
	t.Helper()
	var (
		mu      sync.Mutex
		conns   []net.Conn
		closing bool
		wg      sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			if closing {
				mu.Unlock()
				c.Close()
				continue
			}
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				buf := make([]byte, 1<<16)
				for {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					if _, err := c.Write(buf[:n]); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		mu.Lock()
		closing = true
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
}

// catcher reads the Listener's answers in the attacker's namespace, on a
// UDP socket bound to 0.0.0.0 and the forged sources' port, with
// IP_PKTINFO giving each one's destination address: the forged source it
// answers. It hands the flood a credit per answer (spoofWindow in all).
type catcher struct {
	conn    *net.UDPConn
	port    uint16
	server  netip.AddrPort
	signer  *openssl.CookieSigner
	credits chan struct{}
	done    chan struct{}

	mu        sync.Mutex
	helloSize map[netip.Addr]int  // by forged source, before it is sent
	answered  map[netip.Addr]bool // by forged source
	corrupt   netip.Addr          // must not be answered
	r         catchReport
}

// catchReport is what a catcher saw.
type catchReport struct {
	answered, duplicates, stray, notHVR, larger, unbound int
	corruptAnswered                                      bool
	minHello, maxHello, minReply, maxReply               int
	helloBytes, replyBytes                               int
	problems                                             []string // the first few, in words
}

func newCatcher(t *testing.T, conn *net.UDPConn, server netip.AddrPort, signer *openssl.CookieSigner) *catcher {
	t.Helper()
	t.Cleanup(func() { conn.Close() })
	rc, err := conn.SyscallConn()
	require.NoError(t, err)
	var serr error
	require.NoError(t, rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, syscall.IP_PKTINFO, 1)
	}))
	require.NoError(t, serr, "IP_PKTINFO")
	require.NoError(t, conn.SetReadBuffer(1<<20))
	c := &catcher{
		conn:      conn,
		port:      conn.LocalAddr().(*net.UDPAddr).AddrPort().Port(),
		server:    server,
		signer:    signer,
		credits:   make(chan struct{}, spoofWindow),
		done:      make(chan struct{}),
		helloSize: make(map[netip.Addr]int),
		answered:  make(map[netip.Addr]bool),
	}
	for i := 0; i < spoofWindow; i++ {
		c.credits <- struct{}{}
	}
	go c.loop()
	t.Cleanup(c.stop)
	return c
}

// expect notes that a ClientHello of size bytes is about to be sent from
// src.
func (c *catcher) expect(src netip.Addr, size int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.helloSize[src] = size
	c.r.helloBytes += size
	if c.r.minHello == 0 || size < c.r.minHello {
		c.r.minHello = size
	}
	c.r.maxHello = max(c.r.maxHello, size)
}

// expectNoAnswer notes a source that must not be answered.
func (c *catcher) expectNoAnswer(src netip.Addr) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corrupt = src
}

func (c *catcher) answeredCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.r.answered
}

// stop closes the socket and waits for the loop; it may be called twice.
func (c *catcher) stop() {
	c.conn.Close()
	<-c.done
}

func (c *catcher) report() catchReport {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.r
	r.problems = append([]string(nil), c.r.problems...)
	return r
}

func (c *catcher) loop() {
	defer close(c.done)
	buf := make([]byte, 1<<16)
	oob := make([]byte, syscall.CmsgSpace(syscall.SizeofInet4Pktinfo))
	for {
		n, oobn, _, from, err := c.conn.ReadMsgUDPAddrPort(buf, oob)
		if err != nil {
			return // closed
		}
		dst, ok := pktinfoDst(oob[:oobn])
		c.note(buf[:n], from, dst, ok)
		select {
		case c.credits <- struct{}{}:
		default:
		}
	}
}

// note checks one answer, to dst, from from.
func (c *catcher) note(d []byte, from netip.AddrPort, dst netip.Addr, haveDst bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	problem := func(format string, args ...any) {
		if len(c.r.problems) < 10 {
			c.r.problems = append(c.r.problems, fmt.Sprintf(format, args...))
		}
	}
	switch {
	case !haveDst:
		c.r.stray++
		problem("an answer of %d bytes from %v without IP_PKTINFO", len(d), from)
		return
	case from.Addr().Unmap() != c.server.Addr() || from.Port() != c.server.Port():
		c.r.stray++
		problem("an answer to %v from %v, not from the server %v", dst, from, c.server)
		return
	case dst == c.corrupt:
		c.r.corruptAnswered = true
		return
	}
	size, sent := c.helloSize[dst]
	if !sent {
		c.r.stray++
		problem("an answer of %d bytes to %v, which sent nothing", len(d), dst)
		return
	}
	if c.answered[dst] {
		c.r.duplicates++
		problem("a second answer to %v", dst)
		return
	}
	c.answered[dst] = true
	c.r.answered++
	c.r.replyBytes += len(d)
	if c.r.minReply == 0 || len(d) < c.r.minReply {
		c.r.minReply = len(d)
	}
	c.r.maxReply = max(c.r.maxReply, len(d))
	if len(d) > size {
		c.r.larger++
		problem("an answer of %d bytes to %v, whose ClientHello had %d", len(d), dst, size)
	}
	cookie, err := helloVerifyCookie(d)
	if err != nil {
		c.r.notHVR++
		problem("the answer to %v: %v", dst, err)
		return
	}
	src := netip.AddrPortFrom(dst, c.port)
	other := netip.AddrPortFrom(dst.Next(), c.port)
	if !c.signer.Verify(cookie, src) || c.signer.Verify(cookie, other) {
		c.r.unbound++
		problem("the cookie sent to %v (% x) is not bound to it", src, cookie)
	}
}

// pktinfoDst returns the destination address an IP_PKTINFO control message
// gives (struct in_pktinfo's ipi_addr).
func pktinfoDst(oob []byte) (netip.Addr, bool) {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return netip.Addr{}, false
	}
	for _, m := range msgs {
		if m.Header.Level == syscall.IPPROTO_IP && m.Header.Type == syscall.IP_PKTINFO && len(m.Data) >= syscall.SizeofInet4Pktinfo {
			return netip.AddrFrom4([4]byte(m.Data[8:12])), true
		}
	}
	return netip.Addr{}, false
}

// newRawIPv4Socket returns a raw IPv4 socket that sends whole packets, IP
// header included (IPPROTO_RAW implies IP_HDRINCL; it is set anyway, to
// say so). It receives nothing.
func newRawIPv4Socket() (int, error) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, syscall.IPPROTO_RAW)
	if err != nil {
		return -1, fmt.Errorf("raw socket: %w", err)
	}
	if err := syscall.SetsockoptInt(fd, syscall.IPPROTO_IP, syscall.IP_HDRINCL, 1); err != nil {
		syscall.Close(fd)
		return -1, fmt.Errorf("IP_HDRINCL: %w", err)
	}
	return fd, nil
}

// sendRaw sends a whole IPv4 packet to dst on a raw socket.
func sendRaw(fd int, pkt []byte, dst netip.Addr) error {
	if err := syscall.Sendto(fd, pkt, 0, &syscall.SockaddrInet4{Addr: dst.As4()}); err != nil {
		return os.NewSyscallError("sendto", err)
	}
	return nil
}

// ipv4UDPPacket builds an IPv4 packet (20-byte header, don't fragment, TTL
// 64) carrying a UDP datagram from src to dst with payload, both checksums
// computed; with badChecksum the UDP checksum is wrong (and not zero,
// which would mean none).
func ipv4UDPPacket(src, dst netip.AddrPort, id uint16, payload []byte, badChecksum bool) []byte {
	const ipLen, udpLen = 20, 8
	pkt := make([]byte, ipLen+udpLen+len(payload))
	s, d := src.Addr().As4(), dst.Addr().As4()

	ip := pkt[:ipLen]
	ip[0] = 4<<4 | ipLen/4 // version, header length in words
	binary.BigEndian.PutUint16(ip[2:], uint16(len(pkt)))
	binary.BigEndian.PutUint16(ip[4:], id)
	binary.BigEndian.PutUint16(ip[6:], 0x4000) // DF, offset 0
	ip[8] = 64
	ip[9] = syscall.IPPROTO_UDP
	copy(ip[12:16], s[:])
	copy(ip[16:20], d[:])
	binary.BigEndian.PutUint16(ip[10:], inetChecksum(0, ip))

	udp := pkt[ipLen:]
	binary.BigEndian.PutUint16(udp[0:], src.Port())
	binary.BigEndian.PutUint16(udp[2:], dst.Port())
	binary.BigEndian.PutUint16(udp[4:], uint16(len(udp)))
	copy(udp[udpLen:], payload)
	// The pseudo-header: source, destination, zero, protocol, UDP length.
	var pseudo [12]byte
	copy(pseudo[0:4], s[:])
	copy(pseudo[4:8], d[:])
	pseudo[9] = syscall.IPPROTO_UDP
	binary.BigEndian.PutUint16(pseudo[10:], uint16(len(udp)))
	sum := inetChecksum(onesSum(0, pseudo[:]), udp)
	if sum == 0 {
		sum = 0xffff // zero means no checksum (RFC 768)
	}
	if badChecksum {
		if sum ^= 0x0f0f; sum == 0 { // wrong, but not "no checksum"
			sum = 0x1234
		}
	}
	binary.BigEndian.PutUint16(udp[6:], sum)
	return pkt
}

// onesSum adds b, as big-endian 16-bit words (the last one padded with a
// zero byte), to the running one's complement sum acc (RFC 1071).
func onesSum(acc uint32, b []byte) uint32 {
	for len(b) >= 2 {
		acc += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		acc += uint32(b[0]) << 8
	}
	for acc>>16 != 0 {
		acc = acc&0xffff + acc>>16
	}
	return acc
}

// inetChecksum is the Internet checksum of b, starting from the running
// sum acc: the one's complement of the one's complement sum.
func inetChecksum(acc uint32, b []byte) uint16 { return ^uint16(onesSum(acc, b)) }

// The checksum helpers against RFC 1071's example and a packet whose
// checksums, recomputed over it, come out as zero.
func TestInetChecksum(t *testing.T) {
	// RFC 1071, 3: the words 0001 f203 f4f5 f6f7 sum to ddf2.
	assert.Equal(t, uint32(0xddf2), onesSum(0, []byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}))
	src := netip.MustParseAddrPort("198.19.0.1:4433")
	dst := netip.MustParseAddrPort("198.18.0.1:5544")
	for _, payload := range [][]byte{nil, []byte("x"), bytes.Repeat([]byte{0xff}, 75)} {
		pkt := ipv4UDPPacket(src, dst, 7, payload, false)
		assert.Zero(t, inetChecksum(0, pkt[:20]), "IPv4 header of a %d-byte payload", len(payload))
		var pseudo [12]byte
		s, d := src.Addr().As4(), dst.Addr().As4()
		copy(pseudo[0:4], s[:])
		copy(pseudo[4:8], d[:])
		pseudo[9] = syscall.IPPROTO_UDP
		binary.BigEndian.PutUint16(pseudo[10:], uint16(len(pkt)-20))
		assert.Zero(t, inetChecksum(onesSum(0, pseudo[:]), pkt[20:]), "UDP checksum of a %d-byte payload", len(payload))
		bad := ipv4UDPPacket(src, dst, 7, payload, true)
		assert.NotZero(t, inetChecksum(onesSum(0, pseudo[:]), bad[20:]), "the bad UDP checksum of a %d-byte payload", len(payload))
	}
}
