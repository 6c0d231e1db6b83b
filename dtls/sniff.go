package dtls

import (
	"strings"
	"sync"

	"github.com/openssl-stateless/openssl"
	"github.com/openssl-stateless/openssl/internal/record"
)

// What the package reads of a datagram before OpenSSL does: the record
// headers (plaintext in every epoch), and the handshake messages of
// epoch-0 records, to route, to count, and on OpenSSL 1.1.1 to drop
// records too short to be real. OpenSSL judges everything else; a
// malformed datagram here only takes the path where OpenSSL sees it.

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

// before3 reports whether the library is older than OpenSSL 3.0, asked
// once (a cgo call) rather than at every handshake.
var before3 = sync.OnceValue(func() bool { return openssl.VersionNumber() < 0x30000000 })

// shortRecordGuard returns the length below which an encrypted record
// must be dropped before OpenSSL sees it, or 0 for none. OpenSSL 1.1.1
// fails the whole connection (an internal error, fatal) on an AEAD record
// too short to hold its explicit nonce and tag, where 3.x drops it as it
// drops any record that does not authenticate: on 1.1.1 anyone who knows
// a peer's address could end its connection with one datagram. No valid
// record is that short, so dropping them costs nothing.
func shortRecordGuard(cipher string) int {
	if !before3() {
		return 0
	}
	switch {
	case strings.Contains(cipher, "CHACHA20"), strings.Contains(cipher, "CCM8"):
		return 16 // tag (and CCM_8's explicit nonce)
	case strings.Contains(cipher, "GCM"), strings.Contains(cipher, "CCM"):
		return 24 // 8-byte explicit nonce, 16-byte tag
	}
	return 0
}

// hasShortRecord reports whether a datagram holds an encrypted record
// shorter than min bytes.
func hasShortRecord(d []byte, min int) bool {
	for r, err := range record.DTLSRecords(d) {
		if err == nil && r.Epoch > 0 && int(r.Length) < min {
			return true
		}
	}
	return false
}
