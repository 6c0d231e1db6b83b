package dtls

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/openssl-stateless/openssl"
)

// Peer verification, as crypto/tls does it: the chain against the
// Config's pools (or not, per ClientAuth and InsecureSkipVerify), then
// VerifyPeerCertificate, then VerifyConnection. It runs in OpenSSL's
// certificate verification callback, inside the handshake, so that a
// refusal is a fatal alert the peer sees. The callback runs on the
// goroutine driving the handshake, which holds c.mu: nothing here takes it.

// verifyCallback is every Ctx's certificate verification callback; the
// connection comes from the SSL's user data (newConn).
func verifyCallback(s *openssl.SSL, chain []*x509.Certificate) error {
	c, ok := s.UserData().(*Conn)
	if !ok {
		return errors.New("dtls: no connection behind the SSL")
	}
	return c.verifyPeer(s, chain)
}

func (c *Conn) verifyPeer(s *openssl.SSL, chain []*x509.Certificate) error {
	cfg := c.cfg
	var chains [][]*x509.Certificate
	var err error
	switch {
	case c.srv != nil && (cfg.ClientAuth == tls.VerifyClientCertIfGiven || cfg.ClientAuth == tls.RequireAndVerifyClientCert):
		chains, err = c.verified.verify(chain, cfg.ClientCAs, "", x509.ExtKeyUsageClientAuth)
	case c.srv == nil && !cfg.InsecureSkipVerify:
		chains, err = c.verified.verify(chain, cfg.RootCAs, cfg.ServerName, x509.ExtKeyUsageServerAuth)
	}
	if err != nil {
		return err
	}
	c.peerCerts, c.verifiedChains = chain, chains
	return c.runVerifiers(s, true)
}

// runVerifiers calls VerifyPeerCertificate (when a certificate was asked
// for) and VerifyConnection, turning a panic into an error: it must not
// cross into OpenSSL, nor end the process from a server's handshake.
func (c *Conn) runVerifiers(s *openssl.SSL, peerCert bool) (err error) {
	cfg := c.cfg
	c.verifiersRun = true
	c.inVerify.Store(true)
	defer func() {
		c.inVerify.Store(false)
		if v := recover(); v != nil {
			err = fmt.Errorf("dtls: peer verification panicked: %v", v)
		}
	}()
	// As crypto/tls: not on a resumed session, whose certificates are not
	// verified again; nor on a pre-shared key, which has none. (Asked of
	// OpenSSL last: three cgo calls.)
	if cfg.VerifyPeerCertificate != nil && (peerCert || c.srv == nil || cfg.ClientAuth != tls.NoClientCert) &&
		!s.SessionReused() && !c.usedPSK() {
		// Copies: the certificates are shared with every connection that
		// received them (the root package parses each once), and a
		// callback that wrote to its rawCerts must not reach those.
		raw := make([][]byte, len(c.peerCerts))
		for i, pc := range c.peerCerts {
			raw[i] = bytes.Clone(pc.Raw)
		}
		if err := cfg.VerifyPeerCertificate(raw, c.verifiedChains); err != nil {
			return err
		}
	}
	if cfg.VerifyConnection != nil {
		if err := cfg.VerifyConnection(c.stateOf(s, false)); err != nil {
			return err
		}
	}
	return nil
}

// verifyChain verifies a peer's chain as crypto/tls does, returning a
// *tls.CertificateVerificationError on failure. name, on a client, is the
// server's name or address.
func verifyChain(certs []*x509.Certificate, roots *x509.CertPool, name string, usage x509.ExtKeyUsage) ([][]*x509.Certificate, error) {
	if len(certs) == 0 {
		return nil, errors.New("dtls: peer sent no certificate")
	}
	opts := x509.VerifyOptions{Roots: roots, DNSName: name, Intermediates: x509.NewCertPool(), KeyUsages: []x509.ExtKeyUsage{usage}}
	for _, ic := range certs[1:] {
		opts.Intermediates.AddCert(ic)
	}
	chains, err := certs[0].Verify(opts)
	if err != nil {
		return nil, &tls.CertificateVerificationError{UnverifiedCertificates: certs, Err: err}
	}
	return chains, nil
}

// stateOf builds the ConnectionState from s, which the caller holds
// (inside a callback, or under c.mu).
func (c *Conn) stateOf(s *openssl.SSL, complete bool) ConnectionState {
	cs := ConnectionState{
		HandshakeComplete: complete,
		CookieExchanged:   c.srv != nil || c.cookieExchanged.Load(),
		VerifiedChains:    c.verifiedChains,
	}
	if s == nil {
		return cs
	}
	cs.Version = uint16(s.ProtocolVersion())
	cs.CipherSuite, _ = s.CipherSuite()
	cs.SRTPProtectionProfile = s.SRTPProtectionProfile()
	cs.PSKIdentity = s.PSKIdentity()
	cs.NegotiatedProtocol = s.ALPNSelected()
	cs.DidResume = s.SessionReused()
	cs.MaxFragmentLength = s.MaxFragmentLength()
	if c.srv != nil {
		cs.ServerName = s.ServerName()
	} else {
		cs.ServerName = c.cfg.ServerName
	}
	cs.PeerCertificates = c.peerCerts
	if cs.PeerCertificates == nil {
		cs.PeerCertificates, _ = s.PeerCertificates()
	}
	return cs
}

// VersionName returns the name of a DTLS version: "DTLS 1.2", as
// crypto/tls's VersionName does for TLS.
func VersionName(v uint16) string {
	switch v {
	case VersionDTLS12:
		return "DTLS 1.2"
	case VersionDTLS10:
		return "DTLS 1.0"
	}
	return fmt.Sprintf("0x%04X", v)
}

// CipherSuiteName returns the IANA name of a cipher suite
// ("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"), for every suite the linked
// OpenSSL knows; an unknown id in hex.
func CipherSuiteName(id uint16) string { return openssl.CipherSuiteName(id) }

// CipherSuiteOpenSSLName returns OpenSSL's name of a cipher suite
// ("ECDHE-ECDSA-AES128-GCM-SHA256"), the one Config.CipherList takes; ""
// for a suite the linked OpenSSL does not know.
func CipherSuiteOpenSSLName(id uint16) string { return openssl.CipherSuiteOpenSSLName(id) }
