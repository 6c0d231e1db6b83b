package openssl_test

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl"
	"github.com/openssl-stateless/openssl/internal/testmain"
)

// OpenSSL's error queue is per OS thread, and goroutines migrate between
// threads. Failing calls (drops that leave entries, fatal errors, bad PEM)
// interleave with succeeding ones on many goroutines; every result must
// carry only its own errors and every thread's queue must be empty after
// every call.
func TestErrorQueueNeverCrossesGoroutines(t *testing.T) {
	prev := runtime.GOMAXPROCS(4)
	defer runtime.GOMAXPROCS(prev)

	const workers = 16
	const rounds = 200
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			errs <- queueWorker(t, w, rounds)
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

func queueWorker(t *testing.T, w, rounds int) error {
	runtime.LockOSThread() // so that testmain.QueueEmpty checks the thread the calls ran on
	defer runtime.UnlockOSThread()
	okCtx, err := openssl.NewCtx(openssl.DTLSServerMethod)
	if err != nil {
		return err
	}
	defer okCtx.Close()
	signer, err := openssl.NewCookieSigner(nil, 0)
	if err != nil {
		return err
	}
	if err := signer.Install(okCtx); err != nil {
		return err
	}
	bare, err := openssl.NewCtx(openssl.DTLSServerMethod) // no callbacks: fatal
	if err != nil {
		return err
	}
	defer bare.Close()

	ok, okBIO, err := packetListener(okCtx)
	if err != nil {
		return err
	}
	defer ok.Close()
	fatal, fatalBIO, err := packetListener(bare)
	if err != nil {
		return err
	}
	defer fatal.Close()
	discard := func([]byte) error { return nil }

	for i := 0; i < rounds; i++ {
		switch (i + w) % 4 {
		case 0: // dropped: returns 0 but OpenSSL leaves "fragmented client hello"
			_ = okBIO.PushDatagram(clientHello{fragOffset: 3}.bytes(), clientAP)
			if _, err := ok.DTLSv1Listen(); err != openssl.ErrRetry {
				return fmt.Errorf("drop: got %v, want exactly ErrRetry", err)
			}
		case 1: // answered: HelloVerifyRequest
			_ = okBIO.PushDatagram(clientHello{}.bytes(), clientAP)
			if _, err := ok.DTLSv1Listen(); !isRetry(err) {
				return fmt.Errorf("HVR: got %v", err)
			}
		case 2: // fatal: no generate callback
			_ = fatalBIO.PushDatagram(clientHello{}.bytes(), clientAP)
			_, err := fatal.DTLSv1Listen()
			var oe *openssl.Error
			if !errorsAs(err, &oe) {
				return fmt.Errorf("fatal: got %v", err)
			}
			for _, q := range oe.Queue {
				if strings.Contains(q.Reason, "fragmented") || strings.Contains(q.Reason, "no start line") {
					return fmt.Errorf("fatal listen error carries another call's entry: %v", err)
				}
			}
		case 3: // a failing Ctx call, then a successful one
			err := okCtx.UseCertificatePEM([]byte("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"))
			var oe *openssl.Error
			if !errorsAs(err, &oe) {
				return fmt.Errorf("bad PEM: got %v", err)
			}
			for _, q := range oe.Queue {
				if strings.Contains(q.Reason, "fragmented") || strings.Contains(q.Reason, "cookie") {
					return fmt.Errorf("PEM error carries a listen entry: %v", err)
				}
			}
			if err := okCtx.SetCipherList("ECDHE+AESGCM"); err != nil {
				return fmt.Errorf("a succeeding call after a failing one: %v", err)
			}
		}
		_ = okBIO.DrainDatagrams(discard)
		_ = fatalBIO.DrainDatagrams(discard)
		if !testmain.QueueEmpty() {
			return fmt.Errorf("worker %d round %d: error queue left non-empty", w, i)
		}
	}
	return nil
}

func packetListener(ctx *openssl.Ctx) (*openssl.SSL, *openssl.BIO, error) {
	s, err := openssl.NewSSL(ctx)
	if err != nil {
		return nil, nil, err
	}
	b, err := openssl.NewPacketBIO(1400, 4096)
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	if err := s.SetBIO(b, b); err != nil {
		s.Close()
		b.Close()
		return nil, nil, err
	}
	return s, b, nil
}

func TestDroppedDatagramLeavesNoQueueEntry(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ctx := newDTLSServerCtx(t, true)
	s, b := newPacketListener(t, ctx)
	for _, dgram := range [][]byte{
		{1, 2, 3},
		clientHello{fragOffset: 9}.bytes(),
		clientHello{epoch: 2}.bytes(),
		clientHello{contentType: ctAlert}.bytes(),
	} {
		_, err, _ := listenOnce(t, s, b, dgram, clientAP)
		assert.ErrorIs(t, err, openssl.ErrRetry)
		assert.True(t, testmain.QueueEmpty(), "a drop's queue entries were discarded in the same C call")
	}
}

// The alert a peer sends reaches the receiving side as an AlertError
// (errors.As), whatever the protocol version: OpenSSL queues it as an SSL
// error whose reason is the alert's number plus SSL_AD_REASON_OFFSET.
func TestAlertError(t *testing.T) {
	p := newPKI(t)
	for _, tc := range []struct {
		name string
		max  openssl.Version
		want openssl.AlertError
	}{
		{"TLS 1.2: no client certificate", openssl.VersionTLS12, openssl.AlertHandshakeFailure},
		{"TLS 1.3: no client certificate", openssl.VersionTLS13, openssl.AlertCertificateRequired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sctx := newTLSServerCtx(t, p, nil)
			require.NoError(t, sctx.AddCAPEM(p.ca.CertPEM))
			require.NoError(t, sctx.SetVerify(openssl.VerifyRequireClientCert, -1))
			cc, sc := tcpPair(t)
			serveTLS(sc, sctx)
			cctx := newTLSClientCtx(t)
			require.NoError(t, cctx.SetMaxProtoVersion(tc.max))
			client, err := openssl.NewClientConn(cc, cctx)
			require.NoError(t, err)
			defer client.Close()
			err = client.Handshake()
			if err == nil { // TLS 1.3: the client learns on its first read
				_, err = client.Read(make([]byte, 1))
			}
			var alert openssl.AlertError
			require.ErrorAs(t, err, &alert, "%v", err)
			assert.Equal(t, tc.want, alert)
			assert.Contains(t, alert.Error(), "the peer sent alert")
		})
	}

	// The other way: a verifying client refuses the server's certificate
	// (unknown CA) and the server receives that alert.
	sctx := newTLSServerCtx(t, p, nil)
	cc, sc := tcpPair(t)
	done := serverHandshake(sc, sctx)
	cctx := newTLSClientCtx(t)
	require.NoError(t, cctx.SetVerify(openssl.VerifyPeer, -1))
	client, err := openssl.NewClientConn(cc, cctx)
	require.NoError(t, err)
	defer client.Close()
	require.Error(t, client.Handshake())
	var alert openssl.AlertError
	serr := <-done
	require.ErrorAs(t, serr, &alert, "%v", serr)
	assert.Equal(t, openssl.AlertUnknownCA, alert)
	assert.Equal(t, "unknown CA", alert.String())

	// Names of values OpenSSL knows and of values it does not.
	assert.Equal(t, "certificate required", openssl.AlertCertificateRequired.String())
	assert.Equal(t, "alert(255)", openssl.AlertError(255).String())
}

// An entry some other code left on the thread's error queue does not become
// an operation's error: every operation starts from an empty queue
// (ssl_ops.c's begin_op clears it only when a peek finds an entry). Reads
// of an established connection are where it shows: a handshake step clears
// the queue itself, SSL_read does not. (That the queue is empty after a
// read that succeeds holds with or without the clear: the capture drains
// it.)
func TestForeignQueueEntryIsNotTheOperationsError(t *testing.T) {
	runtime.LockOSThread() // the queue is per thread: the calls and the checks share one
	defer runtime.UnlockOSThread()
	server, sbio, client, cbio := establishedDTLSPair(t)

	buf := make([]byte, 64)
	testmain.PushForeignError()
	require.False(t, testmain.QueueEmpty())
	_, err := server.Read(buf) // nothing has arrived
	require.ErrorIs(t, err, openssl.ErrWantRead)
	var oe *openssl.Error
	require.False(t, errorsAs(err, &oe), "the foreign entry became the read's error: %v", err)
	require.True(t, testmain.QueueEmpty())

	n, err := client.Write([]byte("ping"))
	require.NoError(t, err)
	require.Equal(t, 4, n)
	require.NoError(t, cbio.DrainDatagrams(func(p []byte) error { return sbio.PushDatagram(p, clientAP) }))
	testmain.PushForeignError()
	n, err = server.Read(buf)
	require.NoError(t, err)
	require.Equal(t, "ping", string(buf[:n]))
	require.True(t, testmain.QueueEmpty())
}

// A certificate verify callback's refusal reaches the peer as the alert
// crypto/tls would send for it, where a bare refusal gave handshake_failure
// whatever the reason.
func TestCertVerifyCallbackAlerts(t *testing.T) {
	p := newPKI(t)
	for _, tc := range []struct {
		name string
		err  error
		want openssl.AlertError
	}{
		{"unknown authority", x509.UnknownAuthorityError{}, openssl.AlertUnknownCA},
		{"expired", x509.CertificateInvalidError{Reason: x509.Expired}, openssl.AlertCertificateExpired},
		{"name mismatch", x509.HostnameError{Host: "elsewhere.example"}, openssl.AlertBadCertificate},
		{"the callback's own reason", errors.New("pinned key mismatch"), openssl.AlertBadCertificate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sctx := newTLSServerCtx(t, p, nil)
			require.NoError(t, sctx.SetMaxProtoVersion(openssl.VersionTLS12)) // the server reads the alert in its handshake
			cc, sc := tcpPair(t)
			done := serverHandshake(sc, sctx)
			cctx := newTLSClientCtx(t)
			require.NoError(t, cctx.SetVerify(openssl.VerifyPeer, -1))
			require.NoError(t, cctx.SetCertVerifyCallback(func(*openssl.SSL, []*x509.Certificate) error { return tc.err }))
			client, err := openssl.NewClientConn(cc, cctx)
			require.NoError(t, err)
			defer client.Close()
			herr := client.Handshake()
			require.Error(t, herr)
			assert.ErrorIs(t, herr, tc.err, "the callback's error is the handshake's cause")
			serr := <-done
			var alert openssl.AlertError
			require.ErrorAs(t, serr, &alert, "%v", serr)
			assert.Equal(t, tc.want, alert)
		})
	}
}

// With VerifyNone a client's OpenSSL verifies all the same and ignores the
// result: the callback, whose refusal would be ignored too, does not run,
// as its doc says. Before, it ran, refused, and the handshake completed as
// if it had agreed.
func TestCertVerifyCallbackNotRunWithVerifyNone(t *testing.T) {
	p := newPKI(t)
	cc, sc := tcpPair(t)
	serveTLS(sc, newTLSServerCtx(t, p, nil))
	cctx := newTLSClientCtx(t)
	calls := 0
	require.NoError(t, cctx.SetCertVerifyCallback(func(*openssl.SSL, []*x509.Certificate) error {
		calls++
		return errors.New("refused")
	}))
	client, err := openssl.NewClientConn(cc, cctx)
	require.NoError(t, err)
	defer client.Close()
	require.NoError(t, client.Handshake())
	assert.Zero(t, calls)
	var verr *openssl.VerifyError
	require.ErrorAs(t, client.SSL().VerifyResult(), &verr, "OpenSSL's own verification ran (an unknown CA)")
}

// serverHandshake runs a server StreamConn's handshake over sc, closes it,
// and sends the handshake's error.
func serverHandshake(sc net.Conn, ctx *openssl.Ctx) <-chan error {
	done := make(chan error, 1)
	go func() {
		srv, err := openssl.NewServerConn(sc, ctx)
		if err != nil {
			done <- err
			return
		}
		defer srv.Close()
		done <- srv.Handshake()
	}()
	return done
}

// An accessor called inside one of the SSL's callbacks (SetHost, here in a
// certificate verify callback) keeps what the thread's error queue holds
// for the operation under way, whose error is to report it. Before, the
// accessor cleared the queue first. The entry stands for one OpenSSL queued
// during the handshake; testmain's is recognisable.
func TestAccessorInCallbackKeepsQueue(t *testing.T) {
	p := newPKI(t)
	cc, sc := tcpPair(t)
	serverHandshake(sc, newTLSServerCtx(t, p, nil))
	cctx := newTLSClientCtx(t)
	require.NoError(t, cctx.SetVerify(openssl.VerifyPeer, -1))
	refused := errors.New("refused after SetHost")
	require.NoError(t, cctx.SetCertVerifyCallback(func(s *openssl.SSL, _ []*x509.Certificate) error {
		testmain.PushForeignError()
		if err := s.SetHost("localhost"); err != nil {
			return err
		}
		return refused
	}))
	client, err := openssl.NewClientConn(cc, cctx)
	require.NoError(t, err)
	defer client.Close()
	err = client.Handshake()
	require.ErrorIs(t, err, refused)
	var oe *openssl.Error
	require.True(t, errorsAs(err, &oe), "%v", err)
	found := false
	for _, e := range oe.Queue {
		found = found || strings.Contains(e.Text, "lib(128)") // ERR_LIB_USER, as 1.1.1 and 3.x print it
	}
	assert.True(t, found, "the entry queued before SetHost is in the handshake's error: %v", oe.Queue)
}
