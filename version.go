package openssl

/*
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
