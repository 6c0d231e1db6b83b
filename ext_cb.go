package openssl

// The functions C calls for the IoT features (callbacks_ext.c). A file with
// //export may declare, but not define, C in its preamble. Each defers
// guard first, answers exactly 0 or 1, and keeps a Go error on the SSL for
// the caller of the operation, as cookie_cb.go does.

/*
#include "shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"strings"
	"unsafe"
)

// goPSKServer is reached from the server PSK trampoline. It writes the key
// for the identity at psk (OpenSSL's buffer of max bytes).
//
//export goPSKServer
func goPSKServer(h C.uintptr_t, identity *C.char, idlen C.size_t, psk *C.uchar, max C.uint, outlen *C.size_t) (ok C.int) {
	var s *SSL
	defer guard(&s, &ok)
	if s = sslFromHandle(h); s == nil {
		return 0
	}
	f := s.ctx.pskServer.Load()
	if f == nil {
		return 0
	}
	var id string
	if identity != nil {
		id = C.GoStringN(identity, C.int(idlen))
	}
	key, err := (*f)(s, id)
	switch {
	case err != nil:
		s.callbackFailed(err)
		return 0
	case len(key) == 0:
		return 0 // unknown identity: OpenSSL says so with its alert
	case len(key) > int(max):
		s.callbackFailed(fmt.Errorf("openssl: pre-shared key of %d bytes, limit %d", len(key), int(max)))
		return 0
	}
	copy(unsafe.Slice((*byte)(unsafe.Pointer(psk)), int(max)), key)
	*outlen = C.size_t(len(key))
	return 1
}

// goPSKClient is reached from the client PSK trampoline. It writes the
// identity (without its NUL, which C adds) and the key into OpenSSL's
// buffers.
//
//export goPSKClient
func goPSKClient(h C.uintptr_t, hint *C.char, hintlen C.size_t, identity *C.char, maxID C.uint, idlen *C.size_t, psk *C.uchar, max C.uint, outlen *C.size_t) (ok C.int) {
	var s *SSL
	defer guard(&s, &ok)
	if s = sslFromHandle(h); s == nil {
		return 0
	}
	f := s.ctx.pskClient.Load()
	if f == nil {
		return 0
	}
	var hs string
	if hint != nil {
		hs = C.GoStringN(hint, C.int(hintlen))
	}
	id, key, err := (*f)(s, hs)
	switch {
	case err != nil:
		s.callbackFailed(err)
		return 0
	case id == "" || strings.IndexByte(id, 0) >= 0:
		s.callbackFailed(errors.New("openssl: PSK identity empty or holding a NUL byte"))
		return 0
	case len(id) > int(maxID):
		s.callbackFailed(fmt.Errorf("openssl: PSK identity of %d bytes, limit %d", len(id), int(maxID)))
		return 0
	case len(key) == 0:
		s.callbackFailed(errors.New("openssl: empty pre-shared key"))
		return 0
	case len(key) > int(max):
		s.callbackFailed(fmt.Errorf("openssl: pre-shared key of %d bytes, limit %d", len(key), int(max)))
		return 0
	}
	copy(unsafe.Slice((*byte)(unsafe.Pointer(identity)), int(maxID)), id)
	copy(unsafe.Slice((*byte)(unsafe.Pointer(psk)), int(max)), key)
	*idlen = C.size_t(len(id))
	*outlen = C.size_t(len(key))
	return 1
}

// goALPNSelect is reached from the ALPN select trampoline with the client's
// list in wire format; it writes the index of the chosen protocol (-1 for
// none) at idx.
//
//export goALPNSelect
func goALPNSelect(h C.uintptr_t, in *C.uchar, inlen C.uint, idx *C.int) (ok C.int) {
	var s *SSL
	defer guard(&s, &ok)
	if s = sslFromHandle(h); s == nil {
		return 0
	}
	f := s.ctx.alpn.Load()
	if f == nil {
		return 0
	}
	var wire []byte
	if in != nil && inlen > 0 {
		wire = unsafe.Slice((*byte)(unsafe.Pointer(in)), int(inlen))
	}
	offered, err := parseALPN(wire)
	if err != nil {
		s.callbackFailed(err)
		return 0
	}
	i, err := (*f)(s, offered)
	switch {
	case err != nil:
		s.callbackFailed(err)
		return 0
	case i < -1 || i >= len(offered):
		s.callbackFailed(fmt.Errorf("openssl: ALPN select callback chose index %d of %d protocols", i, len(offered)))
		return 0
	}
	*idx = C.int(i)
	return 1
}

// goKeylog is reached from the key log trampoline with one NSS line.
//
//export goKeylog
func goKeylog(h C.uintptr_t, line *C.char) (ok C.int) {
	var s *SSL
	defer guard(&s, &ok)
	if s = sslFromHandle(h); s == nil {
		return 0
	}
	f := s.ctx.keylog.Load()
	if f == nil {
		return 0
	}
	(*f)(s, C.GoString(line))
	return 1
}

// goServerName is reached from the servername trampoline; on failure it
// writes the alert to send at alert.
//
//export goServerName
func goServerName(h C.uintptr_t, alert *C.int) (ok C.int) {
	var s *SSL
	defer guard(&s, &ok)
	if s = sslFromHandle(h); s == nil {
		return 0
	}
	f := s.ctx.sni.Load()
	if f == nil {
		return 1
	}
	if err := (*f)(s, s.ServerName()); err != nil {
		s.callbackFailed(err)
		if errors.Is(err, AlertUnrecognizedName) {
			*alert = C.int(AlertUnrecognizedName)
		}
		return 0
	}
	return 1
}
