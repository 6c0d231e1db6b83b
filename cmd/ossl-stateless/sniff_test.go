package main

import (
	"bytes"
	"io"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/openssl-stateless/openssl/internal/record"
)

// hrrRandom is the random of a HelloRetryRequest, as the tests look for it
// in dumps.
var hrrRandom = record.HelloRetryRequestRandom[:]

// serverHello builds a TLS record holding a ServerHello with the given
// random and extensions.
func serverHello(random []byte, exts record.Extensions) []byte {
	body := record.ServerHello{
		Version:     record.VersionTLS12,
		Random:      random,
		SessionID:   make([]byte, 32),
		CipherSuite: 0x1302, // TLS_AES_256_GCM_SHA384
		Extensions:  exts,
	}.Append(nil)
	msg := record.AppendTLSHandshake(nil, record.TypeServerHello, body)
	return record.AppendTLSRecord(nil, record.Header{Type: record.Handshake, Version: record.VersionTLS12}, msg)
}

func TestSniffServerHello(t *testing.T) {
	versions := record.Extensions(nil).Add(record.ExtSupportedVersions, []byte{0x03, 0x04})
	keyShare := []byte{0x00, 0x1d}
	cookie := record.CookieExtension([]byte("abcde"))
	plainRandom := bytes.Repeat([]byte{0x42}, 32)
	hrrCookie := serverHello(hrrRandom, versions.Add(record.ExtCookie, cookie).Add(record.ExtKeyShare, keyShare))
	// The record header says 3 bytes more than the ServerHello: the
	// message is complete, the record not yet.
	longRecord := append([]byte(nil), hrrCookie...)
	longRecord[4] += 3
	// A ServerHello announced longer than its record.
	spread := append([]byte(nil), hrrCookie...)
	spread[4] -= 3
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"HelloRetryRequest with a cookie", hrrCookie, cookieYes},
		{"HelloRetryRequest, key share only", serverHello(hrrRandom, versions.Add(record.ExtKeyShare, keyShare)), cookieHRROnly},
		{"HelloRetryRequest, empty cookie extension", serverHello(hrrRandom, versions.Add(record.ExtCookie, nil)), cookieUnknown},
		{"ServerHello", serverHello(plainRandom, versions.Add(record.ExtKeyShare, keyShare)), cookieNo},
		{"alert", []byte{21, 3, 3, 0, 2, 2, 40}, cookieUnknown},
		{"not a ServerHello", []byte{22, 3, 3, 0, 4, 11, 0, 0, 0}, cookieUnknown},
		{"malformed ServerHello", []byte{22, 3, 3, 0, 5, 2, 0, 0, 1, 3}, cookieUnknown},
		{"ServerHello spread over records", spread, cookieUnknown},
		{"rest of the record not arrived", longRecord, cookieYes},
		{"truncated extensions", serverHello(hrrRandom, versions.Add(record.ExtCookie, cookie))[:5+4+2+32+1+32+3+2+4], ""},
		{"short handshake header", []byte{22, 3, 3, 0, 4, 2, 0}, ""},
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
	exts := record.Extensions(nil).
		Add(record.ExtSupportedVersions, []byte{0x03, 0x04}).
		Add(record.ExtCookie, record.CookieExtension([]byte("x")))
	rec := serverHello(hrrRandom, exts)
	// The middlebox ChangeCipherSpec.
	trailing := record.AppendTLSRecord(nil, record.Header{Type: record.ChangeCipherSpec, Version: record.VersionTLS12}, []byte{1})
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
