package openssl_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl"
	"github.com/openssl-stateless/openssl/internal/testcert"
)

func TestCtxCertificateErrors(t *testing.T) {
	p := newPKI(t)
	other := p.ca.Issue(t, "other", testcert.Options{})
	garbage := filepath.Join(p.dir, "garbage.pem")
	require.NoError(t, os.WriteFile(garbage, []byte("this is not PEM at all\n"), 0o600))

	// A PKCS#8 key encrypted with a passphrase: must fail, never prompt.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	//nolint:staticcheck // legacy PEM encryption is what makes an encrypted key file for the test
	blk, err := x509.EncryptPEMBlock(rand.Reader, "EC PRIVATE KEY", der, []byte("secret"), x509.PEMCipherAES128) //nolint:staticcheck
	require.NoError(t, err)
	encrypted := pem.EncodeToMemory(blk)

	cases := []struct {
		name  string
		run   func(c *openssl.Ctx) error
		check func(t *testing.T, err error)
	}{
		{"missing certificate file", func(c *openssl.Ctx) error {
			return c.UseCertificateFile(filepath.Join(p.dir, "nope.crt"))
		}, func(t *testing.T, err error) {
			assert.ErrorIs(t, err, fs.ErrNotExist)
			assert.Contains(t, err.Error(), "nope.crt")
		}},
		{"missing key file", func(c *openssl.Ctx) error {
			return c.UsePrivateKeyFile(filepath.Join(p.dir, "nope.key"))
		}, func(t *testing.T, err error) { assert.ErrorIs(t, err, fs.ErrNotExist) }},
		{"garbage certificate file", func(c *openssl.Ctx) error { return c.UseCertificateFile(garbage) },
			func(t *testing.T, err error) {
				var oe *openssl.Error
				require.ErrorAs(t, err, &oe)
				assert.NotEmpty(t, oe.Queue)
				assert.Contains(t, err.Error(), "garbage.pem")
			}},
		{"garbage key PEM", func(c *openssl.Ctx) error { return c.UsePrivateKeyPEM([]byte("garbage")) },
			func(t *testing.T, err error) {
				var oe *openssl.Error
				require.ErrorAs(t, err, &oe)
				var ent openssl.ErrorEntry
				require.ErrorAs(t, err, &ent, "queue entries are reachable with errors.As")
			}},
		{"empty PEM", func(c *openssl.Ctx) error { return c.UseCertificatePEM(nil) },
			func(t *testing.T, err error) { assert.Error(t, err) }},
		{"key that does not match the certificate", func(c *openssl.Ctx) error {
			if err := c.UseCertificatePEM(p.server.CertPEM); err != nil {
				return err
			}
			return c.UsePrivateKeyPEM(other.KeyPEM)
		}, func(t *testing.T, err error) { assert.ErrorIs(t, err, openssl.ErrKeyMismatch) }},
		{"certificate that does not match the key loaded first", func(c *openssl.Ctx) error {
			if err := c.UsePrivateKeyPEM(other.KeyPEM); err != nil {
				return err
			}
			return c.UseCertificatePEM(p.server.CertPEM)
		}, func(t *testing.T, err error) { assert.ErrorIs(t, err, openssl.ErrKeyMismatch) }},
		{"encrypted key is refused without prompting", func(c *openssl.Ctx) error { return c.UsePrivateKeyPEM(encrypted) },
			func(t *testing.T, err error) {
				var oe *openssl.Error
				require.ErrorAs(t, err, &oe)
			}},
		{"bad cipher list", func(c *openssl.Ctx) error { return c.SetCipherList("NOT-A-CIPHER") },
			func(t *testing.T, err error) {
				var oe *openssl.Error
				require.ErrorAs(t, err, &oe)
				assert.Equal(t, "SSL_CTX_set_cipher_list", oe.Op)
			}},
		{"bad TLS 1.3 suites", func(c *openssl.Ctx) error { return c.SetCiphersuites("TLS_NOPE") },
			func(t *testing.T, err error) { assert.Error(t, err) }},
		{"TLS version on a DTLS Ctx", func(c *openssl.Ctx) error { return c.SetMinProtoVersion(openssl.VersionTLS13) },
			func(t *testing.T, err error) { assert.ErrorContains(t, err, "not valid") }},
		{"missing CA file", func(c *openssl.Ctx) error { return c.LoadVerifyLocations(filepath.Join(p.dir, "none.pem"), "") },
			func(t *testing.T, err error) { assert.ErrorIs(t, err, fs.ErrNotExist) }},
		{"garbage CA PEM", func(c *openssl.Ctx) error { return c.AddCAPEM([]byte("junk")) },
			func(t *testing.T, err error) { assert.Error(t, err) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := openssl.NewCtx(openssl.DTLSServerMethod)
			require.NoError(t, err)
			defer c.Close()
			err = tc.run(c)
			require.Error(t, err)
			tc.check(t, err)
		})
	}
}

func TestCtxGoodConfiguration(t *testing.T) {
	p := newPKI(t)
	c, err := openssl.NewCtx(openssl.DTLSServerMethod)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.UseCertificateFile(p.server.CertFile))
	require.NoError(t, c.UsePrivateKeyFile(p.server.KeyFile))
	require.NoError(t, c.LoadVerifyLocations(p.caFile, ""))
	require.NoError(t, c.AddCAPEM(p.ca.CertPEM))
	require.NoError(t, c.SetVerify(openssl.VerifyRequireClientCert, 4))
	require.NoError(t, c.SetMinProtoVersion(openssl.VersionDTLS12))
	require.NoError(t, c.SetMaxProtoVersion(openssl.VersionDTLS12))
	assert.Equal(t, openssl.VersionDTLS12, c.MinProtoVersion())
	assert.Equal(t, openssl.VersionDTLS12, c.MaxProtoVersion())
	require.NoError(t, c.SetCipherList("ECDHE-ECDSA-AES128-GCM-SHA256"))
	opts := c.SetOptions(openssl.OpNoQueryMTU | openssl.OpCookieExchange)
	assert.NotZero(t, opts&openssl.OpNoQueryMTU)
	assert.Zero(t, c.ClearOptions(openssl.OpCookieExchange)&openssl.OpCookieExchange)
	assert.NotZero(t, c.SetMode(0)&openssl.ModeAutoRetry, "on by default since 1.1.1")
	assert.NotZero(t, c.SetMode(openssl.ModeReleaseBuffers)&openssl.ModeReleaseBuffers)
	m := c.ClearMode(openssl.ModeReleaseBuffers)
	assert.Zero(t, m&openssl.ModeReleaseBuffers)
	assert.NotZero(t, m&openssl.ModeAutoRetry, "ClearMode leaves the other modes")
	require.NoError(t, c.SetMaxSendFragment(512))
	require.NoError(t, c.SetMaxSendFragment(16384))
	assert.ErrorContains(t, c.SetMaxSendFragment(511), "outside [512, 16384]")
	assert.ErrorContains(t, c.SetMaxSendFragment(16385), "outside [512, 16384]")
	for _, n := range []int{512, 1024, 2048, 4096, 0} {
		require.NoError(t, c.SetMaxFragmentLength(n))
	}
	assert.ErrorContains(t, c.SetMaxFragmentLength(1000), "is not 0, 512, 1024, 2048 or 4096")
	require.NoError(t, c.ResumeOnlyValidPeers())
	assert.Equal(t, openssl.DTLSServerMethod, c.Method())
}

func TestNewCtxUnknownMethod(t *testing.T) {
	_, err := openssl.NewCtx(openssl.Method(99))
	assert.ErrorContains(t, err, "unknown method")
}

// Every method of a closed object returns ErrClosed (which is also
// net.ErrClosed); Close is idempotent; nothing crashes.
func TestClosedObjects(t *testing.T) {
	ctx, err := openssl.NewCtx(openssl.DTLSServerMethod)
	require.NoError(t, err)
	s, err := openssl.NewSSL(ctx)
	require.NoError(t, err)
	b, err := openssl.NewPacketBIO(1200, 2048)
	require.NoError(t, err)
	require.NoError(t, s.SetBIO(b, b))
	m, err := openssl.NewMemBIO()
	require.NoError(t, err)
	a, err := openssl.NewBIOAddr(&net.UDPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 9})
	require.NoError(t, err)

	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
	require.NoError(t, ctx.Close())
	require.NoError(t, ctx.Close())
	require.NoError(t, m.Close())
	require.NoError(t, m.Close())
	require.NoError(t, a.Close())
	require.NoError(t, a.Close())

	_, err = s.DTLSv1Listen()
	assert.ErrorIs(t, err, openssl.ErrClosed)
	assert.ErrorIs(t, err, net.ErrClosed)
	assert.ErrorIs(t, s.Stateless(), openssl.ErrClosed)
	assert.ErrorIs(t, s.Accept(), openssl.ErrClosed)
	assert.ErrorIs(t, s.Connect(), openssl.ErrClosed)
	_, err = s.Read(make([]byte, 1))
	assert.ErrorIs(t, err, openssl.ErrClosed)
	_, err = s.Write([]byte("x"))
	assert.ErrorIs(t, err, openssl.ErrClosed)
	_, err = s.Shutdown()
	assert.ErrorIs(t, err, openssl.ErrClosed)
	_, err = s.DTLSHandleTimeout()
	assert.ErrorIs(t, err, openssl.ErrClosed)
	assert.ErrorIs(t, s.SetMTU(1200), openssl.ErrClosed)
	assert.Nil(t, s.PeerAddr())
	_, ok := s.DTLSTimeout()
	assert.False(t, ok)
	_, err = s.PeerCertificates()
	assert.ErrorIs(t, err, openssl.ErrClosed)

	assert.ErrorIs(t, b.PushDatagram([]byte("x"), clientAP), openssl.ErrClosed, "the SSL freed its BIO")
	assert.ErrorIs(t, b.DrainDatagrams(func([]byte) error { return nil }), openssl.ErrClosed)
	assert.Zero(t, b.OutputDatagrams())
	_, err = m.Write([]byte("x"))
	assert.ErrorIs(t, err, openssl.ErrClosed)
	_, err = m.Read(make([]byte, 1))
	assert.ErrorIs(t, err, openssl.ErrClosed)
	assert.ErrorIs(t, a.SetUDPAddr(&net.UDPAddr{IP: net.IPv4(1, 2, 3, 4)}), openssl.ErrClosed)
	assert.Nil(t, a.UDPAddr())

	assert.ErrorIs(t, ctx.UseCertificatePEM([]byte("x")), openssl.ErrClosed)
	assert.ErrorIs(t, ctx.SetMaxSendFragment(1200), openssl.ErrClosed)
	assert.ErrorIs(t, ctx.SetMaxFragmentLength(512), openssl.ErrClosed)
	assert.ErrorIs(t, ctx.ResumeOnlyValidPeers(), openssl.ErrClosed)
	assert.Zero(t, s.MaxFragmentLength())
	assert.ErrorIs(t, ctx.SetCookieGenerateCallback(nil), openssl.ErrClosed)
	_, err = openssl.NewSSL(ctx)
	assert.ErrorIs(t, err, openssl.ErrClosed)
}

// An SSL outlives the Ctx it came from: OpenSSL counts the reference.
func TestSSLOutlivesCtx(t *testing.T) {
	ctx := newDTLSServerCtx(t, true)
	s, b := newPacketListener(t, ctx)
	require.NoError(t, ctx.Close())
	_, err, out := listenOnce(t, s, b, clientHello{}.bytes(), clientAP)
	require.ErrorIs(t, err, openssl.ErrRetry)
	assert.Len(t, out, 1)
}

func TestSetBIOMisuse(t *testing.T) {
	ctx := newDTLSServerCtx(t, true)
	s1, b := newPacketListener(t, ctx)
	_ = s1
	s2, err := openssl.NewSSL(ctx)
	require.NoError(t, err)
	defer s2.Close()
	assert.ErrorContains(t, s2.SetBIO(b, b), "already belongs", "a BIO has one owner")
	assert.ErrorContains(t, s1.SetBIO(b, b), "already set")
	assert.Error(t, s2.SetBIO(nil, nil))
	assert.NoError(t, b.Close(), "Close of an owned BIO is a no-op")
	assert.NoError(t, b.PushDatagram([]byte{1}, clientAP), "and the BIO stays usable by its owner")
}
