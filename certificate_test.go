package openssl_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl"
	"github.com/openssl-stateless/openssl/internal/testcert"
)

func TestServerNameCallbackChoosesCertificate(t *testing.T) {
	p := newPKI(t)
	other := testcert.NewPKI(t, "other CA", testcert.Options{})
	otherCert, err := openssl.NewCertificate(other.Server.CertPEM, other.Server.KeyPEM)
	require.NoError(t, err)
	defer otherCert.Close()
	for _, tc := range []struct {
		sni  string
		want []byte
	}{
		{"other.example", other.Server.Leaf.Raw},
		{"", p.server.Leaf.Raw},
	} {
		t.Run(tc.sni, func(t *testing.T) {
			sctx := newTLSServerCtx(t, p, nil)
			var seen string
			require.NoError(t, sctx.SetServerNameCallback(func(s *openssl.SSL, name string) error {
				seen = name
				if name == "other.example" {
					return s.UseCertificate(otherCert)
				}
				return nil
			}))
			cctx := newTLSClientCtx(t)
			cc, sc := tcpPair(t)
			srv, err := openssl.NewServerConn(sc, sctx)
			require.NoError(t, err)
			defer srv.Close()
			cli, err := openssl.NewClientConn(cc, cctx)
			require.NoError(t, err)
			defer cli.Close()
			if tc.sni != "" {
				require.NoError(t, cli.SSL().SetServerName(tc.sni))
			}
			done := make(chan error, 1)
			go func() { done <- srv.Handshake() }()
			require.NoError(t, cli.Handshake())
			require.NoError(t, <-done)
			assert.Equal(t, tc.sni, seen)
			certs, err := cli.SSL().PeerCertificates()
			require.NoError(t, err)
			require.NotEmpty(t, certs)
			assert.Equal(t, tc.want, certs[0].Raw)
		})
	}
}

func TestServerNameCallbackRefuses(t *testing.T) {
	p := newPKI(t)
	for name, tc := range map[string]struct {
		err   error
		alert openssl.AlertError
	}{
		"unrecognized": {err: openssl.AlertUnrecognizedName, alert: openssl.AlertUnrecognizedName},
		"other error":  {err: errors.New("openssl: certificate store down"), alert: openssl.AlertInternalError},
	} {
		t.Run(name, func(t *testing.T) {
			sctx := newTLSServerCtx(t, p, nil)
			require.NoError(t, sctx.SetServerNameCallback(func(*openssl.SSL, string) error { return tc.err }))
			_, _, serr, cerr := pskHandshake(t, sctx, newTLSClientCtx(t))
			require.Error(t, serr)
			assert.ErrorIs(t, serr, tc.err)
			var alert openssl.AlertError
			require.True(t, errors.As(cerr, &alert), "%v", cerr)
			assert.Equal(t, tc.alert, alert)
		})
	}
}

func TestNewCertificateErrors(t *testing.T) {
	p := newPKI(t)
	other := testcert.NewPKI(t, "other CA", testcert.Options{})
	_, err := openssl.NewCertificate(p.server.CertPEM, other.Server.KeyPEM)
	assert.ErrorIs(t, err, openssl.ErrKeyMismatch)
	_, err = openssl.NewCertificate([]byte("junk"), p.server.KeyPEM)
	assert.Error(t, err)
	c, err := openssl.NewCertificate(p.server.CertPEM, p.server.KeyPEM)
	require.NoError(t, err)
	require.NoError(t, c.Close())
	require.NoError(t, c.Close())
}
