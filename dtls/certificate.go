package dtls

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"runtime"
	"sync"
	"weak"

	"github.com/openssl-stateless/openssl"
)

// Server certificates chosen per handshake (issue 12): Config.GetCertificate
// and several Config.Certificates chosen by SNI, as in crypto/tls.

// ClientHelloInfo is what Config.GetCertificate learns of a client's
// ClientHello: crypto/tls's type of the same name, in part.
type ClientHelloInfo struct {
	// ServerName is the name the client asked for (server_name), "" when
	// it sent none.
	ServerName string
}

// tlsCertPEM encodes a tls.Certificate's chain and key as PEM, the one way
// every certificate a Config holds or GetCertificate returns reaches
// OpenSSL; what names it in errors.
func tlsCertPEM(tc *tls.Certificate, what string) (certPEM, keyPEM []byte, err error) {
	if len(tc.Certificate) == 0 || tc.PrivateKey == nil {
		return nil, nil, fmt.Errorf("dtls: %s has no certificate or no private key", what)
	}
	for _, der := range tc.Certificate {
		certPEM = append(certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(tc.PrivateKey)
	if err != nil {
		if _, ok := tc.PrivateKey.(crypto.Signer); ok {
			// OpenSSL signs with the key itself. Signing through Go
			// would take an ENGINE (gone in 4.0) or a provider (none
			// before 3.0), and a callback into Go on every handshake:
			// no one mechanism covers 1.1.1 to 4.0.
			return nil, nil, fmt.Errorf("dtls: %s: the private key is a %T: a crypto.Signer whose key cannot be exported (an HSM, a KMS, a TPM) is not supported, OpenSSL needs the key itself (an *rsa.PrivateKey, *ecdsa.PrivateKey or ed25519.PrivateKey): %w", what, tc.PrivateKey, err)
		}
		return nil, nil, fmt.Errorf("dtls: %s private key: %w", what, err)
	}
	return certPEM, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), nil
}

// parsedCerts caches the OpenSSL form of each tls.Certificate that
// GetCertificate returned, under a weak key: converting costs a PEM round
// trip, and GetCertificate usually returns the same few for every client.
var parsedCerts sync.Map // weak.Pointer[tls.Certificate] -> *openssl.Certificate

func parsedCert(tc *tls.Certificate) (*openssl.Certificate, error) {
	key := weak.Make(tc)
	if v, ok := parsedCerts.Load(key); ok {
		return v.(*openssl.Certificate), nil
	}
	certPEM, keyPEM, err := tlsCertPEM(tc, "the certificate from GetCertificate")
	if err != nil {
		return nil, err
	}
	oc, err := openssl.NewCertificate(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("dtls: certificate: %w", err)
	}
	if v, loaded := parsedCerts.LoadOrStore(key, oc); loaded {
		oc.Close()
		return v.(*openssl.Certificate), nil
	}
	runtime.AddCleanup(tc, func(key weak.Pointer[tls.Certificate]) {
		if v, ok := parsedCerts.LoadAndDelete(key); ok {
			v.(*openssl.Certificate).Close() // SSLs using it hold their own references
		}
	}, key)
	return oc, nil
}

// certChooser picks the certificate for a ClientHello. Its certs are
// Certificates in OpenSSL's form, converted once per Listener.
type certChooser struct {
	get   func(*ClientHelloInfo) (*tls.Certificate, error)
	certs []*tls.Certificate
	leafs []*x509.Certificate
	ossl  []*openssl.Certificate
}

// choose follows crypto/tls: GetCertificate's answer when it gives one;
// otherwise the only certificate, or the first whose leaf is valid for the
// name asked for, or the first. nil means the Ctx's own (Certificates[0]).
func (ch *certChooser) choose(name string) (_ *openssl.Certificate, err error) {
	if ch.get != nil {
		defer recoverCallback("GetCertificate", &err)
		tc, err := ch.get(&ClientHelloInfo{ServerName: name})
		if err != nil {
			return nil, err
		}
		if tc != nil {
			return parsedCert(tc)
		}
		if len(ch.certs) == 0 {
			return nil, fmt.Errorf("dtls: no certificate for %q: %w", name, openssl.AlertUnrecognizedName)
		}
	}
	if name == "" || len(ch.ossl) < 2 {
		return nil, nil
	}
	for i, leaf := range ch.leafs {
		if leaf != nil && leaf.VerifyHostname(name) == nil {
			return ch.ossl[i], nil
		}
	}
	return nil, nil
}

// setupCertificates installs the server name callback when GetCertificate
// or several Certificates ask for a choice per handshake.
func (c *Config) setupCertificates(sslCtx *openssl.Ctx, server bool) error {
	if !server || (c.GetCertificate == nil && len(c.Certificates) < 2) {
		return nil
	}
	ch := &certChooser{get: c.GetCertificate}
	if len(c.Certificates) > 1 {
		for i := range c.Certificates {
			tc := &c.Certificates[i]
			certPEM, keyPEM, err := tlsCertPEM(tc, fmt.Sprintf("Certificates[%d]", i))
			if err != nil {
				return err
			}
			oc, err := openssl.NewCertificate(certPEM, keyPEM)
			if err != nil {
				return fmt.Errorf("dtls: Certificates[%d]: %w", i, err)
			}
			leaf := tc.Leaf
			if leaf == nil {
				leaf, _ = x509.ParseCertificate(tc.Certificate[0])
			}
			ch.certs = append(ch.certs, tc)
			ch.leafs = append(ch.leafs, leaf)
			ch.ossl = append(ch.ossl, oc)
		}
	} else if len(c.Certificates) == 1 {
		ch.certs = []*tls.Certificate{&c.Certificates[0]}
	}
	return sslCtx.SetServerNameCallback(func(s *openssl.SSL, name string) error {
		oc, err := ch.choose(name)
		if err != nil || oc == nil {
			return err
		}
		return s.UseCertificate(oc)
	})
}
