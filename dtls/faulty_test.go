package dtls_test

import (
	"math/rand"
	"net"
	"sync"
)

// faultyPC wraps a PacketConn and decides the fate of every datagram it
// writes: deliver, drop, duplicate, or hold back and send after the next one
// (reordering). The decisions come from a seeded source, so a failure can
// be replayed.
type faultyPC struct {
	net.PacketConn
	mu      sync.Mutex
	rng     *rand.Rand
	drop    float64
	dup     float64
	reorder float64
	held    []byte
	heldTo  net.Addr
	// silentAfter, when > 0, drops every datagram after that many writes.
	silentAfter int
	writes      int
	sizes       []int
	stats       struct{ sent, dropped, duplicated, reordered int }
}

func newFaultyPC(pc net.PacketConn, seed int64, drop, dup, reorder float64) *faultyPC {
	return &faultyPC{PacketConn: pc, rng: rand.New(rand.NewSource(seed)), drop: drop, dup: dup, reorder: reorder}
}

func (f *faultyPC) WriteTo(p []byte, addr net.Addr) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writes++
	f.sizes = append(f.sizes, len(p))
	if f.silentAfter > 0 && f.writes > f.silentAfter {
		f.stats.dropped++
		return len(p), nil
	}
	r := f.rng.Float64()
	switch {
	case r < f.drop:
		f.stats.dropped++
		return len(p), nil
	case r < f.drop+f.dup:
		f.stats.duplicated++
		f.send(p, addr)
		f.send(p, addr)
	case r < f.drop+f.dup+f.reorder && f.held == nil:
		f.stats.reordered++
		f.held = append([]byte(nil), p...)
		f.heldTo = addr
		return len(p), nil
	default:
		f.send(p, addr)
	}
	if f.held != nil {
		f.send(f.held, f.heldTo)
		f.held, f.heldTo = nil, nil
	}
	return len(p), nil
}

func (f *faultyPC) send(p []byte, addr net.Addr) {
	f.stats.sent++
	_, _ = f.PacketConn.WriteTo(p, addr)
}

func (f *faultyPC) maxSize() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := 0
	for _, s := range f.sizes {
		m = max(m, s)
	}
	return m
}
