package openssl

// The build flags and the cgo marks live here alone, so that porting to
// another way of finding OpenSSL touches one file. Each noescape/nocallback
// pair matches a prototype marked "go: noescape nocallback" in
// include/shim.h (TestCgoMarks checks it): C keeps no pointer it is given
// and calls no Go function.

/*
#cgo pkg-config: libssl libcrypto
#cgo CFLAGS: -I${SRCDIR}/include -Wall -Wno-deprecated-declarations
#cgo noescape gossl_DTLSv1_get_timeout
#cgo nocallback gossl_DTLSv1_get_timeout
#cgo noescape gossl_SSL_free_buffers
#cgo nocallback gossl_SSL_free_buffers
#cgo noescape gossl_DTLSv1_get_timeout_idle
#cgo nocallback gossl_DTLSv1_get_timeout_idle
#cgo noescape gossl_i2d_X509
#cgo nocallback gossl_i2d_X509
#cgo noescape gossl_BIO_read
#cgo nocallback gossl_BIO_read
#cgo noescape gossl_BIO_write
#cgo nocallback gossl_BIO_write
#cgo noescape gossl_BIO_dgram_get_peer
#cgo nocallback gossl_BIO_dgram_get_peer
#cgo noescape gossl_BIO_dgram_set_peer
#cgo nocallback gossl_BIO_dgram_set_peer
#cgo noescape gossl_BIO_ctrl_set_connected
#cgo nocallback gossl_BIO_ctrl_set_connected
#cgo noescape gossl_BIO_ADDR_get
#cgo nocallback gossl_BIO_ADDR_get
#cgo noescape gossl_BIO_ADDR_rawmake
#cgo nocallback gossl_BIO_ADDR_rawmake
#cgo noescape gossl_in_callback
#cgo nocallback gossl_in_callback
#include "shim.h"
*/
import "C"
