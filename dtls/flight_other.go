//go:build !linux

package dtls

// Elsewhere each datagram of a flight is a write of its own
// (flight_linux.go sends a flight in one sendmmsg on Linux).

// flushOwn is flushLocked on a connection with a socket of its own.
func (c *Conn) flushOwn() error { return c.bio.DrainDatagrams(c.send) }
