package openssl_test

import (
	"errors"
	"io"
	"math"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl"
	"github.com/openssl-stateless/openssl/internal/record"
)

func newDTLSClient(t *testing.T) (*openssl.SSL, *openssl.BIO) {
	t.Helper()
	ctx, err := openssl.NewCtx(openssl.DTLSClientMethod)
	require.NoError(t, err)
	t.Cleanup(func() { ctx.Close() })
	s, err := openssl.NewSSL(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	b, err := openssl.NewPacketBIO(1200, 4096)
	require.NoError(t, err)
	require.NoError(t, s.SetBIO(b, b))
	require.NoError(t, b.SetPeer(clientAP))
	return s, b
}

// DTLSv1_get_timeout reports the retransmission timer after the first
// flight; DTLSv1_handle_timeout retransmits it once the timer has fired.
func TestDTLSTimeoutsRetransmit(t *testing.T) {
	s, b := newDTLSClient(t)
	require.NoError(t, s.SetDTLSInitialTimeout(30*time.Millisecond))
	require.ErrorIs(t, s.Connect(), openssl.ErrWantRead)
	var first [][]byte
	require.NoError(t, b.DrainDatagrams(func(p []byte) error { first = append(first, append([]byte(nil), p...)); return nil }))
	require.Len(t, first, 1, "the ClientHello")

	left, running := s.DTLSTimeout()
	require.True(t, running)
	assert.LessOrEqual(t, left, 30*time.Millisecond, "the initial timeout set with DTLS_set_timer_cb")
	again, err := s.DTLSHandleTimeout()
	require.NoError(t, err)
	assert.False(t, again, "nothing to do before the timer fires")

	time.Sleep(left + 5*time.Millisecond)
	again, err = s.DTLSHandleTimeout()
	require.NoError(t, err)
	assert.True(t, again, "retransmitted after the timer fired")
	var second [][]byte
	require.NoError(t, b.DrainDatagrams(func(p []byte) error { second = append(second, p); return nil }))
	require.Len(t, second, 1)
	left, running = s.DTLSTimeout()
	require.True(t, running)
	assert.Greater(t, left, 30*time.Millisecond, "the timeout doubled")
	assert.LessOrEqual(t, left, 60*time.Millisecond)

	assert.Error(t, s.SetDTLSInitialTimeout(time.Microsecond))
}

// SetMTU sets SSL_OP_NO_QUERY_MTU: without it the SSL_clear inside
// DTLSv1_listen would forget the MTU. Found by the interop tests, where
// s_client received a 4.5 KB certificate in one datagram at "MTU 1200".
func TestSetMTUSurvivesListen(t *testing.T) {
	ctx := newDTLSServerCtx(t, true)
	s, b := newPacketListener(t, ctx)
	require.NoError(t, s.SetMTU(600))
	assert.NotZero(t, s.SetOptions(0)&openssl.OpNoQueryMTU)
	assert.Error(t, s.SetMTU(10), "below the minimum")
	_, err, out := listenOnce(t, s, b, clientHello{}.bytes(), clientAP)
	require.True(t, errors.Is(err, openssl.ErrRetry))
	require.Len(t, out, 1)
	assert.NotZero(t, s.SetOptions(0)&openssl.OpNoQueryMTU, "still set after DTLSv1_listen's SSL_clear")
}

// PeerCertificates returns every certificate of the chain intact. A bug
// once parsed them all from one reused buffer, and x509.ParseCertificate
// keeps references into its input: all but the last came back corrupted.
func TestPeerCertificatesChainIntact(t *testing.T) {
	p := newPKI(t)
	ctx := newTLSServerCtx(t, p, newSigner(t, nil))
	require.NoError(t, ctx.UseCertificatePEM(append(append([]byte(nil), p.server.CertPEM...), p.ca.CertPEM...)))
	require.NoError(t, ctx.UsePrivateKeyPEM(p.server.KeyPEM))
	cc, sc := tcpPair(t)
	serveTLS(sc, ctx)
	cctx := newTLSClientCtx(t)
	client, err := openssl.NewClientConn(cc, cctx)
	require.NoError(t, err)
	defer client.Close()
	require.NoError(t, client.Handshake())
	certs, err := client.SSL().PeerCertificates()
	require.NoError(t, err)
	require.Len(t, certs, 2, "leaf and CA")
	assert.Equal(t, p.server.Leaf.Raw, certs[0].Raw)
	assert.Equal(t, p.ca.Cert.Raw, certs[1].Raw)
	assert.Equal(t, "localhost", certs[0].Subject.CommonName)
	assert.Equal(t, p.server.Leaf.IPAddresses[0].String(), certs[0].IPAddresses[0].String())
}

// SetHost with a DNS name: OpenSSL's verifier checks the certificate's
// names (through SSL_set1_host, or SSL_set1_dnsname from OpenSSL 4.0, which
// deprecates the former); another name fails verification.
func TestSetHostName(t *testing.T) {
	p := newPKI(t)
	ctx := newTLSServerCtx(t, p, nil)
	cctx := newTLSClientCtx(t)
	require.NoError(t, cctx.AddCAPEM(p.ca.CertPEM))
	require.NoError(t, cctx.SetVerify(openssl.VerifyPeer, -1))
	dial := func(name string) (*openssl.StreamConn, error) {
		cc, sc := tcpPair(t)
		serveTLS(sc, ctx)
		client, err := openssl.NewClientConn(cc, cctx)
		require.NoError(t, err)
		t.Cleanup(func() { client.Close() })
		require.NoError(t, client.SSL().SetServerName(name))
		require.NoError(t, client.SSL().SetHost(name))
		return client, client.Handshake()
	}
	_, err := dial("localhost")
	require.NoError(t, err, "the certificate's name verifies")

	client, err := dial("other.example")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "certificate verify failed")
	var ve *openssl.VerifyError
	require.ErrorAs(t, client.SSL().VerifyResult(), &ve)
	assert.Equal(t, openssl.VerifyErrHostnameMismatch, ve.Code)
}

// SetHost with an IP address: OpenSSL checks the certificate's IP
// addresses (a name check would fail); SetServerName sends no SNI for it.
func TestSetHostIP(t *testing.T) {
	p := newPKI(t)
	ctx := newTLSServerCtx(t, p, nil)
	cc, sc := tcpPair(t)
	serveTLS(sc, ctx)
	cctx := newTLSClientCtx(t)
	require.NoError(t, cctx.AddCAPEM(p.ca.CertPEM))
	require.NoError(t, cctx.SetVerify(openssl.VerifyPeer, -1))
	client, err := openssl.NewClientConn(cc, cctx)
	require.NoError(t, err)
	defer client.Close()
	require.NoError(t, client.SSL().SetServerName("127.0.0.1"))
	require.NoError(t, client.SSL().SetHost("127.0.0.1"))
	require.NoError(t, client.Handshake(), "the certificate's IP SAN 127.0.0.1 verifies")

	// The wrong IP fails verification.
	cc2, sc2 := tcpPair(t)
	serveTLS(sc2, ctx)
	client2, err := openssl.NewClientConn(cc2, cctx)
	require.NoError(t, err)
	defer client2.Close()
	require.NoError(t, client2.SSL().SetServerName("10.9.8.7"))
	require.NoError(t, client2.SSL().SetHost("10.9.8.7"))
	err = client2.Handshake()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "certificate verify failed")
	var ve *openssl.VerifyError
	require.ErrorAs(t, client2.SSL().VerifyResult(), &ve)
	assert.Equal(t, openssl.VerifyErrIPAddressMismatch, ve.Code)
	assert.True(t, ve.Code.IsNameMismatch())
	assert.Contains(t, ve.Error(), "IP address mismatch")
}

// Peek returns data without consuming it: the next Read returns the same
// bytes.
func TestPeekLeavesData(t *testing.T) {
	p := newPKI(t)
	cc, sc := tcpPair(t)
	sctx := newTLSServerCtx(t, p, nil)
	done := make(chan struct{})
	go func() { // echoes one read
		defer close(done)
		srv, err := openssl.NewServerConn(sc, sctx)
		if err != nil {
			return
		}
		defer srv.Close()
		buf := make([]byte, 64)
		if n, err := srv.Read(buf); err == nil {
			_, _ = srv.Write(buf[:n])
		}
	}()
	defer func() { <-done }()
	client, err := openssl.NewClientConn(cc, newTLSClientCtx(t))
	require.NoError(t, err)
	defer client.Close()
	_, err = client.Write([]byte("hello world"))
	require.NoError(t, err)
	first := make([]byte, 1)
	_, err = io.ReadFull(client, first) // the record is in the SSL now
	require.NoError(t, err)
	require.Equal(t, "h", string(first))
	peeked := make([]byte, 4)
	n, err := client.SSL().Peek(peeked)
	require.NoError(t, err)
	assert.Equal(t, "ello", string(peeked[:n]))
	rest := make([]byte, 10)
	_, err = io.ReadFull(client, rest)
	require.NoError(t, err)
	assert.Equal(t, "ello world", string(rest), "Peek consumed nothing")
}

// FreeBuffers gives back the record buffers; the next operation takes them
// again. A retransmission writes through the write buffer, which OpenSSL's
// DTLS path does not allocate for itself: without the C side taking them
// back first (ssl_ops.c, begin_op), this test segfaults.
func TestFreeBuffersThenRetransmit(t *testing.T) {
	s, b := newDTLSClient(t)
	require.NoError(t, s.SetDTLSInitialTimeout(20*time.Millisecond))
	require.ErrorIs(t, s.Connect(), openssl.ErrWantRead)
	var first []byte
	require.NoError(t, b.DrainDatagrams(func(p []byte) error { first = append([]byte(nil), p...); return nil }))
	left, running := s.IdleDTLSTimeout() // FreeBuffers and DTLSTimeout in one
	require.True(t, running)
	time.Sleep(left + 5*time.Millisecond)
	again, err := s.DTLSHandleTimeout()
	require.NoError(t, err)
	require.True(t, again)
	var second []byte
	require.NoError(t, b.DrainDatagrams(func(p []byte) error { second = append([]byte(nil), p...); return nil }))
	rec, _, err := record.ParseDTLSRecord(second)
	require.NoError(t, err)
	assert.Equal(t, record.Handshake, rec.Type, "the ClientHello again")
	assert.Len(t, second, len(first))
	require.True(t, s.FreeBuffers(), "and again")
	again, err = s.DTLSHandleTimeout()
	require.NoError(t, err)
	assert.False(t, again, "the timer was just reset")
	_, running = s.IdleDTLSTimeout()
	assert.True(t, running)

	var nilSSL *openssl.SSL
	assert.False(t, nilSSL.FreeBuffers())
	s.Close()
	assert.False(t, s.FreeBuffers())
}

// A buffer of 2 GiB or more reaches OpenSSL whole: the record calls take a
// size_t length (SSL_read_ex, SSL_peek_ex, SSL_write_ex). With an int, a
// Write of 4 GiB + 5 bytes went out as a 5-byte record and reported 5, and
// a Read into 2 GiB + 1 bytes failed with "bad length". The buffer is an
// anonymous mapping of which only the record's bytes are ever touched.
func TestRecordLengthsBeyondInt32(t *testing.T) {
	if math.MaxInt < 1<<32 {
		t.Skip("an int of 32 bits cannot hold the lengths")
	}
	// Variables, not constants, so that the package builds where int has
	// 32 bits.
	size, half := uint64(1<<32+5), uint64(1<<31+1)
	huge, err := syscall.Mmap(-1, 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS|syscall.MAP_NORESERVE)
	if errors.Is(err, syscall.ENOMEM) {
		t.Skipf("no 4 GiB of address space here (ulimit -v, vm.overcommit_memory=2): %v", err)
	}
	require.NoError(t, err)
	t.Cleanup(func() { _ = syscall.Munmap(huge) })
	server, sbio, client, cbio := establishedDTLSPair(t)

	n, err := client.Write(huge)
	assert.Zero(t, n)
	require.Error(t, err, "no DTLS record carries 4 GiB")
	t.Logf("Write of %d bytes: %v", len(huge), err)
	require.NoError(t, cbio.DrainDatagrams(func(p []byte) error {
		t.Errorf("a %d-byte datagram went out", len(p))
		return nil
	}))

	n, err = client.Write([]byte("after"))
	require.NoError(t, err, "a record too long for DTLS is not fatal")
	require.Equal(t, 5, n)
	require.NoError(t, cbio.DrainDatagrams(func(p []byte) error { return sbio.PushDatagram(p, clientAP) }))
	n, err = server.Peek(huge[:half])
	require.NoError(t, err)
	assert.Equal(t, "after", string(huge[:n]))
	clear(huge[:n])
	n, err = server.Read(huge[:half])
	require.NoError(t, err)
	assert.Equal(t, "after", string(huge[:n]))
}
