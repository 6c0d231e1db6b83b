package openssl

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// recordFraming says "inside a record" after every byte but a record's
// last, whatever the bytes' grouping: here an SSLv2-format ClientHello
// first (a 2-byte header, top bit set), then records of TLS's 5-byte
// header, one of them empty, fed a byte at a time and in chunks that cut
// headers and bodies anywhere.
func TestRecordFraming(t *testing.T) {
	var stream []byte
	var ends []int // offsets just past each record
	add := func(rec []byte) {
		stream = append(stream, rec...)
		ends = append(ends, len(stream))
	}
	tls := func(n int) []byte {
		return append([]byte{0x17, 0x03, 0x03, byte(n >> 8), byte(n)}, make([]byte, n)...)
	}
	v2 := append([]byte{0x80 | 0x01, 0x02}, make([]byte, 0x102)...)
	v2[2] = 1 // SSL2_MT_CLIENT_HELLO
	for _, first := range [][]byte{v2, tls(7)} {
		stream, ends = nil, nil
		add(first)
		for _, n := range []int{1, 0, 300, 0x80 << 8, 5} {
			add(tls(n))
		}
		boundary := map[int]bool{0: true}
		for _, e := range ends {
			boundary[e] = true
		}
		for _, chunk := range []int{1, 2, 3, 5, 7, 4096, len(stream)} {
			var f recordFraming
			for off := 0; off < len(stream); {
				k := min(chunk, len(stream)-off)
				f.feed(stream[off : off+k])
				off += k
				if !assert.Equal(t, !boundary[off], f.inside(), "first record of %d bytes, chunks of %d, after %d bytes", len(first), chunk, off) {
					break
				}
			}
		}
	}
	// Only the first record may be SSLv2's: later, a first byte with its
	// top bit set is a (bad) content type of a 5-byte header.
	var f recordFraming
	f.feed(tls(0))
	f.feed([]byte{0x80, 0x01, 0x00, 0x00})
	assert.True(t, f.inside(), "4 bytes of a 5-byte header")
	f.feed([]byte{0x00})
	assert.False(t, f.inside())
}

// helloBuffered waits for a whole handshake message, across records and
// after ChangeCipherSpec records, and lets OpenSSL judge at once whatever
// is not a TLS record of those two types.
func TestHelloBuffered(t *testing.T) {
	rec := func(typ byte, body []byte) []byte {
		return append([]byte{typ, 3, 3, byte(len(body) >> 8), byte(len(body))}, body...)
	}
	msg := append([]byte{1, 0, 0x07, 0xd0}, make([]byte, 2000)...) // a 2000-byte ClientHello
	ccs := rec(recordChangeCipherSpec, []byte{1})
	var split []byte // the message in two records, after a ChangeCipherSpec
	split = append(split, ccs...)
	split = append(split, rec(recordHandshake, msg[:3])...) // the message's header cut too
	split = append(split, rec(recordHandshake, msg[3:])...)
	for _, stream := range [][]byte{rec(recordHandshake, msg), split} {
		for i := range stream {
			assert.False(t, helloBuffered(stream[:i]), "%d of %d bytes", i, len(stream))
		}
		assert.True(t, helloBuffered(stream))
	}
	v2 := append([]byte{0x80, 0x30}, make([]byte, 0x30)...)
	assert.False(t, helloBuffered(v2[:0x31]))
	assert.True(t, helloBuffered(v2))
	assert.True(t, helloBuffered([]byte("GET / HTTP/1.1\r\n")), "not TLS: OpenSSL refuses it at once")
	assert.True(t, helloBuffered(rec(23, nil)), "application data")
	assert.True(t, helloBuffered([]byte{recordHandshake, 2, 0, 0, 4}), "not version 3")
	long := rec(recordHandshake, append([]byte{1, 0xff, 0xff, 0xff}, make([]byte, 16000)...))
	for len(long) <= helloBufferMax {
		long = append(long, rec(recordHandshake, make([]byte, 16000))...)
	}
	assert.True(t, helloBuffered(long), "more than helloBufferMax")
}
