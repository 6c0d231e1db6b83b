//go:build !linux

package dtls

import (
	"net"
	"net/netip"

	"github.com/openssl-stateless/openssl"
)

// Elsewhere the reader takes one datagram per read and sends each reply at
// once (batch_linux.go batches both on Linux).

// batch is never made here (newBatch returns nil); its fields are those
// the reader's batch loop uses.
type batch struct {
	out  replies
	lb   *openssl.ListenBatch
	slot int
}

// replies is never made here: a nil *replies sends at once.
type replies struct{}

func newBatch(*net.UDPConn, int) *batch { return nil }

func (*batch) read() (int, error) { return 0, net.ErrClosed }

func (*batch) datagram(int) ([]byte, netip.AddrPort, bool) { return nil, netip.AddrPort{}, false }

func (*replies) next() []byte { return nil }

func (*replies) commit(int, netip.AddrPort) bool { return false }

func (*replies) flush() {}
