package openssl_test

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
)

// DTLS 1.2 record and handshake framing (RFC 6347 4.1 and 4.2.2), used to
// craft the ClientHellos DTLSv1_listen must answer or drop.
const (
	recordHeaderLen    = 13
	handshakeHeaderLen = 12
	ctHandshake        = 22
	ctAlert            = 21
	hsClientHello      = 1
	hsHelloVerify      = 3
)

type clientHello struct {
	cookie        []byte
	recordVersion uint16 // 0: DTLS 1.0 (0xfeff), what clients put in a first flight
	clientVersion uint16 // 0: DTLS 1.2
	epoch         uint16
	contentType   byte   // 0: handshake
	msgType       byte   // 0: client_hello
	fragOffset    int    // fragment_offset
	fragShort     int    // bytes cut from fragment_length (and the body), keeping length
	messageSeq    uint16 //
	lengthExtra   int    // added to the record length field without adding bytes
}

func put24(b []byte, v int) { b[0], b[1], b[2] = byte(v>>16), byte(v>>8), byte(v) }

func (c clientHello) body() []byte {
	v := c.clientVersion
	if v == 0 {
		v = 0xfefd
	}
	b := binary.BigEndian.AppendUint16(nil, v)
	random := make([]byte, 32)
	_, _ = rand.Read(random)
	b = append(b, random...)
	b = append(b, 0) // session_id
	b = append(b, byte(len(c.cookie)))
	b = append(b, c.cookie...)
	suites := []uint16{0xc02b, 0xc02f, 0xc02c, 0xc030, 0x009c}
	b = binary.BigEndian.AppendUint16(b, uint16(2*len(suites)))
	for _, s := range suites {
		b = binary.BigEndian.AppendUint16(b, s)
	}
	b = append(b, 1, 0) // compression: null
	return b
}

func (c clientHello) bytes() []byte {
	body := c.body()
	frag := body[:len(body)-c.fragShort]
	hs := make([]byte, handshakeHeaderLen, handshakeHeaderLen+len(frag))
	hs[0] = hsClientHello
	if c.msgType != 0 {
		hs[0] = c.msgType
	}
	put24(hs[1:4], len(body))
	binary.BigEndian.PutUint16(hs[4:6], c.messageSeq)
	put24(hs[6:9], c.fragOffset)
	put24(hs[9:12], len(frag))
	hs = append(hs, frag...)
	return record(c.contentType, c.recordVersion, c.epoch, hs, c.lengthExtra)
}

func record(ct byte, version, epoch uint16, payload []byte, lengthExtra int) []byte {
	if ct == 0 {
		ct = ctHandshake
	}
	if version == 0 {
		version = 0xfeff
	}
	r := make([]byte, recordHeaderLen, recordHeaderLen+len(payload))
	r[0] = ct
	binary.BigEndian.PutUint16(r[1:3], version)
	binary.BigEndian.PutUint16(r[3:5], epoch)
	// sequence number (6 bytes) stays zero
	binary.BigEndian.PutUint16(r[11:13], uint16(len(payload)+lengthExtra))
	return append(r, payload...)
}

// helloVerifyCookie parses a datagram holding a HelloVerifyRequest and
// returns its cookie.
func helloVerifyCookie(dgram []byte) ([]byte, error) {
	if len(dgram) < recordHeaderLen+handshakeHeaderLen+3 {
		return nil, fmt.Errorf("datagram of %d bytes is too short for a HelloVerifyRequest", len(dgram))
	}
	if dgram[0] != ctHandshake {
		return nil, fmt.Errorf("record type %d, want handshake", dgram[0])
	}
	hs := dgram[recordHeaderLen:]
	if hs[0] != hsHelloVerify {
		return nil, fmt.Errorf("handshake type %d, want hello_verify_request", hs[0])
	}
	body := hs[handshakeHeaderLen:]
	n := int(body[2])
	if len(body) < 3+n {
		return nil, fmt.Errorf("cookie length %d overruns the message", n)
	}
	return body[3 : 3+n], nil
}
