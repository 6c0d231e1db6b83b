package dtls

import (
	"errors"
	"net/netip"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/openssl-stateless/openssl"
	"github.com/openssl-stateless/openssl/internal/testcert"
)

// BenchmarkHandshakeInMemory is bench/c/handshake.c's measurement made
// through this package's own SSL_CTXs, callbacks and packet BIOs: a full
// DTLS 1.2 handshake between a server and a client SSL on one goroutine
// locked to one thread, datagrams carried between their BIOs, and each
// side's CPU time (CLOCK_THREAD_CPUTIME_ID around its calls) reported
// apart. No sockets, no goroutine hand-offs: against the C program's
// figures it shows what the binding's setup costs OpenSSL by itself,
// and against a loopback handshake what the rest costs.
func BenchmarkHandshakeInMemory(b *testing.B) {
	p := testcert.NewPKI(b, "bench CA", testcert.Options{})
	const cipher, mtu = "ECDHE-ECDSA-AES128-GCM-SHA256", 1200
	scfg := &Config{CertificatePEM: p.Server.CertPEM, KeyPEM: p.Server.KeyPEM, CipherList: cipher, MTU: mtu}
	l, err := Listen("udp", "127.0.0.1:0", scfg)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	ccfg := &Config{RootCAs: p.Pool(), ServerName: "localhost", CipherList: cipher, MTU: mtu}
	cc, err := ccfg.clientCtx()
	if err != nil {
		b.Fatal(err)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var server, client int64
	peer := netip.MustParseAddrPort("127.0.0.1:4433")
	one := func() {
		t0 := threadCPU()
		sssl, sbio, err := newSSL(l.sslCtx, l.cfg)
		if err != nil {
			b.Fatal(err)
		}
		s := newConn(nil, nil, peer, l.cfg, sssl, sbio)
		sssl.SetAcceptState()
		t1 := threadCPU()
		cssl, cbio, err := newSSL(cc.sslCtx, ccfg)
		if err != nil {
			b.Fatal(err)
		}
		if err := cssl.SetServerName("localhost"); err != nil {
			b.Fatal(err)
		}
		cssl.SetConnectState()
		c := newConn(nil, nil, peer, ccfg, cssl, cbio)
		c.verified = cc.verified
		t2 := threadCPU()
		server += t1 - t0
		client += t2 - t1

		var toServer, toClient [][]byte
		collect := func(bio *openssl.BIO, q *[][]byte) {
			_ = bio.DrainDatagrams(func(d []byte) error {
				*q = append(*q, append([]byte(nil), d...))
				return nil
			})
		}
		give := func(bio *openssl.BIO, q *[][]byte) {
			d := (*q)[0]
			*q = (*q)[1:]
			n := copy(bio.DatagramBuffer(), d)
			if err := bio.SetDatagram(n, peer); err != nil {
				b.Fatal(err)
			}
		}
		step := func(ssl *openssl.SSL, op func() error) bool {
			err := op()
			if err != nil && !errors.Is(err, openssl.ErrWantRead) {
				b.Fatal(err)
			}
			return err == nil
		}
		t0 = threadCPU()
		cdone := step(cssl, cssl.Connect)
		collect(cbio, &toServer)
		client += threadCPU() - t0
		sdone := false
		for rounds := 0; !cdone || !sdone; rounds++ {
			if rounds > 40 {
				b.Fatal("the handshake does not finish")
			}
			for len(toServer) > 0 {
				t0 = threadCPU()
				give(sbio, &toServer)
				sdone = step(sssl, sssl.Accept)
				collect(sbio, &toClient)
				server += threadCPU() - t0
			}
			for len(toClient) > 0 {
				t0 = threadCPU()
				give(cbio, &toClient)
				cdone = step(cssl, cssl.Connect)
				collect(cbio, &toServer)
				client += threadCPU() - t0
			}
		}
		t0 = threadCPU()
		_, _ = cssl.Shutdown()
		collect(cbio, &toServer)
		c.mu.Lock()
		cssl.Close()
		c.ssl, c.bio = nil, nil
		c.mu.Unlock()
		t1 = threadCPU()
		give(sbio, &toServer)
		var buf [64]byte
		if _, err := sssl.Read(buf[:]); err == nil {
			b.Fatal("the server read data, not close_notify")
		}
		s.mu.Lock()
		sssl.Close()
		s.ssl, s.bio = nil, nil
		s.mu.Unlock()
		t2 = threadCPU()
		client += t1 - t0
		server += t2 - t1
	}
	one() // warm-up: first use of the Ctxs
	server, client = 0, 0
	b.ResetTimer()
	for range b.N {
		one()
	}
	b.ReportMetric(float64(server)/float64(b.N), "server-cpu-ns/op")
	b.ReportMetric(float64(client)/float64(b.N), "client-cpu-ns/op")
}

func threadCPU() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts)
	return ts.Nano()
}
