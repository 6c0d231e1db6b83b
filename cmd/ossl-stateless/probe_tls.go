package main

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/openssl-stateless/openssl/internal/record"
)

// probeTLS13 asks a TLS 1.3 server over TCP whether it answers a first
// ClientHello with a HelloRetryRequest carrying a cookie, and whether it
// then accepts the second ClientHello that echoes it. The ClientHello
// offers a key share the server is expected to take (OpenSSL's default),
// so a HelloRetryRequest means the server asked for a cookie exchange, not
// for another group.
func probeTLS13(o *probeOpts) (*probeReport, error) {
	d := net.Dialer{Timeout: o.timeout}
	conn, err := d.Dial("tcp", o.connect)
	if err != nil {
		return nil, dialError(o.connect, err)
	}
	defer conn.Close()
	ctx, err := newTLSHelloCtx()
	if err != nil {
		return nil, err
	}
	defer ctx.Close()
	h, err := newTLSHello(ctx)
	if err != nil {
		return nil, err
	}
	defer h.Close()

	r := &probeReport{Target: o.connect, Transport: "tcp", Version: "TLS 1.3", WindowMS: o.window.Milliseconds()}
	t := &tls13Report{}
	r.TLS13 = t
	first, err := h.Step(nil)
	if err != nil {
		return nil, err
	}
	t.ClientHelloBytes = len(first)
	got, err := tcpExchange(conn, first, o.window)
	if err != nil {
		return nil, fmt.Errorf("probing %s: %w", o.connect, err)
	}
	t.AnswerBytes = len(got)
	if len(got) == 0 {
		return nil, fmt.Errorf("no answer from %s within %v to a TLS 1.3 ClientHello: is a TLS server listening there? (a longer -window may help)", o.connect, o.window)
	}
	sh, recLen, answer := firstTLSHello(got)
	r.FirstAnswer = answer
	r.Messages = tlsMessages(got)
	r.KeepsState = answer == answerSH
	if answer == answerHRR {
		t.HelloRetryRequest = true
		t.HelloRetryRequestBytes = recLen
		if cookie, ok := sh.Extensions.Cookie(); ok {
			t.Cookie, t.CookieLength = true, len(cookie)
		}
	}
	if t.Cookie {
		second, err := h.Step(got)
		if err != nil {
			return nil, fmt.Errorf("answering the HelloRetryRequest of %s: %w", o.connect, err)
		}
		got2, err := tcpExchange(conn, second, o.window)
		if err != nil && len(got2) == 0 {
			return nil, fmt.Errorf("probing %s: %w", o.connect, err)
		}
		_, _, t.SecondAnswer = firstTLSHello(got2)
		t.CookieAccepted = t.SecondAnswer == answerSH
	}
	r.Verdict = tls13Verdict(r)
	return r, nil
}

// tcpExchange writes out and returns what the server sends within window
// (or until it closes the connection).
func tcpExchange(conn net.Conn, out []byte, window time.Duration) ([]byte, error) {
	if _, err := conn.Write(out); err != nil {
		return nil, err
	}
	var got []byte
	buf := make([]byte, 16<<10)
	_ = conn.SetReadDeadline(time.Now().Add(window))
	for {
		n, err := conn.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return got, nil
			}
			if len(got) > 0 {
				return got, nil // closed after answering: an alert, most likely
			}
			return got, err
		}
	}
}

// firstTLSHello parses the first handshake message the server sent: its
// ServerHello (or HelloRetryRequest), the length of the record that holds
// it, and the answer's name.
func firstTLSHello(b []byte) (record.ServerHello, int, string) {
	rec, _, err := record.ParseTLSRecord(b)
	switch {
	case err != nil:
		if len(b) == 0 {
			return record.ServerHello{}, 0, answerNone
		}
		return record.ServerHello{}, 0, answerOther
	case rec.Type == record.Alert:
		return record.ServerHello{}, 0, answerAlert
	case rec.Type != record.Handshake:
		return record.ServerHello{}, 0, answerOther
	}
	m, _, err := record.ParseTLSHandshake(rec.Payload)
	if err != nil || m.Type != record.TypeServerHello {
		return record.ServerHello{}, 0, answerOther
	}
	sh, err := record.ParseServerHello(m.Body)
	if err != nil {
		return record.ServerHello{}, 0, answerOther
	}
	n := record.TLSHeaderLen + int(rec.Length)
	if sh.IsHelloRetryRequest() {
		return sh, n, answerHRR
	}
	return sh, n, answerSH
}

// tlsMessages lists what the server sent: plaintext handshake messages by
// name, then the encrypted part as one entry.
func tlsMessages(b []byte) []string {
	var out []string
	for len(b) > 0 {
		rec, rest, err := record.ParseTLSRecord(b)
		if err != nil {
			break
		}
		b = rest
		switch rec.Type {
		case record.Handshake:
			for p := rec.Payload; len(p) > 0; {
				m, next, err := record.ParseTLSHandshake(p)
				if err != nil {
					break
				}
				name := m.Type.String()
				if m.Type == record.TypeServerHello {
					if sh, err := record.ParseServerHello(m.Body); err == nil && sh.IsHelloRetryRequest() {
						name = answerHRR
					}
				}
				out = append(out, name)
				p = next
			}
		case record.ApplicationData:
			if len(out) == 0 || out[len(out)-1] != "(encrypted)" {
				out = append(out, "(encrypted)")
			}
		default:
			out = append(out, rec.Type.String())
		}
	}
	return out
}

func tls13Verdict(r *probeReport) string {
	t := r.TLS13
	switch {
	case t.Cookie && t.CookieAccepted:
		return fmt.Sprintf("STATELESS: it answers a first ClientHello with a HelloRetryRequest carrying a %d-byte cookie (%d bytes) and goes on once the cookie comes back", t.CookieLength, t.HelloRetryRequestBytes)
	case t.Cookie:
		return fmt.Sprintf("COOKIE NOT ACCEPTED: it sends a HelloRetryRequest with a %d-byte cookie but answers the ClientHello that returns it with %s", t.CookieLength, t.SecondAnswer)
	case t.HelloRetryRequest:
		return "NO COOKIE: its HelloRetryRequest carries no cookie (a key share retry)"
	case r.FirstAnswer == answerSH:
		return fmt.Sprintf("NO COOKIE EXCHANGE: it answers a first ClientHello with its ServerHello and handshake (%d bytes for %d); over TCP the address was proven by the TCP handshake, but the server keeps state from the first ClientHello", t.AnswerBytes, t.ClientHelloBytes)
	}
	return fmt.Sprintf("INCONCLUSIVE: its answer to a first ClientHello is %s", r.FirstAnswer)
}
