package record

import "crypto/rand"

// AppendTLS appends c as the body of a TLS ClientHello (without Cookie).
func (c ClientHello) AppendTLS(b []byte) []byte { return c.appendBody(b, false) }

// AppendDTLS appends c as the body of a DTLS ClientHello.
func (c ClientHello) AppendDTLS(b []byte) []byte { return c.appendBody(b, true) }

func (c ClientHello) appendBody(b []byte, dtls bool) []byte {
	b = append16(b, c.Version)
	b = append(b, c.Random...)
	b = appendVec8(b, c.SessionID)
	if dtls {
		b = appendVec8(b, c.Cookie)
	}
	b = appendVec16(b, c.CipherSuites)
	b = appendVec8(b, c.CompressionMethods)
	if c.Extensions != nil {
		b = appendVec16(b, c.Extensions)
	}
	return b
}

// Append appends s as the body of a ServerHello.
func (s ServerHello) Append(b []byte) []byte {
	b = append16(b, s.Version)
	b = append(b, s.Random...)
	b = appendVec8(b, s.SessionID)
	b = append16(b, s.CipherSuite)
	b = append(b, s.CompressionMethod)
	if s.Extensions != nil {
		b = appendVec16(b, s.Extensions)
	}
	return b
}

// Append appends h as the body of a HelloVerifyRequest.
func (h HelloVerifyRequest) Append(b []byte) []byte {
	return appendVec8(append16(b, h.Version), h.Cookie)
}

// Add returns e with an extension of type t and data appended: a non-nil
// Extensions, so that a hello built from it has an extensions block.
func (e Extensions) Add(t ExtensionType, data []byte) Extensions {
	if e == nil {
		e = Extensions{}
	}
	e = append16(e, uint16(t))
	return appendVec16(e, data)
}

// CookieExtension returns the data of a cookie extension (44) carrying
// cookie, for Extensions.Add.
func CookieExtension(cookie []byte) []byte { return appendVec16(nil, cookie) }

func appendVec8(b, v []byte) []byte { return append(append(b, byte(len(v))), v...) }

func appendVec16(b, v []byte) []byte { return append(append16(b, uint16(len(v))), v...) }

// defaultCipherSuites are what a ClientHelloDatagram offers by default:
// ECDHE-ECDSA and ECDHE-RSA with AES-GCM, and RSA with AES128-GCM.
var defaultCipherSuites = NewCipherSuites(0xc02b, 0xc02f, 0xc02c, 0xc030, 0x009c)

// ClientHelloDatagram describes a datagram holding one DTLS record with a
// ClientHello, to craft first flights, well formed or not, for the tests
// and tools that feed them to DTLSv1_listen(3). Its zero value is what a
// DTLS 1.2 client sends first: a ClientHello without a cookie, offering
// five AES-GCM suites and no extensions, in an epoch-0 DTLS 1.0 record.
// Zero fields take the defaults their comments give.
type ClientHelloDatagram struct {
	// The ClientHello.
	Version      uint16       // 0: VersionDTLS12
	Random       []byte       // nil: 32 bytes from crypto/rand
	SessionID    []byte       //
	Cookie       []byte       //
	CipherSuites CipherSuites // nil: five AES-GCM suites
	Extensions   Extensions   // nil: no extensions block

	// Its handshake header.
	MessageType    HandshakeType // 0: TypeClientHello (a HelloRequest cannot be crafted)
	MessageSeq     uint16        // message_seq
	FragmentOffset uint32        // fragment_offset, with the body whole nonetheless
	Truncate       int           // bytes cut from the end of the body and from fragment_length, the message length kept

	// Its record header.
	RecordType    ContentType // 0: Handshake
	RecordVersion uint16      // 0: VersionDTLS10, what clients put in a first flight
	Epoch         uint16      //
	Sequence      uint64      // sequence_number: 48 bits
	LengthExtra   int         // added to the record's length field without adding bytes
}

// Bytes returns the datagram. A Truncate larger than the body cuts it all.
func (c ClientHelloDatagram) Bytes() []byte {
	ch := ClientHello{
		Version:            c.Version,
		Random:             c.Random,
		SessionID:          c.SessionID,
		Cookie:             c.Cookie,
		CipherSuites:       c.CipherSuites,
		CompressionMethods: []byte{0}, // null
		Extensions:         c.Extensions,
	}
	if ch.Version == 0 {
		ch.Version = VersionDTLS12
	}
	if ch.Random == nil {
		ch.Random = make([]byte, RandomLen)
		_, _ = rand.Read(ch.Random)
	}
	if ch.CipherSuites == nil {
		ch.CipherSuites = defaultCipherSuites
	}
	body := ch.AppendDTLS(nil)
	frag := body[:len(body)-min(max(c.Truncate, 0), len(body))]

	hh := HandshakeHeader{
		Type:           c.MessageType,
		Length:         uint32(len(body)),
		MessageSeq:     c.MessageSeq,
		FragmentOffset: c.FragmentOffset,
		FragmentLength: uint32(len(frag)),
	}
	if hh.Type == 0 {
		hh.Type = TypeClientHello
	}
	payload := append(hh.AppendDTLS(make([]byte, 0, DTLSHandshakeHeaderLen+len(frag))), frag...)

	rh := Header{
		Type:     c.RecordType,
		Version:  c.RecordVersion,
		Epoch:    c.Epoch,
		Sequence: c.Sequence,
		Length:   uint16(len(payload) + c.LengthExtra),
	}
	if rh.Type == 0 {
		rh.Type = Handshake
	}
	if rh.Version == 0 {
		rh.Version = VersionDTLS10
	}
	out := rh.AppendDTLS(make([]byte, 0, DTLSHeaderLen+len(payload)))
	return append(out, payload...)
}
