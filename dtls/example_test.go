package dtls_test

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log"

	"github.com/openssl-stateless/openssl/dtls"
	"github.com/openssl-stateless/openssl/internal/testcert"
)

// A DTLS echo server: every connection Accept returns has passed the
// cookie exchange, so forged sources never cost the server anything.
func ExampleListen() {
	certPEM, keyPEM, err := testcert.SelfSigned("localhost")
	if err != nil {
		log.Fatal(err)
	}
	l, err := dtls.Listen("udp", "127.0.0.1:0", &dtls.Config{CertificatePEM: certPEM, KeyPEM: keyPEM})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 1500)
		n, _ := c.Read(buf) // one datagram
		_, _ = c.Write(buf[:n])
	}()

	c, err := dtls.Dial("udp", l.Addr().String(), &dtls.Config{InsecureSkipVerify: true})
	if err != nil {
		log.Fatal(err)
	}
	_, _ = c.Write([]byte("ping"))
	buf := make([]byte, 1500)
	n, _ := c.Read(buf)
	c.Close()
	st := l.Stats()
	fmt.Printf("echo: %s\n", buf[:n])
	fmt.Printf("cookies sent %d, verified %d, handshakes %d\n", st.CookiesSent, st.CookiesVerified, st.HandshakesCompleted)
	// Output:
	// echo: ping
	// cookies sent 1, verified 1, handshakes 1
}

// A DTLS client that verifies the server against its own roots and reports
// what was negotiated.
func ExampleDial() {
	certPEM, keyPEM, err := testcert.SelfSigned("localhost")
	if err != nil {
		log.Fatal(err)
	}
	l, err := dtls.Listen("udp", "127.0.0.1:0", &dtls.Config{CertificatePEM: certPEM, KeyPEM: keyPEM, MTU: 1200})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	go func() {
		if c, err := l.Accept(); err == nil {
			_, _ = c.Write([]byte("welcome"))
			defer c.Close()
			_, _ = c.Read(make([]byte, 1)) // until the client's close_notify
		}
	}()

	block, _ := pem.Decode(certPEM)
	cert, _ := x509.ParseCertificate(block.Bytes)
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	c, err := dtls.Dial("udp", l.Addr().String(), &dtls.Config{RootCAs: roots, ServerName: "localhost"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	cs := c.ConnectionState()
	fmt.Println("version:", dtls.VersionName(cs.Version))
	fmt.Println("cookie exchange:", cs.CookieExchanged)
	fmt.Println("server:", cs.PeerCertificates[0].Subject.CommonName)
	buf := make([]byte, 1500)
	n, _ := c.Read(buf)
	fmt.Printf("read: %s\n", buf[:n])
	// Output:
	// version: DTLS 1.2
	// cookie exchange: true
	// server: localhost
	// read: welcome
}

// Two WebRTC peers: self-signed certificates, no CA, each side checking
// the other's SHA-256 fingerprint (which signalling, the SDP's
// a=fingerprint line, carried), DTLS-SRTP negotiated, and the SRTP keys
// exported on both sides (RFC 5764, 4.2).
func ExampleConfig_webRTC() {
	serverCert, serverKey, _ := testcert.SelfSigned("webrtc server")
	clientCert, clientKey, _ := testcert.SelfSigned("webrtc client")
	fingerprint := func(certPEM []byte) [32]byte {
		b, _ := pem.Decode(certPEM)
		return sha256.Sum256(b.Bytes)
	}
	pin := func(want [32]byte) func([][]byte, [][]*x509.Certificate) error {
		return func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 || sha256.Sum256(raw[0]) != want {
				return errors.New("fingerprint mismatch")
			}
			return nil
		}
	}
	profiles := []dtls.SRTPProtectionProfile{dtls.SRTP_AES128_CM_HMAC_SHA1_80}

	l, err := dtls.Listen("udp", "127.0.0.1:0", &dtls.Config{
		CertificatePEM:         serverCert,
		KeyPEM:                 serverKey,
		ClientAuth:             tls.RequireAnyClientCert, // a certificate, checked by fingerprint
		VerifyPeerCertificate:  pin(fingerprint(clientCert)),
		SRTPProtectionProfiles: profiles,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	serverKeys := make(chan []byte, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		cs := c.(*dtls.Conn).ConnectionState()
		km, _ := cs.ExportKeyingMaterial("EXTRACTOR-dtls_srtp", nil, 60)
		serverKeys <- km
		_, _ = c.Read(make([]byte, 1)) // until the client's close_notify
	}()

	c, err := dtls.Dial("udp", l.Addr().String(), &dtls.Config{
		CertificatePEM:         clientCert,
		KeyPEM:                 clientKey,
		InsecureSkipVerify:     true, // no CA: the fingerprint is the check
		VerifyPeerCertificate:  pin(fingerprint(serverCert)),
		SRTPProtectionProfiles: profiles,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	cs := c.ConnectionState()
	clientKeys, err := cs.ExportKeyingMaterial("EXTRACTOR-dtls_srtp", nil, 60)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("SRTP profile:", cs.SRTPProtectionProfile)
	fmt.Println("keying material:", len(clientKeys), "bytes, the same on both sides:", bytes.Equal(clientKeys, <-serverKeys))
	// Output:
	// SRTP profile: SRTP_AES128_CM_HMAC_SHA1_80
	// keying material: 60 bytes, the same on both sides: true
}
