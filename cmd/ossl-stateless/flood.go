package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/openssl-stateless/openssl"
	"github.com/openssl-stateless/openssl/internal/record"
)

// floodCounts are updated by the sender and the receivers and read by the
// progress line.
type floodCounts struct {
	sent, bytesOut     atomic.Int64
	answers, bytesIn   atomic.Int64 // every datagram received
	hvr, serverHellos  atomic.Int64 // first records: HelloVerifyRequest, ServerHello
	sendErrors, others atomic.Int64
	unreachable        atomic.Int64 // ICMP port unreachable, reported by a read or a send
}

func runFlood(o *floodOpts, stdout, stderr io.Writer, sig <-chan os.Signal) error {
	raddr, err := net.ResolveUDPAddr("udp", o.connect)
	if err != nil {
		return dialError(o.connect, err)
	}
	version := openssl.VersionDTLS12
	if o.dtls1 {
		version = openssl.VersionDTLS10
	}
	hello, err := floodHello(version, raddr)
	if err != nil {
		return err
	}
	socks := make([]*net.UDPConn, 0, o.ports)
	defer func() {
		for _, s := range socks {
			s.Close()
		}
	}()
	for range o.ports {
		s, err := net.DialUDP("udp", nil, raddr)
		if err != nil {
			return dialError(o.connect, err)
		}
		socks = append(socks, s)
	}

	limit := fmt.Sprintf("%d ClientHellos", o.count)
	switch {
	case o.count == 0:
		limit = fmt.Sprintf("ClientHellos for %v", o.duration)
	case o.duration > 0:
		limit += fmt.Sprintf(" (at most %v)", o.duration)
	}
	fmt.Fprintf(stdout, "flood: %s of %d bytes to %s at %d/s from %d local ports\n", limit, len(hello), o.connect, o.rate, o.ports)

	var c floodCounts
	var wg sync.WaitGroup
	for _, s := range socks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			floodReceive(s, &c)
		}()
	}

	progress := o.progress == "on" || (o.progress == "auto" && isTerminal(stderr))
	stopProgress := make(chan struct{})
	progressDone := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(progressDone)
		if !progress {
			<-stopProgress
			return
		}
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		var lastAnswers int64
		last := start
		for {
			select {
			case <-stopProgress:
				fmt.Fprintf(stderr, "\r%s\n", progressLine(&c, float64(c.answers.Load())/time.Since(start).Seconds()))
				return
			case now := <-tick.C:
				a := c.answers.Load()
				perSec := float64(a-lastAnswers) / now.Sub(last).Seconds()
				lastAnswers, last = a, now
				fmt.Fprintf(stderr, "\r%s", progressLine(&c, perSec))
			}
		}
	}()

	interrupted := floodSend(o, socks, hello, &c, sig, start)
	sendTime := time.Since(start)
	if !interrupted {
		select {
		case <-time.After(o.wait):
		case <-sig:
			interrupted = true
		}
	}
	for _, s := range socks {
		_ = s.SetReadDeadline(time.Unix(1, 0)) // the receivers return
	}
	wg.Wait()
	close(stopProgress)
	<-progressDone

	sent, answers := c.sent.Load(), c.answers.Load()
	fmt.Fprintf(stdout, "FLOOD target=%s sent=%d answered=%d hello_verify_requests=%d server_hellos=%d other_answers=%d bytes_out=%d bytes_in=%d send_errors=%d seconds=%.2f rate=%.0f\n",
		o.connect, sent, answers, c.hvr.Load(), c.serverHellos.Load(), c.others.Load(), c.bytesOut.Load(), c.bytesIn.Load(), c.sendErrors.Load(), sendTime.Seconds(), float64(sent)/sendTime.Seconds())
	how := "sent"
	if interrupted {
		how = "sent before the interruption"
	}
	fmt.Fprintf(stdout, "flood: %d ClientHellos %s in %.2fs (%.0f/s); %d answers (%.1f%%): %d HelloVerifyRequests, %d ServerHellos, %d other; %d bytes out, %d bytes in (%.2fx)\n",
		sent, how, sendTime.Seconds(), float64(sent)/sendTime.Seconds(), answers, percent(answers, sent),
		c.hvr.Load(), c.serverHellos.Load(), c.others.Load(), c.bytesOut.Load(), c.bytesIn.Load(),
		float64(c.bytesIn.Load())/float64(max(c.bytesOut.Load(), 1)))
	if c.serverHellos.Load() > 0 {
		fmt.Fprintf(stdout, "flood: the server answered %d unverified ClientHellos with a ServerHello: it keeps state for them\n", c.serverHellos.Load())
	}
	if answers == 0 && c.unreachable.Load() > 0 {
		fmt.Fprintf(stdout, "flood: no answer, and ICMP port unreachable came back %d times: nothing listens at %s\n", c.unreachable.Load(), o.connect)
	}
	return nil
}

// floodHello has the binding's client write the one ClientHello the flood
// sends: a first ClientHello, without a cookie.
func floodHello(version openssl.Version, raddr *net.UDPAddr) ([]byte, error) {
	ctx, err := newHelloCtx(version)
	if err != nil {
		return nil, err
	}
	defer ctx.Close()
	h, err := newDTLSHello(ctx, netip.AddrPortFrom(raddr.AddrPort().Addr().Unmap(), raddr.AddrPort().Port()))
	if err != nil {
		return nil, err
	}
	defer h.Close()
	return h.First()
}

// floodSend sends at o.rate, in turn from each socket, until the count or
// the duration is reached or a signal comes; it reports the signal.
// Sending is paced against the start time, so that a late wake-up is made
// up for rather than lowering the rate.
func floodSend(o *floodOpts, socks []*net.UDPConn, hello []byte, c *floodCounts, sig <-chan os.Signal, start time.Time) (interrupted bool) {
	interval := time.Second / time.Duration(o.rate)
	for i := 0; o.count == 0 || i < o.count; i++ {
		due := start.Add(time.Duration(i) * interval)
		if o.duration > 0 && due.Sub(start) >= o.duration {
			return false
		}
		if d := time.Until(due); d > 0 {
			select {
			case <-time.After(d):
			case <-sig:
				return true
			}
		} else if i%256 == 0 {
			select {
			case <-sig:
				return true
			default:
			}
		}
		if _, err := socks[i%len(socks)].Write(hello); err != nil {
			if errors.Is(err, syscall.ECONNREFUSED) {
				c.unreachable.Add(1)
			}
			c.sendErrors.Add(1)
			continue
		}
		c.sent.Add(1)
		c.bytesOut.Add(int64(len(hello)))
	}
	return false
}

// floodReceive counts the datagrams one socket receives until its read
// deadline is moved to the past.
func floodReceive(s *net.UDPConn, c *floodCounts) {
	buf := make([]byte, 1<<16)
	for {
		n, err := s.Read(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if errors.Is(err, syscall.ECONNREFUSED) {
				c.unreachable.Add(1)
			}
			continue // ICMP port unreachable, reported by a later read: go on
		}
		c.answers.Add(1)
		c.bytesIn.Add(int64(n))
		h, m, err := record.FirstDTLSHandshake(buf[:n])
		switch {
		case err == nil && h.Epoch == 0 && m.Type == record.TypeHelloVerifyRequest:
			c.hvr.Add(1)
		case err == nil && h.Epoch == 0 && m.Type == record.TypeServerHello:
			c.serverHellos.Add(1)
		default:
			c.others.Add(1)
		}
	}
}

func progressLine(c *floodCounts, perSec float64) string {
	return fmt.Sprintf("flood: sent %d, answered %d, %.0f answers/s, out %d bytes, in %d bytes   ",
		c.sent.Load(), c.answers.Load(), perSec, c.bytesOut.Load(), c.bytesIn.Load())
}

func percent(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

// isTerminal reports whether w is a terminal (a character device), where
// a progress line rewritten in place makes sense.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
