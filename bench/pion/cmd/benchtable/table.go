package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/openssl-stateless/openssl"
)

// data holds every measurement: key -> implementation -> round -> value,
// so that the values of two implementations in one round, measured back to
// back, are paired.
type data map[string]map[string]map[int]float64

func (d data) add(key, impl string, round int, v float64) {
	if d[key] == nil {
		d[key] = map[string]map[int]float64{}
	}
	if d[key][impl] == nil {
		d[key][impl] = map[int]float64{}
	}
	d[key][impl][round] = v
}

// values returns impl's values of key, in round order.
func (d data) values(key, impl string) []float64 {
	m := d[key][impl]
	rounds := make([]int, 0, len(m))
	for r := range m {
		rounds = append(rounds, r)
	}
	sort.Ints(rounds)
	v := make([]float64, 0, len(rounds))
	for _, r := range rounds {
		v = append(v, m[r])
	}
	return v
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64{}, v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// row is one line of the table: ours against one reference.
type row struct {
	metric    string
	key       string
	ours, ref string // implementation names in data
	refName   string
	unit      func(float64) string
	// ratio of one round's pair; what it means is in the metric's text.
	ratio func(ours, ref float64) float64
	goal  string
	met   func(ratio float64) bool
}

func micros(v float64) string {
	if v >= 1e6 {
		return fmt.Sprintf("%.3g ms", v/1e6)
	}
	return fmt.Sprintf("%.3g µs", v/1e3)
}
func rate(v float64) string  { return fmt.Sprintf("%.3gk/s", v/1e3) }
func kib(v float64) string   { return fmt.Sprintf("%.3g KiB", v/1024) }
func count(v float64) string { return fmt.Sprintf("%g", v) }

// rateOf compares times as rates: ours' rate over the reference's.
func rateOf(ours, ref float64) float64 { return ref / ours }
func over(ours, ref float64) float64   { return ours / ref }
func atLeast(g float64) func(float64) bool {
	return func(r float64) bool { return r >= g }
}
func atMost(g float64) func(float64) bool {
	return func(r float64) bool { return r <= g }
}

var rows = []row{
	{"`DTLSv1Listen` forged ClientHello -> HelloVerifyRequest, reused SSL, CookieSigner (rate vs C)", "ListenHelloVerify", "ours", "c", "C, HMAC callback", micros, rateOf, ">= 0.95x", atLeast(0.95)},
	{"same, second ClientHello with a valid cookie (rate vs C)", "ListenValidCookie", "ours", "c", "C", micros, rateOf, ">= 0.95x", atLeast(0.95)},
	{"forged ClientHellos -> HelloVerifyRequests, 16 per call (`DTLSv1ListenBatch`, as `dtls.Listener`'s reader after a recvmmsg), per datagram (rate vs C)", "ListenBatch", "ours", "c", "C, one per call", micros, rateOf, ">= 0.95x", atLeast(0.95)},
	{"`Stateless` -> HelloRetryRequest (rate vs C)", "StatelessHRR", "ours", "c", "C", micros, rateOf, ">= 0.95x", atLeast(0.95)},
	{"server CPU per full DTLS 1.2 handshake, loopback (vs pion)", "HandshakeServerCPU", "ours", "pion", "pion", micros, over, "<= 0.5x", atMost(0.5)},
	{"server CPU per handshake (vs C in memory)", "HandshakeServerCPU", "ours", "c", "C in memory", micros, over, "<= 2x", atMost(2)},
	{"server CPU per handshake (vs C server over loopback, our client)", "HandshakeServerCPU", "ours", "cloop", "C over loopback", micros, over, "", nil},
	{"of the server CPU per handshake, Go's sysmon thread's (vs pion)", "HandshakeServerSysmon", "ours", "pion", "pion", micros, over, "", nil},
	{"server CPU per handshake but sysmon's (vs C server over loopback)", "HandshakeServerCPUNoSysmon", "ours", "cloop", "C over loopback", micros, over, "", nil},
	{"client CPU per handshake: Dial, cookie, verify (vs pion)", "HandshakeClientCPU", "ours", "pion", "pion", micros, over, "<= 0.8x", atMost(0.8)},
	{"client CPU per handshake (vs C in memory)", "HandshakeClientCPU", "ours", "c", "C in memory", micros, over, "", nil},
	{"echo round trip, 1 connection, 1 request outstanding (vs bare UDP)", "EchoRTT", "ours", "udp", "bare Go UDP echo", micros, over, "<= 2x", atMost(2)},
	{"same (vs pion)", "EchoRTT", "ours", "pion", "pion", micros, over, "", nil},
	{"echo round trips/s, 16 workers, 1 connection (vs bare UDP)", "Echo16x1", "ours", "udp", "bare UDP", rate, over, ">= 0.8x", atLeast(0.8)},
	{"same (vs pion)", "Echo16x1", "ours", "pion", "pion", rate, over, "", nil},
	{"server CPU per echo round trip, 16 workers, 1 connection (vs bare UDP)", "Echo16x1ServerCPU", "ours", "udp", "bare UDP", micros, over, "", nil},
	{"same (vs pion)", "Echo16x1ServerCPU", "ours", "pion", "pion", micros, over, "", nil},
	{"client CPU per echo round trip, 16 workers, 1 connection (vs bare UDP)", "Echo16x1ClientCPU", "ours", "udp", "bare UDP", micros, over, "", nil},
	{"same (vs pion)", "Echo16x1ClientCPU", "ours", "pion", "pion", micros, over, "", nil},
	{"same with CONNS connections (vs bare UDP)", "Echo16xMany", "ours", "udp", "bare UDP", rate, over, ">= 0.6x", atLeast(0.6)},
	{"same (vs pion)", "Echo16xMany", "ours", "pion", "pion", rate, over, "", nil},
	{"same (vs bare UDP with a connected socket and a goroutine per peer, ours' shape)", "Echo16xMany", "ours", "udpconns", "UDP, socket per peer", rate, over, "", nil},
	{"server CPU per echo round trip, 16 workers, CONNS connections (vs bare UDP)", "Echo16xManyServerCPU", "ours", "udp", "bare UDP", micros, over, "", nil},
	{"same (vs pion)", "Echo16xManyServerCPU", "ours", "pion", "pion", micros, over, "", nil},
	{"same (vs bare UDP, socket per peer)", "Echo16xManyServerCPU", "ours", "udpconns", "UDP, socket per peer", micros, over, "", nil},
	{"client CPU per echo round trip, 16 workers, CONNS connections (vs bare UDP)", "Echo16xManyClientCPU", "ours", "udp", "bare UDP", micros, over, "", nil},
	{"same (vs pion)", "Echo16xManyClientCPU", "ours", "pion", "pion", micros, over, "", nil},
	{"same (vs bare UDP, socket per peer)", "Echo16xManyClientCPU", "ours", "udpconns", "UDP, socket per peer", micros, over, "", nil},
	{"RSS per idle established connection, CONNS connections (vs pion)", "RSSPerConn", "ours", "pion", "pion", kib, over, "<= 0.5x", atMost(0.5)},
	{"forged-ClientHello flood, answers/s, server on 2 cores vs 1", "FloodCores", "2", "1", "1 core", rate, over, ">= 1.7x", atLeast(1.7)},
	{"handshakes/s (8 client processes), server on 2 cores vs 1", "HandshakeCores", "2", "1", "1 core", rate, over, ">= 1.7x", atLeast(1.7)},
	{"forged-ClientHello flood from 16 ports, answers/s, 2 readers vs 1 (`Config.Readers`, server on 2 cores)", "FloodReaders", "2", "1", "1 reader", rate, over, ">= 1.7x", atLeast(1.7)},
	{"handshakes/s (8 client processes), 2 readers vs 1 (server on 2 cores)", "HandshakeReaders", "2", "1", "1 reader", rate, over, ">= 1.7x", atLeast(1.7)},
}

// allocRows are ours alone: allocations per operation, goal 0.
var allocRows = []struct{ metric, key string }{
	{"allocs/op, listen path (no cookie)", "allocs.ListenHelloVerify"},
	{"allocs/op, listen path (valid cookie)", "allocs.ListenValidCookie"},
	{"allocs/op, listen path (16 per call)", "allocs.ListenBatch"},
	{"allocs/op, `Stateless`", "allocs.StatelessHRR"},
	{"allocs/op, established Write + Read (both sides, in process)", "allocs.EchoConn"},
}

func (d *driver) table(notes []string, took time.Duration) string {
	var b strings.Builder
	cpu := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	pion := "pion/dtls ?"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == "github.com/pion/dtls/v3" {
				pion = "pion/dtls " + m.Version
			}
		}
	}
	fmt.Fprintf(&b, "- %s; %d CPUs (%s); %s; %s; %s.\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"),
		runtime.NumCPU(), cpu, openssl.VersionText(), runtime.Version(), pion)
	fmt.Fprintf(&b, "- %d rounds, %v per loopback measurement, %ss per C run, %s per Go microbenchmark; took %v.\n",
		d.rounds, d.dur, d.cSeconds, d.benchtime, took.Round(time.Second))
	for _, n := range notes {
		fmt.Fprintf(&b, "- %s.\n", n)
	}
	if !d.taskset {
		fmt.Fprintf(&b, "- taskset not found: the 1-core server has GOMAXPROCS=1 only.\n")
	}
	b.WriteString("\n| metric | ours | reference | ratio | spread | goal | met |\n|---|---|---|---|---|---|---|\n")
	conns := fmt.Sprint(d.conns)
	for _, r := range rows {
		o, ref := d.data.values(r.key, r.ours), d.data.values(r.key, r.ref)
		var ratios []float64
		for round, ov := range d.data[r.key][r.ours] {
			if rv, ok := d.data[r.key][r.ref][round]; ok && ov > 0 && rv > 0 {
				ratios = append(ratios, r.ratio(ov, rv))
			}
		}
		metric := strings.ReplaceAll(r.metric, "CONNS", conns)
		if len(ratios) == 0 && len(d.steps) < len(stepNames) {
			continue // a step not asked for (-steps)
		}
		if len(ratios) == 0 {
			fmt.Fprintf(&b, "| %s | - | - | - | - | %s | not measured |\n", metric, r.goal)
			continue
		}
		m := median(ratios)
		met := "-"
		if r.met != nil {
			met = "no"
			if r.met(m) {
				met = "yes"
			}
		}
		lo, hi := ratios[0], ratios[0]
		for _, x := range ratios {
			lo, hi = min(lo, x), max(hi, x)
		}
		fmt.Fprintf(&b, "| %s | %s | %s: %s | %.2fx | %.2f..%.2f | %s | %s |\n",
			metric, r.unit(median(o)), r.refName, r.unit(median(ref)), m, lo, hi, r.goal, met)
	}
	for _, r := range allocRows {
		v := d.data.values(r.key, "ours")
		if len(v) == 0 && len(d.steps) < len(stepNames) {
			continue
		}
		if len(v) == 0 {
			fmt.Fprintf(&b, "| %s | - | | | | 0 | not measured |\n", r.metric)
			continue
		}
		met := "yes"
		if median(v) != 0 {
			met = "no"
		}
		fmt.Fprintf(&b, "| %s | %s | | | %s..%s | 0 | %s |\n", r.metric, count(median(v)), count(minOf(v)), count(maxOf(v)), met)
	}
	b.WriteString("\n")
	for _, k := range []string{"Flood", "Handshake"} {
		c1, c2 := d.data.values(k+"ServerCores", "1"), d.data.values(k+"ServerCores", "2")
		if len(c1) > 0 && len(c2) > 0 {
			fmt.Fprintf(&b, "- Server CPU in the %s core rows: %.2f cores used when given 1, %.2f when given 2 (medians; the load generator, bench/c/load, shares the machine).\n", strings.ToLower(k), median(c1), median(c2))
		}
	}
	for _, k := range []string{"Flood", "Handshake"} {
		c1, c2 := d.data.values(k+"ReadersServerCores", "1"), d.data.values(k+"ReadersServerCores", "2")
		if len(c1) > 0 && len(c2) > 0 {
			fmt.Fprintf(&b, "- Server CPU in the %s readers rows: %.2f cores used with 1 reader, %.2f with 2 (medians; given 2 cores, which the load generator shares); per %s, %s with 1 reader, %s with 2.\n",
				strings.ToLower(k), median(c1), median(c2), map[string]string{"Flood": "answer", "Handshake": "handshake"}[k],
				micros(d.cpuPer(k+"Readers", "1")), micros(d.cpuPer(k+"Readers", "2")))
		}
	}
	for _, k := range []string{"Echo16x1", "Echo16xMany"} {
		var parts []string
		for _, impl := range []string{"ours", "pion", "udp", "udpconns"} {
			sc, cc := d.data.values(k+"ServerCores", impl), d.data.values(k+"ClientCores", impl)
			if len(sc) > 0 && len(cc) > 0 {
				parts = append(parts, fmt.Sprintf("%s %.2f + %.2f", impl, median(sc), median(cc)))
			}
		}
		if len(parts) > 0 {
			fmt.Fprintf(&b, "- Cores used in the %s echo row, server + client (medians; %d CPUs): %s.\n",
				map[string]string{"Echo16x1": "16-worker, 1-connection", "Echo16xMany": conns + "-connection"}[k], runtime.NumCPU(), strings.Join(parts, ", "))
		}
	}
	for _, f := range d.failures {
		fmt.Fprintf(&b, "- FAILED: %s\n", f)
	}
	b.WriteString("- ratio: ours over the reference, except the first four rows (ours' rate over C's), the core rows (2 cores over 1) and the readers rows (2 readers over 1). spread: the lowest and highest per-round ratio. Values are medians over the rounds.\n")
	return b.String()
}

// cpuPer is the median over rounds of the server's CPU time per operation
// (ns) in key's rows for impl: the cores it used over the rate it served.
// Unlike the rate, it does not depend on how much CPU the load generator
// and the machine's other users left the server.
func (d *driver) cpuPer(key, impl string) float64 {
	var v []float64
	for round, cores := range d.data[key+"ServerCores"][impl] {
		if r, ok := d.data[key][impl][round]; ok && r > 0 {
			v = append(v, cores/r*1e9)
		}
	}
	if len(v) == 0 {
		return 0
	}
	return median(v)
}

func minOf(v []float64) float64 {
	m := v[0]
	for _, x := range v {
		m = min(m, x)
	}
	return m
}

func maxOf(v []float64) float64 {
	m := v[0]
	for _, x := range v {
		m = max(m, x)
	}
	return m
}
