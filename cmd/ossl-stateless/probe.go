package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/openssl-stateless/openssl"
	"github.com/openssl-stateless/openssl/internal/record"
)

// Answers to one ClientHello, as the report names them.
const (
	answerHVR   = "HelloVerifyRequest"
	answerSH    = "ServerHello"
	answerHRR   = "HelloRetryRequest"
	answerAlert = "alert"
	answerNone  = "none"
	answerOther = "other"
)

// errProbeInterrupted ends a probe on SIGINT or SIGTERM.
var errProbeInterrupted = errors.New("probe interrupted")

// probeReport is what probe found; -json prints it as is.
type probeReport struct {
	Target    string `json:"target"`
	Transport string `json:"transport"` // "udp" or "tcp"
	Version   string `json:"version"`   // of the ClientHellos sent: "DTLS 1.2", "DTLS 1.0", "TLS 1.3"
	WindowMS  int64  `json:"window_ms"` // answers are counted for this long after each ClientHello

	// FirstAnswer is the server's answer to a first ClientHello (no
	// cookie): one of "HelloVerifyRequest", "ServerHello" (the handshake
	// goes on), "HelloRetryRequest", "alert", "none", "other".
	FirstAnswer string `json:"first_answer"`
	// Messages are the plaintext handshake messages of that answer, in order.
	Messages []string `json:"messages"`
	// KeepsState: the server answered an unverified client with its
	// handshake (a ServerHello) instead of a cookie exchange.
	KeepsState bool `json:"keeps_state"`
	// IgnoresOthersWhileUnverified: while the first client had not
	// returned its cookie, a first ClientHello from another port got no
	// answer: the server holds state for the unverified client (and
	// serves one at a time), although it asks for a cookie.
	IgnoresOthersWhileUnverified bool `json:"ignores_others_while_unverified"`

	Amplification *amplification `json:"amplification,omitempty"` // DTLS
	Cookie        *cookieReport  `json:"cookie,omitempty"`        // DTLS, when a HelloVerifyRequest came
	DTLS10        *helloAnswer   `json:"dtls1_0,omitempty"`       // DTLS 1.2 probes: a DTLS 1.0 ClientHello's answer
	TLS13         *tls13Report   `json:"tls1_3,omitempty"`        // -tls1_3

	Verdict string   `json:"verdict"`
	Notes   []string `json:"notes,omitempty"` // what could not be tested, and why
}

// helloAnswer is what one ClientHello brought back within the window.
type helloAnswer struct {
	ClientHelloBytes int      `json:"client_hello_bytes"`
	FirstAnswer      string   `json:"first_answer"`
	Messages         []string `json:"messages"`
	AnswerBytes      int      `json:"answer_bytes"`     // all datagrams (TCP: bytes) received in the window
	AnswerDatagrams  int      `json:"answer_datagrams"` // UDP only
	LargestDatagram  int      `json:"largest_datagram"` // UDP only
	Factor           float64  `json:"factor"`           // AnswerBytes / ClientHelloBytes
}

// amplification compares answers with the ClientHellos that caused them,
// before any cookie.
type amplification struct {
	Minimal helloAnswer `json:"minimal"`
	Large   helloAnswer `json:"large"` // padded to -large bytes
	// ExceedsClientHello: a datagram of either answer was larger than
	// the ClientHello it answered.
	ExceedsClientHello bool `json:"exceeds_client_hello"`
}

// cookieReport is what the server does with the cookie of its
// HelloVerifyRequest. Each *Answer field is the server's answer to a
// second ClientHello carrying the cookie: "ServerHello" means accepted,
// and so does "alert": the cookie passed and the handshake failed after it
// (no shared cipher, say). Servers answer a cookie they refuse with
// another HelloVerifyRequest, or not at all. A check that could not run
// (no cookie to test) leaves its answer "" and its verdict null.
type cookieReport struct {
	Length int `json:"length"`

	SamePortAnswer  string `json:"same_port_answer"`
	Accepted        bool   `json:"accepted"` // from the port it was issued to, at once
	OtherPortAnswer string `json:"other_port_answer,omitempty"`
	PortBound       *bool  `json:"port_bound"` // refused from another local port
	BitFlipAnswer   string `json:"bit_flip_answer,omitempty"`
	BitFlipRejected *bool  `json:"bit_flip_rejected"`

	Replay *replayReport `json:"replay,omitempty"` // nil with -replay-max 0
}

// replayReport is the binary search for how long a cookie stays valid: a
// second ClientHello sent again, from the same port, after a delay.
type replayReport struct {
	BoundMS int64 `json:"bound_ms"`
	// Expires: a replay within the bound was refused. Then the cookie
	// lives between LastAcceptedMS and FirstRejectedMS; otherwise it was
	// still accepted after BoundMS.
	Expires         bool  `json:"expires"`
	LastAcceptedMS  int64 `json:"last_accepted_ms"`
	FirstRejectedMS int64 `json:"first_rejected_ms,omitempty"`
	Trials          int   `json:"trials"`
}

// tls13Report is the TLS 1.3 cookie exchange over TCP (RFC 8446 4.2.2).
type tls13Report struct {
	ClientHelloBytes       int    `json:"client_hello_bytes"`
	HelloRetryRequest      bool   `json:"hello_retry_request"`
	Cookie                 bool   `json:"cookie"`
	CookieLength           int    `json:"cookie_length"`
	HelloRetryRequestBytes int    `json:"hello_retry_request_bytes"` // its record, header included
	AnswerBytes            int    `json:"answer_bytes"`              // everything received in the window
	SecondAnswer           string `json:"second_answer,omitempty"`   // to the second ClientHello, with the cookie
	CookieAccepted         bool   `json:"cookie_accepted"`
}

// prober runs the DTLS checks against one server.
type prober struct {
	o      *probeOpts
	raddr  *net.UDPAddr
	peer   netip.AddrPort
	ctx    *openssl.Ctx // writes the ClientHellos of the probed version
	stop   <-chan struct{}
	report *probeReport
}

func runProbe(o *probeOpts, stdout io.Writer, sig <-chan os.Signal) error {
	stop := make(chan struct{})
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-sig:
			close(stop)
		case <-done:
		}
	}()
	var (
		r   *probeReport
		err error
	)
	if o.tls13 {
		r, err = probeTLS13(o)
	} else {
		r, err = probeDTLS(o, stop)
	}
	if err != nil {
		return err
	}
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	printProbeReport(stdout, r)
	return nil
}

func probeDTLS(o *probeOpts, stop <-chan struct{}) (*probeReport, error) {
	raddr, err := net.ResolveUDPAddr("udp", o.connect)
	if err != nil {
		return nil, dialError(o.connect, err)
	}
	version, name := openssl.VersionDTLS12, "DTLS 1.2"
	if o.dtls1 {
		version, name = openssl.VersionDTLS10, "DTLS 1.0"
	}
	ctx, err := newHelloCtx(version)
	if err != nil {
		return nil, err
	}
	defer ctx.Close()
	p := &prober{
		o:     o,
		raddr: raddr,
		peer:  netip.AddrPortFrom(raddr.AddrPort().Addr().Unmap(), raddr.AddrPort().Port()),
		ctx:   ctx,
		stop:  stop,
		report: &probeReport{
			Target:    o.connect,
			Transport: "udp",
			Version:   name,
			WindowMS:  o.window.Milliseconds(),
		},
	}
	if err := p.run(); err != nil {
		return nil, err
	}
	return p.report, nil
}

// probeSock is one local UDP port connected to the server: it receives
// only the server's datagrams.
type probeSock struct {
	c *net.UDPConn
}

func (p *prober) dial() (*probeSock, error) {
	c, err := net.DialUDP("udp", nil, p.raddr)
	if err != nil {
		return nil, dialError(p.o.connect, err)
	}
	return &probeSock{c: c}, nil
}

func (s *probeSock) Close() { s.c.Close() }

// errRefused: the server's host answered with ICMP port unreachable.
var errRefused = errors.New("connection refused (ICMP port unreachable): no server on that port")

// exchange sends d and returns the datagrams received until window has
// passed, or, with first, until the first one arrives. Datagrams still on
// their way from an earlier exchange (a stateful server's later
// datagrams) are read and discarded first.
func (s *probeSock) exchange(d []byte, window time.Duration, first bool) ([][]byte, error) {
	s.drain()
	if _, err := s.c.Write(d); err != nil {
		return nil, err
	}
	var got [][]byte
	deadline := time.Now().Add(window)
	buf := make([]byte, 1<<16)
	for {
		_ = s.c.SetReadDeadline(deadline)
		n, err := s.c.Read(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return got, nil
			}
			if errors.Is(err, syscall.ECONNREFUSED) {
				return got, errRefused
			}
			return got, err
		}
		if laterEpochOnly(buf[:n]) {
			continue
		}
		got = append(got, append([]byte(nil), buf[:n]...))
		if first {
			return got, nil
		}
	}
}

// exchangeHello is exchange for a ClientHello: when nothing came in the
// window (a datagram lost either way, or a server slow under load), it
// sends the ClientHello once more, as a DTLS client retransmits its flight
// (RFC 6347, 4.2.4), before the probe takes silence for an answer.
func (s *probeSock) exchangeHello(d []byte, window time.Duration, first bool) ([][]byte, error) {
	got, err := s.exchange(d, window, first)
	if err == nil && len(got) == 0 {
		got, err = s.exchange(d, window, first)
	}
	return got, err
}

// laterEpochOnly reports whether every record of d is encrypted (epoch
// above 0). No answer to a ClientHello is: such a datagram belongs to a
// connection this port had before, most often the server's close_notify
// answering ours, which can arrive after the next ClientHello has gone
// out and would otherwise be taken for its answer.
func laterEpochOnly(d []byte) bool {
	seen := false
	for rec, err := range record.DTLSRecords(d) {
		if err != nil || rec.Epoch == 0 {
			return false
		}
		seen = true
	}
	return seen
}

// drain discards what is already queued on the socket.
func (s *probeSock) drain() {
	buf := make([]byte, 1<<16)
	for {
		_ = s.c.SetReadDeadline(time.Now().Add(time.Millisecond))
		if _, err := s.c.Read(buf); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return
			}
			// A refusal left over from an earlier send: read on.
			if !errors.Is(err, syscall.ECONNREFUSED) {
				return
			}
		}
	}
}

// abort ends the handshake a ClientHello started on a server that
// proceeded: a fatal alert in the clear (user_canceled), the record after
// hello's, so that the server frees what it kept (and a server that
// handles one client at a time, as `openssl s_server` does, takes the next
// ClientHello) instead of retransmitting until its timeout.
func (s *probeSock) abort(hello []byte) {
	h, err := record.ParseDTLSHeader(hello)
	if err != nil {
		return
	}
	h = record.Header{Type: record.Alert, Version: record.VersionDTLS12, Sequence: h.Sequence + 1}
	if hello[1] == 0xfe && hello[2] == 0xff { // a DTLS 1.0 record version
		h.Version = record.VersionDTLS10
	}
	_, _ = s.c.Write(record.AppendDTLSRecord(nil, h, []byte{2, 90}))
}

// classify names the answer in the first datagram and lists the plaintext
// handshake messages of all of them.
func classify(datagrams [][]byte) (first string, messages []string) {
	if len(datagrams) == 0 {
		return answerNone, nil
	}
	first = answerOther
	h, m, err := record.FirstDTLSHandshake(datagrams[0])
	switch {
	case errors.Is(err, record.ErrNotHandshake) && h.Type == record.Alert:
		first = answerAlert
	case err == nil && h.Epoch == 0 && m.Type == record.TypeHelloVerifyRequest:
		first = answerHVR
	case err == nil && h.Epoch == 0 && m.Type == record.TypeServerHello:
		first = answerSH
	}
	for _, d := range datagrams {
		for rec, err := range record.DTLSRecords(d) {
			if err != nil {
				break
			}
			if rec.Epoch != 0 {
				if !slices.Contains(messages, "(encrypted)") {
					messages = append(messages, "(encrypted)")
				}
				continue
			}
			if rec.Type == record.Alert {
				messages = append(messages, "Alert")
				continue
			}
			if rec.Type != record.Handshake {
				messages = append(messages, rec.Type.String())
				continue
			}
			for b := rec.Payload; len(b) > 0; {
				msg, rest, err := record.ParseDTLSHandshake(b)
				if err != nil {
					break
				}
				// A fragment continues a message already listed.
				if msg.FragmentOffset == 0 {
					messages = append(messages, msg.Type.String())
				}
				b = rest
			}
		}
	}
	return first, messages
}

// answerOf measures what the datagrams answering hello amount to.
func answerOf(hello []byte, datagrams [][]byte) helloAnswer {
	a := helloAnswer{ClientHelloBytes: len(hello), AnswerDatagrams: len(datagrams)}
	a.FirstAnswer, a.Messages = classify(datagrams)
	for _, d := range datagrams {
		a.AnswerBytes += len(d)
		a.LargestDatagram = max(a.LargestDatagram, len(d))
	}
	a.Factor = float64(a.AnswerBytes) / float64(len(hello))
	return a
}

// hello starts a client handshake and returns it with its first ClientHello.
func (p *prober) hello(ctx *openssl.Ctx) (*dtlsHello, []byte, error) {
	h, err := newDTLSHello(ctx, p.peer)
	if err != nil {
		return nil, nil, err
	}
	ch, err := h.First()
	if err != nil {
		h.Close()
		return nil, nil, err
	}
	return h, ch, nil
}

// started is a first ClientHello sent and what came back in the window.
type started struct {
	s     *probeSock
	h     *dtlsHello
	hello []byte
	got   [][]byte
}

func (st *started) Close() {
	st.h.Close()
	st.s.Close()
}

// start sends a first ClientHello (padded to pad bytes if pad > 0) from a
// new port and collects what comes back in the window.
func (p *prober) start(ctx *openssl.Ctx, pad int) (*started, error) {
	s, err := p.dial()
	if err != nil {
		return nil, err
	}
	h, ch, err := p.hello(ctx)
	if err != nil {
		s.Close()
		return nil, err
	}
	st := &started{s: s, h: h, hello: ch}
	if pad > 0 {
		if st.hello, err = record.EditDTLSClientHello(ch, func(c *record.ClientHello) { c.PadTo(pad) }); err != nil {
			st.Close()
			return nil, fmt.Errorf("padding the ClientHello: %w", err)
		}
	}
	if st.got, err = s.exchangeHello(st.hello, p.o.window, false); err != nil {
		st.Close()
		return nil, fmt.Errorf("probing %s: %w", p.o.connect, err)
	}
	return st, nil
}

// abortStarted ends a handshake the server went on with after a first
// ClientHello (a server without a cookie exchange): its certificate
// flight was what the probe wanted to measure.
func abortStarted(st *started) {
	if first, _ := classify(st.got); first == answerSH {
		st.s.abort(st.hello)
	}
}

// finish completes a handshake the server went on with, so that a server
// that serves one client at a time and exits on a failed handshake
// (`openssl s_server`) is not killed by the probe; if it cannot, a fatal
// alert ends it, and the report says so.
func (p *prober) finish(h *dtlsHello, s *probeSock, hello []byte, got [][]byte) {
	if err := h.Finish(s, got, p.o.timeout); err != nil {
		s.abort(hello)
		p.report.Notes = append(p.report.Notes, fmt.Sprintf("a handshake the server went on with could not be finished (%v): ended with an alert", err))
	}
}

// sendFinish sends a second ClientHello from s, names the first answer,
// and finishes the handshake if the server goes on with it.
func (p *prober) sendFinish(h *dtlsHello, s *probeSock, hello []byte) (string, error) {
	got, err := s.exchangeHello(hello, p.o.window, true)
	if err != nil {
		return "", fmt.Errorf("probing %s: %w", p.o.connect, err)
	}
	first, _ := classify(got)
	if first == answerSH {
		p.finish(h, s, hello, got)
	}
	return first, nil
}

// hvrCookie returns the cookie of the HelloVerifyRequest in d.
func hvrCookie(d []byte) ([]byte, error) {
	_, m, err := record.FirstDTLSHandshake(d)
	if err != nil {
		return nil, err
	}
	hvr, err := record.ParseHelloVerifyRequest(m.Body)
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), hvr.Cookie...), nil
}

// The checks run in an order that suits servers that serve one client at
// a time and exit after it (`openssl s_server`): those the server should
// refuse come first, and the one whose cookie it should accept comes last.
func (p *prober) run() error {
	r := p.report
	// The large ClientHello goes out while the first one's exchange is
	// still pending: a server that holds state for an unverified client
	// and serves one at a time does not answer it.
	a, err := p.start(p.ctx, 0)
	if err != nil {
		return err
	}
	defer a.Close()
	minimal := answerOf(a.hello, a.got)
	if minimal.FirstAnswer == answerNone {
		return fmt.Errorf("no answer from %s within %v to a %s ClientHello: is a DTLS server listening there? (a longer -window may help)", p.o.connect, p.o.window, r.Version)
	}
	b, err := p.start(p.ctx, p.o.large)
	if err != nil {
		return err
	}
	defer b.Close()
	large := answerOf(b.hello, b.got)
	ignored := large.FirstAnswer == answerNone
	if ignored {
		// Silence to the large ClientHello is either the server holding
		// the first client's state or a server (or path) that drops
		// datagrams that large: a minimal one from a third port, while
		// the first is still pending, tells them apart.
		c, err := p.start(p.ctx, 0)
		if err != nil {
			return err
		}
		defer c.Close()
		if answerOf(c.hello, c.got).FirstAnswer != answerNone {
			ignored = false
			r.Notes = append(r.Notes, fmt.Sprintf("the %d-byte ClientHello got no answer, and a minimal one from another port did: the server, or the path to it, drops datagrams that large", large.ClientHelloBytes))
		}
		abortStarted(c)
	}
	abortStarted(a)
	abortStarted(b)

	r.FirstAnswer, r.Messages = minimal.FirstAnswer, minimal.Messages
	r.IgnoresOthersWhileUnverified = minimal.FirstAnswer != answerNone && ignored
	r.KeepsState = minimal.FirstAnswer == answerSH || r.IgnoresOthersWhileUnverified
	r.Amplification = &amplification{
		Minimal:            minimal,
		Large:              large,
		ExceedsClientHello: minimal.LargestDatagram > minimal.ClientHelloBytes || large.LargestDatagram > large.ClientHelloBytes,
	}
	defer func() { r.Verdict = dtlsVerdict(r) }()
	if minimal.FirstAnswer != answerHVR {
		return p.dtls10()
	}
	cookie, err := hvrCookie(a.got[0])
	if err != nil {
		return fmt.Errorf("the HelloVerifyRequest of %s: %w", p.o.connect, err)
	}
	c := &cookieReport{Length: len(cookie)}
	r.Cookie = c
	if r.IgnoresOthersWhileUnverified {
		// The server waits for the first client alone: return its
		// cookie, from its port, and stop there.
		second, err := a.h.Answer(a.got[0])
		if err != nil {
			return err
		}
		c.SamePortAnswer, err = p.sendFinish(a.h, a.s, second)
		c.Accepted = passed(c.SamePortAnswer)
		r.Notes = append(r.Notes, "the server answered no other client while the first had not returned its cookie: the cookie's port binding, bit flip and replay were not tested")
		return err
	}
	return p.cookieChecks(c)
}

// dtls10 asks, when neither -dtls1_2 nor -dtls1 was given, how the server
// answers a DTLS 1.0 first ClientHello.
func (p *prober) dtls10() error {
	if p.o.dtls1 || p.o.dtls12 {
		return nil
	}
	ctx10, err := newHelloCtx(openssl.VersionDTLS10)
	if err != nil {
		return err
	}
	defer ctx10.Close()
	st, err := p.start(ctx10, 0)
	if err != nil {
		return err
	}
	defer st.Close()
	abortStarted(st)
	a := answerOf(st.hello, st.got)
	p.report.DTLS10 = &a
	return nil
}

// exchangeCookie runs a first ClientHello and its HelloVerifyRequest on s
// and returns the client, ready with its second ClientHello, and when the
// cookie came; answer names what came instead of a HelloVerifyRequest
// (then h is nil). The caller closes the client.
func (p *prober) exchangeCookie(s *probeSock) (h *dtlsHello, second []byte, issued time.Time, answer string, err error) {
	h, ch, err := p.hello(p.ctx)
	if err != nil {
		return nil, nil, time.Time{}, "", err
	}
	got, err := s.exchangeHello(ch, p.o.window, true)
	issued = time.Now()
	if err != nil {
		h.Close()
		return nil, nil, time.Time{}, "", fmt.Errorf("probing %s: %w", p.o.connect, err)
	}
	if first, _ := classify(got); first != answerHVR {
		h.Close()
		return nil, nil, time.Time{}, first, nil
	}
	if second, err = h.Answer(got[0]); err != nil {
		h.Close()
		return nil, nil, time.Time{}, "", err
	}
	return h, second, issued, answerHVR, nil
}

// noCookie records that a check could not get a cookie to test.
func (p *prober) noCookie(check, answer string) {
	p.report.Notes = append(p.report.Notes, fmt.Sprintf("%s: a first ClientHello got %s instead of a HelloVerifyRequest: not tested", check, answer))
}

// passed reports whether an answer to the client's own cookie, returned
// at once, shows it passed: the handshake went on, or failed after it with
// an alert (a PSK-only server, say).
func passed(answer string) bool { return answer == answerSH || answer == answerAlert }

// passedAgainst judges another second ClientHello's answer (another port,
// a bit flipped, a delay) against ref, the own cookie's answer. An alert
// is ambiguous: OpenSSL's SSL_accept with a cookie exchange (no
// DTLSv1_listen) refuses a wrong cookie with handshake_failure, and a
// server whose handshake fails after the cookie answers a right one with
// an alert too. Where the right cookie got a ServerHello, an alert is a
// refusal; where it got an alert as well, the answer tells nothing (nil).
func passedAgainst(answer, ref string) *bool {
	switch {
	case answer == answerSH:
		return ptr(true)
	case answer == answerAlert && ref == answerAlert:
		return nil
	}
	return ptr(false)
}

// not negates a verdict that may be missing.
func not(b *bool) *bool {
	if b == nil {
		return nil
	}
	return ptr(!*b)
}

func ptr(b bool) *bool { return &b }

func (p *prober) cookieChecks(c *cookieReport) error {
	a, err := p.dial()
	if err != nil {
		return err
	}
	defer a.Close()
	b, err := p.dial()
	if err != nil {
		return err
	}
	defer b.Close()

	// A second ClientHello with a cookie issued to port A, from port B.
	h, second, _, answer, err := p.exchangeCookie(a)
	switch {
	case err != nil:
		return err
	case h == nil:
		p.noCookie("cookie from another port", answer)
	default:
		c.OtherPortAnswer, err = p.sendFinish(h, b, second)
		h.Close()
		if err != nil {
			return err
		}
	}

	// The same with one bit of the cookie flipped, from A.
	h, second, _, answer, err = p.exchangeCookie(a)
	switch {
	case err != nil:
		return err
	case h == nil:
		p.noCookie("cookie with a bit flipped", answer)
	default:
		flipped, err := record.EditDTLSClientHello(second, func(ch *record.ClientHello) {
			ch.Cookie = append([]byte(nil), ch.Cookie...)
			if len(ch.Cookie) > 0 {
				ch.Cookie[len(ch.Cookie)/2] ^= 0x01
			}
		})
		if err != nil {
			h.Close()
			return fmt.Errorf("flipping a bit of the cookie: %w", err)
		}
		got, err := a.exchange(flipped, p.o.window, true)
		h.Close()
		if err != nil {
			return fmt.Errorf("probing %s: %w", p.o.connect, err)
		}
		c.BitFlipAnswer, _ = classify(got)
		if c.BitFlipAnswer == answerSH {
			// Our client's transcript holds the real cookie: the
			// handshake cannot finish.
			a.abort(flipped)
		}
	}

	if err := p.dtls10(); err != nil {
		return err
	}

	// Last, the cookie returned as it should be, from A: after the bound
	// first, then at once unless that was a ServerHello, then bisecting.
	// The answer at once is what the other checks' answers are judged
	// against; a ServerHello after the bound tells it too.
	var bound string
	if p.o.replayMax > 0 {
		if bound, err = p.replay(a, p.o.replayMax); err != nil {
			return err
		}
	}
	if bound == answerSH {
		c.SamePortAnswer = answerSH
	} else if c.SamePortAnswer, err = p.replay(a, 0); err != nil {
		return err
	}
	c.Accepted = passed(c.SamePortAnswer)
	judge := func(check, answer string) *bool {
		if answer == "" {
			return nil // not run: noCookie said so
		}
		v := passedAgainst(answer, c.SamePortAnswer)
		if v == nil {
			p.report.Notes = append(p.report.Notes, fmt.Sprintf("%s: an alert, as for the client's own cookie: whether the cookie passed cannot be told", check))
		}
		return v
	}
	c.PortBound = not(judge("cookie from another port", c.OtherPortAnswer))
	c.BitFlipRejected = not(judge("cookie with a bit flipped", c.BitFlipAnswer))
	if p.o.replayMax == 0 || !c.Accepted {
		return nil
	}
	c.Replay, err = p.replaySearch(a, c.SamePortAnswer, bound)
	return err
}

// replay gets a fresh cookie on s, waits delay, sends the second
// ClientHello and names the answer.
func (p *prober) replay(s *probeSock, delay time.Duration) (string, error) {
	h, second, issued, answer, err := p.exchangeCookie(s)
	if err != nil {
		return "", err
	}
	if h == nil {
		p.noCookie("cookie replay", answer)
		return answerNone, nil
	}
	defer h.Close()
	select {
	case <-time.After(time.Until(issued.Add(delay))):
	case <-p.stop:
		return "", errProbeInterrupted
	}
	return p.sendFinish(h, s, second)
}

// replaySearch bisects the delay after which a cookie is refused, up to
// -replay-max, to an eighth of it, for a cookie accepted at once (whose
// answer was ref) that got boundAnswer after the bound; those trials
// count.
func (p *prober) replaySearch(s *probeSock, ref, boundAnswer string) (*replayReport, error) {
	bound := p.o.replayMax
	rr := &replayReport{BoundMS: bound.Milliseconds(), Trials: 1}
	accepted := func(answer string) bool { v := passedAgainst(answer, ref); return v == nil || *v }
	if accepted(boundAnswer) {
		rr.LastAcceptedMS = bound.Milliseconds()
		return rr, nil
	}
	rr.Trials++ // the trial at once
	rr.Expires = true
	lo, hi := time.Duration(0), bound
	step := max(bound/8, 50*time.Millisecond)
	for hi-lo > step {
		mid := (lo + hi) / 2
		answer, err := p.replay(s, mid)
		rr.Trials++
		if err != nil {
			return nil, err
		}
		if accepted(answer) {
			lo = mid
		} else {
			hi = mid
		}
	}
	rr.LastAcceptedMS, rr.FirstRejectedMS = lo.Milliseconds(), hi.Milliseconds()
	return rr, nil
}

func dtlsVerdict(r *probeReport) string {
	amp := r.Amplification
	switch r.FirstAnswer {
	case answerSH:
		return fmt.Sprintf("KEEPS STATE AND AMPLIFIES: it answers an unverified client with its certificate flight (%s), %d bytes for a %d-byte ClientHello: %.1fx, with no cookie exchange",
			strings.Join(amp.Minimal.Messages, ", "), amp.Minimal.AnswerBytes, amp.Minimal.ClientHelloBytes, amp.Minimal.Factor)
	case answerHVR:
		v := fmt.Sprintf("STATELESS: it answers an unverified client with a HelloVerifyRequest (%d bytes for a %d-byte ClientHello: %.2fx)",
			amp.Minimal.AnswerBytes, amp.Minimal.ClientHelloBytes, amp.Minimal.Factor)
		if r.IgnoresOthersWhileUnverified {
			v = fmt.Sprintf("KEEPS STATE: it asks for a cookie (a HelloVerifyRequest, %d bytes for a %d-byte ClientHello: %.2fx) but holds the unverified client's handshake: another client got no answer until the first returned its cookie",
				amp.Minimal.AnswerBytes, amp.Minimal.ClientHelloBytes, amp.Minimal.Factor)
		}
		if amp.ExceedsClientHello {
			v += "; an answer is larger than the ClientHello: it amplifies"
		} else {
			v += "; no answer is larger than the ClientHello: no amplification"
		}
		if c := r.Cookie; c != nil && !r.IgnoresOthersWhileUnverified {
			var weak []string
			if !c.Accepted {
				weak = append(weak, "its own cookie was not accepted")
			}
			if c.PortBound != nil && !*c.PortBound {
				weak = append(weak, "the cookie is not bound to the source port")
			}
			if c.BitFlipRejected != nil && !*c.BitFlipRejected {
				weak = append(weak, "a cookie with a bit flipped is accepted")
			}
			if c.Replay != nil && !c.Replay.Expires {
				weak = append(weak, fmt.Sprintf("a cookie is still accepted after %v", time.Duration(c.Replay.BoundMS)*time.Millisecond))
			}
			if len(weak) > 0 {
				v += "; note: " + strings.Join(weak, "; ")
			}
		}
		return v
	case answerAlert:
		return "INCONCLUSIVE: it answers a first ClientHello with an alert"
	}
	return "INCONCLUSIVE: its answer to a first ClientHello is not a DTLS handshake message"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func printProbeReport(w io.Writer, r *probeReport) {
	row := func(k, format string, args ...any) {
		fmt.Fprintf(w, "  %-34s %s\n", k, fmt.Sprintf(format, args...))
	}
	fmt.Fprintf(w, "PROBE %s (%s over %s; answers counted for %v after each ClientHello)\n",
		r.Target, r.Version, strings.ToUpper(r.Transport), time.Duration(r.WindowMS)*time.Millisecond)
	if t := r.TLS13; t != nil {
		row("first ClientHello", "%d bytes", t.ClientHelloBytes)
		row("answer", "%s: %s, %d bytes in the window", r.FirstAnswer, strings.Join(r.Messages, ", "), t.AnswerBytes)
		row("HelloRetryRequest", "%s", yesNo(t.HelloRetryRequest))
		if t.HelloRetryRequest {
			row("HelloRetryRequest size", "%d bytes", t.HelloRetryRequestBytes)
			row("cookie in it", "%s", yesNo(t.Cookie))
		}
		if t.Cookie {
			row("cookie length", "%d bytes", t.CookieLength)
			row("second ClientHello (with cookie)", "%s: accepted %s", t.SecondAnswer, yesNo(t.CookieAccepted))
		}
		fmt.Fprintf(w, "VERDICT %s\n", r.Verdict)
		return
	}
	amp := r.Amplification
	desc := func(a helloAnswer) string {
		what := a.FirstAnswer
		if len(a.Messages) > 1 || (len(a.Messages) == 1 && a.Messages[0] != what) {
			what += " (" + strings.Join(a.Messages, ", ") + ")"
		}
		return fmt.Sprintf("%s: %d datagram(s), %d bytes, largest %d", what, a.AnswerDatagrams, a.AnswerBytes, a.LargestDatagram)
	}
	row(fmt.Sprintf("first ClientHello (%d bytes)", amp.Minimal.ClientHelloBytes), "%s", desc(amp.Minimal))
	row(fmt.Sprintf("large ClientHello (%d bytes)", amp.Large.ClientHelloBytes), "%s", desc(amp.Large))
	row("keeps state before a cookie", "%s", yesNo(r.KeepsState))
	if r.IgnoresOthersWhileUnverified {
		row("", "(a second client was ignored while the first had not returned its cookie)")
	}
	row("amplification, minimal ClientHello", "%.2fx", amp.Minimal.Factor)
	row("amplification, large ClientHello", "%.2fx", amp.Large.Factor)
	row("an answer exceeds the ClientHello", "%s", yesNo(amp.ExceedsClientHello))
	if c := r.Cookie; c != nil {
		row("cookie length", "%d bytes", c.Length)
		row("cookie returned from the same port", "%s: %s", c.SamePortAnswer, acceptedOrNot(c.Accepted, c.SamePortAnswer))
		if c.PortBound != nil {
			row("cookie from another local port", "%s: %s", c.OtherPortAnswer, boundOrNot(*c.PortBound))
		}
		if c.BitFlipRejected != nil {
			row("cookie with one bit flipped", "%s: %s", c.BitFlipAnswer, acceptedOrNot(!*c.BitFlipRejected, c.BitFlipAnswer))
		}
		if rr := c.Replay; rr != nil {
			if rr.Expires {
				row("cookie replayed after a delay", "accepted after %v, refused after %v (%d trials, bound %v)",
					ms(rr.LastAcceptedMS), ms(rr.FirstRejectedMS), rr.Trials, ms(rr.BoundMS))
			} else {
				row("cookie replayed after a delay", "still accepted after %v, the bound (-replay-max)", ms(rr.BoundMS))
			}
		}
	}
	if a := r.DTLS10; a != nil {
		row("DTLS 1.0 first ClientHello", "%s", desc(*a))
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "NOTE %s\n", n)
	}
	fmt.Fprintf(w, "VERDICT %s\n", r.Verdict)
}

func ms(v int64) time.Duration { return time.Duration(v) * time.Millisecond }

func acceptedOrNot(ok bool, answer string) string {
	switch {
	case ok && answer == answerAlert:
		return "accepted (the handshake then failed)"
	case ok:
		return "accepted"
	}
	return "refused"
}

func boundOrNot(bound bool) string {
	if bound {
		return "refused (bound to the source port)"
	}
	return "accepted (not bound to the source port)"
}
