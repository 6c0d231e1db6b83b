package openssl

// The build flags live here alone, so that porting to another way of
// finding OpenSSL touches one file.

/*
#cgo pkg-config: libssl libcrypto
#cgo CFLAGS: -I${SRCDIR}/include -Wall -Wno-deprecated-declarations
#cgo noescape gossl_ssl_get_timeout
#cgo nocallback gossl_ssl_get_timeout
#cgo noescape gossl_bio_read
#cgo nocallback gossl_bio_read
#cgo noescape gossl_bio_get_peer
#cgo nocallback gossl_bio_get_peer
#cgo noescape gossl_bio_set_peer
#cgo nocallback gossl_bio_set_peer
#cgo noescape gossl_bio_set_connected
#cgo nocallback gossl_bio_set_connected
#cgo noescape gossl_addr_get
#cgo nocallback gossl_addr_get
#cgo noescape gossl_addr_set
#cgo nocallback gossl_addr_set
#include "shim.h"
*/
import "C"

func init() {
	if C.gossl_init() != 1 {
		panic("openssl: initialisation failed (ex_data index or BIO method)")
	}
}

// VersionText returns OpenSSL_version(OPENSSL_VERSION): the version of the
// library this process runs against.
func VersionText() string {
	return C.GoString(C.OpenSSL_version(C.OPENSSL_VERSION))
}

// VersionNumber returns OpenSSL_version_num(3).
func VersionNumber() uint64 {
	return uint64(C.OpenSSL_version_num())
}

// ErrorQueueEmpty reports whether OpenSSL's error queue of the calling OS
// thread is empty (ERR_peek_error(3) == 0). Every operation of this package
// drains the queue before returning, so this holds after any call; it is
// here for code that mixes this package with its own C, and for tests. Pin
// the goroutine with runtime.LockOSThread for the answer to mean anything.
func ErrorQueueEmpty() bool {
	return C.ERR_peek_error() == 0
}
