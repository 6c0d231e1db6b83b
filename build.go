package openssl

// The build flags live here alone, so that porting to another way of
// finding OpenSSL touches one file.

/*
#cgo pkg-config: libssl libcrypto
#cgo CFLAGS: -I${SRCDIR}/include -Wall -Wno-deprecated-declarations
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
