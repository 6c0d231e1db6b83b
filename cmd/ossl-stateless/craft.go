package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"

	"github.com/openssl-stateless/openssl"
	"github.com/openssl-stateless/openssl/internal/record"
)

// The ClientHellos that probe and flood send are written by the binding's
// own client (an SSL over a packet BIO, or memory BIOs for TLS), never
// built by hand: what a server is asked is what a real OpenSSL client asks.
// Changes (a flipped cookie bit, padding) are made with internal/record.

// probeCiphers keeps the "minimal" ClientHello short while still offering
// what any DTLS 1.0/1.2 server with an ECDSA or RSA certificate accepts.
const probeCiphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:@SECLEVEL=0"

// helloBIOSize is the packet BIO's buffer: the largest datagram it takes in.
const helloBIOSize = 1 << 16

// newHelloCtx makes the client Ctx that writes DTLS ClientHellos of one
// version (VersionDTLS12 or VersionDTLS10). Security level 0 lets OpenSSL 3
// write a DTLS 1.0 ClientHello at all; the probe never verifies or
// finishes a handshake, so nothing relies on it.
func newHelloCtx(version openssl.Version) (*openssl.Ctx, error) {
	ctx, err := openssl.NewCtx(openssl.DTLSClientMethod)
	if err != nil {
		return nil, err
	}
	for _, step := range []func() error{
		func() error { return ctx.SetMinProtoVersion(version) },
		func() error { return ctx.SetMaxProtoVersion(version) },
		func() error { return ctx.SetCipherList(probeCiphers) },
		func() error { return ctx.SetVerify(openssl.VerifyNone, -1) },
	} {
		if err := step(); err != nil {
			ctx.Close()
			return nil, err
		}
	}
	ctx.SetOptions(openssl.OpNoQueryMTU | openssl.OpNoTicket)
	return ctx, nil
}

// dtlsHello is one client handshake, driven by hand: First writes its
// ClientHello, Answer feeds it the server's HelloVerifyRequest so that
// OpenSSL itself writes the second ClientHello with the cookie in it.
type dtlsHello struct {
	ssl  *openssl.SSL
	bio  *openssl.BIO // owned by ssl
	peer netip.AddrPort
}

func newDTLSHello(ctx *openssl.Ctx, peer netip.AddrPort) (*dtlsHello, error) {
	ssl, err := openssl.NewSSL(ctx)
	if err != nil {
		return nil, err
	}
	bio, err := openssl.NewPacketBIO(1400, helloBIOSize)
	if err != nil {
		ssl.Close()
		return nil, err
	}
	if err := ssl.SetBIO(bio, bio); err != nil {
		bio.Close()
		ssl.Close()
		return nil, err
	}
	_ = bio.SetPeer(peer)
	if err := ssl.SetMTU(1400); err != nil {
		ssl.Close()
		return nil, err
	}
	// The probe sends every datagram itself and never asks OpenSSL to
	// retransmit; a timer that expires between two steps (a -window or a
	// replay delay longer than it) makes the next step retransmit the
	// first ClientHello ahead of the second (step drops it).
	if err := ssl.SetDTLSInitialTimeout(60 * time.Second); err != nil {
		ssl.Close()
		return nil, err
	}
	ssl.SetConnectState()
	return &dtlsHello{ssl: ssl, bio: bio, peer: peer}, nil
}

// Close frees the SSL and its BIO.
func (h *dtlsHello) Close() { h.ssl.Close() }

// step runs SSL_connect until it waits for the server and returns the one
// datagram it wrote.
func (h *dtlsHello) step() ([]byte, error) {
	err := h.ssl.Connect()
	if err != nil && !errors.Is(err, openssl.ErrWantRead) {
		return nil, fmt.Errorf("writing a ClientHello: %w", err)
	}
	var out [][]byte
	_ = h.bio.DrainDatagrams(func(p []byte) error {
		out = append(out, append([]byte(nil), p...))
		return nil
	})
	// A retransmission of an earlier ClientHello (an expired timer) goes
	// out ahead of the new one: its message_seq is lower.
	for len(out) > 1 && helloSeq(out[0]) < helloSeq(out[len(out)-1]) {
		out = out[1:]
	}
	if len(out) != 1 {
		return nil, fmt.Errorf("writing a ClientHello: OpenSSL wrote %d datagrams, want 1", len(out))
	}
	return out[0], nil
}

// helloSeq is the message_seq of a datagram's first handshake message, -1
// if it has none.
func helloSeq(d []byte) int {
	_, m, err := record.FirstDTLSHandshake(d)
	if err != nil {
		return -1
	}
	return int(m.MessageSeq)
}

// First returns the first ClientHello (no cookie).
func (h *dtlsHello) First() ([]byte, error) { return h.step() }

// Answer feeds the server's HelloVerifyRequest datagram to the client and
// returns the second ClientHello, carrying its cookie.
func (h *dtlsHello) Answer(hvr []byte) ([]byte, error) {
	if err := h.bio.PushDatagram(hvr, h.peer); err != nil {
		return nil, err
	}
	return h.step()
}

// newTLSHelloCtx makes the client Ctx that writes TLS 1.3 ClientHellos,
// without middlebox compatibility: its ChangeCipherSpec before the second
// ClientHello makes `openssl s_server -stateless` fail the connection, and
// a probe must not measure that.
func newTLSHelloCtx() (*openssl.Ctx, error) {
	ctx, err := openssl.NewCtx(openssl.TLSClientMethod)
	if err != nil {
		return nil, err
	}
	for _, step := range []func() error{
		func() error { return ctx.SetMinProtoVersion(openssl.VersionTLS13) },
		func() error { return ctx.SetMaxProtoVersion(openssl.VersionTLS13) },
		func() error { return ctx.SetVerify(openssl.VerifyNone, -1) },
	} {
		if err := step(); err != nil {
			ctx.Close()
			return nil, err
		}
	}
	ctx.ClearOptions(openssl.OpEnableMiddleboxCompat)
	return ctx, nil
}

// tlsHello is a TLS client over memory BIOs: what it writes goes to the
// probe's TCP connection, what the server sends is fed back by hand.
type tlsHello struct {
	ssl        *openssl.SSL
	rbio, wbio *openssl.BIO // owned by ssl
}

func newTLSHello(ctx *openssl.Ctx) (*tlsHello, error) {
	ssl, err := openssl.NewSSL(ctx)
	if err != nil {
		return nil, err
	}
	rbio, err := openssl.NewMemBIO()
	if err != nil {
		ssl.Close()
		return nil, err
	}
	wbio, err := openssl.NewMemBIO()
	if err != nil {
		rbio.Close()
		ssl.Close()
		return nil, err
	}
	if err := ssl.SetBIO(rbio, wbio); err != nil {
		rbio.Close()
		wbio.Close()
		ssl.Close()
		return nil, err
	}
	ssl.SetConnectState()
	return &tlsHello{ssl: ssl, rbio: rbio, wbio: wbio}, nil
}

// Close frees the SSL and its BIOs.
func (h *tlsHello) Close() { h.ssl.Close() }

// Step feeds what the server sent (nil at first) and returns what the
// client writes next.
func (h *tlsHello) Step(in []byte) ([]byte, error) {
	if len(in) > 0 {
		if _, err := h.rbio.Write(in); err != nil {
			return nil, err
		}
	}
	err := h.ssl.Connect()
	if err != nil && !errors.Is(err, openssl.ErrWantRead) {
		return nil, fmt.Errorf("TLS client: %w", err)
	}
	out, rerr := io.ReadAll(wbioReader{h.wbio})
	if rerr != nil {
		return nil, rerr
	}
	return out, nil
}

// wbioReader reads a memory BIO until it is empty.
type wbioReader struct{ b *openssl.BIO }

func (r wbioReader) Read(p []byte) (int, error) {
	if r.b.Pending() == 0 {
		return 0, io.EOF
	}
	return r.b.Read(p)
}

// flush sends what the client wrote.
func (h *dtlsHello) flush(s *probeSock) {
	_ = h.bio.DrainDatagrams(func(p []byte) error {
		_, err := s.c.Write(p)
		return err
	})
}

// Finish completes a handshake the server went on with: got holds the
// server's datagrams received so far, the rest are read from s within
// budget. The client then closes the connection with close_notify, so
// that a server serving one client at a time (`openssl s_server`, which
// also exits on a failed handshake) is free again.
func (h *dtlsHello) Finish(s *probeSock, got [][]byte, budget time.Duration) error {
	deadline := time.Now().Add(budget)
	buf := make([]byte, 1<<16)
	for {
		var d []byte
		if len(got) > 0 {
			d, got = got[0], got[1:]
		} else {
			next := time.Now().Add(250 * time.Millisecond)
			if next.After(deadline) {
				next = deadline
			}
			_ = s.c.SetReadDeadline(next)
			n, err := s.c.Read(buf)
			if err != nil {
				var ne net.Error
				if !errors.As(err, &ne) || !ne.Timeout() {
					return err
				}
				if !time.Now().Before(deadline) {
					return fmt.Errorf("no handshake within %v", budget)
				}
				if _, err := h.ssl.DTLSHandleTimeout(); err != nil {
					return err
				}
				h.flush(s)
				continue
			}
			d = buf[:n]
		}
		h.bio.DropDatagram()
		if err := h.bio.PushDatagram(d, h.peer); err != nil {
			return err
		}
		err := h.ssl.Connect()
		h.flush(s)
		if err == nil {
			break
		}
		if !errors.Is(err, openssl.ErrWantRead) {
			return err
		}
	}
	_, _ = h.ssl.Shutdown()
	h.flush(s)
	return nil
}
