package openssl_test

import (
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"

	"github.com/openssl-stateless/openssl"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// StreamConn.StatelessHandshake end to end with crypto/tls as the client,
// data both ways, close_notify seen as io.EOF.
func TestStreamConnStatelessWithGoClient(t *testing.T) {
	p := newPKI(t)
	ctx := newTLSServerCtx(t, p, newSigner(t, nil))
	cc, sc := tcpPair(t)
	client := goTLSClient(cc, p, tls.VersionTLS13)
	go func() {
		if _, err := client.Write([]byte("hello server")); err != nil {
			return
		}
		buf := make([]byte, 64)
		n, _ := client.Read(buf)
		_, _ = client.Write(append([]byte("echo:"), buf[:n]...))
		_ = client.Close()
	}()
	srv, err := openssl.NewServerConn(sc, ctx)
	require.NoError(t, err)
	defer srv.Close()
	require.NoError(t, srv.StatelessHandshake())
	assert.True(t, srv.HelloRetryRequestSent())
	buf := make([]byte, 64)
	n, err := srv.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "hello server", string(buf[:n]))
	_, err = srv.Write([]byte("hello client"))
	require.NoError(t, err)
	n, err = srv.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "echo:hello client", string(buf[:n]))
	_, err = srv.Read(buf)
	assert.ErrorIs(t, err, io.EOF, "close_notify reads as io.EOF")
}

// A Read and a Write that both start before the handshake: one runs the
// handshake, the other waits for it, and both complete.
func TestStreamConnConcurrentFirstReadAndWrite(t *testing.T) {
	p := newPKI(t)
	ctx := newTLSServerCtx(t, p, nil)
	for i := 0; i < 20; i++ {
		cc, sc := tcpPair(t)
		go func() {
			tc := goTLSClient(cc, p, tls.VersionTLS13)
			buf := make([]byte, 16)
			n, err := tc.Read(buf)
			if err == nil {
				_, _ = tc.Write(buf[:n])
			}
		}()
		srv, err := openssl.NewServerConn(sc, ctx)
		require.NoError(t, err)
		readDone := make(chan string, 1)
		go func() {
			buf := make([]byte, 16)
			n, _ := srv.Read(buf)
			readDone <- string(buf[:n])
		}()
		_, err = srv.Write([]byte("ping"))
		require.NoError(t, err)
		select {
		case got := <-readDone:
			assert.Equal(t, "ping", got)
		case <-time.After(5 * time.Second):
			t.Fatal("deadlock: Read and Write both ran a handshake loop")
		}
		srv.Close()
	}
}

// After a fatal alert from the peer, Read reports it and every later Read
// and Write returns the same error, never io.EOF (which means
// close_notify).
func TestStreamConnLatchesFatalAlert(t *testing.T) {
	p := newPKI(t)
	sctx := newTLSServerCtx(t, p, nil)
	require.NoError(t, sctx.AddCAPEM(p.ca.CertPEM))
	require.NoError(t, sctx.SetVerify(openssl.VerifyRequireClientCert, -1))
	cc, sc := tcpPair(t)
	go func() {
		srv, err := openssl.NewServerConn(sc, sctx)
		if err != nil {
			return
		}
		_ = srv.Handshake() // refuses: no client certificate
		srv.Close()
	}()
	cctx := newTLSClientCtx(t)
	client, err := openssl.NewClientConn(cc, cctx)
	require.NoError(t, err)
	defer client.Close()
	require.NoError(t, client.Handshake(), "TLS 1.3: the client finishes before the server judges it")
	_, rerr := client.Read(make([]byte, 8))
	require.Error(t, rerr)
	assert.NotErrorIs(t, rerr, io.EOF)
	assert.Contains(t, rerr.Error(), "certificate required")
	_, werr := client.Write([]byte("late"))
	assert.Equal(t, rerr, werr, "the fatal error is latched")
	_, rerr2 := client.Read(make([]byte, 8))
	assert.Equal(t, rerr, rerr2)
}

// serveTLS runs a StreamConn server handshake on conn in the background,
// then waits for one byte (or the peer's close) and closes.
func serveTLS(conn net.Conn, ctx *openssl.Ctx) {
	go func() {
		srv, err := openssl.NewServerConn(conn, ctx)
		if err != nil {
			return
		}
		defer srv.Close()
		if srv.Handshake() == nil {
			_, _ = srv.Read(make([]byte, 1))
		}
	}()
}

func newTLSClientCtx(t *testing.T) *openssl.Ctx {
	t.Helper()
	cctx, err := openssl.NewCtx(openssl.TLSClientMethod)
	require.NoError(t, err)
	t.Cleanup(func() { cctx.Close() })
	return cctx
}
