package record

import (
	"bytes"
	"errors"
	"testing"
)

// The fuzz targets check that no input makes a parser panic, that what
// parses encodes back to the same bytes, and that the parsers agree with
// each other. Their seeds are in testdata/fuzz (seeds_test.go writes
// them).

// FuzzParseDatagram feeds DTLS datagrams to DTLSRecords, FirstDTLSHandshake
// and, for each whole hello message, its parser.
func FuzzParseDatagram(f *testing.F) {
	f.Fuzz(func(t *testing.T, d []byte) {
		off := 0
		var first Record
		var firstErr error
		n := 0
		for r, err := range DTLSRecords(d) {
			if n == 0 {
				first, firstErr = r, err
			}
			n++
			if err != nil {
				if !errors.Is(err, ErrTruncated) {
					t.Fatalf("record at %d: %v, want ErrTruncated", off, err)
				}
				left := len(d) - off
				if left >= DTLSHeaderLen && left >= DTLSHeaderLen+int(r.Length) {
					t.Fatalf("record at %d reported truncated with %d bytes left for length %d", off, left, r.Length)
				}
				off = len(d)
				break
			}
			if got := r.AppendDTLS(nil); !bytes.Equal(got, d[off:off+DTLSHeaderLen]) {
				t.Fatalf("header at %d: % x encodes as % x", off, d[off:off+DTLSHeaderLen], got)
			}
			end := off + DTLSHeaderLen + int(r.Length)
			if !bytes.Equal(r.Payload, d[off+DTLSHeaderLen:end]) {
				t.Fatalf("payload at %d is not the input's", off)
			}
			off = end
			if r.Type == Handshake && r.Epoch == 0 {
				checkDTLSMessages(t, r.Payload)
			}
		}
		if off != len(d) {
			t.Fatalf("records cover %d of %d bytes", off, len(d))
		}

		h, m, err := FirstDTLSHandshake(d)
		switch {
		case n == 0:
			if !errors.Is(err, ErrTruncated) {
				t.Fatalf("FirstDTLSHandshake of an empty datagram: %v", err)
			}
		case firstErr != nil:
			if !errors.Is(err, firstErr) {
				t.Fatalf("FirstDTLSHandshake: %v, DTLSRecords: %v", err, firstErr)
			}
		case first.Type != Handshake:
			if !errors.Is(err, ErrNotHandshake) {
				t.Fatalf("FirstDTLSHandshake of a %v record: %v", first.Type, err)
			}
		default:
			if h != first.Header {
				t.Fatalf("FirstDTLSHandshake header %+v, DTLSRecords %+v", h, first.Header)
			}
			if want, _, werr := ParseDTLSHandshake(first.Payload); !errors.Is(err, werr) || !bytes.Equal(m.Body, want.Body) || m.HandshakeHeader != want.HandshakeHeader {
				t.Fatalf("FirstDTLSHandshake message %+v (%v), ParseDTLSHandshake %+v (%v)", m, err, want, werr)
			}
		}
	})
}

// checkDTLSMessages parses the handshake messages of a record's payload.
func checkDTLSMessages(t *testing.T, p []byte) {
	for len(p) > 0 {
		m, rest, err := ParseDTLSHandshake(p)
		if err != nil {
			if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseDTLSHandshake: %v", err)
			}
			return
		}
		if got := m.AppendDTLS(nil); !bytes.Equal(got, p[:DTLSHandshakeHeaderLen]) {
			t.Fatalf("handshake header % x encodes as % x", p[:DTLSHandshakeHeaderLen], got)
		}
		if len(rest) != len(p)-DTLSHandshakeHeaderLen-len(m.Body) {
			t.Fatalf("message of %d bytes left %d of %d", len(m.Body), len(rest), len(p))
		}
		if m.Type == TypeClientHello {
			checkClientHelloCookie(t, m.Body)
		}
		if !m.IsFragment() {
			checkHello(t, m.Type, m.Body, true)
		}
		p = rest
	}
}

// checkHello parses a whole hello message's body and checks that it
// encodes back to body.
func checkHello(t *testing.T, typ HandshakeType, body []byte, dtls bool) {
	switch typ {
	case TypeClientHello:
		if dtls {
			checkClientHello(t, body, ParseDTLSClientHello, ClientHello.AppendDTLS)
		} else {
			checkClientHello(t, body, ParseTLSClientHello, ClientHello.AppendTLS)
		}
	case TypeServerHello:
		checkServerHello(t, body)
	case TypeHelloVerifyRequest:
		checkHelloVerifyRequest(t, body)
	}
}

func checkClientHello(t *testing.T, body []byte, parse func([]byte) (ClientHello, error), appendTo func(ClientHello, []byte) []byte) {
	ch, err := parse(body)
	if err != nil {
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("ClientHello: %v", err)
		}
		return
	}
	if got := appendTo(ch, nil); !bytes.Equal(got, body) {
		t.Fatalf("ClientHello % x encodes as % x", body, got)
	}
	n := 0
	for range ch.CipherSuites.All() {
		n++
	}
	if n != ch.CipherSuites.Len() || 2*n != len(ch.CipherSuites) {
		t.Fatalf("%d cipher suites iterated in %d bytes", n, len(ch.CipherSuites))
	}
	checkExtensions(t, ch.Extensions)
}

func checkClientHelloCookie(t *testing.T, body []byte) {
	cookie, err := ClientHelloCookie(body)
	if ch, perr := ParseDTLSClientHello(body); perr == nil {
		if err != nil || !bytes.Equal(cookie, ch.Cookie) {
			t.Fatalf("ClientHelloCookie %x (%v), ParseDTLSClientHello %x", cookie, err, ch.Cookie)
		}
	}
}

func checkServerHello(t *testing.T, body []byte) {
	sh, err := ParseServerHello(body)
	if err != nil {
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("ServerHello: %v", err)
		}
		return
	}
	if got := sh.Append(nil); !bytes.Equal(got, body) {
		t.Fatalf("ServerHello % x encodes as % x", body, got)
	}
	_ = sh.IsHelloRetryRequest()
	checkExtensions(t, sh.Extensions)
}

func checkHelloVerifyRequest(t *testing.T, body []byte) {
	hv, err := ParseHelloVerifyRequest(body)
	if err != nil {
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("HelloVerifyRequest: %v", err)
		}
		return
	}
	if got := hv.Append(nil); !bytes.Equal(got, body) {
		t.Fatalf("HelloVerifyRequest % x encodes as % x", body, got)
	}
}

// checkExtensions checks that a parsed block's extensions cover it exactly
// and that Find and Cookie agree with them.
func checkExtensions(t *testing.T, e Extensions) {
	var rebuilt Extensions
	var cookieExt []byte
	seenCookie := false
	for x := range e.All() {
		rebuilt = rebuilt.Add(x.Type, x.Data)
		if x.Type == ExtCookie && !seenCookie {
			cookieExt, seenCookie = x.Data, true
		}
		if d, ok := e.Find(x.Type); !ok || len(d) > len(e) {
			t.Fatalf("Find(%d) misses an extension that All yields", x.Type)
		}
	}
	if !bytes.Equal(rebuilt, e) {
		t.Fatalf("extensions % x rebuilt as % x", []byte(e), []byte(rebuilt))
	}
	cookie, ok := e.Cookie()
	if ok && (!seenCookie || len(cookie) == 0 || !bytes.Equal(cookieExt, CookieExtension(cookie))) {
		t.Fatalf("Cookie() = %x from extension data % x", cookie, cookieExt)
	}
}

// FuzzParseTLSStream feeds the start of a TLS byte stream to
// ParseTLSRecord, then the handshake messages of the records, joined, to
// ParseTLSHandshake and the hello parsers.
func FuzzParseTLSStream(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		var hs []byte // the handshake records' payloads, joined
		for p := b; len(p) > 0; {
			r, rest, err := ParseTLSRecord(p)
			if err != nil {
				if !errors.Is(err, ErrTruncated) {
					t.Fatalf("ParseTLSRecord: %v", err)
				}
				if len(p) >= TLSHeaderLen+int(r.Length) {
					t.Fatalf("record reported truncated with %d bytes for length %d", len(p), r.Length)
				}
				break
			}
			if got := r.AppendTLS(nil); !bytes.Equal(got, p[:TLSHeaderLen]) {
				t.Fatalf("header % x encodes as % x", p[:TLSHeaderLen], got)
			}
			if len(rest) != len(p)-TLSHeaderLen-len(r.Payload) {
				t.Fatalf("record of %d bytes left %d of %d", len(r.Payload), len(rest), len(p))
			}
			if r.Type == Handshake {
				hs = append(hs, r.Payload...)
			}
			p = rest
		}
		for len(hs) > 0 {
			m, rest, err := ParseTLSHandshake(hs)
			if err != nil {
				if !errors.Is(err, ErrTruncated) {
					t.Fatalf("ParseTLSHandshake: %v", err)
				}
				break
			}
			if got := m.AppendTLS(nil); !bytes.Equal(got, hs[:TLSHandshakeHeaderLen]) {
				t.Fatalf("handshake header % x encodes as % x", hs[:TLSHandshakeHeaderLen], got)
			}
			checkHello(t, m.Type, m.Body, false)
			hs = rest
		}
	})
}

// FuzzClientHello feeds ClientHello bodies to both ClientHello parsers and
// to ClientHelloCookie.
func FuzzClientHello(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		checkHello(t, TypeClientHello, body, true)
		checkHello(t, TypeClientHello, body, false)
		checkClientHelloCookie(t, body)
	})
}

// FuzzServerHello feeds the bodies of what a server answers a first
// ClientHello with to ParseServerHello (a ServerHello or a
// HelloRetryRequest) and ParseHelloVerifyRequest.
func FuzzServerHello(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		checkHello(t, TypeServerHello, body, false)
		checkHello(t, TypeHelloVerifyRequest, body, true)
	})
}
