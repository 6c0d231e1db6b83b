package dtls_test

import (
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl/dtls"
	"github.com/openssl-stateless/openssl/internal/record"
)

// forgedClientHello is a DTLS 1.2 ClientHello in one record, with an
// optional (bogus) cookie: what a flood of spoofed sources sends.
func forgedClientHello(cookie []byte) []byte {
	return record.ClientHelloDatagram{Cookie: cookie}.Bytes()
}

// isHelloVerifyRequest reports whether a datagram opens with a whole
// HelloVerifyRequest carrying a cookie.
func isHelloVerifyRequest(d []byte) bool {
	h, m, err := record.FirstDTLSHandshake(d)
	if err != nil || h.Epoch != 0 || m.Type != record.TypeHelloVerifyRequest || m.IsFragment() {
		return false
	}
	hv, err := record.ParseHelloVerifyRequest(m.Body)
	return err == nil && len(hv.Cookie) > 0
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// A flood of ClientHellos without a valid cookie, from many source ports:
// each is answered with a HelloVerifyRequest, nothing is kept (no peer, no
// goroutine, no heap growth with the count), and a real client connecting
// during the flood gets through. With two readers the same holds, the
// counters add up across them, and both answered part of the flood.
func TestFloodOfForgedClientHellos(t *testing.T) {
	t.Run("readers=1", func(t *testing.T) { testFloodOfForgedClientHellos(t, 1) })
	if runtime.GOOS == "linux" { // Readers needs SO_REUSEPORT's spreading
		t.Run("readers=2", func(t *testing.T) { testFloodOfForgedClientHellos(t, 2) })
	}
}

func testFloodOfForgedClientHellos(t *testing.T, readers int) {
	total := 100_000
	if testing.Short() {
		total = 20_000
	}
	const flooders = 64
	p := newPKI(t)
	scfg := p.serverConfig()
	scfg.Readers = readers
	l := listen(t, scfg)
	wait := serveEcho(t, l)
	defer wait()
	defer l.Close()
	saddr := l.Addr().(*net.UDPAddr)

	var answered, sentCount atomic.Int64
	var heapAtTenth, goroutinesDuring atomic.Uint64
	release := make(chan struct{})
	var ready, wg sync.WaitGroup
	perFlooder := (total + flooders - 1) / flooders // at least total in all
	for i := 0; i < flooders; i++ {
		ready.Add(1)
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, err := net.DialUDP("udp", nil, saddr) // a source port of its own
			if err != nil {
				ready.Done()
				t.Error(err)
				return
			}
			defer c.Close()
			noCookie := forgedClientHello(nil)
			badCookie := forgedClientHello([]byte("forged-cookie-0123456789abcdef"))
			buf := make([]byte, 2048)
			ready.Done()
			<-release
			for j := 0; j < perFlooder; j++ {
				dgram := noCookie
				if j%2 == 1 {
					dgram = badCookie
				}
				if _, err := c.Write(dgram); err != nil {
					t.Error(err)
					return
				}
				sentCount.Add(1)
				_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
				n, err := c.Read(buf)
				if err != nil {
					continue // a lost answer counts as not answered
				}
				if isHelloVerifyRequest(buf[:n]) {
					answered.Add(1)
				}
				if s := sentCount.Load(); s == int64(total/10) {
					heapAtTenth.Store(heapInUse())
				} else if s == int64(total/2) {
					goroutinesDuring.Store(uint64(runtime.NumGoroutine()))
				}
			}
		}(i)
	}
	ready.Wait()
	goroutinesBefore := runtime.NumGoroutine()
	close(release)

	// A real client in the middle of the flood.
	time.Sleep(10 * time.Millisecond)
	c, err := dtls.Dial("udp", saddr.String(), p.clientConfig())
	require.NoError(t, err, "a real client connects during the flood")
	roundTrip(t, c, []byte("through the flood"))
	require.NoError(t, c.Close())

	wg.Wait()
	heapAtEnd := heapInUse()
	sent := int64(perFlooder * flooders)
	st := l.Stats()
	t.Logf("flood: %d sent, %d answered, stats %+v, heap at 10%% %d B, at end %d B", sent, answered.Load(), st, heapAtTenth.Load(), heapAtEnd)

	assert.Equal(t, sent, answered.Load(), "every forged ClientHello got a HelloVerifyRequest")
	assert.Equal(t, uint64(sent), st.CookiesSent-1, "the real client's HelloVerifyRequest is the one extra")
	assert.Equal(t, uint64(flooders*(perFlooder/2)), st.CookiesRejected, "the bogus cookies were rejected")
	assert.Equal(t, uint64(1), st.CookiesVerified, "only the real client's cookie verified")
	assert.Equal(t, 0, l.PeerCount(), "no state kept for any forged source")
	assert.LessOrEqual(t, int(goroutinesDuring.Load()), goroutinesBefore+4,
		"no goroutine per forged source (the real client and its echo handler account for the slack)")
	if h := heapAtTenth.Load(); h > 0 {
		assert.Less(t, int64(heapAtEnd)-int64(h), int64(1<<20), "the heap does not grow with the count")
	}
	if readers > 1 {
		// 64 flooders' source ports on one socket of two: 2^-63.
		read := dtls.ReaderDatagrams(l)
		t.Logf("datagrams read per socket: %v", read)
		for i, n := range read {
			assert.NotZero(t, n, "socket %d read part of the flood", i)
		}
	}
}
