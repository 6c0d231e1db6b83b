// Package testcert makes throwaway certificate authorities and leaf
// certificates for tests: real ECDSA keys, real X.509, written as PEM.
package testcert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// CA is a self-signed certificate authority.
type CA struct {
	Cert    *x509.Certificate
	Key     *ecdsa.PrivateKey
	CertPEM []byte
}

// Pair is a certificate (with its chain, leaf first) and its key, as PEM.
type Pair struct {
	CertPEM  []byte // leaf followed by any intermediates
	KeyPEM   []byte
	Leaf     *x509.Certificate
	CertFile string // written by Files
	KeyFile  string
}

// serial keeps serial numbers apart when tests make certificates in
// parallel within the same nanosecond.
var serial atomic.Int64

func nextSerial() *big.Int {
	return big.NewInt(time.Now().UnixNano() + serial.Add(1))
}

// NewCA makes a CA named name.
func NewCA(t testing.TB, name string) *CA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          nextSerial(),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &CA{Cert: cert, Key: key, CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// Options shape a leaf certificate.
type Options struct {
	Client bool     // client authentication usage instead of server
	Names  []string // DNS names; "localhost" if empty
	// Padding adds a non-critical extension of this many bytes, to make the
	// certificate large (for fragmentation tests).
	Padding int
	// NotAfter ends the certificate's validity (a day from now if zero).
	NotAfter time.Time
}

// leafTemplate is the template of a leaf certificate named cn, valid from
// an hour ago for a day, for usage and the DNS names.
func leafTemplate(cn string, usage x509.ExtKeyUsage, names []string) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber: nextSerial(),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		DNSNames:     names,
	}
}

// Issue makes a leaf signed by the CA.
func (ca *CA) Issue(t testing.TB, cn string, o Options) *Pair {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	names := o.Names
	if len(names) == 0 {
		names = []string{"localhost"}
	}
	usage := x509.ExtKeyUsageServerAuth
	if o.Client {
		usage = x509.ExtKeyUsageClientAuth
	}
	tmpl := leafTemplate(cn, usage, names)
	if !o.NotAfter.IsZero() {
		tmpl.NotAfter = o.NotAfter
	}
	tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	if o.Padding > 0 {
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{
			Id:    []int{1, 3, 6, 1, 4, 1, 55555, 1},
			Value: append([]byte{0x04, 0x82, byte(o.Padding >> 8), byte(o.Padding)}, make([]byte, o.Padding)...),
		})
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return &Pair{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}),
		Leaf:    leaf,
	}
}

// Files writes the pair (and the CA) into dir and records the paths.
func (p *Pair) Files(t testing.TB, dir, name string) *Pair {
	t.Helper()
	p.CertFile = filepath.Join(dir, name+".crt")
	p.KeyFile = filepath.Join(dir, name+".key")
	if err := os.WriteFile(p.CertFile, p.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.KeyFile, p.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// WriteCA writes the CA certificate into dir and returns its path.
func (ca *CA) WriteCA(t testing.TB, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(path, ca.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// SelfSigned returns a self-signed ECDSA certificate for "localhost" and its
// key, as PEM, for examples that have no testing.TB.
func SelfSigned(cn string) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := leafTemplate(cn, x509.ExtKeyUsageServerAuth, []string{"localhost"})
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), nil
}

// Pool returns a certificate pool holding the CA alone.
func (ca *CA) Pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	return pool
}

// PKI is a CA named as NewPKI was told, a server certificate for
// "localhost", 127.0.0.1 and ::1, and a client certificate, written with
// the CA's certificate into a temporary directory (for command-line peers
// and for file-loading APIs).
type PKI struct {
	CA     *CA
	Server *Pair // "localhost", with NewPKI's options; server.crt, server.key
	Client *Pair // "client", client authentication; client.crt, client.key
	Dir    string
	CAFile string // ca.crt
}

// NewPKI makes a PKI whose CA is named caName; server shapes the server
// certificate.
func NewPKI(t testing.TB, caName string, server Options) *PKI {
	t.Helper()
	ca := NewCA(t, caName)
	dir := t.TempDir()
	return &PKI{
		CA:     ca,
		Server: ca.Issue(t, "localhost", server).Files(t, dir, "server"),
		Client: ca.Issue(t, "client", Options{Client: true}).Files(t, dir, "client"),
		Dir:    dir,
		CAFile: ca.WriteCA(t, dir),
	}
}

// Pool returns a certificate pool holding the CA alone.
func (p *PKI) Pool() *x509.CertPool { return p.CA.Pool() }
