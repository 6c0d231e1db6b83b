package openssl

/*
#include "shim.h"
*/
import "C"

import (
	"runtime"
	"unsafe"
)

type keylogFunc func(s *SSL, line string)

// SetKeylogCallback registers f to receive the secrets of each handshake
// as lines of the NSS key log format (SSL_CTX_set_keylog_callback(3)),
// without the newline: "CLIENT_RANDOM <client random> <master secret>" in
// (D)TLS 1.2, the CLIENT_/SERVER_HANDSHAKE_TRAFFIC_SECRET and
// _TRAFFIC_SECRET_0 lines in TLS 1.3, all in hex. Wireshark and tshark
// decrypt a capture with them; anyone holding them can. f runs during the
// handshake; a panic in it is raised again on the caller of the handshake
// operation. nil removes the callback.
func (c *Ctx) SetKeylogCallback(f func(s *SSL, line string)) error {
	return c.with(func() error {
		if f == nil {
			c.keylog.Store(nil)
		} else {
			fn := keylogFunc(f)
			c.keylog.Store(&fn)
		}
		C.gossl_SSL_CTX_set_keylog_cb(c.ptr, cBool(f != nil))
		return nil
	})
}

// ClientRandom wraps SSL_get_client_random(3): the 32 random bytes of the
// ClientHello, which key log lines name; nil before there is one.
func (s *SSL) ClientRandom() []byte {
	nested, err := s.access()
	if err != nil {
		return nil
	}
	defer s.leave(nested)
	defer runtime.KeepAlive(s)
	var buf [32]byte
	n := C.SSL_get_client_random(s.ptr, (*C.uchar)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)))
	if n == 0 {
		return nil
	}
	for _, b := range buf[:n] {
		if b != 0 {
			return append([]byte(nil), buf[:n]...)
		}
	}
	return nil
}
