package dtls

import "errors"

// ErrMessageTooLarge is returned by Write for a message longer than one
// datagram can carry at the connection's MTU and cipher.
var ErrMessageTooLarge = errors.New("dtls: message too large for one datagram")
