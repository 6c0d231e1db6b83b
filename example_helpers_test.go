package openssl_test

import (
	"crypto/tls"
	"net"
)

// examplePipe is a loopback TCP connection for the examples.
func examplePipe() (client, server net.Conn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	done := make(chan net.Conn)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			panic(err)
		}
		done <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		panic(err)
	}
	return client, <-done
}

func exampleTLSClient(c net.Conn) {
	tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}) //nolint:gosec // example peer
	defer tc.Close()
	if _, err := tc.Write([]byte("hello over TLS 1.3")); err != nil {
		return
	}
	_, _ = tc.Read(make([]byte, 1))
}
