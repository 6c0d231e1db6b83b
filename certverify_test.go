package openssl_test

import (
	"crypto/x509"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl"
)

// SetCertVerifyCallback runs Go verification inside the handshake: the
// chain arrives parsed, leaf first; an error refuses the peer with a fatal
// alert and is the cause of the handshake error; a panic is raised again on
// the caller's goroutine.
func TestCertVerifyCallback(t *testing.T) {
	p := newPKI(t)
	refused := errors.New("not on the allow list")
	cases := []struct {
		name   string
		verify func(*openssl.SSL, []*x509.Certificate) error
		check  func(t *testing.T, handshake func() error)
	}{
		{"accepts", func(_ *openssl.SSL, chain []*x509.Certificate) error {
			if len(chain) != 1 || chain[0].Subject.CommonName != "localhost" {
				return errors.New("unexpected chain")
			}
			_, err := chain[0].Verify(x509.VerifyOptions{Roots: p.pool(), DNSName: "localhost"})
			return err
		}, func(t *testing.T, handshake func() error) { require.NoError(t, handshake()) }},
		{"refuses", func(*openssl.SSL, []*x509.Certificate) error { return refused },
			func(t *testing.T, handshake func() error) {
				err := handshake()
				require.ErrorIs(t, err, refused)
				var oe *openssl.Error
				require.ErrorAs(t, err, &oe)
				assert.Equal(t, "SSL_do_handshake", oe.Op)
			}},
		{"panics", func(*openssl.SSL, []*x509.Certificate) error { panic("verify boom") },
			func(t *testing.T, handshake func() error) {
				assert.PanicsWithValue(t, "verify boom", func() { _ = handshake() })
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sctx := newTLSServerCtx(t, p, nil)
			cc, sc := tcpPair(t)
			serverErr := make(chan error, 1)
			go func() {
				srv, err := openssl.NewServerConn(sc, sctx)
				if err != nil {
					serverErr <- err
					return
				}
				defer srv.Close()
				serverErr <- srv.Handshake()
			}()
			cctx, err := openssl.NewCtx(openssl.TLSClientMethod)
			require.NoError(t, err)
			defer cctx.Close()
			require.NoError(t, cctx.SetVerify(openssl.VerifyPeer, -1))
			require.NoError(t, cctx.SetCertVerifyCallback(tc.verify))
			client, err := openssl.NewClientConn(cc, cctx)
			require.NoError(t, err)
			defer client.Close()
			tc.check(t, client.Handshake)
			if tc.name != "accepts" {
				client.Close() // the alert is out; unblock the server either way
				assert.Error(t, <-serverErr, "the server saw the handshake fail")
			} else {
				assert.NoError(t, <-serverErr)
			}
		})
	}
}
