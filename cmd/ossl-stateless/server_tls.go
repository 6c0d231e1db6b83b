package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/openssl-stateless/openssl"
)

// errHandshake marks a connection whose handshake failed (and was logged).
var errHandshake = errors.New("handshake failed")

// tlsStats counts what the TLS server did.
type tlsStats struct {
	conns, hrr, completed, failed atomic.Uint64
	live                          atomic.Int64
}

// newTLSCtx builds the server's SSL_CTX: TLS 1.3 only, the certificate,
// the cookie signer for SSL_stateless and client verification.
func (s *server) newTLSCtx(creds *credentials) (*openssl.Ctx, error) {
	o := s.o
	sslCtx, err := openssl.NewCtx(openssl.TLSServerMethod)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*openssl.Ctx, error) {
		sslCtx.Close()
		return nil, err
	}
	if err := sslCtx.UseCertificatePEM(creds.certPEM); err != nil {
		return fail(fmt.Errorf("-cert %s: %w", o.cert, err))
	}
	if err := sslCtx.UsePrivateKeyPEM(creds.keyPEM); err != nil {
		return fail(fmt.Errorf("-key %s: %w", o.key, err))
	}
	if err := sslCtx.SetMinProtoVersion(openssl.VersionTLS13); err != nil {
		return fail(err)
	}
	// As s_server sets one: with -CAfile (client certificates verified)
	// OpenSSL resumes no session without it, failing the handshake.
	if err := sslCtx.SetSessionIDContext([]byte("ossl-stateless")); err != nil {
		return fail(err)
	}
	if o.stateless {
		signer, err := openssl.NewCookieSigner(nil, s.o.cookieAge)
		if err != nil {
			return fail(err)
		}
		if err := signer.Install(sslCtx); err != nil {
			return fail(err)
		}
	}
	if s.clientCAsPEM != nil {
		if err := sslCtx.AddCAPEM(s.clientCAsPEM); err != nil {
			return fail(fmt.Errorf("-CAfile %s: %w", o.caFile, err))
		}
		mode := openssl.VerifyPeer
		if o.requireDepth >= 0 {
			mode |= openssl.VerifyFailIfNoPeerCert
		}
		if err := sslCtx.SetVerify(mode, -1); err != nil {
			return fail(err)
		}
	}
	return sslCtx, nil
}

func (s *server) runTLS(creds *credentials, sig <-chan os.Signal) error {
	o := s.o
	sslCtx, err := s.newTLSCtx(creds)
	if err != nil {
		return err
	}
	defer sslCtx.Close()
	ln, err := net.Listen("tcp", o.accept)
	if err != nil {
		return listenError(o.accept, "tcp", err)
	}
	s.ready(ln.Addr())
	s.log.Info("listening", "addr", ln.Addr().String(), "protocol", "TLSv1.3", "stateless", o.stateless, "mode", o.mode, "backend", o.backend)

	var st tlsStats
	acceptDone := make(chan struct{})
	go func() {
		defer close(acceptDone)
		for {
			c, err := ln.Accept()
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				s.log.Error("accept failed", "err", err)
				time.Sleep(100 * time.Millisecond) // e.g. out of descriptors: do not spin
				continue
			}
			st.conns.Add(1)
			sc, err := openssl.NewServerConn(c, sslCtx)
			if err != nil {
				s.log.Error("cannot make an SSL", "err", err)
				_ = c.Close()
				continue
			}
			s.start(sc, func() error { return s.serveTLS(sc, c, &st) })
		}
	}()

	got := <-sig
	s.log.Info("shutting down", "signal", got.String())
	_ = ln.Close()
	<-acceptDone
	s.shutdown()
	fmt.Fprintf(s.stdout, "STATS connections=%d hello_retry_requests=%d handshakes_completed=%d handshakes_failed=%d live_conns=%d\n",
		st.conns.Load(), st.hrr.Load(), st.completed.Load(), st.failed.Load(), st.live.Load())
	return nil
}

// serveTLS runs the handshake, statelessly with -stateless, then relays.
func (s *server) serveTLS(sc *openssl.StreamConn, raw net.Conn, st *tlsStats) error {
	peer := raw.RemoteAddr().String()
	_ = raw.SetDeadline(time.Now().Add(s.o.timeout))
	var err error
	if s.o.stateless {
		err = sc.StatelessHandshake()
	} else {
		err = sc.Handshake()
	}
	hrr := sc.HelloRetryRequestSent()
	if hrr {
		st.hrr.Add(1)
	}
	if err != nil {
		st.failed.Add(1)
		s.log.Warn("tls: handshake failed", "peer", peer, "hello_retry_request", hrr, "err", oneLine(err.Error()))
		return errHandshake
	}
	_ = raw.SetDeadline(time.Time{})
	st.completed.Add(1)
	st.live.Add(1)
	defer st.live.Add(-1)
	s.log.Info("tls: handshake completed", "peer", peer, "version", sc.SSL().Version(),
		"cipher", sc.SSL().CipherName(), "hello_retry_request", hrr)
	s.printKeymat(peer, sc.ExportKeyingMaterial)
	return s.relay(sc, false)
}
