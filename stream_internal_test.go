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

// helloUnit waits for a whole ClientHello, across records, gives a
// ChangeCipherSpec before it as a unit of its own, never more than the
// unit, and lets OpenSSL judge at once whatever it would refuse.
func TestHelloUnit(t *testing.T) {
	rec := func(typ byte, body []byte) []byte {
		return append([]byte{typ, 3, 3, byte(len(body) >> 8), byte(len(body))}, body...)
	}
	cat := func(parts ...[]byte) []byte {
		var b []byte
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	msg := append([]byte{handshakeClientHello, 0, 0x07, 0xd0}, make([]byte, 2000)...) // 2000 bytes long
	whole := rec(recordHandshake, msg)
	split := cat(rec(recordHandshake, msg[:3]), rec(recordHandshake, msg[3:])) // its header cut too
	ccs := rec(recordChangeCipherSpec, []byte{1})
	v2 := append([]byte{0x80, 0x30, handshakeClientHello}, make([]byte, 0x2f)...)
	next := rec(recordHandshake, []byte{handshakeClientHello}) // the start of what follows
	for _, unit := range [][]byte{whole, split, ccs, v2} {
		for i := range unit {
			assert.Zero(t, helloUnit(unit[:i]), "%d of a %d-byte unit", i, len(unit))
		}
		assert.Equal(t, len(unit), helloUnit(unit))
		assert.Equal(t, len(unit), helloUnit(cat(unit, next)), "the unit alone, not what follows")
	}
	assert.Equal(t, len(ccs), helloUnit(cat(ccs, split)))

	refused := map[string][]byte{
		"not TLS":                             []byte("GET / HTTP/1.1\r\n"),
		"application data":                    rec(23, []byte{0}),
		"not version 3":                       {recordHandshake, 2, 0, 0, 4},
		"a ChangeCipherSpec of 2 bytes":       rec(recordChangeCipherSpec, []byte{1, 1}),
		"a ChangeCipherSpec inside a message": cat(rec(recordHandshake, msg[:100]), ccs),
		"a ServerHello":                       rec(recordHandshake, []byte{2}),
		"an SSLv2 record of another kind":     {0x80, 0x30, 2},
		"a ClientHello longer than OpenSSL's": rec(recordHandshake, []byte{handshakeClientHello, 0x02, 0x02, 0}),
	}
	for what, b := range refused {
		assert.Equal(t, len(b), helloUnit(b), what)
	}
	long := rec(recordHandshake, []byte{handshakeClientHello, 0x01, 0xff, 0xff}) // 131071: allowed
	for len(long) <= helloBufferMax {
		long = append(long, rec(recordHandshake, make([]byte, 16000))...)
	}
	assert.Equal(t, len(long), helloUnit(long), "more than helloBufferMax")
}
