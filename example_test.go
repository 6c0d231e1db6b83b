package openssl_test

import (
	"errors"
	"fmt"
	"log"
	"net/netip"

	"github.com/openssl-stateless/openssl"
	"github.com/openssl-stateless/openssl/internal/testcert"
)

// A DTLS server and client over packet BIOs, with the datagrams carried by
// the example itself: the cookie exchange (DTLSv1Listen), the handshake
// (Accept, Connect) and one message. A real server reads the datagrams
// from a UDP socket; package dtls does exactly that.
func ExampleSSL_DTLSv1Listen() {
	certPEM, keyPEM, err := testcert.SelfSigned("localhost")
	if err != nil {
		log.Fatal(err)
	}
	serverAddr := netip.MustParseAddrPort("192.0.2.1:4433")
	clientAddr := netip.MustParseAddrPort("198.51.100.7:50000")

	// Server: a Ctx with a certificate and a CookieSigner.
	sctx, _ := openssl.NewCtx(openssl.DTLSServerMethod)
	defer sctx.Close()
	if err := sctx.UseCertificatePEM(certPEM); err != nil {
		log.Fatal(err)
	}
	if err := sctx.UsePrivateKeyPEM(keyPEM); err != nil {
		log.Fatal(err)
	}
	signer, _ := openssl.NewCookieSigner(nil, 0)
	if err := signer.Install(sctx); err != nil {
		log.Fatal(err)
	}
	server, _ := openssl.NewSSL(sctx)
	defer server.Close()
	sbio, _ := openssl.NewPacketBIO(1200, 1<<16)
	_ = server.SetBIO(sbio, sbio)

	// Client: it trusts nothing here (a self-signed certificate).
	cctx, _ := openssl.NewCtx(openssl.DTLSClientMethod)
	defer cctx.Close()
	client, _ := openssl.NewSSL(cctx)
	defer client.Close()
	cbio, _ := openssl.NewPacketBIO(1200, 1<<16)
	_ = client.SetBIO(cbio, cbio)
	_ = cbio.SetPeer(serverAddr)

	listening, established := true, false
	serverStep := func() {
		if listening {
			peer, err := server.DTLSv1ListenAddrPort()
			if errors.Is(err, openssl.ErrRetry) {
				fmt.Println("server: HelloVerifyRequest sent")
				return
			}
			if err != nil {
				log.Fatal(err)
			}
			fmt.Println("server: cookie verified for", peer)
			listening = false
		}
		if err := server.Accept(); err == nil && !established {
			established = true
			fmt.Println("server: handshake complete,", server.Version())
		}
	}
	// carry moves every datagram one side wrote to the other side, running
	// that side's next step for each.
	carry := func(from, to *openssl.BIO, src netip.AddrPort, step func()) {
		_ = from.DrainDatagrams(func(p []byte) error {
			_ = to.PushDatagram(p, src)
			step()
			return nil
		})
	}

	_ = client.Connect() // ClientHello
	for i := 0; i < 10 && !(established && client.IsInitFinished()); i++ {
		carry(cbio, sbio, clientAddr, serverStep)
		carry(sbio, cbio, serverAddr, func() { _ = client.Connect() })
	}

	_, _ = client.Write([]byte("hello over DTLS"))
	buf := make([]byte, 64)
	carry(cbio, sbio, clientAddr, func() {
		n, err := server.Read(buf)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("server read: %s\n", buf[:n])
	})
	// Output:
	// server: HelloVerifyRequest sent
	// server: cookie verified for 198.51.100.7:50000
	// server: handshake complete, DTLSv1.2
	// server read: hello over DTLS
}

// Stateless over TCP: a server answers the first ClientHello with a
// HelloRetryRequest and completes the handshake when the cookie comes back.
func ExampleStreamConn_StatelessHandshake() {
	certPEM, keyPEM, err := testcert.SelfSigned("localhost")
	if err != nil {
		log.Fatal(err)
	}
	ctx, _ := openssl.NewCtx(openssl.TLSServerMethod)
	defer ctx.Close()
	_ = ctx.UseCertificatePEM(certPEM)
	_ = ctx.UsePrivateKeyPEM(keyPEM)
	signer, _ := openssl.NewCookieSigner(nil, 0)
	_ = signer.Install(ctx)

	cc, sc := examplePipe()
	go exampleTLSClient(cc)

	conn, err := openssl.NewServerConn(sc, ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	if err := conn.StatelessHandshake(); err != nil {
		log.Fatal(err)
	}
	buf := make([]byte, 64)
	n, _ := conn.Read(buf)
	fmt.Println("cookie exchange:", conn.HelloRetryRequestSent())
	fmt.Println("version:", conn.SSL().Version())
	fmt.Printf("read: %s\n", buf[:n])
	// Output:
	// cookie exchange: true
	// version: TLSv1.3
	// read: hello over TLS 1.3
}
