package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"strings"
	"time"
)

// credentials are a certificate chain and its key, as PEM.
type credentials struct {
	certPEM, keyPEM []byte
	leaf            *x509.Certificate
}

// readFlagFile reads the file named by a flag, with an error that names
// the flag and says what is wrong in a few words.
func readFlagFile(flagName, path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("%s %s: %w", flagName, path, err)
	}
	return b, nil
}

// loadCredentials reads -cert and -key and checks that they belong
// together. It returns nil credentials when no -cert was given.
func loadCredentials(c *common) (*credentials, error) {
	if c.cert == "" {
		return nil, nil
	}
	certPEM, err := readFlagFile("-cert", c.cert)
	if err != nil {
		return nil, err
	}
	keyPEM := certPEM
	if c.key != c.cert {
		if keyPEM, err = readFlagFile("-key", c.key); err != nil {
			return nil, err
		}
	}
	if encryptedKey(keyPEM) {
		what := "-key " + c.key
		if c.key == c.cert {
			what = "-cert " + c.cert
		}
		return nil, fmt.Errorf("%s: the private key is encrypted; give it decrypted (openssl pkey -in %s -out plain.key)", what, c.key)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		what := "-cert " + c.cert
		if c.key != c.cert {
			what += " and -key " + c.key
		}
		return nil, fmt.Errorf("%s: %s", what, strings.TrimPrefix(err.Error(), "tls: "))
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("-cert %s: %w", c.cert, err)
	}
	return &credentials{certPEM: certPEM, keyPEM: keyPEM, leaf: leaf}, nil
}

// encryptedKey reports whether PEM bytes hold a private key encrypted with
// a passphrase, PKCS#8 or OpenSSL's traditional format.
func encryptedKey(b []byte) bool {
	for len(b) > 0 {
		var blk *pem.Block
		if blk, b = pem.Decode(b); blk == nil {
			return false
		}
		if blk.Type == "ENCRYPTED PRIVATE KEY" || strings.Contains(blk.Headers["Proc-Type"], "ENCRYPTED") {
			return true
		}
	}
	return false
}

// loadCAs reads -CAfile into a pool; the PEM is returned too, for OpenSSL.
func loadCAs(path string) (*x509.CertPool, []byte, error) {
	b, err := readFlagFile("-CAfile", path)
	if err != nil {
		return nil, nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, nil, fmt.Errorf("-CAfile %s: no PEM certificate in it", path)
	}
	return pool, b, nil
}

// selfSigned makes a throwaway self-signed ECDSA P-256 certificate valid for
// a day, for localhost, 127.0.0.1, ::1 and the host the server listens on.
func selfSigned(listenHost string) (*credentials, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "localhost", Organization: []string{prog + " throwaway"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	if ip := net.ParseIP(listenHost); ip != nil {
		if !ip.IsUnspecified() && !ip.IsLoopback() {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		}
	} else if listenHost != "" && listenHost != "localhost" {
		tmpl.DNSNames = append(tmpl.DNSNames, listenHost)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &credentials{
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}),
		leaf:    leaf,
	}, nil
}

// names lists a certificate's subject alternative names.
func names(c *x509.Certificate) string {
	var n []string
	n = append(n, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		n = append(n, ip.String())
	}
	return strings.Join(n, ", ")
}

// fingerprint is the SHA-256 of a certificate, in hex.
func fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}
