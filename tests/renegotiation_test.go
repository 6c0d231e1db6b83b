package tests

import (
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl"
	"github.com/openssl-stateless/openssl/internal/testpeer"
)

// noRenegotiationSeen is what `-msg` prints when a peer refuses a
// renegotiation, on every OpenSSL from 1.1.1 to 4.0.
const noRenegotiationSeen = "Alert [length 0002], warning no_renegotiation"

// A StreamConn client refuses the renegotiation `openssl s_server` asks
// for (its "r" command sends a HelloRequest), as crypto/tls's client does
// by default, while a Read and a stream of Writes run. Before, it
// renegotiated, and a Write that met the renegotiation returned
// ErrWantRead: it needed the server's handshake messages, which only the
// Read takes in.
func TestStreamConnClientRefusesRenegotiation(t *testing.T) {
	checkGoroutines(t)
	p := newPKI(t)
	serverAP := netip.AddrPortFrom(loopback4, uint16(testpeer.FreePort(t, "tcp4", loopback4.AsSlice())))
	srv := startPeer(t, "s_server", "-tls1_2", "-accept", serverAP.String(),
		"-cert", p.Server.CertFile, "-key", p.Server.KeyFile, "-naccept", "1", "-msg")
	srv.WaitFor("ACCEPT")

	conn, err := net.DialTimeout("tcp4", serverAP.String(), testpeer.Timeout)
	require.NoError(t, err)
	require.NoError(t, conn.SetDeadline(time.Now().Add(testpeer.Timeout)))
	ctx, err := openssl.NewCtx(openssl.TLSClientMethod)
	require.NoError(t, err)
	t.Cleanup(func() { ctx.Close() })
	require.NoError(t, ctx.AddCAPEM(p.CA.CertPEM))
	require.NoError(t, ctx.SetVerify(openssl.VerifyPeer, -1))
	c, err := openssl.NewClientConn(conn, ctx)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.SSL().SetServerName("localhost"))
	require.NoError(t, c.Handshake())

	read := make(chan error, 1)
	go func() {
		buf := make([]byte, 256)
		for {
			if _, err := c.Read(buf); err != nil {
				read <- err
				return
			}
		}
	}()
	const line = "a line from the client\n"
	wrote := make(chan error, 1)
	first := make(chan struct{})
	go func() {
		// Writes until the connection ends; the first one is a signal
		// to ask for the renegotiation while the rest run.
		for i := 0; i < 1_000_000; i++ {
			if _, err := c.Write([]byte(line)); err != nil {
				wrote <- err
				return
			}
			if i == 0 {
				close(first)
			}
		}
		wrote <- nil
	}()
	<-first
	srv.WaitFor(line)
	srv.Send("r\n")

	werr := <-wrote
	rerr := <-read
	t.Logf("Write: %v; Read: %v", werr, rerr)
	assert.False(t, errors.Is(werr, openssl.ErrWantRead), "a Write met the renegotiation: %v", werr)
	var alert openssl.AlertError
	require.ErrorAs(t, rerr, &alert, "%v", rerr)
	assert.Equal(t, openssl.AlertHandshakeFailure, alert, "s_server ends the connection it could not renegotiate")
	srv.WaitFor(noRenegotiationSeen)
	assert.Equal(t, 1, countLines(srv.String(), "ClientHello"), "no second ClientHello")
}

// A StreamConn server refuses the renegotiation `openssl s_client` asks
// for (its "R" command), as crypto/tls's server does, on every OpenSSL:
// 3.0 and later refuse a client's renegotiation by default, but 1.1.1
// runs it, letting a client make the server repeat its most expensive
// work on one connection.
func TestStreamConnServerRefusesRenegotiation(t *testing.T) {
	checkGoroutines(t)
	p := newPKI(t)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })

	ctx, err := openssl.NewCtx(openssl.TLSServerMethod)
	require.NoError(t, err)
	t.Cleanup(func() { ctx.Close() })
	require.NoError(t, ctx.UseCertificatePEM(p.Server.CertPEM))
	require.NoError(t, ctx.UsePrivateKeyPEM(p.Server.KeyPEM))

	cli := startPeer(t, "s_client", "-tls1_2", "-connect", ln.Addr().String(), "-msg")
	conn, err := ln.Accept()
	require.NoError(t, err)
	require.NoError(t, conn.SetDeadline(time.Now().Add(testpeer.Timeout)))
	srv, err := openssl.NewServerConn(conn, ctx)
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	require.NoError(t, srv.Handshake())
	cli.WaitFor("Verify return code")

	const line = "before the renegotiation\n"
	cli.Send(line)
	got, err := readFull(srv.Read, len(line))
	require.NoError(t, err)
	require.Equal(t, line, string(got))

	cli.Send("R\n")
	buf := make([]byte, 256)
	n, err := srv.Read(buf)
	t.Logf("Read: %q, %v", buf[:n], err)
	var alert openssl.AlertError
	require.ErrorAs(t, err, &alert, "%v", err)
	assert.Equal(t, openssl.AlertHandshakeFailure, alert, "s_client ends the connection it could not renegotiate")
	cli.WaitFor(noRenegotiationSeen)
}
