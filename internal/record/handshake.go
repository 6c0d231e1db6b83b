package record

// Handshake header lengths.
const (
	TLSHandshakeHeaderLen  = 4  // msg_type, length
	DTLSHandshakeHeaderLen = 12 // msg_type, length, message_seq, fragment_offset, fragment_length
)

// HandshakeHeader is a handshake message's header. MessageSeq and
// FragmentOffset are DTLS's and zero for TLS, where FragmentLength equals
// Length.
type HandshakeHeader struct {
	Type           HandshakeType
	Length         uint32 // of the whole message body: 24 bits
	MessageSeq     uint16 // DTLS
	FragmentOffset uint32 // DTLS: 24 bits
	FragmentLength uint32 // DTLS: 24 bits, the bytes that follow the header
}

// IsFragment reports whether the header announces only part of its
// message: a DTLS fragment (RFC 6347 4.2.3).
func (h HandshakeHeader) IsFragment() bool {
	return h.FragmentOffset != 0 || h.FragmentLength != h.Length
}

// Message is a handshake message (or, in DTLS, a fragment of one): its
// header and the FragmentLength bytes that follow it.
type Message struct {
	HandshakeHeader
	Body []byte
}

// ParseTLSHandshakeHeader parses the 4-byte TLS handshake header at the
// start of b.
func ParseTLSHandshakeHeader(b []byte) (HandshakeHeader, error) {
	r := reader(b)
	t, _ := r.u8()
	n, ok := r.u24()
	if !ok {
		return HandshakeHeader{}, ErrTruncated
	}
	return HandshakeHeader{Type: HandshakeType(t), Length: n, FragmentLength: n}, nil
}

// ParseDTLSHandshakeHeader parses the 12-byte DTLS handshake header at the
// start of b. It checks that the fragment lies within the message.
func ParseDTLSHandshakeHeader(b []byte) (HandshakeHeader, error) {
	if len(b) < DTLSHandshakeHeaderLen {
		return HandshakeHeader{}, ErrTruncated
	}
	r := reader(b)
	t, _ := r.u8()
	var h HandshakeHeader
	h.Type = HandshakeType(t)
	h.Length, _ = r.u24()
	h.MessageSeq, _ = r.u16()
	h.FragmentOffset, _ = r.u24()
	h.FragmentLength, _ = r.u24()
	if uint64(h.FragmentOffset)+uint64(h.FragmentLength) > uint64(h.Length) {
		return h, ErrMalformed
	}
	return h, nil
}

// ParseTLSHandshake parses the TLS handshake message at the start of b
// (which may span records: the caller joins their payloads) and returns it
// with the bytes that follow it. ErrTruncated means b ends inside it (the
// Message then holds the header, if b has one).
func ParseTLSHandshake(b []byte) (m Message, rest []byte, err error) {
	h, err := ParseTLSHandshakeHeader(b)
	if err != nil {
		return Message{}, b, err
	}
	return cutMessage(h, b, TLSHandshakeHeaderLen)
}

// ParseDTLSHandshake parses the DTLS handshake message or fragment at the
// start of b, a handshake record's payload, and returns it with the bytes
// that follow it (a record may hold several). ErrTruncated means b ends
// inside it, ErrMalformed that the fragment overruns the message (the
// Message then holds the header, if b has one).
func ParseDTLSHandshake(b []byte) (m Message, rest []byte, err error) {
	h, err := ParseDTLSHandshakeHeader(b)
	if err != nil {
		return Message{HandshakeHeader: h}, b, err
	}
	return cutMessage(h, b, DTLSHandshakeHeaderLen)
}

func cutMessage(h HandshakeHeader, b []byte, hdrLen int) (Message, []byte, error) {
	end := hdrLen + int(h.FragmentLength)
	if len(b) < end {
		return Message{HandshakeHeader: h}, b, ErrTruncated
	}
	return Message{HandshakeHeader: h, Body: b[hdrLen:end:end]}, b[end:], nil
}

// FirstDTLSHandshake parses what a DTLS server looks at first in a
// datagram: the first record's header, and the first handshake message
// (or fragment) of its payload. ErrNotHandshake reports a first record of
// another content type; ErrTruncated and ErrMalformed a record or message
// that does not fit. The payload of a record of epoch 1 or later is
// encrypted: check the Header's Epoch before trusting the Message.
func FirstDTLSHandshake(datagram []byte) (Header, Message, error) {
	r, _, err := ParseDTLSRecord(datagram)
	if err != nil {
		return r.Header, Message{}, err
	}
	if r.Type != Handshake {
		return r.Header, Message{}, ErrNotHandshake
	}
	m, _, err := ParseDTLSHandshake(r.Payload)
	return r.Header, m, err
}

// AppendTLS appends h as a 4-byte TLS handshake header (Length taken
// modulo 2^24).
func (h HandshakeHeader) AppendTLS(b []byte) []byte {
	return append24(append(b, byte(h.Type)), h.Length)
}

// AppendDTLS appends h as a 12-byte DTLS handshake header (the 24-bit
// fields taken modulo 2^24).
func (h HandshakeHeader) AppendDTLS(b []byte) []byte {
	b = append24(append(b, byte(h.Type)), h.Length)
	b = append16(b, h.MessageSeq)
	b = append24(b, h.FragmentOffset)
	return append24(b, h.FragmentLength)
}

// AppendTLSHandshake appends a TLS handshake message of type t with body.
func AppendTLSHandshake(b []byte, t HandshakeType, body []byte) []byte {
	h := HandshakeHeader{Type: t, Length: uint32(len(body))}
	return append(h.AppendTLS(b), body...)
}

// AppendDTLSHandshake appends a DTLS handshake message of type t with
// body, whole in one fragment.
func AppendDTLSHandshake(b []byte, t HandshakeType, messageSeq uint16, body []byte) []byte {
	n := uint32(len(body))
	h := HandshakeHeader{Type: t, Length: n, MessageSeq: messageSeq, FragmentLength: n}
	return append(h.AppendDTLS(b), body...)
}
