package main

import (
	"net"
	"sync"

	"github.com/openssl-stateless/openssl/internal/record"
)

// Verdicts of helloSniffer.
const (
	cookieYes     = "yes (HelloRetryRequest with a cookie)"
	cookieNo      = "no"
	cookieHRROnly = "no (HelloRetryRequest without a cookie: a key share retry)"
	cookieUnknown = "unknown"
)

// sniffLimit is how many bytes helloSniffer looks at before it gives up.
const sniffLimit = 16 << 10

// helloSniffer is a net.Conn that watches the first bytes the server sends
// and tells whether its first handshake message is a HelloRetryRequest
// carrying a cookie: the TLS 1.3 client learns that way, without help from
// OpenSSL, whether the server made it go through a cookie exchange.
type helloSniffer struct {
	net.Conn
	mu      sync.Mutex
	buf     []byte
	verdict string
}

func (s *helloSniffer) Read(p []byte) (int, error) {
	n, err := s.Conn.Read(p)
	if n > 0 {
		s.mu.Lock()
		if s.verdict == "" {
			s.buf = append(s.buf, p[:n]...)
			s.verdict = sniffServerHello(s.buf)
			if s.verdict == "" && len(s.buf) >= sniffLimit {
				s.verdict = cookieUnknown
			}
			if s.verdict != "" {
				s.buf = nil
			}
		}
		s.mu.Unlock()
	}
	return n, err
}

// Verdict says whether a cookie exchange took place: one of the cookie*
// constants.
func (s *helloSniffer) Verdict() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.verdict == "" {
		return cookieUnknown
	}
	return s.verdict
}

// sniffServerHello looks at the start of what a TLS server sent. It
// returns "" while it needs more bytes, else a verdict.
func sniffServerHello(b []byte) string {
	h, err := record.ParseTLSHeader(b)
	if err != nil {
		return ""
	}
	if h.Type != record.Handshake {
		return cookieUnknown // an alert, or not TLS
	}
	payload := b[record.TLSHeaderLen:] // what has arrived of the record
	hh, err := record.ParseTLSHandshakeHeader(payload)
	if err != nil {
		return ""
	}
	if hh.Type != record.TypeServerHello {
		return cookieUnknown
	}
	if record.TLSHandshakeHeaderLen+int(hh.Length) > int(h.Length) {
		return cookieUnknown // spread over records: not what OpenSSL sends
	}
	m, _, err := record.ParseTLSHandshake(payload)
	if err != nil {
		return ""
	}
	sh, err := record.ParseServerHello(m.Body)
	switch {
	case err != nil:
		return cookieUnknown
	case !sh.IsHelloRetryRequest():
		return cookieNo
	}
	if _, ok := sh.Extensions.Find(record.ExtCookie); !ok {
		return cookieHRROnly
	}
	if _, ok := sh.Extensions.Cookie(); !ok {
		return cookieUnknown // a cookie extension without one cookie in it
	}
	return cookieYes
}
