package dtls

import (
	"strings"

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

// clientHelloRandom returns the random of a datagram's epoch-0 ClientHello,
// when the datagram holds the start of one.
func clientHelloRandom(d []byte) ([record.RandomLen]byte, bool) {
	var r [record.RandomLen]byte
	m, ok := firstHandshake(d)
	if !ok || m.Type != record.TypeClientHello || m.FragmentOffset != 0 || len(m.Body) < 2+record.RandomLen {
		return r, false
	}
	copy(r[:], m.Body[2:]) // after client_version
	return r, true
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

// shortRecordGuard returns the length below which an encrypted record
// must be dropped before OpenSSL sees it, or 0 for none. OpenSSL 1.1.1 and
// 3.0.19 fail the whole connection (an internal error, fatal) on a record
// too short to hold what its cipher adds, where other 3.x releases drop it
// as they drop any record that does not authenticate: anyone who knows a
// peer's address could end its connection with one datagram. No valid
// record is that short, so dropping them costs nothing, on every version.
func shortRecordGuard(cipher string) int {
	switch {
	case strings.Contains(cipher, "CHACHA20"), strings.Contains(cipher, "CCM8"):
		return 16 // tag (and CCM_8's explicit nonce)
	case strings.Contains(cipher, "GCM"), strings.Contains(cipher, "CCM"):
		return 24 // 8-byte explicit nonce, 16-byte tag
	}
	if strings.Contains(cipher, "NULL") || !(strings.Contains(cipher, "AES") ||
		strings.Contains(cipher, "CAMELLIA") || strings.Contains(cipher, "ARIA")) {
		return 0 // no block cipher whose sizes we know: leave it to OpenSSL
	}
	// CBC with a 16-byte block: an explicit IV, then the MAC and at least
	// one byte of padding, in whole blocks.
	mac := 20 // SHA-1
	switch {
	case strings.HasSuffix(cipher, "SHA256"):
		mac = 32
	case strings.HasSuffix(cipher, "SHA384"):
		mac = 48
	}
	return cbcBlock + (mac+cbcBlock)/cbcBlock*cbcBlock
}

// cbcBlock is the block (and explicit IV) size of AES, Camellia and ARIA.
const cbcBlock = 16

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
