package tests

// Scale-out (issue 9): several ossl-stateless server processes that share
// one cookie secret serve one DTLS service.
//
//   - TestScaleOutBehindNftablesBalancer: two instances in network
//     namespaces of their own behind the kernel's nftables balancer in a
//     third, clients in a fourth; one instance stops and the balancer sends
//     new clients to the survivor. Root, iproute2 and nft only.
//   - TestCookieMintedByOneProcessVerifiedByAnother: two instances on one
//     SO_REUSEPORT port on loopback, a client's first ClientHello steered
//     to one and its second (with the cookie) to the other. Any user.
//
// Run them alone with
//
//	go test -run 'TestScaleOut|TestCookieMinted' -count=1 -v ./tests/

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"math/bits"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/openssl-stateless/openssl/dtls"
	"github.com/openssl-stateless/openssl/internal/testpeer"
)

// The balancer's addresses, from the benchmarking block 198.18.0.0/15
// (RFC 2544), which nothing routes: the service's virtual address (on no
// interface, as a cloud balancer's), the client link, and one link per
// instance.
var (
	lbVIP      = netip.MustParseAddrPort("198.18.100.1:4433")
	lbCliSide  = netip.MustParseAddr("198.18.10.1")
	lbClientIP = netip.MustParseAddr("198.18.10.2")
	lbInstance = [2]struct{ gw, ip netip.Addr }{
		{netip.MustParseAddr("198.18.11.1"), netip.MustParseAddr("198.18.11.2")},
		{netip.MustParseAddr("198.18.12.1"), netip.MustParseAddr("198.18.12.2")},
	}
)

// lbSeed is the seed of the balancer's hash. nft picks a random one when
// none is given; with a known one the test computes where each client
// goes (nftJhash) and checks that the instances saw exactly those.
const lbSeed = 0x5ca1ab1e

// lbPerSlot is how many clients of each hash slot a phase of the test
// runs.
const lbPerSlot = 3

// TestScaleOutBehindNftablesBalancer runs two ossl-stateless servers with
// one -cookie-secret file in two network namespaces, behind a balancer in a
// third: nftables DNAT of the service's address to an instance chosen by a
// hash of the client's address and port (jhash ip saddr . udp sport mod 2
// map {...}), which conntrack then pins for the rest of the flow. That is
// the state a cloud UDP balancer keeps, and all it keeps. Clients in a
// fourth namespace connect from ports chosen so that each instance gets
// lbPerSlot of them; each completes its handshake and echoes. Then one
// instance stops and the test, as a health checker would, points both
// slots of the balancer's map at the survivor: new clients, including
// those whose hash names the stopped instance's slot, all connect through
// the survivor.
func TestScaleOutBehindNftablesBalancer(t *testing.T) {
	nft := lookNft(t)
	checkGoroutines(t)
	bin := osslStatelessBin(t)
	lb := newNetns(t, "lb")
	cli := newNetns(t, "cli")
	srv := [2]*netns{newNetns(t, "s1"), newNetns(t, "s2")}

	// Links: the client namespace and each instance's hang off the
	// balancer's, which routes between them.
	veth(t, lb, "lbc", lbCliSide, cli, "cli0", lbClientIP)
	cli.ip(t, "route", "add", "default", "via", lbCliSide.String())
	for i, s := range srv {
		veth(t, lb, fmt.Sprintf("lb%d", i), lbInstance[i].gw, s, "up0", lbInstance[i].ip)
		s.ip(t, "route", "add", "default", "via", lbInstance[i].gw.String())
	}
	require.NoError(t, lb.do(func() error {
		return os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1\n"), 0o644)
	}), "enabling forwarding in the balancer's namespace")
	// The map is typeof-declared so that its key is the hash's own type;
	// nft 1.0.6 loads and edits such a map but crashes listing it, so the
	// test never lists the ruleset.
	lb.nft(t, nft, fmt.Sprintf(`
table ip lb {
	map backends {
		typeof jhash ip saddr . udp sport mod 2 : ip daddr
		elements = { 0 : %s, 1 : %s }
	}
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		ip daddr %s udp dport %d dnat to jhash ip saddr . udp sport mod 2 seed %#x map @backends
	}
}`, lbInstance[0].ip, lbInstance[1].ip, lbVIP.Addr(), lbVIP.Port(), lbSeed))

	// The instances: the same certificate and the same secret file, as
	// deployed copies would have.
	p := newPKI(t)
	secret := writeSecret(t, "shared")
	var procs [2]*testpeer.Proc
	for i, s := range srv {
		procs[i] = startInstance(t, fmt.Sprintf("instance %d", i), bin, s,
			fmt.Sprintf("0.0.0.0:%d", lbVIP.Port()), "-cert", p.Server.CertFile, "-key", p.Server.KeyFile, "-cookie-secret", secret)
	}

	// Phase 1: both instances up.
	clients := lbClients(t, cli, lbPerSlot)
	for _, c := range clients {
		echoThrough(t, c.pc, lbVIP, p, fmt.Sprintf("slot %d", c.slot))
	}

	// Instance 0 stops; its STATS and its log say whom it served.
	stats0, peers0 := stopInstance(t, procs[0])
	assert.ElementsMatch(t, clientAddrs(clients, 0), peers0, "instance 0 served exactly the clients its hash slot names")
	assert.Equal(t, uint64(lbPerSlot), stats0["handshakes_completed"], "instance 0: %v", stats0)
	assert.Equal(t, uint64(lbPerSlot), stats0["cookies_verified"], "instance 0: %v", stats0)

	// The health checker's move: both slots to the survivor, in one nft
	// transaction. Conntrack entries of instance 0's old flows still point
	// at it until they expire; new flows look the map up afresh.
	lb.nft(t, nft, fmt.Sprintf(`
flush map ip lb backends
add element ip lb backends { 0 : %s, 1 : %s }`, lbInstance[1].ip, lbInstance[1].ip))

	// Phase 2: new clients, from new ports, lbPerSlot of them hashed to
	// the stopped instance's slot.
	later := lbClients(t, cli, lbPerSlot)
	for _, c := range later {
		echoThrough(t, c.pc, lbVIP, p, fmt.Sprintf("after failover, slot %d", c.slot))
	}

	stats1, peers1 := stopInstance(t, procs[1])
	want1 := append(clientAddrs(clients, 1), clientAddrs(later, 0)...)
	want1 = append(want1, clientAddrs(later, 1)...)
	assert.ElementsMatch(t, want1, peers1, "instance 1 served its slot's clients, then every new client")
	assert.Equal(t, uint64(3*lbPerSlot), stats1["handshakes_completed"], "instance 1: %v", stats1)
	assert.Equal(t, uint64(3*lbPerSlot), stats1["cookies_verified"], "instance 1: %v", stats1)
	for i, st := range []map[string]uint64{stats0, stats1} {
		assert.Zero(t, st["cookies_rejected"], "instance %d: %v", i, st)
		assert.Zero(t, st["handshakes_failed"], "instance %d: %v", i, st)
	}
}

// lbClient is a client socket in the client namespace and the slot of the
// balancer's map its address and port hash to.
type lbClient struct {
	pc   *net.UDPConn
	slot uint32
}

// lbClients opens UDP sockets in n, on ports the kernel picks, until
// perSlot of them hash to each slot of the balancer's map; the others are
// closed. About 2*perSlot sockets are opened: the hash spreads evenly.
func lbClients(t *testing.T, n *netns, perSlot int) []lbClient {
	t.Helper()
	var got []lbClient
	var count [2]int
	for tries := 0; count[0] < perSlot || count[1] < perSlot; tries++ {
		require.Less(t, tries, 1000, "1000 ports without %d of each slot: the hash is not spreading (%v)", perSlot, count)
		var pc *net.UDPConn
		require.NoError(t, n.do(func() (err error) {
			pc, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(lbClientIP, 0)))
			return err
		}))
		slot := nftJhash(pc.LocalAddr().(*net.UDPAddr).AddrPort(), 2, lbSeed)
		if count[slot] == perSlot {
			pc.Close()
			continue
		}
		// The client's Conn closes pc; this is for a test that stops
		// before, so that the namespace can go.
		t.Cleanup(func() { pc.Close() })
		count[slot]++
		got = append(got, lbClient{pc: pc, slot: slot})
	}
	return got
}

// clientAddrs returns the addresses of the clients of slot, as a server
// logs its peers.
func clientAddrs(cs []lbClient, slot uint32) []string {
	var addrs []string
	for _, c := range cs {
		if c.slot == slot {
			addrs = append(addrs, c.pc.LocalAddr().String())
		}
	}
	return addrs
}

// nftJhash is the value of nft's `jhash ip saddr . udp sport mod m seed s`
// for a flow from src: the kernel's jhash (net/netfilter/nft_hash.c,
// include/linux/jhash.h) of the concatenation as it sits in nft's
// registers, each field padded to 4 bytes (the address, then the port in
// network order and two zero bytes), scaled to m.
func nftJhash(src netip.AddrPort, m, seed uint32) uint32 {
	var k [8]byte
	a4 := src.Addr().As4()
	copy(k[:4], a4[:])
	binary.BigEndian.PutUint16(k[4:6], src.Port())
	a := 0xdeadbeef + uint32(len(k)) + seed
	b, c := a, a
	// jhash's tail for 8 bytes: the bytes read little-endian whatever the
	// host, then the final mix.
	a += binary.LittleEndian.Uint32(k[0:4])
	b += binary.LittleEndian.Uint32(k[4:8])
	c ^= b
	c -= bits.RotateLeft32(b, 14)
	a ^= c
	a -= bits.RotateLeft32(c, 11)
	b ^= a
	b -= bits.RotateLeft32(a, 25)
	c ^= b
	c -= bits.RotateLeft32(b, 16)
	a ^= c
	a -= bits.RotateLeft32(c, 4)
	b ^= a
	b -= bits.RotateLeft32(a, 14)
	c ^= b
	c -= bits.RotateLeft32(b, 24)
	return uint32(uint64(c) * uint64(m) >> 32) // reciprocal_scale
}

// TestCookieMintedByOneProcessVerifiedByAnother runs two ossl-stateless
// servers on one UDP port of 127.0.0.1 (dtls.Listen sets SO_REUSEPORT, so
// the second binds beside the first) and steers a real client's datagrams
// between them: its first ClientHello, which carries no cookie, to
// instance A, everything else, from the ClientHello with A's cookie on, to
// instance B. Normally the kernel sends all of one client's datagrams to
// the same socket of the group (a hash of the addresses and ports); here a
// classic BPF program attached to the group (SO_ATTACH_REUSEPORT_CBPF)
// chooses instead, from the datagram's bytes.
//
// With one secret, B verifies A's cookie and completes the handshake: A
// sent the only HelloVerifyRequest, B verified one cookie, rejected none
// and sent none. With two secrets (the control), B refuses A's cookie and
// answers with a HelloVerifyRequest of its own, which the client ignores:
// DTLSv1_listen always gives a HelloVerifyRequest message_seq 0, and an
// OpenSSL client that has sent its second ClientHello (message_seq 1)
// takes one with message_seq 0 for a stale retransmission. It resends A's
// cookie, B refuses it again, and so on until the handshake times out:
// moved between instances that do not share a secret, a client loses its
// handshake, not just a round trip.
func TestCookieMintedByOneProcessVerifiedByAnother(t *testing.T) {
	t.Run("one secret", func(t *testing.T) {
		checkGoroutines(t)
		a, b, addr, p := steeredPair(t, true)

		echoThrough(t, nil, addr, p, "minted by A, verified by B")

		statsA, peersA := stopInstance(t, a)
		statsB, peersB := stopInstance(t, b)
		assert.Equal(t, uint64(1), statsA["cookies_sent"], "A answered the first ClientHello: %v", statsA)
		assert.Zero(t, statsA["cookies_verified"]+statsA["cookies_rejected"], "no ClientHello with a cookie reached A: %v", statsA)
		assert.Zero(t, statsA["handshakes_completed"], "A: %v", statsA)
		assert.Empty(t, peersA, "A completed no handshake")
		assert.Equal(t, uint64(1), statsB["cookies_verified"], "B verified A's cookie: %v", statsB)
		assert.Zero(t, statsB["cookies_rejected"], "B: %v", statsB)
		assert.Zero(t, statsB["cookies_sent"], "B needed no HelloVerifyRequest of its own: %v", statsB)
		assert.Equal(t, uint64(1), statsB["handshakes_completed"], "B completed the handshake: %v", statsB)
		assert.Len(t, peersB, 1, "B logged the handshake")
	})

	t.Run("two secrets", func(t *testing.T) {
		checkGoroutines(t)
		a, b, addr, p := steeredPair(t, false)

		pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		require.NoError(t, err)
		w := &hvrWatch{PacketConn: pc, seen: make(chan struct{}, 16)}
		c, err := dtls.Client(w, net.UDPAddrFromAddrPort(addr), p.clientConfig("localhost"))
		if err != nil {
			pc.Close()
			require.NoError(t, err)
		}
		t.Cleanup(func() { c.Close() })
		ctx, cancel := context.WithTimeout(context.Background(), testpeer.Timeout)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- c.HandshakeContext(ctx) }()
		// A's HelloVerifyRequest, B's answer to the ClientHello with A's
		// cookie, and B's answer to its retransmission: the client did
		// not take B's cookie.
		for i := 0; i < 3; i++ {
			select {
			case <-w.seen:
			case err := <-done:
				require.Error(t, err, "the client connected after %d HelloVerifyRequests: it took B's cookie", i)
				require.Fail(t, "the handshake ended before B's second HelloVerifyRequest", "%d seen: %v", i, err)
			}
		}
		cancel()
		require.Error(t, <-done, "the handshake was cancelled, not completed")

		statsA, _ := stopInstance(t, a)
		statsB, peersB := stopInstance(t, b)
		assert.Equal(t, uint64(1), statsA["cookies_sent"], "A: %v", statsA)
		assert.Zero(t, statsA["cookies_verified"]+statsA["cookies_rejected"], "A: %v", statsA)
		assert.GreaterOrEqual(t, statsB["cookies_rejected"], uint64(2), "B refused A's cookie, then its retransmission: %v", statsB)
		assert.Equal(t, statsB["cookies_rejected"], statsB["cookies_sent"], "each with a HelloVerifyRequest: %v", statsB)
		assert.Zero(t, statsB["cookies_verified"], "the client never returned B's cookie: %v", statsB)
		assert.Zero(t, statsB["handshakes_completed"], "B: %v", statsB)
		assert.Empty(t, peersB)
	})
}

// steeredPair starts instances A and B on one free loopback port, with one
// secret file or two, and steers cookieless ClientHellos to A and every
// other datagram to B. It returns them, their address, and the PKI whose
// certificate both serve.
func steeredPair(t *testing.T, shared bool) (a, b *testpeer.Proc, addr netip.AddrPort, p *pki) {
	t.Helper()
	bin := osslStatelessBin(t)
	p = newPKI(t)
	addr = netip.MustParseAddrPort(testpeer.FreeLoopbackAddr(t, "udp"))
	secretA := writeSecret(t, "a")
	secretB := secretA
	if !shared {
		secretB = writeSecret(t, "b")
	}
	// The order of joining is the index in the group's socket array that
	// the BPF program returns: A first, then B.
	a = startInstance(t, "instance A", bin, nil, addr.String(), "-cert", p.Server.CertFile, "-key", p.Server.KeyFile, "-cookie-secret", secretA)
	b = startInstance(t, "instance B", bin, nil, addr.String(), "-cert", p.Server.CertFile, "-key", p.Server.KeyFile, "-cookie-secret", secretB)
	steerFirstClientHello(t, addr)
	return a, b, addr, p
}

// hvrWatch is a client's PacketConn that signals seen for every
// HelloVerifyRequest it reads.
type hvrWatch struct {
	net.PacketConn
	seen chan struct{}
}

func (w *hvrWatch) ReadFrom(p []byte) (int, net.Addr, error) {
	n, a, err := w.PacketConn.ReadFrom(p)
	if err == nil {
		if _, herr := helloVerifyCookie(p[:n]); herr == nil {
			select {
			case w.seen <- struct{}{}:
			default:
			}
		}
	}
	return n, a, err
}

// steerFirstClientHello attaches to the SO_REUSEPORT group on addr a
// classic BPF program that sends a DTLS ClientHello without a cookie to
// the group's first socket and every other datagram to its second. For
// UDP the kernel runs the program on the payload (the UDP header pulled
// off) and takes its result as an index into the group's sockets, in the
// order they joined; an index past the end, or a load past the datagram
// (which returns 0), falls back to the usual hash. The program belongs to
// the group once attached: the socket that attached it joins the group as
// its last member, is never chosen, and is closed at the end of the test.
func steerFirstClientHello(t *testing.T, addr netip.AddrPort) {
	t.Helper()
	const first, second = 0, 1
	// Offsets in a DTLS 1.x datagram whose first record is a ClientHello:
	// the record header (type 1, version 2, epoch 2, sequence 6, length
	// 2), the handshake header (type 1, length 3, message_seq 2,
	// fragment_offset 3, fragment_length 3), client_version 2, random 32,
	// then session_id's length and the session_id, then the cookie's
	// length.
	const (
		offContentType   = 0
		offEpoch         = 3
		offHandshakeType = 13
		offSessionIDLen  = 13 + 12 + 2 + 32
		offCookieLen     = offSessionIDLen + 1 // plus the session_id's length
	)
	prog, err := bpf.Assemble([]bpf.Instruction{
		/* 0 */ bpf.LoadAbsolute{Off: offContentType, Size: 1},
		/* 1 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: 22, SkipFalse: 9}, // handshake
		/* 2 */ bpf.LoadAbsolute{Off: offEpoch, Size: 2},
		/* 3 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0, SkipFalse: 7}, // in the clear
		/* 4 */ bpf.LoadAbsolute{Off: offHandshakeType, Size: 1},
		/* 5 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: 1, SkipFalse: 5}, // ClientHello
		/* 6 */ bpf.LoadAbsolute{Off: offSessionIDLen, Size: 1},
		/* 7 */ bpf.TAX{},
		/* 8 */ bpf.LoadIndirect{Off: offCookieLen, Size: 1},
		/* 9 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0, SkipFalse: 1}, // no cookie
		/* 10 */ bpf.RetConstant{Val: first},
		/* 11 */ bpf.RetConstant{Val: second},
	})
	require.NoError(t, err)
	filter := make([]unix.SockFilter, len(prog))
	for i, ins := range prog {
		filter[i] = unix.SockFilter{Code: ins.Op, Jt: ins.Jt, Jf: ins.Jf, K: ins.K}
	}

	lc := net.ListenConfig{Control: func(network, address string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(context.Background(), "udp4", addr.String())
	require.NoError(t, err, "joining the SO_REUSEPORT group on %v (same user as the servers)", addr)
	t.Cleanup(func() { pc.Close() })
	rc, err := pc.(*net.UDPConn).SyscallConn()
	require.NoError(t, err)
	var serr error
	require.NoError(t, rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptSockFprog(int(fd), unix.SOL_SOCKET, unix.SO_ATTACH_REUSEPORT_CBPF,
			&unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]})
	}))
	require.NoError(t, serr, "SO_ATTACH_REUSEPORT_CBPF")
}

// lookNft returns the path of nft, skipping the test when it is missing
// or when the test cannot make network namespaces (not root).
func lookNft(t *testing.T) string {
	t.Helper()
	if euid := os.Geteuid(); euid != 0 {
		t.Skipf("network namespaces and nftables need root (CAP_SYS_ADMIN, CAP_NET_ADMIN); running as euid %d", euid)
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skipf("this test needs iproute2's ip (apt-get install iproute2): %v", err)
	}
	path, err := exec.LookPath("nft")
	if err != nil {
		for _, p := range []string{"/usr/sbin/nft", "/sbin/nft"} {
			if _, serr := os.Stat(p); serr == nil {
				return p // root's sbin, not on this $PATH
			}
		}
		t.Skipf("this test needs nft, the nftables tool (apt-get install nftables): %v", err)
	}
	return path
}

// nft loads rules (nft's own syntax) in n, as one transaction.
func (n *netns) nft(t *testing.T, nft, rules string) {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", n.name, nft, "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "nft -f - in %s: %s\nrules:%s", n.name, out, rules)
}

// veth links namespace a (interface an, address aip/24) to b (bn, bip/24)
// and brings both ends up.
func veth(t *testing.T, a *netns, an string, aip netip.Addr, b *netns, bn string, bip netip.Addr) {
	t.Helper()
	a.ip(t, "link", "add", an, "type", "veth", "peer", "name", bn, "netns", b.name)
	a.ip(t, "addr", "add", aip.String()+"/24", "dev", an)
	b.ip(t, "addr", "add", bip.String()+"/24", "dev", bn)
	a.ip(t, "link", "set", an, "up")
	b.ip(t, "link", "set", bn, "up")
}

// writeSecret writes a cookie secret file of 32 random bytes, as `head -c
// 32 /dev/urandom` would, and returns its path.
func writeSecret(t *testing.T, name string) string {
	t.Helper()
	secret := make([]byte, 32)
	_, err := rand.Read(secret)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), name+".key")
	require.NoError(t, os.WriteFile(path, secret, 0o600))
	return path
}

// startInstance starts `ossl-stateless server -accept accept args...`, in
// namespace n unless n is nil, and waits for its ACCEPT line.
func startInstance(t *testing.T, name, bin string, n *netns, accept string, args ...string) *testpeer.Proc {
	t.Helper()
	args = append([]string{"server", "-accept", accept}, args...)
	var p *testpeer.Proc
	if n == nil {
		p = testpeer.StartSplit(t, name, bin, args...)
	} else {
		p = testpeer.StartSplit(t, name, "ip", append([]string{"netns", "exec", n.name, bin}, args...)...)
	}
	p.WaitFor("ACCEPT ")
	return p
}

var (
	statsRE     = regexp.MustCompile(`(?m)^STATS (.*)$`)
	handshakeRE = regexp.MustCompile(`msg="dtls: handshake completed" peer=(\S+)`)
)

// stopInstance interrupts an instance, checks that it exits 0, and returns
// the counters of its STATS line and the peers it logged a completed
// handshake with.
func stopInstance(t *testing.T, p *testpeer.Proc) (map[string]uint64, []string) {
	t.Helper()
	require.Equal(t, 0, p.Interrupt(), "%s exits 0 on SIGINT", p.Name)
	m := statsRE.FindStringSubmatch(p.Stdout.String())
	require.NotNil(t, m, "%s printed no STATS line: %s", p.Name, p.Stdout)
	stats := make(map[string]uint64)
	for _, f := range strings.Fields(m[1]) {
		k, v, ok := strings.Cut(f, "=")
		require.True(t, ok, "STATS field %q", f)
		n, err := strconv.ParseUint(v, 10, 64)
		require.NoError(t, err, "STATS field %q", f)
		stats[k] = n
	}
	var peers []string
	for _, m := range handshakeRE.FindAllStringSubmatch(p.Stderr.String(), -1) {
		peers = append(peers, m[1])
	}
	return stats, peers
}

// echoThrough connects to server over pc (a new loopback socket when pc is
// nil), completes the handshake, echoes one record and closes. The client
// trusts p's CA and expects its "localhost" certificate.
func echoThrough(t *testing.T, pc *net.UDPConn, server netip.AddrPort, p *pki, what string) {
	t.Helper()
	if pc == nil {
		var err error
		pc, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		require.NoError(t, err)
	}
	c, err := dtls.Client(pc, net.UDPAddrFromAddrPort(server), p.clientConfig("localhost"))
	if err != nil {
		pc.Close()
		require.NoError(t, err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), testpeer.Timeout)
	defer cancel()
	require.NoError(t, c.HandshakeContext(ctx), "%s: handshake from %v", what, pc.LocalAddr())
	msg := fmt.Appendf(nil, "%s from %v", what, pc.LocalAddr())
	_, err = c.Write(msg)
	require.NoError(t, err)
	require.Equal(t, string(msg), readRecord(t, c), "%s: the echo", what)
	require.NoError(t, c.Close())
}
