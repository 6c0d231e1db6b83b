//go:build !cgo

package openssl

// This file is built only when cgo is off (CGO_ENABLED=0, or no C compiler
// found by go build). Every file that calls OpenSSL imports "C", and the
// files built on them carry //go:build cgo: all are left out then, so the
// compiler's first error would otherwise be a puzzling "undefined: SSL".
// The undefined name below is the message instead.

type _ openssl_stateless_requires_cgo__set_CGO_ENABLED_1_and_install_gcc_and_libssl_dev
