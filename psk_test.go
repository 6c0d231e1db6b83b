package openssl_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl"
)

var pskKey = []byte("0123456789abcdef")

// pskCtxs returns a certificate-less TLS server Ctx that knows one device,
// and a client Ctx that offers it; tls13 false caps both at TLS 1.2 with
// PSK-AES128-GCM-SHA256.
func pskCtxs(t *testing.T, tls13 bool, clientKey []byte) (srv, cli *openssl.Ctx, seen *string) {
	t.Helper()
	srv, err := openssl.NewCtx(openssl.TLSServerMethod)
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	cli = newTLSClientCtx(t)
	var identity string
	require.NoError(t, srv.SetPSKServerCallback(func(s *openssl.SSL, id string) ([]byte, error) {
		identity = id
		if id == "device-1" {
			return pskKey, nil
		}
		return nil, nil
	}))
	require.NoError(t, srv.UsePSKIdentityHint("gateway"))
	require.NoError(t, cli.SetPSKClientCallback(func(s *openssl.SSL, hint string) (string, []byte, error) {
		if !tls13 && hint != "gateway" {
			return "", nil, errors.New("unexpected hint " + hint)
		}
		return "device-1", clientKey, nil
	}))
	if !tls13 {
		for _, c := range []*openssl.Ctx{srv, cli} {
			require.NoError(t, c.SetMaxProtoVersion(openssl.VersionTLS12))
			require.NoError(t, c.SetCipherList("PSK-AES128-GCM-SHA256"))
		}
	} else {
		require.NoError(t, srv.SetMinProtoVersion(openssl.VersionTLS13))
	}
	return srv, cli, &identity
}

// pskHandshake runs both ends over loopback TCP and returns their errors.
func pskHandshake(t *testing.T, srvCtx, cliCtx *openssl.Ctx) (srv, cli *openssl.StreamConn, serr, cerr error) {
	t.Helper()
	cc, sc := tcpPair(t)
	var err error
	srv, err = openssl.NewServerConn(sc, srvCtx)
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	cli, err = openssl.NewClientConn(cc, cliCtx)
	require.NoError(t, err)
	t.Cleanup(func() { cli.Close() })
	done := make(chan error, 1)
	go func() {
		err := srv.Handshake()
		if err != nil {
			sc.Close() // the client must not wait for more
		}
		done <- err
	}()
	cerr = cli.Handshake()
	if cerr != nil {
		cc.Close()
	}
	serr = <-done
	return srv, cli, serr, cerr
}

func TestPSKTLS12NoCertificate(t *testing.T) {
	sctx, cctx, seen := pskCtxs(t, false, pskKey)
	srv, cli, serr, cerr := pskHandshake(t, sctx, cctx)
	require.NoError(t, serr)
	require.NoError(t, cerr)
	assert.Equal(t, "device-1", *seen)
	assert.Equal(t, "PSK-AES128-GCM-SHA256", cli.SSL().CipherName())
	assert.Equal(t, "device-1", srv.SSL().PSKIdentity())
	assert.Equal(t, "device-1", cli.SSL().PSKIdentity())
	go func() { _, _ = cli.Write([]byte("ping")) }()
	buf := make([]byte, 4)
	_, err := io.ReadFull(srv, buf)
	require.NoError(t, err)
	assert.Equal(t, "ping", string(buf))
}

// TLS 1.3 external PSK through the same callbacks: OpenSSL makes a session
// with a SHA-256 suite from the key, and a server without a
// certificate can complete only that way.
func TestPSKTLS13StreamConn(t *testing.T) {
	sctx, cctx, seen := pskCtxs(t, true, pskKey)
	srv, cli, serr, cerr := pskHandshake(t, sctx, cctx)
	require.NoError(t, serr)
	require.NoError(t, cerr)
	assert.Equal(t, "TLSv1.3", cli.SSL().Version())
	assert.True(t, strings.HasSuffix(cli.SSL().CipherName(), "_SHA256"), "a SHA-256 suite: %s", cli.SSL().CipherName())
	assert.Equal(t, "device-1", *seen)
	_ = srv // OpenSSL keeps no PSK identity on a TLS 1.3 session
	certs, err := cli.SSL().PeerCertificates()
	require.NoError(t, err)
	assert.Empty(t, certs)
}

func TestPSKWrongKeyFailsWithAlert(t *testing.T) {
	sctx, cctx, _ := pskCtxs(t, false, bytes.Repeat([]byte{7}, 16))
	start := time.Now()
	_, _, serr, cerr := pskHandshake(t, sctx, cctx)
	require.Error(t, serr)
	require.Error(t, cerr)
	// TLS (unlike DTLS) answers a Finished that does not decrypt with an
	// alert: both ends fail at once, not after a timeout.
	assert.Contains(t, serr.Error(), "bad record mac")
	assert.Contains(t, cerr.Error(), "bad record mac")
	assert.Less(t, time.Since(start), 30*time.Second)
}

func TestPSKUnknownIdentityAlert(t *testing.T) {
	sctx, cctx, _ := pskCtxs(t, false, pskKey)
	require.NoError(t, cctx.SetPSKClientCallback(func(*openssl.SSL, string) (string, []byte, error) {
		return "stranger", pskKey, nil
	}))
	_, _, serr, cerr := pskHandshake(t, sctx, cctx)
	require.Error(t, serr)
	assert.Contains(t, serr.Error(), "psk identity not found")
	require.Error(t, cerr)
	var alert openssl.AlertError
	if assert.True(t, errors.As(cerr, &alert), "client error %v", cerr) {
		assert.Equal(t, openssl.AlertUnknownPSKIdentity, alert)
	}
}

func TestPSKCallbackFailures(t *testing.T) {
	cases := []struct {
		name   string
		server func(*openssl.SSL, string) ([]byte, error)
		client func(*openssl.SSL, string) (string, []byte, error)
		want   string
	}{
		{name: "server error", server: func(*openssl.SSL, string) ([]byte, error) { return nil, errors.New("openssl: key store down") }, want: "key store down"},
		{name: "server key too long", server: func(*openssl.SSL, string) ([]byte, error) { return make([]byte, openssl.MaxPSKLen+1), nil }, want: "limit"},
		{name: "client error", client: func(*openssl.SSL, string) (string, []byte, error) { return "", nil, errors.New("openssl: no key") }, want: "no key"},
		{name: "client empty identity", client: func(*openssl.SSL, string) (string, []byte, error) { return "", pskKey, nil }, want: "identity empty"},
		{name: "client NUL identity", client: func(*openssl.SSL, string) (string, []byte, error) { return "a\x00b", pskKey, nil }, want: "NUL"},
		{name: "client long identity", client: func(*openssl.SSL, string) (string, []byte, error) {
			return strings.Repeat("i", openssl.MaxPSKIdentityLen+1), pskKey, nil
		}, want: "limit"},
		{name: "client empty key", client: func(*openssl.SSL, string) (string, []byte, error) { return "device-1", nil, nil }, want: "empty pre-shared key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sctx, cctx, _ := pskCtxs(t, false, pskKey)
			if tc.server != nil {
				require.NoError(t, sctx.SetPSKServerCallback(tc.server))
			}
			if tc.client != nil {
				require.NoError(t, cctx.SetPSKClientCallback(tc.client))
			}
			_, _, serr, cerr := pskHandshake(t, sctx, cctx)
			require.Error(t, serr)
			require.Error(t, cerr)
			if tc.server != nil {
				assert.Contains(t, serr.Error(), tc.want)
			} else {
				assert.Contains(t, cerr.Error(), tc.want)
			}
		})
	}
}

func TestPSKCallbackPanicIsReraised(t *testing.T) {
	sctx, cctx, _ := pskCtxs(t, false, pskKey)
	require.NoError(t, sctx.SetPSKServerCallback(func(s *openssl.SSL, id string) ([]byte, error) {
		_ = s.PSKIdentity() // an accessor from inside the callback is allowed
		panic("psk boom")
	}))
	cc, sc := tcpPair(t)
	srv, err := openssl.NewServerConn(sc, sctx)
	require.NoError(t, err)
	defer srv.Close()
	cli, err := openssl.NewClientConn(cc, cctx)
	require.NoError(t, err)
	defer cli.Close()
	go func() {
		_ = cli.Handshake()
		cc.Close()
	}()
	assert.PanicsWithValue(t, "psk boom", func() { _ = srv.Handshake() })
}

func TestPSKIdentityHintTooLong(t *testing.T) {
	ctx, err := openssl.NewCtx(openssl.DTLSServerMethod)
	require.NoError(t, err)
	defer ctx.Close()
	require.Error(t, ctx.UsePSKIdentityHint(strings.Repeat("h", openssl.MaxPSKIdentityLen+1)))
	require.NoError(t, ctx.UsePSKIdentityHint("gateway"))
	require.NoError(t, ctx.UsePSKIdentityHint(""))
	require.NoError(t, ctx.SetPSKServerCallback(nil))
	require.NoError(t, ctx.SetPSKClientCallback(nil))
	var nilCtx *openssl.Ctx
	require.ErrorIs(t, nilCtx.SetPSKServerCallback(nil), openssl.ErrInvalidObject)
}
