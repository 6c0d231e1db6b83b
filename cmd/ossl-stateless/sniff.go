package main

import (
	"bytes"
	"encoding/binary"
	"net"
	"sync"
)

// hrrRandom is the ServerHello.random that marks a HelloRetryRequest
// (RFC 8446, section 4.1.3): SHA-256 of "HelloRetryRequest".
var hrrRandom = []byte{
	0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
	0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
}

// Verdicts of helloSniffer.
const (
	cookieYes     = "yes (HelloRetryRequest with a cookie)"
	cookieNo      = "no"
	cookieHRROnly = "no (HelloRetryRequest without a cookie: a key share retry)"
	cookieUnknown = "unknown"
)

const (
	sniffLimit       = 16 << 10
	extCookie        = 44
	recordHandshake  = 22
	typeServerHello  = 2
	recordHeaderLen  = 5
	handshakeHdrLen  = 4
	serverHelloFixed = 2 + 32 // legacy_version, random
)

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
	if len(b) < recordHeaderLen {
		return ""
	}
	if b[0] != recordHandshake {
		return cookieUnknown // an alert, or not TLS
	}
	recLen := int(binary.BigEndian.Uint16(b[3:5]))
	if len(b) < recordHeaderLen+handshakeHdrLen {
		return ""
	}
	msg := b[recordHeaderLen:]
	if msg[0] != typeServerHello {
		return cookieUnknown
	}
	msgLen := int(msg[1])<<16 | int(msg[2])<<8 | int(msg[3])
	if handshakeHdrLen+msgLen > recLen {
		return cookieUnknown // spread over records: not what OpenSSL sends
	}
	if len(msg) < handshakeHdrLen+msgLen {
		return ""
	}
	body := msg[handshakeHdrLen : handshakeHdrLen+msgLen]
	if len(body) < serverHelloFixed || !bytes.Equal(body[2:serverHelloFixed], hrrRandom) {
		return cookieNo
	}
	// legacy_session_id_echo, cipher_suite, legacy_compression_method,
	// then the extensions.
	p := body[serverHelloFixed:]
	if len(p) < 1 || len(p) < 1+int(p[0])+3+2 {
		return cookieUnknown
	}
	p = p[1+int(p[0])+3:]
	extLen := int(binary.BigEndian.Uint16(p))
	p = p[2:]
	if extLen > len(p) {
		return cookieUnknown
	}
	p = p[:extLen]
	for len(p) >= 4 {
		typ := binary.BigEndian.Uint16(p)
		n := int(binary.BigEndian.Uint16(p[2:]))
		if typ == extCookie {
			return cookieYes
		}
		if 4+n > len(p) {
			return cookieUnknown
		}
		p = p[4+n:]
	}
	return cookieHRROnly
}
