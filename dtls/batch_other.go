//go:build !linux

package dtls

import (
	"net"
	"net/netip"
)

// Elsewhere the reader takes one datagram per read and sends each reply at
// once (batch_linux.go batches both on Linux).

type batch struct{ out replies }

// replies is never made here: a nil *replies sends at once.
type replies struct{}

func newBatch(*net.UDPConn, int) *batch { return nil }

func (*batch) read() (int, error) { return 0, net.ErrClosed }

func (*batch) datagram(int) ([]byte, netip.AddrPort, bool) { return nil, netip.AddrPort{}, false }

func (*replies) next() []byte { return nil }

func (*replies) commit(int, netip.AddrPort) bool { return false }

func (*replies) flush() {}
