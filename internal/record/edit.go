package record

// EditDTLSClientHello returns a copy of a datagram whose first record holds
// one whole DTLS ClientHello (as a client writes it), with the ClientHello
// changed by edit and every length recomputed: the record header's type,
// version, epoch and sequence number and the handshake header's
// message_seq are kept, and records after the first are dropped. Tools
// use it to change what a real client wrote (its cookie, its size) rather
// than build a ClientHello by hand.
//
// edit receives the parsed ClientHello, whose slices alias datagram: it
// must replace a field, not write into it. Errors are those of the parsers,
// or ErrNotHandshake, or ErrMalformed for a first message that is not a
// whole ClientHello.
func EditDTLSClientHello(datagram []byte, edit func(*ClientHello)) ([]byte, error) {
	h, m, err := FirstDTLSHandshake(datagram)
	if err != nil {
		return nil, err
	}
	if h.Epoch != 0 || m.Type != TypeClientHello || m.IsFragment() {
		return nil, ErrMalformed
	}
	ch, err := ParseDTLSClientHello(m.Body)
	if err != nil {
		return nil, err
	}
	edit(&ch)
	body := ch.AppendDTLS(nil)
	msg := AppendDTLSHandshake(make([]byte, 0, DTLSHandshakeHeaderLen+len(body)), TypeClientHello, m.MessageSeq, body)
	return AppendDTLSRecord(make([]byte, 0, DTLSHeaderLen+len(msg)), h, msg), nil
}

// PadTo adds a padding extension (RFC 7685) to c so that, as a DTLS
// ClientHello in one record, it fills a datagram of size bytes, and
// reports whether it could (false if the ClientHello is already too long
// for a padding extension to fit).
func (c *ClientHello) PadTo(size int) bool {
	const extHeaderLen = 4 // type and length
	n := DTLSHeaderLen + DTLSHandshakeHeaderLen + len(c.AppendDTLS(nil))
	if c.Extensions == nil {
		n += 2 // the extensions block's own length
	}
	pad := size - n - extHeaderLen
	if pad < 0 {
		return false
	}
	// Extensions aliases the parsed input with its capacity capped:
	// appending copies.
	c.Extensions = c.Extensions.Add(ExtPadding, make([]byte, pad))
	return true
}
