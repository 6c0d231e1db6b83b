package harness

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// PKI is one ECDSA P-256 CA and a leaf for "localhost" and 127.0.0.1. The
// files live in a directory so that the C programs and every server and
// client process load the same certificate and key.
type PKI struct {
	Pool    *x509.CertPool
	CertPEM []byte // the leaf alone: every server sends a chain of one
	KeyPEM  []byte
	TLSCert tls.Certificate
}

// Files in a PKI directory.
const (
	CAFile   = "ca.pem"
	CertFile = "server.pem"
	KeyFile  = "server.key"
)

// WritePKI makes a PKI and writes it to dir.
func WritePKI(dir string) error {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(7 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(7 * 24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	files := map[string][]byte{
		CAFile:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		CertFile: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyFile:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// LoadPKI reads what WritePKI wrote.
func LoadPKI(dir string) (*PKI, error) {
	read := func(name string) ([]byte, error) { return os.ReadFile(filepath.Join(dir, name)) }
	caPEM, err := read(CAFile)
	if err != nil {
		return nil, err
	}
	p := &PKI{Pool: x509.NewCertPool()}
	if !p.Pool.AppendCertsFromPEM(caPEM) {
		return nil, errorf("no certificate in %s", CAFile)
	}
	if p.CertPEM, err = read(CertFile); err != nil {
		return nil, err
	}
	if p.KeyPEM, err = read(KeyFile); err != nil {
		return nil, err
	}
	if p.TLSCert, err = tls.X509KeyPair(p.CertPEM, p.KeyPEM); err != nil {
		return nil, err
	}
	return p, nil
}

// TempPKI writes a PKI to a new temporary directory and loads it; for the
// in-process benchmarks of go test.
func TempPKI() (*PKI, string, error) {
	dir, err := os.MkdirTemp("", "bench-pki-")
	if err != nil {
		return nil, "", err
	}
	if err := WritePKI(dir); err != nil {
		return nil, "", err
	}
	p, err := LoadPKI(dir)
	return p, dir, err
}
