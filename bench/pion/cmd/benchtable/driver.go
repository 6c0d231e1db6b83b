package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/openssl-stateless/openssl/bench/pion/harness"
)

// settings are the sizes of one run; -quick shrinks them.
type settings struct {
	rounds    int
	dur       time.Duration // each loopback measurement
	cSeconds  string        // each C program's run
	benchtime string        // each Go microbenchmark
	conns     int           // the many-connection echo row and RSS
}

type driver struct {
	settings
	self, cbin, pki string
	taskset         bool
	steps           map[string]bool // the rows to measure (-steps)
	data            data
	round           int      // the round being measured
	failures        []string // steps that failed, by round
	raw             io.Writer
	log             io.Writer
}

func drive(args []string) error {
	fs := flag.NewFlagSet("benchtable", flag.ContinueOnError)
	rounds := fs.Int("rounds", 5, "rounds; each runs every pair once, the order flipped between rounds")
	quick := fs.Bool("quick", false, "a short run: 2 rounds, short measurements, 1000 connections")
	out := fs.String("out", "out", "directory for the PKI, raw.txt and table.md")
	cbin := fs.String("cbin", "", "directory of the C programs (listen, stateless, handshake)")
	steps := fs.String("steps", strings.Join(stepNames, ","), "the rows to measure, comma-separated")
	if err := fs.Parse(args); err != nil {
		return err
	}
	s := settings{rounds: *rounds, dur: 2 * time.Second, cSeconds: "1", benchtime: "1s", conns: 5000}
	if *quick {
		s = settings{rounds: 2, dur: 500 * time.Millisecond, cSeconds: "0.3", benchtime: "0.3s", conns: 1000}
		if flagSet(fs, "rounds") {
			s.rounds = *rounds
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	d := &driver{settings: s, self: self, cbin: *cbin, data: data{}, log: os.Stderr, steps: map[string]bool{}}
	for _, name := range strings.Split(*steps, ",") {
		if !slices.Contains(stepNames, name) {
			return errorf("no step %q (steps: %s)", name, strings.Join(stepNames, ","))
		}
		d.steps[name] = true
	}
	d.pki, err = filepath.Abs(filepath.Join(*out, "pki"))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(d.pki, 0o755); err != nil {
		return err
	}
	if err := prep([]string{d.pki}); err != nil {
		return err
	}
	_, err = exec.LookPath("taskset")
	d.taskset = err == nil
	raw, err := os.Create(filepath.Join(*out, "raw.txt"))
	if err != nil {
		return err
	}
	defer raw.Close()
	d.raw = raw
	fmt.Fprintf(raw, "goos: %s\ngoarch: %s\npkg: benchtable\n", runtime.GOOS, runtime.GOARCH)

	notes, err := d.checkParameters()
	if err != nil {
		return err
	}
	start := time.Now()
	for r := range s.rounds {
		fmt.Fprintf(d.log, "round %d/%d (%v so far)\n", r+1, s.rounds, time.Since(start).Round(time.Second))
		d.round = r
		d.runRound(r)
	}
	table := d.table(notes, time.Since(start))
	if err := os.WriteFile(filepath.Join(*out, "table.md"), []byte(table), 0o644); err != nil {
		return err
	}
	fmt.Print(table)
	if len(d.failures) > 0 {
		return errorf("%d measurements failed (listed under the table)", len(d.failures))
	}
	return nil
}

func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// order is the round's order of a pair (or trio): flipped every round so
// that neither side always runs first.
func order(r int, impls ...string) []string {
	out := append([]string{}, impls...)
	if r%2 == 1 {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out
}

// stepNames are the groups of rows, in the order a round measures them.
var stepNames = []string{"listen", "handshake", "echo", "cores", "readers"}

// runRound measures every row of the steps asked for once. A step that
// fails is noted and the run goes on, so that one broken row (say, after a
// change to dtls) still leaves a table of the others; its pairs in that
// round stay unmatched.
func (d *driver) runRound(r int) {
	steps := []struct {
		name string
		f    func(int) error
	}{{"listen", d.listenRows}, {"handshake", d.handshakeRows}, {"echo", d.echoRows}, {"cores", d.scalingRows}, {"readers", d.readersRows}}
	for _, step := range steps {
		if !d.steps[step.name] {
			continue
		}
		if err := step.f(r); err != nil {
			msg := fmt.Sprintf("round %d, %s rows: %v", r+1, step.name, err)
			fmt.Fprintln(d.log, msg)
			d.failures = append(d.failures, msg)
		}
	}
}

// record keeps one value and writes it to raw.txt in go test's format.
func (d *driver) record(key, impl string, v float64, unit string) {
	d.data.add(key, impl, d.round, v)
	fmt.Fprintf(d.raw, "Benchmark%s/impl=%s 1 %g %s\n", key, impl, v, unit)
}

// cprog runs one C program and returns its output.
func (d *driver) cprog(name string, args ...string) (string, error) {
	out, err := exec.Command(filepath.Join(d.cbin, name), args...).CombinedOutput()
	if err != nil {
		return "", errorf("%s: %v: %s", name, err, out)
	}
	return string(out), nil
}

func (d *driver) file(name string) string { return filepath.Join(d.pki, name) }

// listenRows: the in-memory listen path and SSL_stateless, ours (Go
// microbenchmarks in a process of their own) against the C programs.
func (d *driver) listenRows(r int) error {
	for _, impl := range order(r, "ours", "c") {
		if impl == "c" {
			out, err := d.cprog("listen", d.file(dtlsHelloFile), d.file(harness.CertFile), d.file(harness.KeyFile), d.cSeconds)
			if err != nil {
				return err
			}
			b := benchLines(out)
			d.record("ListenHelloVerify", "c", b["BenchmarkListenHelloVerify/impl=c"]["ns/op"], "ns/op")
			d.record("ListenValidCookie", "c", b["BenchmarkListenValidCookie/impl=c"]["ns/op"], "ns/op")
			// C's loop is one datagram per DTLSv1_listen whatever the
			// batching; the batch row compares the same work per datagram.
			d.record("ListenBatch", "c", b["BenchmarkListenHelloVerify/impl=c"]["ns/op"], "ns/op")
			if out, err = d.cprog("stateless", d.file(tls13HelloFile), d.file(harness.CertFile), d.file(harness.KeyFile), d.cSeconds); err != nil {
				return err
			}
			d.record("StatelessHRR", "c", benchLines(out)["BenchmarkStatelessHRR/impl=c"]["ns/op"], "ns/op")
			continue
		}
		names := "ListenHelloVerify,ListenValidCookie,ListenBatch,StatelessHRR"
		if r == 0 {
			names += ",EchoConn" // for its allocations; they do not vary
		}
		out, err := exec.Command(d.self, "micro", "-pki", d.pki, "-names", names, "-benchtime", d.benchtime).CombinedOutput()
		if err != nil {
			return errorf("micro: %v: %s", err, out)
		}
		b := benchLines(string(out))
		for _, n := range strings.Split(names, ",") {
			m := b["Benchmark"+n+"/impl=ours"]
			if n != "EchoConn" {
				d.record(n, "ours", m["ns/op"], "ns/op")
			}
			d.data.add("allocs."+n, "ours", r, m["allocs/op"])
			fmt.Fprintf(d.raw, "Benchmark%sAllocs/impl=ours 1 %g allocs/op\n", n, m["allocs/op"])
		}
	}
	return nil
}

func (d *driver) server(impl string, env []string, prefix []string, extra ...string) (*child, string, error) {
	s, err := startChild("server "+impl, env, prefix, append([]string{d.self, "server", "-impl", impl, "-pki", d.pki}, extra...)...)
	if err != nil {
		return nil, "", err
	}
	addr, err := s.expect("ADDR ", 10*time.Second)
	if err != nil {
		s.stop()
		return nil, "", err
	}
	return s, addr, nil
}

// hsResult is one handshake measurement: handshakes/s, and per handshake
// the server's CPU, the part of it its Go runtime's sysmon thread spent
// (zero for C), and the client's CPU.
type hsResult struct{ rate, serverCPU, serverSysmon, clientCPU float64 }

// handshake runs -par dialers of impl's client against impl's server for
// d.dur.
func (d *driver) handshake(impl string, par int, env, prefix []string) (hsResult, error) {
	s, addr, err := d.server(impl, env, prefix)
	if err != nil {
		return hsResult{}, err
	}
	defer s.stop()
	return d.handshakeAgainst(s, addr, impl, par)
}

// handshakeAgainst runs clientImpl's dialers against the server s.
func (d *driver) handshakeAgainst(s *child, addr, clientImpl string, par int) (hsResult, error) {
	c, err := startChild("client "+clientImpl, nil, nil, d.self, "client", "-impl", clientImpl, "-pki", d.pki,
		"-addr", addr, "-mode", "handshake", "-dur", d.dur.String(), "-par", strconv.Itoa(par))
	if err != nil {
		return hsResult{}, err
	}
	defer c.stop()
	if _, err = c.expect("PHASE start", 30*time.Second); err != nil {
		return hsResult{}, err
	}
	s0, err := s.stat()
	if err != nil {
		return hsResult{}, err
	}
	c.send("go")
	l, err := c.expect("RESULT ", d.dur+30*time.Second)
	if err != nil {
		return hsResult{}, err
	}
	s1, err := s.stat()
	if err != nil {
		return hsResult{}, err
	}
	f := fields(l)
	n := f["n"]
	if n == 0 {
		return hsResult{}, errorf("%s: no handshake completed", s.name)
	}
	return hsResult{
		rate:         n / (f["wall_ns"] / 1e9),
		serverCPU:    (s1.cpu - s0.cpu) / n,
		serverSysmon: (s1.sysmon - s0.sysmon) / n,
		clientCPU:    f["cpu_ns"] / n,
	}, nil
}

// cServer starts bench/c/server, OpenSSL's server over loopback in C.
func (d *driver) cServer() (*child, string, error) {
	s, err := startChild("C server", nil, nil, filepath.Join(d.cbin, "server"), d.file(harness.CertFile), d.file(harness.KeyFile))
	if err != nil {
		return nil, "", err
	}
	addr, err := s.expect("ADDR ", 10*time.Second)
	if err != nil {
		s.stop()
		return nil, "", err
	}
	return s, addr, nil
}

// handshakeRows: CPU per full handshake over loopback, each side's own
// process, ours and pion with their own clients; C in memory; and C's
// server over loopback with our client.
func (d *driver) handshakeRows(r int) error {
	for _, impl := range order(r, "ours", "pion", "c", "cloop") {
		if impl == "cloop" {
			// OpenSSL's server over loopback, in C, with our client.
			s, addr, err := d.cServer()
			if err != nil {
				return err
			}
			h, err := d.handshakeAgainst(s, addr, "ours", 1)
			s.stop()
			if err != nil {
				return err
			}
			d.record("HandshakeServerCPU", "cloop", h.serverCPU, "ns/op")
			d.record("HandshakeServerCPUNoSysmon", "cloop", h.serverCPU, "ns/op") // one thread, no runtime
			continue
		}
		if impl == "c" {
			out, err := d.cprog("handshake", d.file(harness.CAFile), d.file(harness.CertFile), d.file(harness.KeyFile), d.cSeconds)
			if err != nil {
				return err
			}
			m := benchLines(out)["BenchmarkHandshakeMem/impl=c"]
			d.record("HandshakeServerCPU", "c", m["server-cpu-ns/op"], "ns/op")
			d.record("HandshakeClientCPU", "c", m["client-cpu-ns/op"], "ns/op")
			continue
		}
		h, err := d.handshake(impl, 1, nil, nil)
		if err != nil {
			return err
		}
		d.record("HandshakeServerCPU", impl, h.serverCPU, "ns/op")
		d.record("HandshakeServerSysmon", impl, h.serverSysmon, "ns/op")
		d.record("HandshakeServerCPUNoSysmon", impl, h.serverCPU-h.serverSysmon, "ns/op")
		d.record("HandshakeClientCPU", impl, h.clientCPU, "ns/op")
	}
	return nil
}

// echoResult is one echo measurement: round trips/s; the CPU time each
// process spent per round trip (the server's by getrusage over the same
// span, the client's from its own); the cores each used meanwhile, which
// show whether the two filled the machine; and, with many connections, the
// server's RSS per connection.
type echoResult struct {
	rate, serverCPU, clientCPU, serverCores, clientCores, rssPerConn float64
}

// echo runs the echo client against impl's server.
func (d *driver) echo(impl string, conns, workers int) (echoResult, error) {
	var res echoResult
	s, addr, err := d.server(impl, nil, nil)
	if err != nil {
		return res, err
	}
	defer s.stop()
	c, err := startChild("client "+impl, nil, nil, d.self, "client", "-impl", impl, "-pki", d.pki,
		"-addr", addr, "-mode", "echo", "-dur", d.dur.String(),
		"-conns", strconv.Itoa(conns), "-workers", strconv.Itoa(workers))
	if err != nil {
		return res, err
	}
	defer c.stop()
	if _, err = c.expect("PHASE base", 30*time.Second); err != nil {
		return res, err
	}
	s0, err := s.stat()
	if err != nil {
		return res, err
	}
	c.send("go")
	if _, err = c.expect("PHASE idle", 300*time.Second); err != nil {
		return res, err
	}
	// Handshakes finish on the server a moment after the clients' Dial.
	time.Sleep(time.Second)
	s1, err := s.stat()
	if err != nil {
		return res, err
	}
	if impl != "udp" && int(s1.peers) < conns {
		return res, errorf("%s: server holds %v connections, want %d", impl, s1.peers, conns)
	}
	c.send("go")
	l, err := c.expect("RESULT ", d.dur+30*time.Second)
	if err != nil {
		return res, err
	}
	// The server's span also has the stat round trips at its ends, while
	// it idles: next to the round trips' CPU, noise.
	s2, err := s.stat()
	if err != nil {
		return res, err
	}
	f := fields(l)
	n, wall := f["n"], f["wall_ns"]
	if n == 0 {
		return res, errorf("%s: no echo came back", impl)
	}
	return echoResult{
		rate:        n / (wall / 1e9),
		serverCPU:   (s2.cpu - s1.cpu) / n,
		clientCPU:   f["cpu_ns"] / n,
		serverCores: (s2.cpu - s1.cpu) / wall,
		clientCores: f["cpu_ns"] / wall,
		rssPerConn:  (s1.rss - s0.rss) / float64(conns),
	}, nil
}

// recordEcho keeps an echo row's rate and both sides' CPU under key.
func (d *driver) recordEcho(key, impl string, e echoResult) {
	d.record(key, impl, e.rate, "roundtrips/s")
	d.record(key+"ServerCPU", impl, e.serverCPU, "ns/op")
	d.record(key+"ClientCPU", impl, e.clientCPU, "ns/op")
	d.data.add(key+"ServerCores", impl, d.round, e.serverCores)
	d.data.add(key+"ClientCores", impl, d.round, e.clientCores)
}

func (d *driver) echoRows(r int) error {
	for _, impl := range order(r, "ours", "pion", "udp") {
		e, err := d.echo(impl, 1, 1)
		if err != nil {
			return err
		}
		d.record("EchoRTT", impl, 1e9/e.rate, "ns/op")
		if e, err = d.echo(impl, 1, 16); err != nil {
			return err
		}
		d.recordEcho("Echo16x1", impl, e)
	}
	for _, impl := range order(r, "ours", "pion", "udp", "udpconns") {
		e, err := d.echo(impl, d.conns, 16)
		if err != nil {
			return err
		}
		d.recordEcho("Echo16xMany", impl, e)
		if impl == "ours" || impl == "pion" {
			d.record("RSSPerConn", impl, e.rssPerConn, "B/conn")
		}
	}
	return nil
}

// pin is the environment and command prefix that give a server procs
// cores: GOMAXPROCS, and taskset where it exists.
func (d *driver) pin(procs int) (env, prefix []string) {
	env = []string{"GOMAXPROCS=" + strconv.Itoa(procs)}
	if d.taskset {
		cpus := "0"
		if procs > 1 {
			cpus = fmt.Sprintf("0-%d", procs-1)
		}
		prefix = []string{"taskset", "-c", cpus}
	}
	return env, prefix
}

// scalingRows: our server on one core and on two, under a flood of
// cookieless ClientHellos and under handshakes from 8 client processes,
// both from bench/c/load (the Go load generators cost more CPU than the
// server they load, and the machine has only two cores).
func (d *driver) scalingRows(r int) error {
	for _, procs := range order(r, "1", "2") {
		p, _ := strconv.Atoi(procs)
		env, prefix := d.pin(p)
		rate, cores, err := d.load(env, prefix, "0", "flood")
		if err != nil {
			return err
		}
		d.record("FloodCores", procs, rate, "answers/s")
		d.data.add("FloodServerCores", procs, r, cores)
		if rate, cores, err = d.load(env, prefix, "0", "handshake", "8", d.file(harness.CAFile)); err != nil {
			return err
		}
		d.record("HandshakeCores", procs, rate, "handshakes/s")
		d.data.add("HandshakeServerCores", procs, r, cores)
	}
	return nil
}

// floodSockets is how many source ports the flood of the readers rows
// comes from: the kernel hashes each 4-tuple to one socket of the group.
const floodSockets = "16"

// readersRows: our server given both cores (GOMAXPROCS=2, taskset 0-1),
// with one reader against two (Config.Readers), under a flood of
// cookieless ClientHellos from floodSockets source ports and under
// handshakes from 8 client processes, the load sharing the cores.
func (d *driver) readersRows(r int) error {
	env, prefix := d.pin(2)
	for _, readers := range order(r, "1", "2") {
		rate, cores, err := d.load(env, prefix, readers, "flood", floodSockets)
		if err != nil {
			return err
		}
		d.record("FloodReaders", readers, rate, "answers/s")
		d.data.add("FloodReadersServerCores", readers, r, cores)
		if rate, cores, err = d.load(env, prefix, readers, "handshake", "8", d.file(harness.CAFile)); err != nil {
			return err
		}
		d.record("HandshakeReaders", readers, rate, "handshakes/s")
		d.data.add("HandshakeReadersServerCores", readers, r, cores)
	}
	return nil
}

// load runs bench/c/load against our server started with env and prefix
// and Config.Readers readers ("0": the default), and returns the load's
// rate and the cores the server used meanwhile.
func (d *driver) load(env, prefix []string, readers, mode string, extra ...string) (rate, serverCores float64, err error) {
	s, addr, err := d.server("ours", env, prefix, "-readers", readers)
	if err != nil {
		return 0, 0, err
	}
	defer s.stop()
	host, port, _ := strings.Cut(addr, ":")
	args := append([]string{filepath.Join(d.cbin, "load"), mode, host, port, fmt.Sprint(d.dur.Seconds())}, extra...)
	// A server on CPU 0 alone leaves the load CPU 1, so that "one core"
	// means one whole core; a server on both shares them with the load.
	var loadPrefix []string
	if d.taskset && len(prefix) > 0 && prefix[len(prefix)-1] == "0" {
		loadPrefix = []string{"taskset", "-c", "1"}
	}
	c, err := startChild("load "+mode, nil, loadPrefix, args...)
	if err != nil {
		return 0, 0, err
	}
	defer c.stop()
	if _, err = c.expect("PHASE start", 30*time.Second); err != nil {
		return 0, 0, err
	}
	s0, err := s.stat()
	if err != nil {
		return 0, 0, err
	}
	c.send("go")
	l, err := c.expect("RESULT ", d.dur+30*time.Second)
	if err != nil {
		return 0, 0, err
	}
	s1, err := s.stat()
	if err != nil {
		return 0, 0, err
	}
	f := fields(l)
	wall := f["wall_ns"]
	if f["n"] == 0 {
		return 0, 0, errorf("load %s: nothing answered", mode)
	}
	return f["n"] / (wall / 1e9), (s1.cpu - s0.cpu) / wall, nil
}

// checkParameters runs one handshake of ours and of pion through the
// wire relay, and one of C in memory, and fails unless all three used
// the same suite and group.
func (d *driver) checkParameters() ([]string, error) {
	p, err := harness.LoadPKI(d.pki)
	if err != nil {
		return nil, err
	}
	var notes []string
	for _, impl := range []string{"ours", "pion"} {
		s, err := harness.StartServer(impl, p)
		if err != nil {
			return nil, err
		}
		w, err := harness.CheckWire(harness.NewClient(impl, p), s.Addr())
		s.Close()
		if err != nil {
			return nil, errorf("%s: wire check: %w", impl, err)
		}
		if w.Cipher != 0xc02b || w.Group != 29 || !w.CookieExchange {
			return nil, errorf("%s negotiated %v; want ECDHE-ECDSA-AES128-GCM-SHA256 (0xc02b), X25519, with a cookie exchange", impl, w)
		}
		notes = append(notes, fmt.Sprintf("%s on the wire: %v", impl, w))
	}
	out, err := d.cprog("handshake", d.file(harness.CAFile), d.file(harness.CertFile), d.file(harness.KeyFile), "0.01")
	if err != nil {
		return nil, err
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "negotiated ") {
			notes = append(notes, "C in memory: "+l)
		}
	}
	return notes, nil
}
