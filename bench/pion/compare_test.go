package pion_test

// Exploratory flood benchmarks of our dtls.Listener and pion/dtls over
// loopback UDP, client and server in this one process: fresh sources, an
// open loop, the state kept per forged source. Their CPU figures are the
// whole process's, load generator included; the table of make bench
// (cmd/benchtable) measures each server in a process of its own instead.
// Every benchmark runs one fixed batch per invocation and states its
// figures per item; run with -benchtime=1x. To interleave the two
// implementations, run the test binary several times with -count=1 and
// BENCH_ROUND=1, 2, ...: its parity flips which goes first.

import (
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	piondtls "github.com/pion/dtls/v3"

	"github.com/openssl-stateless/openssl/dtls"
)

const (
	floodReuseTotal   = 50_000 // closed loop over 64 long-lived sources
	floodReuseSockets = 64
	floodFreshTotal   = 20_000 // closed loop, every ClientHello from a new source
	freshChunk        = 10_000 // sockets open at once (the fd limit is 20,000)
	openTotal         = 10_000 // open loop, every ClientHello from a new source
	openRate          = 20_000 // offered ClientHellos per second
	stateSources      = 2_000
	handshakes        = 200
	echoRoundTrips    = 20_000
	workers           = 64
)

// impls returns the implementations in this round's order.
func impls(withUDP bool) []impl {
	round, _ := strconv.Atoi(os.Getenv("BENCH_ROUND"))
	l := []impl{implOurs, implPion}
	if round%2 == 0 {
		l = []impl{implPion, implOurs}
	}
	if withUDP {
		l = append(l, implUDP)
	}
	return l
}

func forEach(b *testing.B, withUDP bool, f func(b *testing.B, im impl)) {
	for _, im := range impls(withUDP) {
		b.Run("impl="+im.name, func(b *testing.B) { f(b, im) })
	}
}

// BenchmarkFloodReuse64: 64 sources, each sending a ClientHello without a
// cookie and waiting for the HelloVerifyRequest, 50,000 in all. For pion
// only each source's first ClientHello is a new peer: the rest are
// retransmissions answered from the state it keeps.
func BenchmarkFloodReuse64(b *testing.B) {
	forEach(b, true, func(b *testing.B, im impl) {
		b.StopTimer()
		s := im.start(b)
		defer s.close()
		socks := freshSockets(b, floodReuseSockets, s.addr())
		defer closeAll(socks)
		var m meter
		var answered int64
		for i := 0; i < b.N; i++ {
			m.start(b)
			answered += closedLoop(socks, workers, floodReuseTotal)
			m.stop(b)
		}
		m.report(b, answered, "answers")
		b.ReportMetric(float64(b.N*floodReuseTotal-int(answered)), "lost")
	})
}

// BenchmarkFloodFresh: the forged-source flood proper. Every ClientHello
// comes from an address and port never seen before (closed loop, 64 in
// flight), 20,000 in all.
func BenchmarkFloodFresh(b *testing.B) {
	forEach(b, true, func(b *testing.B, im impl) {
		b.StopTimer()
		s := im.start(b)
		defer s.close()
		var m meter
		var answered int64
		for i := 0; i < b.N; i++ {
			for done := 0; done < floodFreshTotal; done += freshChunk {
				socks := freshSockets(b, freshChunk, s.addr())
				m.start(b)
				answered += closedLoop(socks, workers, freshChunk)
				m.stop(b)
				closeAll(socks)
			}
		}
		m.report(b, answered, "answers")
		b.ReportMetric(float64(b.N*floodFreshTotal-int(answered)), "lost")
		b.ReportMetric(float64(s.peers()), "peers-kept")
	})
}

// BenchmarkFloodOpen: 10,000 new sources each send one ClientHello, paced
// at an offered rate whatever the answers; the answers are counted as they
// come. rcvbuf-drops is the kernel's UDP RcvbufErrors over the run
// (datagrams the server's socket had no room for).
func BenchmarkFloodOpen(b *testing.B) {
	for _, rate := range []int{20_000, 80_000} {
		b.Run(fmt.Sprintf("offered=%dk", rate/1000), func(b *testing.B) {
			forEach(b, true, func(b *testing.B, im impl) { floodOpen(b, im, rate) })
		})
	}
}

func floodOpen(b *testing.B, im impl, rate int) {
	b.StopTimer()
	s := im.start(b)
	defer s.close()
	var m meter
	var sent, answered int
	var drops uint64
	var span time.Duration
	for i := 0; i < b.N; i++ {
		d0 := udpRcvbufErrors()
		r := openLoop(b, openTotal, float64(rate), s.addr(), 500*time.Millisecond,
			func() { m.start(b) }, func() { m.stop(b) })
		drops += udpRcvbufErrors() - d0
		sent += r.sent
		answered += r.answered
		if r.answered > 0 {
			span += r.last.Sub(r.first)
		}
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(answered)/span.Seconds(), "answers/s")
	b.ReportMetric(100*float64(answered)/float64(sent), "answered-%")
	b.ReportMetric(float64(drops), "rcvbuf-drops")
	b.ReportMetric(float64(m.cpu.Nanoseconds())/float64(max(answered, 1)), "cpu-ns/answer")
	b.ReportMetric(float64(m.bytes)/float64(sent), "B/op")
	b.ReportMetric(float64(m.mallo)/float64(sent), "allocs/op")
}

// udpRcvbufErrors reads Udp RcvbufErrors from /proc/net/snmp.
func udpRcvbufErrors() uint64 {
	data, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return 0
	}
	var names []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "Udp:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		for i, n := range names {
			if n == "RcvbufErrors" && i < len(f) {
				v, _ := strconv.ParseUint(f[i], 10, 64)
				return v
			}
		}
	}
	return 0
}

// warmLoadGenerator runs the closed loop once against a UDP reflector, so
// that the load generator's own goroutine stacks and buffers are in the
// runtime's caches before a measurement starts.
func warmLoadGenerator(b *testing.B) {
	r := startReflector(b)
	socks := freshSockets(b, workers, r.addr())
	closedLoop(socks, workers, 10*workers)
	closeAll(socks)
	r.close()
}

// heapAndGoroutines returns the live heap (after GC), the bytes of
// goroutine stacks in use, and the goroutine count.
func heapAndGoroutines() (heap, stack uint64, goroutines int) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc, ms.StackInuse, runtime.NumGoroutine()
}

// BenchmarkStatePerSource: what a server still holds after 2,000 new
// sources have each sent one ClientHello without a cookie and had their
// HelloVerifyRequest: live heap (after GC), goroutine stacks and
// goroutines, compared with before, per source. For pion one of its four
// goroutines per source is the application's, blocked in
// HandshakeContext (pion's API has no other way to run a server
// handshake); the other three are pion's own. The sources' own sockets are open on both sides of
// the comparison.
func BenchmarkStatePerSource(b *testing.B) {
	forEach(b, false, func(b *testing.B, im impl) {
		b.StopTimer()
		var heapD, stackD, gorD, peers, answered float64
		var m meter
		for i := 0; i < b.N; i++ {
			warmLoadGenerator(b)
			s := im.start(b)
			socks := freshSockets(b, stateSources, s.addr())
			time.Sleep(50 * time.Millisecond)
			h0, st0, g0 := heapAndGoroutines()
			m.start(b)
			a := closedLoop(socks, workers, stateSources)
			m.stop(b)
			time.Sleep(200 * time.Millisecond) // let every handler settle
			h1, st1, g1 := heapAndGoroutines()
			heapD += float64(int64(h1) - int64(h0))
			stackD += float64(int64(st1) - int64(st0))
			gorD += float64(g1 - g0)
			peers += float64(s.peers())
			answered += float64(a)
			if i == 0 {
				b.Logf("%s: %d sources answered; heap %d -> %d B, goroutines %d -> %d, peers %d",
					im.name, a, h0, h1, g0, g1, s.peers())
			}
			closeAll(socks)
			s.close()
		}
		n := float64(b.N * stateSources)
		b.ReportMetric(0, "ns/op")
		b.ReportMetric(heapD/n, "heap-B/source")
		b.ReportMetric(stackD/n, "stack-B/source")
		b.ReportMetric(gorD/n, "goroutines/source")
		b.ReportMetric(peers/n, "peers/source")
		b.ReportMetric(100*answered/n, "answered-%")
		b.ReportMetric(float64(m.bytes)/n, "B/op")
		b.ReportMetric(float64(m.mallo)/n, "allocs/op")
	})
}

// BenchmarkHandshake: 200 sequential full handshakes (ECDHE-ECDSA P-256
// certificate, AES-128-GCM, X25519 by default on both), each Dial with the
// same implementation's client, then Close.
func BenchmarkHandshake(b *testing.B) {
	forEach(b, false, func(b *testing.B, im impl) {
		b.StopTimer()
		s := im.start(b)
		defer s.close()
		im.dial(b, s.addr()).Close() // warm up
		var m meter
		for i := 0; i < b.N; i++ {
			m.start(b)
			for j := 0; j < handshakes; j++ {
				im.dial(b, s.addr()).Close()
			}
			m.stop(b)
		}
		m.report(b, int64(b.N*handshakes), "handshakes")
	})
}

// BenchmarkHandshakeServer is BenchmarkHandshake with pion's client
// against either server, and BenchmarkHandshakeClient either client
// against pion's server: with the other side fixed, the ratio isolates
// one side's cost.
func BenchmarkHandshakeServer(b *testing.B) {
	forEach(b, false, func(b *testing.B, im impl) { handshakes2(b, im.start, implPion.dial) })
}

func BenchmarkHandshakeClient(b *testing.B) {
	forEach(b, false, func(b *testing.B, im impl) { handshakes2(b, implPion.start, im.dial) })
}

func handshakes2(b *testing.B, start func(testing.TB) server, dial func(testing.TB, *net.UDPAddr) net.Conn) {
	b.StopTimer()
	s := start(b)
	defer s.close()
	dial(b, s.addr()).Close()
	var m meter
	for i := 0; i < b.N; i++ {
		m.start(b)
		for j := 0; j < handshakes; j++ {
			dial(b, s.addr()).Close()
		}
		m.stop(b)
	}
	m.report(b, int64(b.N*handshakes), "handshakes")
}

// BenchmarkEcho512: one 512-byte message to the echo server and back over
// an established connection; ns/op is the round trip.
func BenchmarkEcho512(b *testing.B) {
	forEach(b, false, func(b *testing.B, im impl) {
		b.StopTimer()
		s := im.start(b)
		defer s.close()
		c := im.dial(b, s.addr())
		defer c.Close()
		msg := make([]byte, 512)
		buf := make([]byte, 2048)
		rt := func() {
			if _, err := c.Write(msg); err != nil {
				b.Fatal(err)
			}
			if n, err := c.Read(buf); err != nil || n != len(msg) {
				b.Fatal(fmt.Errorf("read %d: %w", n, err))
			}
		}
		for j := 0; j < 200; j++ {
			rt()
		}
		var m meter
		for i := 0; i < b.N; i++ {
			m.start(b)
			for j := 0; j < echoRoundTrips; j++ {
				rt()
			}
			m.stop(b)
		}
		m.report(b, int64(b.N*echoRoundTrips), "roundtrips")
		b.ReportMetric(float64(512*b.N*echoRoundTrips)/m.wall.Seconds()/1e6, "MB/s")
	})
}

// TestAnswerSizes prints what each implementation answers a forged
// ClientHello with, and checks that both answer at all.
func TestAnswerSizes(t *testing.T) {
	for _, im := range []impl{implOurs, implPion, implUDP} {
		s := im.start(t)
		c, err := net.DialUDP("udp", nil, s.addr())
		if err != nil {
			t.Fatal(err)
		}
		_, _ = c.Write(forgedClientHello())
		buf := make([]byte, 2048)
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, err := c.Read(buf)
		if err != nil || !isHVR(buf[:n]) {
			t.Errorf("%s: no HelloVerifyRequest: %d bytes, %v", im.name, n, err)
		}
		t.Logf("%s answers with %d bytes: % x", im.name, n, buf[:n])
		c.Close()
		if im.dial != nil {
			for _, cl := range []impl{implOurs, implPion} {
				dc := cl.dial(t, s.addr())
				switch dc := dc.(type) {
				case *dtls.Conn:
					cs := dc.ConnectionState()
					t.Logf("server %s, client %s: %s %s", im.name, cl.name, cs.Version, cs.CipherSuite)
				case *piondtls.Conn:
					st, _ := dc.ConnectionState()
					t.Logf("server %s, client %s: %v", im.name, cl.name, st.CipherSuiteID)
				}
				dc.Close()
			}
		}
		s.close()
	}
}
