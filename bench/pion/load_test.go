package pion_test

// Load generators: forged ClientHellos over real loopback UDP, closed loop
// (each source waits for its HelloVerifyRequest before sending again) and
// open loop (paced, answers counted by one epoll reader).

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// forgedClientHello is a DTLS 1.2 ClientHello in one record, without a
// cookie, as dtls/flood_test.go builds it.
func forgedClientHello() []byte {
	body := binary.BigEndian.AppendUint16(nil, 0xfefd)
	random := make([]byte, 32)
	_, _ = rand.Read(random)
	body = append(body, random...)
	body = append(body, 0, 0) // session id, cookie: empty
	body = append(body, 0, 4, 0xc0, 0x2b, 0xc0, 0x2f, 1, 0)
	hs := []byte{1, 0, byte(len(body) >> 8), byte(len(body)), 0, 0, 0, 0, 0, 0, byte(len(body) >> 8), byte(len(body))}
	hs = append(hs, body...)
	rec := []byte{22, 0xfe, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, byte(len(hs) >> 8), byte(len(hs))}
	return append(rec, hs...)
}

func isHVR(b []byte) bool { return len(b) > 13+12 && b[0] == 22 && b[13] == 3 }

// Every fresh source is a distinct address of 127.0.0.0/8 (all of which
// are local on Linux), so that no two forged sources of the process ever
// share an address and port, whatever the kernel picks for the port.
var ipCounter atomic.Uint32

func init() { ipCounter.Store(1 << 16) } // 127.1.0.0 upwards

func nextIP() [4]byte {
	for {
		n := ipCounter.Add(1)
		a, b, c := byte(n>>16), byte(n>>8), byte(n)
		if c == 0 || c == 255 || a == 0 || a == 255 {
			continue
		}
		return [4]byte{127, a, b, c}
	}
}

// freshSockets opens n connected UDP sockets, each from an address of its own.
func freshSockets(tb testing.TB, n int, to *net.UDPAddr) []*net.UDPConn {
	socks := make([]*net.UDPConn, n)
	for i := range socks {
		ip := nextIP()
		c, err := net.DialUDP("udp4", &net.UDPAddr{IP: net.IP(ip[:])}, to)
		if err != nil {
			for _, s := range socks[:i] {
				s.Close()
			}
			tb.Fatal(err)
		}
		socks[i] = c
	}
	return socks
}

func closeAll(socks []*net.UDPConn) {
	for _, s := range socks {
		s.Close()
	}
}

// closedLoop sends `total` ClientHellos without a cookie from `workers`
// goroutines, each waiting up to 2 s for the answer before sending again,
// and returns how many were answered with a HelloVerifyRequest. With as
// many sockets as workers, each worker keeps one socket (a source that
// retransmits: its records are numbered 0, 1, 2, ... as a real client's
// retransmissions are, so that replay protection lets them through);
// otherwise the i-th ClientHello goes out on socks[i], a source of its own.
func closedLoop(socks []*net.UDPConn, workers, total int) (answered int64) {
	var next, ok atomic.Int64
	var wg sync.WaitGroup
	reuse := len(socks) == workers
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hello := forgedClientHello()
			buf := make([]byte, 2048)
			for seq := uint64(0); ; seq++ {
				i := next.Add(1) - 1
				if i >= int64(total) {
					return
				}
				var c *net.UDPConn
				if !reuse {
					c = socks[i]
				} else {
					c = socks[w]
					// 48-bit record sequence number: bytes 5..10.
					hello[5], hello[6] = byte(seq>>40), byte(seq>>32)
					binary.BigEndian.PutUint32(hello[7:11], uint32(seq))
				}
				if _, err := c.Write(hello); err != nil {
					continue
				}
				_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
				n, err := c.Read(buf)
				if err == nil && isHVR(buf[:n]) {
					ok.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return ok.Load()
}

// ---- measurement

type meter struct {
	t0    time.Time
	cpu0  time.Duration
	ms0   runtime.MemStats
	wall  time.Duration
	cpu   time.Duration
	mallo uint64
	bytes uint64
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// start and stop bracket the measured part, and the benchmark timer with
// it. CPU is the whole process's (client load included, the same for
// every implementation).
func (m *meter) start(b *testing.B) {
	runtime.ReadMemStats(&m.ms0)
	m.cpu0 = cpuTime()
	m.t0 = time.Now()
	b.StartTimer()
}

func (m *meter) stop(b *testing.B) {
	b.StopTimer()
	m.wall += time.Since(m.t0)
	m.cpu += cpuTime() - m.cpu0
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m.mallo += ms.Mallocs - m.ms0.Mallocs
	m.bytes += ms.TotalAlloc - m.ms0.TotalAlloc
}

// report states every figure per item (a forged ClientHello answered, a
// handshake, a round trip): ns/op, B/op and allocs/op are overridden.
func (m *meter) report(b *testing.B, items int64, unit string) {
	if items <= 0 {
		b.Fatalf("no %s completed", unit)
	}
	n := float64(items)
	b.ReportMetric(float64(m.wall.Nanoseconds())/n, "ns/op")
	b.ReportMetric(n/m.wall.Seconds(), unit+"/s")
	b.ReportMetric(float64(m.cpu.Nanoseconds())/n, "cpu-ns/op")
	b.ReportMetric(m.cpu.Seconds()/m.wall.Seconds(), "cores")
	b.ReportMetric(float64(m.bytes)/n, "B/op")
	b.ReportMetric(float64(m.mallo)/n, "allocs/op")
}

// ---- open loop: raw non-blocking sockets, one paced sender thread, one
// epoll reader thread.

type openResult struct {
	sent, answered int
	first, last    time.Time // first send, last answer
}

func openLoop(tb testing.TB, n int, rate float64, to *net.UDPAddr, quiet time.Duration, pre func(), post func()) openResult {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		tb.Fatal(err)
	}
	defer syscall.Close(epfd)
	fds := make([]int, 0, n)
	defer func() {
		for _, fd := range fds {
			syscall.Close(fd)
		}
	}()
	dst := &syscall.SockaddrInet4{Port: to.Port}
	copy(dst.Addr[:], to.IP.To4())
	for i := 0; i < n; i++ {
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			tb.Fatal(os.NewSyscallError("socket", err))
		}
		fds = append(fds, fd)
		if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: nextIP()}); err != nil {
			tb.Fatal(os.NewSyscallError("bind", err))
		}
		if err := syscall.Connect(fd, dst); err != nil {
			tb.Fatal(os.NewSyscallError("connect", err))
		}
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd)}
		if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
			tb.Fatal(os.NewSyscallError("epoll_ctl", err))
		}
	}
	hello := forgedClientHello()
	var res openResult
	var lastNano atomic.Int64
	var answered atomic.Int64
	sendDone := make(chan struct{})
	recvDone := make(chan struct{})
	pre()
	res.first = time.Now()
	go func() { // reader
		defer close(recvDone)
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		events := make([]syscall.EpollEvent, 256)
		buf := make([]byte, 2048)
		sending := true
		lastSeen := time.Now()
		for {
			k, err := syscall.EpollWait(epfd, events, 20)
			if err != nil && !errors.Is(err, syscall.EINTR) {
				return
			}
			now := time.Now()
			for _, ev := range events[:max(k, 0)] {
				for {
					m, err := syscall.Read(int(ev.Fd), buf)
					if err != nil {
						break
					}
					if isHVR(buf[:m]) {
						answered.Add(1)
						lastNano.Store(now.UnixNano())
						lastSeen = now
					}
				}
			}
			if sending {
				select {
				case <-sendDone:
					sending = false
					lastSeen = now
				default:
				}
			}
			if !sending && (int(answered.Load()) >= n || now.Sub(lastSeen) > quiet) {
				return
			}
		}
	}()
	func() { // paced sender
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		interval := time.Duration(float64(time.Second) / rate)
		for i, fd := range fds {
			if due := res.first.Add(time.Duration(i) * interval); time.Until(due) > 50*time.Microsecond {
				time.Sleep(time.Until(due))
			}
			if _, err := syscall.Write(fd, hello); err == nil {
				res.sent++
			}
		}
	}()
	close(sendDone)
	<-recvDone
	post()
	res.answered = int(answered.Load())
	res.last = time.Unix(0, lastNano.Load())
	return res
}
