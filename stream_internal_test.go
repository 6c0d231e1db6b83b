package openssl

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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

// helloScan waits for a whole ClientHello, across records, gives a
// ChangeCipherSpec before it as a unit of its own, never more than the
// unit, and hands OpenSSL at once what it refuses once it has read a
// header; scanning as the bytes come, as statelessExchange does, or all at
// once.
func TestHelloScan(t *testing.T) {
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
	once := func(b []byte) int {
		var s helloScan
		return s.next(b)
	}
	msg := append([]byte{handshakeClientHello, 0, 0x07, 0xd0}, make([]byte, 2000)...) // 2000 bytes long
	whole := rec(recordHandshake, msg)
	split := cat(rec(recordHandshake, nil), rec(recordHandshake, msg[:3]), rec(recordHandshake, msg[3:])) // an empty record, the header cut
	ccs := rec(recordChangeCipherSpec, []byte{1})
	v2 := append([]byte{0x80, 0x30, handshakeClientHello}, make([]byte, 0x2f)...)
	next := rec(recordHandshake, []byte{handshakeClientHello}) // the start of what follows
	for _, unit := range [][]byte{whole, split, ccs, v2} {
		var s helloScan
		for i := range unit {
			require.Zero(t, s.next(unit[:i]), "%d of a %d-byte unit, as they come", i, len(unit))
			assert.Zero(t, once(unit[:i]), "%d of a %d-byte unit, at once", i, len(unit))
		}
		assert.Equal(t, len(unit), s.next(unit))
		assert.Equal(t, len(unit), once(unit))
		assert.Equal(t, len(unit), once(cat(unit, next)), "the unit alone, not what follows")
	}
	assert.Equal(t, len(ccs), once(cat(ccs, split)))

	// Each ends with the byte that decides.
	over := recordMax + 1 // a variable: its bytes are taken below
	refused := map[string][]byte{
		"not TLS":                             []byte("GET /"),
		"application data":                    {23, 3, 3, 0, 1},
		"not version 3":                       {recordHandshake, 2, 0, 0, 4},
		"a record longer than OpenSSL reads":  {recordHandshake, 3, 3, byte(over >> 8), byte(over)},
		"an SSLv2 record longer than that":    {0x80 | byte(over>>8), byte(over), handshakeClientHello, 3, 1},
		"a ChangeCipherSpec of 2 bytes":       {recordChangeCipherSpec, 3, 3, 0, 2},
		"a ChangeCipherSpec inside a message": cat(rec(recordHandshake, msg[:100]), ccs[:5]),
		"a ServerHello":                       rec(recordHandshake, []byte{2, 0, 0, 4}),
		"a ClientHello longer than OpenSSL's": rec(recordHandshake, []byte{handshakeClientHello, 0x02, 0x02, 0}),
		"an SSLv2 record of another kind":     {0x80, 0x30, 2, 0, 0},
	}
	for n := range ssl2RecordMin {
		refused[fmt.Sprintf("an SSLv2 record of %d bytes", n)] = []byte{0x80, byte(n), handshakeClientHello, 3, 1}
	}
	for what, b := range refused {
		assert.Equal(t, len(b), once(b), what)
		assert.Zero(t, once(b[:len(b)-1]), "%s: before OpenSSL could refuse it", what)
	}
	longest := []byte{recordHandshake, 3, 3, byte((over - 1) >> 8), byte(over - 1)}
	assert.Zero(t, once(longest), "the longest record OpenSSL reads: wait for its body")
	// An unfinished ClientHello in 1-byte records, past helloBufferMax.
	long := rec(recordHandshake, []byte{handshakeClientHello})
	for len(long) <= helloBufferMax {
		long = append(long, rec(recordHandshake, []byte{0x01})...)
	}
	var s helloScan
	assert.Zero(t, s.next(long[:helloBufferMax]), "unfinished")
	assert.Equal(t, len(long), s.next(long), "more than helloBufferMax")
}
