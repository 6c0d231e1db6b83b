package dtls

import (
	"errors"
	"os"
)

// ErrMessageTooLarge is returned by Write for a message longer than one
// datagram can carry at the connection's MTU and cipher.
var ErrMessageTooLarge = errors.New("dtls: message too large for one datagram")

// ErrHandshakeRefused is what a Listener logs for a handshake it turned
// away because its accept queue was full; the client itself only sees its
// handshake time out.
var ErrHandshakeRefused = errors.New("dtls: handshake refused: accept queue full")

// timeoutError is the net.Error of an expired deadline or handshake timeout.
type timeoutError struct{ op string }

func (e timeoutError) Error() string   { return "dtls: " + e.op + " timed out" }
func (e timeoutError) Timeout() bool   { return true }
func (e timeoutError) Temporary() bool { return true }

// Is makes errors.Is(err, os.ErrDeadlineExceeded) hold, as for net.Conn.
func (e timeoutError) Is(target error) bool { return target == os.ErrDeadlineExceeded }
