package dtls

import (
	"errors"
	"fmt"
	"strings"

	"github.com/openssl-stateless/openssl"
	"github.com/openssl-stateless/openssl/internal/record"
)

// Pre-shared keys (issue 12): the DTLS 1.2 PSK cipher suites CoAP and
// LwM2M devices use instead of certificates.

// pskCipherList is what a PSK Config offers when CipherList is empty:
// forward-secret ECDHE-PSK first, then plain PSK down to PSK-AES128-CCM8,
// the suite CoAP mandates (RFC 7252 9.1.3.1).
const pskCipherList = "ECDHE-PSK-CHACHA20-POLY1305:ECDHE-PSK-AES128-CBC-SHA256:" +
	"PSK-AES128-GCM-SHA256:PSK-AES256-GCM-SHA384:PSK-CHACHA20-POLY1305:PSK-AES128-CCM:PSK-AES128-CCM8"

// ccm8Level keeps the CCM8 suites in a PSK-only side's list: OpenSSL 3.4
// and later allow them (a 64-bit tag) only at security level 0, where a
// CoAP device that has nothing else must still be served. A side with no
// certificate has little else the level judges; one with a certificate
// keeps OpenSSL's level, and with it loses CCM8 on those versions.
const ccm8Level = ":@SECLEVEL=0"

// pskServer reports whether c gives a server pre-shared keys.
func (c *Config) pskServer() bool { return c.GetPSK != nil }

// pskClient reports whether c gives a client a pre-shared key.
func (c *Config) pskClient() bool { return c.GetClientPSK != nil || c.PSKIdentity != "" }

// validatePSK reports what is wrong with c's PSK fields.
func (c *Config) validatePSK() error {
	if (c.PSKIdentity != "") != (len(c.PSKKey) > 0) {
		return errors.New("dtls: PSKIdentity and PSKKey go together")
	}
	if len(c.PSKIdentity) > openssl.MaxPSKIdentityLen || strings.IndexByte(c.PSKIdentity, 0) >= 0 {
		return fmt.Errorf("dtls: PSKIdentity must be at most %d bytes without NUL", openssl.MaxPSKIdentityLen)
	}
	if len(c.PSKKey) > openssl.MaxPSKLen {
		return fmt.Errorf("dtls: PSKKey of %d bytes, limit %d", len(c.PSKKey), openssl.MaxPSKLen)
	}
	if len(c.PSKIdentityHint) > openssl.MaxPSKIdentityLen {
		return fmt.Errorf("dtls: PSKIdentityHint longer than %d bytes", openssl.MaxPSKIdentityLen)
	}
	return nil
}

// pskCiphers is the cipher list a Config without CipherList gets, or ""
// to keep OpenSSL's default: a PSK-only side offers the PSK suites alone;
// a server with a certificate as well adds them to OpenSSL's default.
func (c *Config) pskCiphers(server, hasCert bool) string {
	switch {
	case c.CipherList != "":
		return ""
	case server && c.pskServer() && hasCert:
		return "DEFAULT:" + pskCipherList
	case server && c.pskServer(), !server && c.pskClient():
		return pskCipherList + ccm8Level
	}
	return ""
}

// setupPSK installs the Config's PSK callbacks on a new Ctx. The closures
// copy what they need: a client Ctx is cached under a weak key to the
// Config, which they must not keep alive.
func (c *Config) setupPSK(sslCtx *openssl.Ctx, server bool) error {
	if server && c.pskServer() {
		get := c.GetPSK
		if err := sslCtx.SetPSKServerCallback(func(_ *openssl.SSL, identity string) (key []byte, err error) {
			defer recoverCallback("GetPSK", &err)
			return get(identity)
		}); err != nil {
			return err
		}
		if c.PSKIdentityHint != "" {
			if err := sslCtx.UsePSKIdentityHint(c.PSKIdentityHint); err != nil {
				return fmt.Errorf("dtls: PSKIdentityHint: %w", err)
			}
		}
	}
	if !server && c.pskClient() {
		get := c.GetClientPSK
		if get == nil {
			id, key := c.PSKIdentity, append([]byte(nil), c.PSKKey...)
			get = func(string) (string, []byte, error) { return id, key, nil }
		}
		if err := sslCtx.SetPSKClientCallback(func(_ *openssl.SSL, hint string) (id string, key []byte, err error) {
			defer recoverCallback("GetClientPSK", &err)
			return get(hint)
		}); err != nil {
			return err
		}
	}
	return nil
}

// recoverCallback turns a panic in one of the Config's callbacks into the
// handshake's error: a Listener serves other clients on, and the peer gets
// the alert OpenSSL sends for a failed callback.
func recoverCallback(name string, err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("dtls: %s panicked: %v", name, r)
	}
}

// usedPSK reports whether the connection's suite is authenticated by a
// pre-shared key alone (no certificate to check). Called under c.mu.
func (c *Conn) usedPSK() bool {
	cipher := c.ssl.CipherName()
	return strings.Contains(cipher, "PSK") && !strings.HasPrefix(cipher, "RSA-PSK") && c.ssl.PSKIdentity() != ""
}

// A wrong pre-shared key makes the client's Finished undecryptable, and a
// DTLS server drops records that do not decrypt (RFC 6347 4.1.2.7): OpenSSL
// would wait, silent, for the handshake timeout while the client
// retransmits. So a server in a PSK handshake watches for the client's
// encrypted flight: when a datagram holding a whole final flight
// (handshake records, ChangeCipherSpec, then an epoch-1 handshake record)
// leaves the handshake unfinished, or two datagrams with an epoch-1
// handshake record do (a reordered flight completes at the second), the
// key is wrong. The server then sends a fatal bad_record_mac alert, as RFC
// 6347 allows for a record whose MAC fails, and fails the handshake. As
// with any unauthenticated DTLS handshake message, someone who can forge
// datagrams from the client's address during its handshake could end it
// this way.

// pskFlight classifies an inbound datagram for the check above.
type pskFlight uint8

const (
	pskFlightNone     pskFlight = iota
	pskFlightFinished           // holds an epoch-1 handshake record
	pskFlightWhole              // and the flight's plaintext records before it
)

func classifyFlight(d []byte) pskFlight {
	var plain, ccs bool
	for r, err := range record.DTLSRecords(d) {
		if err != nil {
			break
		}
		switch {
		case r.Epoch == 0 && r.Type == record.Handshake:
			plain = true
		case r.Epoch == 0 && r.Type == record.ChangeCipherSpec:
			ccs = true
		case r.Epoch == 1 && r.Type == record.Handshake:
			if plain && ccs {
				return pskFlightWhole
			}
			return pskFlightFinished
		}
	}
	return pskFlightNone
}

// notePSKFlight is called under c.mu for each inbound datagram before
// OpenSSL reads it.
func (c *Conn) notePSKFlight(d []byte) {
	if c.srv == nil || !c.cfg.pskServer() || c.hsDone.Load() {
		return
	}
	if f := classifyFlight(d); f > c.pskFlight {
		c.pskFlight = f
	}
}

// errWrongPSK is the server's error for a client whose key differs.
var errWrongPSK = errors.New("dtls: the client's Finished did not decrypt: its pre-shared key differs from the one GetPSK returned for its identity")

// checkPSKFinished runs under c.mu after each server handshake step.
func (c *Conn) checkPSKFinished(ssl *openssl.SSL, err error) error {
	f := c.pskFlight
	c.pskFlight = pskFlightNone
	if f == pskFlightNone || !errors.Is(err, openssl.ErrWantRead) || !c.usedPSK() {
		return err
	}
	c.pskBadFinished++
	if f != pskFlightWhole && c.pskBadFinished < 2 {
		return err
	}
	version := uint16(openssl.VersionDTLS12)
	if ssl.Version() == "DTLSv1" {
		version = uint16(openssl.VersionDTLS10)
	}
	// Epoch 0, the client's reading epoch until our ChangeCipherSpec, and a
	// sequence number above any this handshake sent, so that the client's
	// replay window takes it.
	alert := record.AppendDTLSRecord(nil, record.Header{Type: record.Alert, Version: version, Sequence: 1 << 32},
		[]byte{2, byte(openssl.AlertBadRecordMAC)})
	_ = c.send(alert)
	return errWrongPSK
}
