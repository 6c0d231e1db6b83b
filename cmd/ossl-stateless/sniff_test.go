package main

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
)

// serverHello builds a TLS record holding a ServerHello with the given
// random and extensions (type, body).
func serverHello(random []byte, exts ...[]byte) []byte {
	var body []byte
	body = append(body, 0x03, 0x03)
	body = append(body, random...)
	body = append(body, 32)
	body = append(body, make([]byte, 32)...) // legacy_session_id_echo
	body = append(body, 0x13, 0x02, 0x00)    // cipher suite, compression
	var extBytes []byte
	for _, e := range exts {
		extBytes = append(extBytes, e...)
	}
	body = binary.BigEndian.AppendUint16(body, uint16(len(extBytes)))
	body = append(body, extBytes...)
	msg := append([]byte{typeServerHello, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}, body...)
	rec := []byte{recordHandshake, 0x03, 0x03}
	rec = binary.BigEndian.AppendUint16(rec, uint16(len(msg)))
	return append(rec, msg...)
}

func ext(typ uint16, body []byte) []byte {
	e := binary.BigEndian.AppendUint16(nil, typ)
	e = binary.BigEndian.AppendUint16(e, uint16(len(body)))
	return append(e, body...)
}

func TestSniffServerHello(t *testing.T) {
	versions := ext(43, []byte{0x03, 0x04})
	keyShare := ext(51, []byte{0x00, 0x1d})
	cookie := ext(extCookie, append([]byte{0x00, 0x05}, "abcde"...))
	plainRandom := bytes.Repeat([]byte{0x42}, 32)
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"HelloRetryRequest with a cookie", serverHello(hrrRandom, versions, cookie, keyShare), cookieYes},
		{"HelloRetryRequest, key share only", serverHello(hrrRandom, versions, keyShare), cookieHRROnly},
		{"ServerHello", serverHello(plainRandom, versions, keyShare), cookieNo},
		{"alert", []byte{21, 3, 3, 0, 2, 2, 40}, cookieUnknown},
		{"not a ServerHello", []byte{22, 3, 3, 0, 4, 11, 0, 0, 0}, cookieUnknown},
		{"truncated extensions", serverHello(hrrRandom, versions, cookie)[:5+4+2+32+1+32+3+2+4], ""},
		{"short header", []byte{22, 3}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, sniffServerHello(tc.in))
		})
	}
}

// TestHelloSnifferSplitReads feeds a HelloRetryRequest a few bytes at a
// time through the net.Conn wrapper: the verdict does not depend on how
// the reads split the record, and every byte passes through unchanged.
func TestHelloSnifferSplitReads(t *testing.T) {
	rec := serverHello(hrrRandom, ext(43, []byte{0x03, 0x04}), ext(extCookie, []byte{0, 1, 'x'}))
	trailing := []byte{20, 3, 3, 0, 1, 1} // the middlebox ChangeCipherSpec
	a, b := net.Pipe()
	defer a.Close()
	go func() {
		defer b.Close()
		all := append(append([]byte{}, rec...), trailing...)
		for len(all) > 0 {
			n := min(7, len(all))
			if _, err := b.Write(all[:n]); err != nil {
				return
			}
			all = all[n:]
		}
	}()
	s := &helloSniffer{Conn: a}
	assert.Equal(t, cookieUnknown, s.Verdict(), "nothing read yet")
	got, err := io.ReadAll(s)
	assert.NoError(t, err)
	assert.Equal(t, append(append([]byte{}, rec...), trailing...), got)
	assert.Equal(t, cookieYes, s.Verdict())
}
