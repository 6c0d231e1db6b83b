package dtls

import "github.com/openssl-stateless/openssl/internal/record"

// What the package reads of a datagram before OpenSSL does: only the
// plaintext headers of epoch-0 records, to route and to count. OpenSSL
// judges everything; a malformed datagram here only takes the path where
// OpenSSL sees it.

// firstHandshake returns the plaintext handshake message (or fragment)
// that starts a datagram; ok is false for anything else, including the
// encrypted records of later epochs.
func firstHandshake(d []byte) (record.Message, bool) {
	h, m, err := record.FirstDTLSHandshake(d)
	if err != nil || h.Epoch != 0 {
		return record.Message{}, false
	}
	return m, true
}

// isHelloVerifyRequest reports whether a datagram starts with a
// HelloVerifyRequest.
func isHelloVerifyRequest(d []byte) bool {
	m, ok := firstHandshake(d)
	return ok && m.Type == record.TypeHelloVerifyRequest
}

// isInitialClientHello reports whether a datagram starts with an epoch-0
// ClientHello: a new handshake.
func isInitialClientHello(d []byte) bool {
	m, ok := firstHandshake(d)
	return ok && m.Type == record.TypeClientHello
}

// clientHelloHasCookie reports whether a datagram's ClientHello carries a
// non-empty cookie.
func clientHelloHasCookie(d []byte) bool {
	m, ok := firstHandshake(d)
	if !ok || m.Type != record.TypeClientHello || m.IsFragment() {
		return false
	}
	cookie, err := record.ClientHelloCookie(m.Body)
	return err == nil && len(cookie) > 0
}

// firstEpoch returns the epoch of a datagram's first record.
func firstEpoch(d []byte) (uint16, bool) {
	h, err := record.ParseDTLSHeader(d)
	return h.Epoch, err == nil
}
