package openssl_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl"
)

// alpnHandshake runs a TLS handshake over loopback TCP with the client
// offering offered and the server choosing with sel.
func alpnHandshake(t *testing.T, offered []string, sel func(*openssl.SSL, []string) (int, error)) (srv, cli *openssl.StreamConn, serr, cerr error) {
	t.Helper()
	p := newPKI(t)
	sctx := newTLSServerCtx(t, p, nil)
	require.NoError(t, sctx.SetALPNSelectCallback(sel))
	cctx := newTLSClientCtx(t)
	require.NoError(t, cctx.SetALPNProtos(offered))
	return pskHandshake(t, sctx, cctx)
}

func TestALPNSelect(t *testing.T) {
	var seen []string
	srv, cli, serr, cerr := alpnHandshake(t, []string{"coap", "h2"}, func(s *openssl.SSL, offered []string) (int, error) {
		seen = offered
		return 1, nil
	})
	require.NoError(t, serr)
	require.NoError(t, cerr)
	assert.Equal(t, []string{"coap", "h2"}, seen)
	assert.Equal(t, "h2", srv.SSL().ALPNSelected())
	assert.Equal(t, "h2", cli.SSL().ALPNSelected())
}

func TestALPNNoAck(t *testing.T) {
	_, cli, serr, cerr := alpnHandshake(t, []string{"coap"}, func(*openssl.SSL, []string) (int, error) { return -1, nil })
	require.NoError(t, serr)
	require.NoError(t, cerr)
	assert.Empty(t, cli.SSL().ALPNSelected())
}

func TestALPNRefusals(t *testing.T) {
	for name, sel := range map[string]func(*openssl.SSL, []string) (int, error){
		"error":        func(*openssl.SSL, []string) (int, error) { return 0, openssl.ErrNoApplicationProtocol },
		"out of range": func(*openssl.SSL, []string) (int, error) { return 5, nil },
		"panic":        func(*openssl.SSL, []string) (int, error) { panic("alpn boom") },
	} {
		t.Run(name, func(t *testing.T) {
			if name == "panic" {
				p := newPKI(t)
				sctx := newTLSServerCtx(t, p, nil)
				require.NoError(t, sctx.SetALPNSelectCallback(sel))
				cctx := newTLSClientCtx(t)
				require.NoError(t, cctx.SetALPNProtos([]string{"coap"}))
				cc, sc := tcpPair(t)
				srv, err := openssl.NewServerConn(sc, sctx)
				require.NoError(t, err)
				defer srv.Close()
				cli, err := openssl.NewClientConn(cc, cctx)
				require.NoError(t, err)
				defer cli.Close()
				go func() { _ = cli.Handshake(); cc.Close() }()
				assert.PanicsWithValue(t, "alpn boom", func() { _ = srv.Handshake() })
				return
			}
			_, _, serr, cerr := alpnHandshake(t, []string{"coap"}, sel)
			require.Error(t, serr)
			require.Error(t, cerr)
			var alert openssl.AlertError
			require.True(t, errors.As(cerr, &alert), "%v", cerr)
			assert.Equal(t, openssl.AlertNoApplicationProtocol, alert)
			if name == "error" {
				assert.ErrorIs(t, serr, openssl.ErrNoApplicationProtocol)
			}
		})
	}
}

func TestALPNProtosValidation(t *testing.T) {
	ctx := newTLSClientCtx(t)
	assert.Error(t, ctx.SetALPNProtos([]string{""}))
	assert.Error(t, ctx.SetALPNProtos([]string{string(make([]byte, 256))}))
	assert.NoError(t, ctx.SetALPNProtos(nil))
}
