package record

import (
	"errors"
	"iter"
)

// Header lengths.
const (
	TLSHeaderLen  = 5  // type, version, length
	DTLSHeaderLen = 13 // type, version, epoch, 48-bit sequence number, length
)

// Errors of the parsers.
var (
	// ErrTruncated reports input that ends before a header does, or before
	// the length a record or handshake header declares: more bytes may
	// complete it (on a stream) or never will (in a datagram).
	ErrTruncated = errors.New("record: truncated")
	// ErrMalformed reports a message body that ends before its last field
	// or has bytes left over after it, a length that overruns what
	// encloses it, a DTLS fragment that lies outside its message, or an
	// odd-length cipher suite list.
	ErrMalformed = errors.New("record: malformed")
	// ErrNotHandshake reports that a datagram's first record is not a
	// handshake record (FirstDTLSHandshake).
	ErrNotHandshake = errors.New("record: not a handshake record")
)

// Header is a record header. Epoch and Sequence are DTLS's and zero in a
// TLS header.
type Header struct {
	Type     ContentType
	Version  uint16
	Epoch    uint16 // DTLS
	Sequence uint64 // DTLS: 48 bits
	Length   uint16 // of the payload that follows the header
}

// Record is a record: its header and its payload, Length bytes.
type Record struct {
	Header
	Payload []byte
}

// ParseTLSHeader parses the 5-byte TLS record header at the start of b.
func ParseTLSHeader(b []byte) (Header, error) {
	if len(b) < TLSHeaderLen {
		return Header{}, ErrTruncated
	}
	return Header{
		Type:    ContentType(b[0]),
		Version: be16(b[1:]),
		Length:  be16(b[3:]),
	}, nil
}

// ParseDTLSHeader parses the 13-byte DTLS record header at the start of b.
func ParseDTLSHeader(b []byte) (Header, error) {
	if len(b) < DTLSHeaderLen {
		return Header{}, ErrTruncated
	}
	return Header{
		Type:     ContentType(b[0]),
		Version:  be16(b[1:]),
		Epoch:    be16(b[3:]),
		Sequence: uint64(be16(b[5:]))<<32 | uint64(be16(b[7:]))<<16 | uint64(be16(b[9:])),
		Length:   be16(b[11:]),
	}, nil
}

// ParseTLSRecord parses the TLS record at the start of b and returns it
// with the bytes that follow it. ErrTruncated means b ends inside it (the
// Record then holds the header, if b has one).
func ParseTLSRecord(b []byte) (r Record, rest []byte, err error) {
	h, err := ParseTLSHeader(b)
	if err != nil {
		return Record{}, b, err
	}
	return cutRecord(h, b, TLSHeaderLen)
}

// ParseDTLSRecord parses the DTLS record at the start of b and returns it
// with the bytes that follow it, the datagram's next records. ErrTruncated
// means b ends inside it (the Record then holds the header, if b has one).
func ParseDTLSRecord(b []byte) (r Record, rest []byte, err error) {
	h, err := ParseDTLSHeader(b)
	if err != nil {
		return Record{}, b, err
	}
	return cutRecord(h, b, DTLSHeaderLen)
}

func cutRecord(h Header, b []byte, hdrLen int) (Record, []byte, error) {
	end := hdrLen + int(h.Length)
	if len(b) < end {
		return Record{Header: h}, b, ErrTruncated
	}
	return Record{Header: h, Payload: b[hdrLen:end:end]}, b[end:], nil
}

// DTLSRecords iterates over the records of a DTLS datagram, which may hold
// several (RFC 6347 4.1.1). A record that the datagram cuts short, or a
// trailing piece shorter than a header, ends the iteration with
// ErrTruncated (and the header when there is one); an empty datagram
// yields nothing.
func DTLSRecords(datagram []byte) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		for d := datagram; len(d) > 0; {
			r, rest, err := ParseDTLSRecord(d)
			if !yield(r, err) || err != nil {
				return
			}
			d = rest
		}
	}
}

// AppendTLS appends h as a 5-byte TLS record header.
func (h Header) AppendTLS(b []byte) []byte {
	b = append(b, byte(h.Type))
	b = append16(b, h.Version)
	return append16(b, h.Length)
}

// AppendDTLS appends h as a 13-byte DTLS record header (the sequence number
// taken modulo 2^48).
func (h Header) AppendDTLS(b []byte) []byte {
	b = append(b, byte(h.Type))
	b = append16(b, h.Version)
	b = append16(b, h.Epoch)
	b = append16(b, uint16(h.Sequence>>32))
	b = append16(b, uint16(h.Sequence>>16))
	b = append16(b, uint16(h.Sequence))
	return append16(b, h.Length)
}

// AppendTLSRecord appends a TLS record: h, with its Length set to
// len(payload), then payload.
func AppendTLSRecord(b []byte, h Header, payload []byte) []byte {
	h.Length = uint16(len(payload))
	return append(h.AppendTLS(b), payload...)
}

// AppendDTLSRecord appends a DTLS record: h, with its Length set to
// len(payload), then payload.
func AppendDTLSRecord(b []byte, h Header, payload []byte) []byte {
	h.Length = uint16(len(payload))
	return append(h.AppendDTLS(b), payload...)
}

func be16(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }

func append16(b []byte, v uint16) []byte { return append(b, byte(v>>8), byte(v)) }

func append24(b []byte, v uint32) []byte { return append(b, byte(v>>16), byte(v>>8), byte(v)) }
