package record

import "iter"

// RandomLen is the length of a hello message's random.
const RandomLen = 32

// HelloRetryRequestRandom is the random of a ServerHello that is a
// HelloRetryRequest (RFC 8446 4.1.3): SHA-256 of "HelloRetryRequest".
var HelloRetryRequestRandom = [RandomLen]byte{
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
	0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
}

// ClientHello is a ClientHello's body (RFC 8446 4.1.2; RFC 6347 4.2.1 adds
// the cookie). Its slices alias the parsed input.
type ClientHello struct {
	Version            uint16 // legacy_version (client_version)
	Random             []byte // 32 bytes
	SessionID          []byte // legacy_session_id
	Cookie             []byte // DTLS 1.0 and 1.2 only: the HelloVerifyRequest's cookie, echoed
	CipherSuites       CipherSuites
	CompressionMethods []byte
	Extensions         Extensions // nil when the message has no extensions block
}

// ParseTLSClientHello parses the body of a TLS ClientHello: a whole
// message, not a fragment.
func ParseTLSClientHello(body []byte) (ClientHello, error) {
	return parseClientHello(body, false)
}

// ParseDTLSClientHello parses the body of a DTLS ClientHello, which has a
// cookie field after the session id: a whole message, not a fragment.
func ParseDTLSClientHello(body []byte) (ClientHello, error) {
	return parseClientHello(body, true)
}

func parseClientHello(body []byte, dtls bool) (ClientHello, error) {
	r := reader(body)
	var c ClientHello
	var ok bool
	c.Version, ok = r.u16()
	if ok {
		c.Random, ok = r.bytes(RandomLen)
	}
	if ok {
		c.SessionID, ok = r.vec8()
	}
	if ok && dtls {
		c.Cookie, ok = r.vec8()
	}
	var suites []byte
	if ok {
		suites, ok = r.vec16()
		c.CipherSuites = CipherSuites(suites)
	}
	if ok {
		ok = len(suites)%2 == 0
	}
	if ok {
		c.CompressionMethods, ok = r.vec8()
	}
	if ok {
		c.Extensions, ok = readExtensions(&r)
	}
	if !ok {
		return ClientHello{}, ErrMalformed
	}
	return c, nil
}

// ClientHelloCookie returns the cookie field of a DTLS ClientHello's body,
// reading only what comes before it (client_version, random, session_id)
// and the field itself, as DTLSv1_listen(3) does: the first fragment of a
// fragmented ClientHello suffices.
func ClientHelloCookie(body []byte) ([]byte, error) {
	r := reader(body)
	if _, ok := r.bytes(2 + RandomLen); !ok {
		return nil, ErrMalformed
	}
	if _, ok := r.vec8(); !ok {
		return nil, ErrMalformed
	}
	cookie, ok := r.vec8()
	if !ok {
		return nil, ErrMalformed
	}
	return cookie, nil
}

// ServerHello is a ServerHello's body (RFC 8446 4.1.3), which is also the
// body of a HelloRetryRequest. Its slices alias the parsed input.
type ServerHello struct {
	Version           uint16 // legacy_version (server_version)
	Random            []byte // 32 bytes; HelloRetryRequestRandom in a HelloRetryRequest
	SessionID         []byte // legacy_session_id_echo
	CipherSuite       uint16
	CompressionMethod uint8
	Extensions        Extensions // nil when the message has no extensions block
}

// ParseServerHello parses the body of a TLS or DTLS ServerHello (or
// HelloRetryRequest): a whole message, not a fragment.
func ParseServerHello(body []byte) (ServerHello, error) {
	r := reader(body)
	var s ServerHello
	var ok bool
	s.Version, ok = r.u16()
	if ok {
		s.Random, ok = r.bytes(RandomLen)
	}
	if ok {
		s.SessionID, ok = r.vec8()
	}
	if ok {
		s.CipherSuite, ok = r.u16()
	}
	if ok {
		s.CompressionMethod, ok = r.u8()
	}
	if ok {
		s.Extensions, ok = readExtensions(&r)
	}
	if !ok {
		return ServerHello{}, ErrMalformed
	}
	return s, nil
}

// IsHelloRetryRequest reports whether s is a HelloRetryRequest: whether
// its random is HelloRetryRequestRandom (RFC 8446 4.1.3). Its cookie, if
// any, is s.Extensions.Cookie().
func (s ServerHello) IsHelloRetryRequest() bool {
	return len(s.Random) == RandomLen && [RandomLen]byte(s.Random) == HelloRetryRequestRandom
}

// HelloVerifyRequest is a HelloVerifyRequest's body (RFC 6347 4.2.1). Its
// Cookie aliases the parsed input.
type HelloVerifyRequest struct {
	Version uint16 // server_version
	Cookie  []byte
}

// ParseHelloVerifyRequest parses the body of a HelloVerifyRequest: a whole
// message, not a fragment.
func ParseHelloVerifyRequest(body []byte) (HelloVerifyRequest, error) {
	r := reader(body)
	var h HelloVerifyRequest
	var ok bool
	h.Version, ok = r.u16()
	if ok {
		h.Cookie, ok = r.vec8()
	}
	if !ok || len(r) != 0 {
		return HelloVerifyRequest{}, ErrMalformed
	}
	return h, nil
}

// CipherSuites is a hello's cipher suite list as it is on the wire: two
// bytes a suite, without the list's length.
type CipherSuites []byte

// NewCipherSuites encodes ids as a CipherSuites.
func NewCipherSuites(ids ...uint16) CipherSuites {
	s := make(CipherSuites, 0, 2*len(ids))
	for _, id := range ids {
		s = append16(s, id)
	}
	return s
}

// Len returns the number of suites.
func (s CipherSuites) Len() int { return len(s) / 2 }

// All iterates over the suites, in order.
func (s CipherSuites) All() iter.Seq[uint16] {
	return func(yield func(uint16) bool) {
		for i := 0; i+1 < len(s); i += 2 {
			if !yield(be16(s[i:])) {
				return
			}
		}
	}
}

// Extension is one hello extension: its type and its extension_data.
type Extension struct {
	Type ExtensionType
	Data []byte
}

// Extensions is a hello's extensions block as it is on the wire, without
// the block's length: each extension's type, length and data in turn. The
// parsers check that its extensions fit it exactly.
type Extensions []byte

// readExtensions reads what is left of a hello message: nothing (no
// extensions block: nil) or a block that ends the message exactly and
// whose extensions fit it exactly.
func readExtensions(r *reader) (Extensions, bool) {
	if len(*r) == 0 {
		return nil, true
	}
	block, ok := r.vec16()
	if !ok || len(*r) != 0 {
		return nil, false
	}
	e := Extensions(block)
	for x := reader(e); len(x) > 0; {
		if _, ok := x.u16(); !ok {
			return nil, false
		}
		if _, ok := x.vec16(); !ok {
			return nil, false
		}
	}
	return e, true
}

// All iterates over the extensions, in order. It stops at the first that
// overruns the block (which the parsers have ruled out).
func (e Extensions) All() iter.Seq[Extension] {
	return func(yield func(Extension) bool) {
		for r := reader(e); len(r) > 0; {
			t, ok := r.u16()
			if !ok {
				return
			}
			data, ok := r.vec16()
			if !ok || !yield(Extension{Type: ExtensionType(t), Data: data}) {
				return
			}
		}
	}
}

// Find returns the data of the first extension of type t, and whether
// there is one.
func (e Extensions) Find(t ExtensionType) ([]byte, bool) {
	for r := reader(e); len(r) > 0; {
		typ, ok := r.u16()
		if !ok {
			return nil, false
		}
		data, ok := r.vec16()
		if !ok {
			return nil, false
		}
		if ExtensionType(typ) == t {
			return data, true
		}
	}
	return nil, false
}

// Cookie returns the cookie that the cookie extension (44, RFC 8446 4.2.2)
// carries, and whether there is one: in a HelloRetryRequest, the server's
// cookie; in a second ClientHello, the client's echo of it. An extension
// whose data is not one non-empty cookie counts as none.
func (e Extensions) Cookie() ([]byte, bool) {
	data, ok := e.Find(ExtCookie)
	if !ok {
		return nil, false
	}
	r := reader(data)
	cookie, ok := r.vec16()
	if !ok || len(r) != 0 || len(cookie) == 0 {
		return nil, false
	}
	return cookie, true
}
