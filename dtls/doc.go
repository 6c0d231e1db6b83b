// Package dtls is a DTLS server and client for Go, built on OpenSSL through
// the root package's binding: Listen and Accept give a net.Listener whose
// connections have passed a stateless cookie exchange (DTLSv1_listen(3)),
// and Dial gives a client net.Conn.
//
// One UDP socket serves every peer. Datagrams are routed by source address
// in Go. A datagram from an unknown source is answered on the reading
// goroutine by the one listening SSL: a ClientHello without a valid cookie
// gets a HelloVerifyRequest and nothing is kept for its sender, no map
// entry, no goroutine, no buffer. Only when a cookie verifies does the
// source get a connection, whose handshake runs on a goroutine of its own,
// bounded by Config.HandshakeTimeout and by the accept queue.
//
// Connections keep datagram boundaries: each Write is one record in one
// datagram (ErrMessageTooLarge beyond that) and each Read returns one
// record. Retransmission follows OpenSSL's DTLS timers, the MTU is explicit
// (Config.MTU, 1200 by default) and large flights are fragmented.
// Certificates are verified in Go against the Config's x509.CertPools, as
// crypto/tls does.
package dtls
