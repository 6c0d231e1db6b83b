package main

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/openssl-stateless/openssl/bench/pion/harness"
)

// Files prep writes beside the PKI.
const (
	dtlsHelloFile  = "dtls-hello.bin"
	tls13HelloFile = "tls13-hello.bin"
)

func prep(args []string) error {
	// A flag where DIR goes (prep -h) would otherwise become a directory
	// of keys named after it.
	if len(args) != 1 || strings.HasPrefix(args[0], "-") {
		return errorf("usage: prep DIR")
	}
	dir := args[0]
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := harness.WritePKI(dir); err != nil {
		return err
	}
	hello, err := harness.TLS13ClientHello()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, tls13HelloFile), hello, 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, dtlsHelloFile), harness.DTLSClientHello(), 0o600)
}

// cpuNanos is this process's CPU time, user and system.
func cpuNanos() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// sysmonNanos is the CPU time of the Go runtime's sysmon thread, the one
// that polls while any P runs and wakes on the first syscall or cgo call
// after the process was idle: runtime.main starts it before anything else,
// so it is the process's second thread. /proc's schedstat gives
// nanoseconds; -1 when it cannot be read.
func sysmonNanos() int64 {
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return -1
	}
	tids := make([]int, 0, len(ents))
	for _, e := range ents {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			tids = append(tids, tid)
		}
	}
	if len(tids) < 2 {
		return -1
	}
	slices.Sort(tids)
	data, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/schedstat", tids[1]))
	if err != nil {
		return -1
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return -1
	}
	ns, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return -1
	}
	return ns
}

// rssBytes is VmRSS from /proc/self/status.
func rssBytes() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return -1
}

// serve runs one echo server and answers the driver on stdin: "stat"
// prints its CPU time, RSS and connection count. It exits when stdin
// closes, without closing connections (the clients are gone by then).
func serve(args []string) error {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	impl := fs.String("impl", "ours", "ours, pion or udp")
	pkiDir := fs.String("pki", "", "PKI directory")
	readers := fs.Int("readers", 0, "ours: Config.Readers")
	if err := fs.Parse(args); err != nil {
		return err
	}
	p, err := harness.LoadPKI(*pkiDir)
	if err != nil {
		return err
	}
	var s harness.Server
	if *impl == "ours" {
		s, err = harness.StartOurs(p, *readers)
	} else {
		s, err = harness.StartServer(*impl, p)
	}
	if err != nil {
		return err
	}
	fmt.Printf("ADDR %s\n", s.Addr())
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if in.Text() == "stat" {
			fmt.Printf("STAT %d %d %d %d\n", cpuNanos(), rssBytes(), s.Peers(), sysmonNanos())
		}
	}
	return nil
}

// phase tells the driver where the client is and waits for its go-ahead,
// so that the driver can read the server's figures at that point.
func phase(in *bufio.Scanner, name string) {
	fmt.Printf("PHASE %s\n", name)
	in.Scan()
}

// client is one implementation's client. Modes:
//   - handshake: Dial and Close in -par goroutines for -dur; reports
//     handshakes and this process's CPU time;
//   - echo: -conns connections, then -workers goroutines each sending
//     EchoSize bytes and waiting for the echo, over its share of the
//     connections in turn, for -dur; reports round trips and this
//     process's CPU time over them.
func client(args []string) error {
	fs := flag.NewFlagSet("client", flag.ContinueOnError)
	impl := fs.String("impl", "ours", "ours, pion or udp")
	pkiDir := fs.String("pki", "", "PKI directory")
	addr := fs.String("addr", "", "server address")
	mode := fs.String("mode", "handshake", "handshake or echo")
	dur := fs.Duration("dur", 2*time.Second, "measured time")
	par := fs.Int("par", 1, "handshake: concurrent dialers")
	conns := fs.Int("conns", 1, "echo: connections")
	workers := fs.Int("workers", 1, "echo: goroutines with a request outstanding")
	if err := fs.Parse(args); err != nil {
		return err
	}
	p, err := harness.LoadPKI(*pkiDir)
	if err != nil {
		return err
	}
	cl := harness.NewClient(*impl, p)
	in := bufio.NewScanner(os.Stdin)
	switch *mode {
	case "handshake":
		return handshakes(cl, *addr, *dur, *par, in)
	case "echo":
		return echoLoad(cl, *addr, *dur, *conns, *workers, *impl == "udpconns", in)
	}
	return errorf("unknown mode %q", *mode)
}

func dialClose(cl *harness.Client, addr string) error {
	c, err := cl.Dial(addr)
	if err != nil {
		return err
	}
	return c.Close()
}

func handshakes(cl *harness.Client, addr string, dur time.Duration, par int, in *bufio.Scanner) error {
	for range 3 {
		if err := dialClose(cl, addr); err != nil {
			return err
		}
	}
	phase(in, "start")
	var n atomic.Int64
	var firstErr atomic.Value
	cpu0, t0 := cpuNanos(), time.Now()
	end := t0.Add(dur)
	var wg sync.WaitGroup
	for range par {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				if err := dialClose(cl, addr); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	wall, cpu := time.Since(t0), cpuNanos()-cpu0
	if err, _ := firstErr.Load().(error); err != nil {
		return err
	}
	fmt.Printf("RESULT n=%d wall_ns=%d cpu_ns=%d\n", n.Load(), wall.Nanoseconds(), cpu)
	return nil
}

// primeConn makes one round trip on c, sending again after a silence: the
// udpconns server binds a peer's socket before it connects it, and a
// datagram of another peer the kernel hands that socket meanwhile is lost.
func primeConn(c net.Conn) error {
	buf := make([]byte, harness.EchoBuffer)
	var err error
	for range 10 {
		if _, err = c.Write(buf[:1]); err != nil {
			return err
		}
		_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if _, err = c.Read(buf); err == nil {
			return c.SetReadDeadline(time.Time{})
		}
	}
	return err
}

// echoLoad is the echo mode. With prime, each connection makes one round
// trip before the measurement: the udpconns server makes a peer's socket
// on its first datagram, as ours does during the handshake.
func echoLoad(cl *harness.Client, addr string, dur time.Duration, nconns, workers int, prime bool, in *bufio.Scanner) error {
	msg, buf := make([]byte, harness.EchoSize), make([]byte, harness.EchoBuffer)
	// A connection dialled and closed first, so that code paths and
	// buffers of both processes are warm before the baseline.
	warm, err := cl.Dial(addr)
	if err != nil {
		return err
	}
	for range 100 {
		if _, err := warm.Write(msg); err != nil {
			return err
		}
		if _, err := warm.Read(buf); err != nil {
			return err
		}
	}
	_ = warm.Close()
	time.Sleep(100 * time.Millisecond)
	phase(in, "base")

	conns := make([]net.Conn, nconns)
	var next atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range min(8, nconns) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(nconns) {
					return
				}
				c, err := cl.Dial(addr)
				if err == nil && prime {
					err = primeConn(c)
				}
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				conns[i] = c
			}
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return err
	}
	phase(in, "idle")

	var stop atomic.Bool
	counts := make([]atomic.Int64, workers)
	cpu0, t0 := cpuNanos(), time.Now()
	for w := range workers {
		go func() {
			msg, buf := make([]byte, harness.EchoSize), make([]byte, harness.EchoBuffer)
			for i := w % nconns; !stop.Load(); i = (i + workers) % nconns {
				c := conns[i]
				if _, err := c.Write(msg); err != nil {
					return
				}
				if _, err := c.Read(buf); err != nil {
					return
				}
				counts[w].Add(1)
			}
		}()
	}
	time.Sleep(dur)
	stop.Store(true)
	wall, cpu := time.Since(t0), cpuNanos()-cpu0
	var n int64
	for i := range counts {
		n += counts[i].Load()
	}
	// Workers still waiting for an echo are left behind: the process
	// exits, and a lost datagram cannot hold the run.
	fmt.Printf("RESULT n=%d wall_ns=%d cpu_ns=%d\n", n, wall.Nanoseconds(), cpu)
	return nil
}

// micro runs in-memory microbenchmarks of the harness in this process,
// printed as go test prints them.
func micro(args []string) error {
	fs := flag.NewFlagSet("micro", flag.ContinueOnError)
	pkiDir := fs.String("pki", "", "PKI directory")
	names := fs.String("names", "ListenHelloVerify,ListenValidCookie", "benchmarks, comma-separated")
	benchtime := fs.String("benchtime", "1s", "as go test's -benchtime")
	if err := fs.Parse(args); err != nil {
		return err
	}
	testing.Init()
	if err := flag.Set("test.benchtime", *benchtime); err != nil {
		return err
	}
	p, err := harness.LoadPKI(*pkiDir)
	if err != nil {
		return err
	}
	tls13, err := os.ReadFile(filepath.Join(*pkiDir, tls13HelloFile))
	if err != nil {
		return err
	}
	benches := map[string]func(*testing.B){
		"ListenHelloVerify": func(b *testing.B) { harness.ListenHelloVerify(b, p) },
		"ListenValidCookie": func(b *testing.B) { harness.ListenValidCookie(b, p) },
		"ListenBatch":       func(b *testing.B) { harness.ListenBatch(b, p) },
		"StatelessHRR":      func(b *testing.B) { harness.StatelessHRR(b, p, tls13) },
		"EchoConn":          func(b *testing.B) { harness.EchoConn(b, p) },
	}
	for _, name := range strings.Split(*names, ",") {
		f, ok := benches[name]
		if !ok {
			return errorf("no microbenchmark %q", name)
		}
		r := testing.Benchmark(f)
		if r.N == 0 {
			return errorf("%s failed", name)
		}
		fmt.Printf("Benchmark%s/impl=ours %d %.1f ns/op %d B/op %d allocs/op\n",
			name, r.N, float64(r.T.Nanoseconds())/float64(r.N), r.AllocedBytesPerOp(), r.AllocsPerOp())
	}
	return nil
}
