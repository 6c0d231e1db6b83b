//go:build soak

package dtls_test

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl/dtls"
)

// TestSoak runs SOAK_HANDSHAKES (20,000 by default) handshakes with an echo
// each against one Listener, and checks that the process comes back to its
// baseline: Go heap, goroutines, descriptors, and resident memory (which
// counts OpenSSL's allocations too). The baseline is taken after a warm-up,
// so that allocator arenas and pools that stay for the process's life are
// in it. Run with `make soak` (go test -tags soak -run TestSoak ./dtls).
func TestSoak(t *testing.T) {
	total := 20000
	if v := os.Getenv("SOAK_HANDSHAKES"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err)
		total = n
	}
	p := newPKI(t)
	scfg := p.serverConfig()
	scfg.MaxConnsPerHost = -1
	scfg.MaxHandshakesPerHost = -1
	l := listen(t, scfg)
	// An echo server that keeps nothing per connection (serveEcho keeps
	// every connection, to close it at the end).
	var handlers sync.WaitGroup
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			handlers.Add(1)
			go func() {
				defer handlers.Done()
				defer c.Close()
				echo(c)
			}()
		}
	}()
	t.Cleanup(func() { l.Close(); handlers.Wait() })
	ccfg := p.clientConfig()

	run := func(n int) {
		const workers = 8
		var wg sync.WaitGroup
		next := make(chan int)
		errs := make(chan error, workers)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range next {
					c, err := dtls.Dial("udp", l.Addr().String(), ccfg)
					if err != nil {
						errs <- err
						return
					}
					roundTrip(t, c, []byte("soak"))
					c.Close()
				}
			}()
		}
	feed:
		for i := 0; i < n; i++ {
			select {
			case next <- i:
			case err := <-errs:
				require.NoError(t, err)
				break feed
			}
		}
		close(next)
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
	}

	run(500)
	base := measure(t, l)
	t.Logf("baseline after 500: %+v", base)
	start := time.Now()
	run(total)
	elapsed := time.Since(start)
	// Polled here, not in assert.Eventually: its condition runs on a
	// goroutine of its own, which would count.
	var after usage
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		after = measure(t, l)
		if after.peers == 0 && after.goroutines <= base.goroutines && after.fds <= base.fds {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("connections, goroutines and descriptors not back to baseline: %+v then %+v", base, after)
			break
		}
	}
	if t.Failed() {
		buf := make([]byte, 1<<20)
		t.Logf("goroutines:\n%s", buf[:runtime.Stack(buf, true)])
	}
	t.Logf("after %d handshakes in %v (%.0f/s): %+v", total, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds(), after)
	st := l.Stats()
	assert.Equal(t, uint64(total+500), st.HandshakesCompleted)
	assert.Zero(t, st.HandshakesFailed)
	assert.Zero(t, st.LiveConns)
	assert.Zero(t, st.QueuedBytes)
	assert.Less(t, after.heap, base.heap+8<<20, "Go heap back within 8 MiB of the baseline")
	assert.Less(t, after.rss, base.rss+32<<20, "resident memory within 32 MiB of the baseline")
}

type usage struct {
	heap, rss       uint64
	goroutines, fds int
	peers           int
}

func measure(t *testing.T, l *dtls.Listener) usage {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fds, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	return usage{heap: ms.HeapAlloc, rss: rss(t), goroutines: runtime.NumGoroutine(), fds: len(fds), peers: l.PeerCount()}
}

// rss reads the process's resident set from /proc/self/status (VmRSS).
func rss(t *testing.T) uint64 {
	b, err := os.ReadFile("/proc/self/status")
	require.NoError(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseUint(f[1], 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc/self/status")
	return 0
}
