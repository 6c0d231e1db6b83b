package dtls_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl/dtls"
	"github.com/openssl-stateless/openssl/internal/fuzzcorpus"
	"github.com/openssl-stateless/openssl/internal/record"
)

// FuzzListener sends datagrams to a running Listener that holds one
// established session (a client Conn, an echo server behind the Listener),
// each either from the session's own address (fromPeer: the client's
// socket, as an attacker on the path or spoofing the address would) or
// from one of a few sockets the Listener has never heard from. After each
// datagram: the session still echoes; the Listener holds no new peer
// (PeerCount) and verified no cookie (Stats); a new source got at most one
// answer, a HelloVerifyRequest no longer than what it sent. A datagram
// that breaks the session is the bug this looks for: that input fails and
// the next one dials a new session. Seeds are in testdata/fuzz/FuzzListener,
// written by TestFuzzSeedCorpora; `make fuzz` runs this target, and an
// input that fails is written there too.
func FuzzListener(f *testing.F) {
	p := newPKI(f)
	scfg := p.serverConfig()
	// The harness learns that the Listener has dealt with an input from the
	// echo that follows it on the same socket: the session's connection
	// must share the Listener's socket for the two to be read in order.
	scfg.SharedSocket = true
	l := listen(f, scfg)
	serveEcho(f, l)
	s := &fuzzSession{l: l, cfg: p.clientConfig(), laddr: l.Addr().(*net.UDPAddr).AddrPort()}
	f.Cleanup(s.close)
	require.NoError(f, s.dial())
	sources := make([]*net.UDPConn, 4)
	for i := range sources {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		require.NoError(f, err)
		f.Cleanup(func() { c.Close() })
		sources[i] = c
	}
	buf := make([]byte, 1<<16)
	n := 0
	f.Fuzz(func(t *testing.T, fromPeer bool, d []byte) {
		if len(d) > 65507 {
			t.Skip("longer than a UDP datagram over IPv4")
		}
		if s.conn == nil { // the previous input broke it
			require.NoError(t, s.dial())
		}
		n++
		src, from := sources[n%len(sources)], "a new source"
		if fromPeer {
			src, from = s.pc, "the session's address"
		}
		_, err := src.WriteToUDPAddrPort(d, s.laddr)
		require.NoError(t, err)

		// The Listener reads its socket in order, but a read may take d
		// and the echo together (recvmmsg), and the read's
		// HelloVerifyRequests go out after its other datagrams are
		// routed: the echo can come back before d's answer has left. A
		// second echo is sent only once the first is back, so it comes
		// in a later read, and that read begins after the earlier one
		// has sent its answers.
		for range 2 {
			if err := s.echo(n); err != nil {
				s.close()
				t.Fatalf("a %d-byte datagram from %s broke the session: %v", len(d), from, err)
			}
		}
		if got := l.PeerCount(); got != s.peers {
			t.Fatalf("after a %d-byte datagram from %s the Listener keeps %d peers, want %d", len(d), from, got, s.peers)
		}
		if got := l.Stats().CookiesVerified; got != s.verified {
			t.Fatalf("a %d-byte datagram from %s had a cookie verified", len(d), from)
		}
		if fromPeer {
			return // the answers went to the session's socket, which its Conn reads
		}
		answers := 0
		err = readQueued(src, buf, func(a []byte) {
			answers++
			switch {
			case answers > 1:
				t.Fatalf("a %d-byte datagram got %d answers", len(d), answers)
			case len(a) > len(d):
				t.Fatalf("a %d-byte datagram got a %d-byte answer", len(d), len(a))
			case !isHelloVerifyRequest(a):
				t.Fatalf("a %d-byte datagram got an answer that is not a HelloVerifyRequest: % x", len(d), a)
			}
		})
		require.NoError(t, err)
	})
}

// fuzzSession is FuzzListener's established session: a client Conn over a
// socket the target also writes to, and what the Listener counted once it
// was established.
type fuzzSession struct {
	l     *dtls.Listener
	cfg   *dtls.Config
	laddr netip.AddrPort
	pc    *net.UDPConn
	conn  *dtls.Conn
	buf   []byte

	peers    int    // PeerCount
	verified uint64 // Stats().CookiesVerified
}

// dial establishes the session and notes what the Listener holds then.
func (s *fuzzSession) dial() error {
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return err
	}
	conn, err := dtls.Client(pc, net.UDPAddrFromAddrPort(s.laddr), s.cfg)
	if err != nil {
		pc.Close()
		return err
	}
	s.pc, s.conn = pc, conn
	if err := conn.Handshake(); err != nil {
		s.close()
		return err
	}
	if err := s.echo(0); err != nil {
		s.close()
		return err
	}
	s.peers, s.verified = s.l.PeerCount(), s.l.Stats().CookiesVerified
	return nil
}

func (s *fuzzSession) close() {
	if s.conn != nil {
		s.conn.Close() // closes pc too
		s.conn, s.pc = nil, nil
	}
}

// echo sends a message numbered n and waits for its echo, sending it again
// (up to three times in all) if none comes back within a second: loopback
// may drop a datagram, the session itself must not.
func (s *fuzzSession) echo(n int) error {
	msg := fmt.Appendf(nil, "fuzz echo %d", n)
	if s.buf == nil {
		s.buf = make([]byte, 2048)
	}
	for range 3 {
		if _, err := s.conn.Write(msg); err != nil {
			return err
		}
		_ = s.conn.SetReadDeadline(time.Now().Add(time.Second))
		for {
			k, err := s.conn.Read(s.buf)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				break
			}
			if err != nil {
				return err
			}
			if bytes.Equal(s.buf[:k], msg) {
				return nil
			}
			// The echo of an earlier attempt: read on.
		}
	}
	return fmt.Errorf("no echo of %q in three attempts", msg)
}

// readQueued calls f with each datagram already queued on c, without
// waiting for more.
func readQueued(c *net.UDPConn, buf []byte, f func([]byte)) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	for {
		var n int
		var rerr error
		if err := rc.Read(func(fd uintptr) bool {
			n, _, rerr = syscall.Recvfrom(int(fd), buf, syscall.MSG_DONTWAIT)
			return true
		}); err != nil {
			return err
		}
		switch {
		case errors.Is(rerr, syscall.EAGAIN), errors.Is(rerr, syscall.EWOULDBLOCK):
			return nil
		case rerr != nil:
			return rerr
		}
		f(buf[:n])
	}
}

var updateSeeds = flag.Bool("update-seeds", false, "rewrite the fuzz seed corpora in testdata/fuzz")

// recordCorpus is internal/record's corpus of datagrams: the records and
// flights of the DTLS handshakes in tests/testdata, and crafted first
// flights.
const recordCorpus = "../internal/record/testdata/fuzz/FuzzParseDatagram"

// TestFuzzSeedCorpora checks that testdata/fuzz/FuzzListener holds the
// seeds fuzzListenerSeeds derives; with -update-seeds it writes them. Seed
// files whose names start with "captured-" or "built-" are its; others
// (inputs the fuzzer found) are left alone.
func TestFuzzSeedCorpora(t *testing.T) {
	seeds := fuzzListenerSeeds(t)
	dir := filepath.Join("testdata", "fuzz", "FuzzListener")
	if *updateSeeds {
		old, _ := filepath.Glob(filepath.Join(dir, "*"))
		for _, path := range old {
			if name := filepath.Base(path); strings.HasPrefix(name, "captured-") || strings.HasPrefix(name, "built-") {
				require.NoError(t, os.Remove(path))
			}
		}
		require.NoError(t, os.MkdirAll(dir, 0o755))
	}
	for _, name := range slices.Sorted(maps.Keys(seeds)) {
		path := filepath.Join(dir, name)
		sd := seeds[name]
		want := []byte("go test fuzz v1\nbool(" + strconv.FormatBool(sd.fromPeer) + ")\n[]byte(" + strconv.Quote(string(sd.d)) + ")\n")
		if *updateSeeds {
			require.NoError(t, os.WriteFile(path, want, 0o644))
			continue
		}
		if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s is missing or stale: go test ./dtls -run TestFuzzSeedCorpora -update-seeds", path)
		}
	}
}

type listenerSeed struct {
	fromPeer bool
	d        []byte
}

// fuzzListenerSeeds returns FuzzListener's seeds by file name: every
// datagram of internal/record's corpus, from a new source and from the
// session's address, and records that only make sense inside a session
// (alerts, a ChangeCipherSpec, epoch-1 records that do not decrypt), from
// its address.
func fuzzListenerSeeds(t *testing.T) map[string]listenerSeed {
	seeds := map[string]listenerSeed{}
	for name, d := range fuzzcorpus.Read(t, recordCorpus) {
		seeds[name+"-new-source"] = listenerSeed{false, d}
		seeds[name+"-from-peer"] = listenerSeed{true, d}
	}
	rec := func(typ record.ContentType, epoch uint16, seq uint64, payload []byte) []byte {
		return record.AppendDTLSRecord(nil, record.Header{Type: typ, Version: record.VersionDTLS12, Epoch: epoch, Sequence: seq}, payload)
	}
	garbage := bytes.Repeat([]byte{0xa5}, 48)
	for name, d := range map[string][]byte{
		"empty":                         {},
		"close-notify-epoch-0":          rec(record.Alert, 0, 7, []byte{1, 0}),
		"fatal-alert-epoch-0":           rec(record.Alert, 0, 7, []byte{2, 40}),
		"change-cipher-spec":            rec(record.ChangeCipherSpec, 0, 7, []byte{1}),
		"alert-epoch-1":                 rec(record.Alert, 1, 100, garbage),
		"application-data-epoch-1":      rec(record.ApplicationData, 1, 100, garbage),
		"application-data-last-seq":     rec(record.ApplicationData, 1, 1<<48-1, garbage),
		"application-data-epoch-2":      rec(record.ApplicationData, 2, 0, garbage),
		"handshake-epoch-1":             rec(record.Handshake, 1, 100, garbage),
		"client-hello-and-data":         append(record.ClientHelloDatagram{Random: garbage[:32]}.Bytes(), rec(record.ApplicationData, 1, 100, garbage)...),
		"client-hello-forged-cookie":    record.ClientHelloDatagram{Random: garbage[:32], Cookie: garbage[:21], MessageSeq: 1}.Bytes(),
		"finished-epoch-1-then-garbage": append(rec(record.Handshake, 1, 3, garbage), garbage...),
	} {
		seeds["built-"+name+"-from-peer"] = listenerSeed{true, d}
	}
	t.Logf("FuzzListener: %d seeds", len(seeds))
	return seeds
}
