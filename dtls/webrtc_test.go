package dtls_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl"
	"github.com/openssl-stateless/openssl/dtls"
	"github.com/openssl-stateless/openssl/internal/testcert"
)

// selfSigned is a self-signed certificate as a WebRTC endpoint makes one,
// with the SHA-256 fingerprint its peer learns through signalling.
type selfSigned struct {
	certPEM, keyPEM []byte
	fingerprint     [32]byte
}

func newSelfSigned(t *testing.T, cn string) selfSigned {
	t.Helper()
	certPEM, keyPEM, err := testcert.SelfSigned(cn)
	require.NoError(t, err)
	b, _ := pem.Decode(certPEM)
	return selfSigned{certPEM: certPEM, keyPEM: keyPEM, fingerprint: sha256.Sum256(b.Bytes)}
}

var errWrongFingerprint = errors.New("certificate fingerprint does not match the one signalled")

// pinned accepts exactly the certificate with fingerprint fp.
func pinned(fp [32]byte) func([][]byte, [][]*x509.Certificate) error {
	return func(raw [][]byte, _ [][]*x509.Certificate) error {
		if len(raw) == 0 || sha256.Sum256(raw[0]) != fp {
			return errWrongFingerprint
		}
		return nil
	}
}

// webrtcPair returns the server and client Configs of two WebRTC peers:
// self-signed certificates, each side pinning the other's fingerprint.
func webrtcPair(t *testing.T) (server, client *dtls.Config) {
	s, c := newSelfSigned(t, "server"), newSelfSigned(t, "client")
	server = &dtls.Config{
		CertificatePEM:         s.certPEM,
		KeyPEM:                 s.keyPEM,
		ClientAuth:             tls.RequireAnyClientCert,
		VerifyPeerCertificate:  pinned(c.fingerprint),
		SRTPProtectionProfiles: []dtls.SRTPProtectionProfile{dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AES128_CM_HMAC_SHA1_80},
	}
	client = &dtls.Config{
		CertificatePEM:         c.certPEM,
		KeyPEM:                 c.keyPEM,
		InsecureSkipVerify:     true, // no CA: the fingerprint authenticates
		VerifyPeerCertificate:  pinned(s.fingerprint),
		SRTPProtectionProfiles: []dtls.SRTPProtectionProfile{dtls.SRTP_AES128_CM_HMAC_SHA1_80},
	}
	return server, client
}

// accepted runs Accept and its first Read in the background (the server's
// handshake completes before Accept returns it).
func acceptAsync(l *dtls.Listener) <-chan net.Conn {
	ch := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			close(ch)
			return
		}
		ch <- c
	}()
	return ch
}

func TestWebRTCFingerprintsSRTPAndKeyingMaterial(t *testing.T) {
	scfg, ccfg := webrtcPair(t)
	l := listen(t, scfg)
	sch := acceptAsync(l)
	c, err := dtls.Dial("udp", l.Addr().String(), ccfg)
	require.NoError(t, err)
	defer c.Close()
	sc := (<-sch).(*dtls.Conn)
	require.NotNil(t, sc)
	defer sc.Close()

	ccs, scs := c.ConnectionState(), sc.ConnectionState()
	assert.Equal(t, dtls.SRTP_AES128_CM_HMAC_SHA1_80, ccs.SRTPProtectionProfile)
	assert.Equal(t, dtls.SRTP_AES128_CM_HMAC_SHA1_80, scs.SRTPProtectionProfile, "the server takes the client's only profile")
	assert.Empty(t, ccs.VerifiedChains, "InsecureSkipVerify builds no chain")
	assert.Empty(t, scs.VerifiedChains, "RequireAnyClientCert builds no chain")
	require.Len(t, scs.PeerCertificates, 1)
	assert.Equal(t, "client", scs.PeerCertificates[0].Subject.CommonName)

	ckm, err := ccs.ExportKeyingMaterial("EXTRACTOR-dtls_srtp", nil, 60)
	require.NoError(t, err)
	skm, err := scs.ExportKeyingMaterial("EXTRACTOR-dtls_srtp", nil, 60)
	require.NoError(t, err)
	assert.Equal(t, ckm, skm, "both ends derive the same SRTP keys")
	assert.Len(t, ckm, 60)
	other, err := ccs.ExportKeyingMaterial("EXTRACTOR-other", nil, 60)
	require.NoError(t, err)
	assert.NotEqual(t, ckm, other)

	require.NoError(t, c.Close())
	_, err = ccs.ExportKeyingMaterial("EXTRACTOR-dtls_srtp", nil, 60)
	assert.ErrorIs(t, err, net.ErrClosed)
}

// With no SRTP profile in common the handshake completes without SRTP
// (RFC 5764, 4.1.1): the application sees profile 0 and decides.
func TestSRTPNoCommonProfile(t *testing.T) {
	scfg, ccfg := webrtcPair(t)
	scfg.SRTPProtectionProfiles = []dtls.SRTPProtectionProfile{dtls.SRTP_AEAD_AES_256_GCM}
	l := listen(t, scfg)
	sch := acceptAsync(l)
	c, err := dtls.Dial("udp", l.Addr().String(), ccfg)
	require.NoError(t, err)
	defer c.Close()
	sc := <-sch
	require.NotNil(t, sc)
	defer sc.Close()
	assert.Zero(t, c.ConnectionState().SRTPProtectionProfile)
	assert.Zero(t, sc.(*dtls.Conn).ConnectionState().SRTPProtectionProfile)

	// A client that insists refuses in VerifyConnection: a fatal alert.
	ccfg = ccfg.Clone()
	ccfg.VerifyConnection = func(cs dtls.ConnectionState) error {
		if cs.SRTPProtectionProfile == 0 {
			return errors.New("no SRTP")
		}
		return nil
	}
	ccfg.HandshakeTimeout = 5 * time.Second
	_, err = dtls.Dial("udp", l.Addr().String(), ccfg)
	require.ErrorContains(t, err, "no SRTP")
}

// A wrong fingerprint on either side is a fatal alert and the verifier's
// own error on the side that refused, never a hang.
func TestWrongFingerprint(t *testing.T) {
	t.Run("client refuses the server", func(t *testing.T) {
		scfg, ccfg := webrtcPair(t)
		ccfg.VerifyPeerCertificate = pinned([32]byte{1})
		l := listen(t, scfg)
		start := time.Now()
		_, err := dtls.Dial("udp", l.Addr().String(), ccfg)
		require.ErrorIs(t, err, errWrongFingerprint)
		assert.Less(t, time.Since(start), 5*time.Second)
		require.Eventually(t, func() bool { return l.Stats().HandshakesFailed == 1 }, 5*time.Second, 10*time.Millisecond,
			"the server learnt from the alert")
	})
	t.Run("server refuses the client", func(t *testing.T) {
		scfg, ccfg := webrtcPair(t)
		scfg.VerifyPeerCertificate = pinned([32]byte{2})
		l := listen(t, scfg)
		_, err := dtls.Dial("udp", l.Addr().String(), ccfg)
		var alert openssl.AlertError
		require.ErrorAs(t, err, &alert, "the client got the server's alert")
		require.Eventually(t, func() bool { return l.Stats().HandshakesFailed == 1 }, 5*time.Second, 10*time.Millisecond)
	})
	t.Run("client sends no certificate", func(t *testing.T) {
		scfg, ccfg := webrtcPair(t)
		ccfg.CertificatePEM, ccfg.KeyPEM = nil, nil
		l := listen(t, scfg)
		_, err := dtls.Dial("udp", l.Addr().String(), ccfg)
		var alert openssl.AlertError
		require.ErrorAs(t, err, &alert, "RequireAnyClientCert: a fatal alert")
	})
}

// ClientAuth takes crypto/tls's five values with crypto/tls's meanings.
func TestClientAuthTypes(t *testing.T) {
	p := newPKI(t)
	other := newSelfSigned(t, "stranger")
	type client struct {
		name          string
		cert, key     []byte
		wantCertSeen  bool
		wantVerified  bool
		wantConnected bool
	}
	for _, tc := range []struct {
		auth    tls.ClientAuthType
		clients []client
	}{
		{tls.NoClientCert, []client{
			{"none", nil, nil, false, false, true},
			{"CA-issued", p.client.CertPEM, p.client.KeyPEM, false, false, true},
		}},
		{tls.RequestClientCert, []client{
			{"none", nil, nil, false, false, true},
			{"self-signed", other.certPEM, other.keyPEM, true, false, true},
		}},
		{tls.RequireAnyClientCert, []client{
			{"none", nil, nil, false, false, false},
			{"self-signed", other.certPEM, other.keyPEM, true, false, true},
		}},
		{tls.VerifyClientCertIfGiven, []client{
			{"none", nil, nil, false, false, true},
			{"CA-issued", p.client.CertPEM, p.client.KeyPEM, true, true, true},
			{"self-signed", other.certPEM, other.keyPEM, false, false, false},
		}},
		{tls.RequireAndVerifyClientCert, []client{
			{"none", nil, nil, false, false, false},
			{"CA-issued", p.client.CertPEM, p.client.KeyPEM, true, true, true},
			{"self-signed", other.certPEM, other.keyPEM, false, false, false},
		}},
	} {
		for _, cl := range tc.clients {
			t.Run(fmt.Sprintf("%v/%s", tc.auth, cl.name), func(t *testing.T) {
				scfg := p.serverConfig()
				scfg.ClientAuth = tc.auth
				scfg.ClientCAs = p.pool()
				var peerCalls int
				scfg.VerifyPeerCertificate = func(raw [][]byte, chains [][]*x509.Certificate) error {
					peerCalls++
					return nil
				}
				l := listen(t, scfg)
				sch := acceptAsync(l)
				ccfg := p.clientConfig()
				ccfg.CertificatePEM, ccfg.KeyPEM = cl.cert, cl.key
				ccfg.HandshakeTimeout = 5 * time.Second
				c, err := dtls.Dial("udp", l.Addr().String(), ccfg)
				if !cl.wantConnected {
					require.Error(t, err)
					return
				}
				require.NoError(t, err)
				defer c.Close()
				sc := <-sch
				require.NotNil(t, sc)
				defer sc.Close()
				cs := sc.(*dtls.Conn).ConnectionState()
				assert.Equal(t, cl.wantCertSeen, len(cs.PeerCertificates) > 0, "peer certificates")
				assert.Equal(t, cl.wantVerified, len(cs.VerifiedChains) > 0, "verified chains")
				if tc.auth == tls.NoClientCert {
					assert.Zero(t, peerCalls, "no certificate asked for: VerifyPeerCertificate is not called")
				} else {
					assert.Equal(t, 1, peerCalls, "VerifyPeerCertificate once per handshake")
				}
			})
		}
	}
}

// VerifyConnection sees the state of the handshake on both sides: the
// server sees the name the client sent; a verified client sees the
// chains. A panic in it is a failed handshake, not a crashed process.
func TestVerifyConnection(t *testing.T) {
	p := newPKI(t)
	scfg := p.serverConfig()
	seen := make(chan dtls.ConnectionState, 1)
	scfg.VerifyConnection = func(cs dtls.ConnectionState) error {
		seen <- cs
		return nil
	}
	l := listen(t, scfg)
	sch := acceptAsync(l)
	ccfg := p.clientConfig()
	var clientSaw dtls.ConnectionState
	ccfg.VerifyConnection = func(cs dtls.ConnectionState) error {
		clientSaw = cs
		return nil
	}
	c, err := dtls.Dial("udp", l.Addr().String(), ccfg)
	require.NoError(t, err)
	defer c.Close()
	sc := <-sch
	require.NotNil(t, sc)
	defer sc.Close()
	srv := <-seen
	assert.Equal(t, "localhost", srv.ServerName, "the SNI the client sent")
	assert.Equal(t, dtls.VersionDTLS12, srv.Version)
	assert.Contains(t, dtls.CipherSuiteName(srv.CipherSuite), "TLS_ECDHE_ECDSA_WITH_AES_")
	assert.Equal(t, "localhost", clientSaw.ServerName)
	assert.NotEmpty(t, clientSaw.VerifiedChains)
	assert.Equal(t, "localhost", sc.(*dtls.Conn).ConnectionState().ServerName)

	panicky := p.clientConfig()
	panicky.VerifyConnection = func(dtls.ConnectionState) error { panic("user bug") }
	_, err = dtls.Dial("udp", l.Addr().String(), panicky)
	require.ErrorContains(t, err, "panicked: user bug")

	scfg2 := p.serverConfig()
	scfg2.VerifyConnection = func(dtls.ConnectionState) error { panic("server bug") }
	l2 := listen(t, scfg2)
	c2, err := dtls.Dial("udp", l2.Addr().String(), p.clientConfig())
	if err == nil {
		// The server refused after its handshake (no client certificate):
		// close_notify follows.
		require.NoError(t, c2.SetReadDeadline(time.Now().Add(5*time.Second)))
		_, err = c2.Read(make([]byte, 10))
		c2.Close()
	}
	require.Error(t, err)
	require.Eventually(t, func() bool { return l2.Stats().HandshakesFailed == 1 }, 5*time.Second, 10*time.Millisecond)
}

// opaqueSigner is a crypto.Signer whose key stays inside, as an HSM's.
type opaqueSigner struct{ k *ecdsa.PrivateKey }

func (s opaqueSigner) Public() crypto.PublicKey { return s.k.Public() }
func (s opaqueSigner) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	return s.k.Sign(r, d, o)
}

func TestOpaqueSignerRefused(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	certPEM, _, err := testcert.SelfSigned("hsm")
	require.NoError(t, err)
	b, _ := pem.Decode(certPEM)
	cfg := &dtls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{b.Bytes}, PrivateKey: opaqueSigner{k}}}}
	_, err = dtls.Listen("udp", "127.0.0.1:0", cfg)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "crypto.Signer whose key cannot be exported")
	assert.True(t, bytes.Contains([]byte(err.Error()), []byte("opaqueSigner")))
}
