package openssl

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"crypto/tls"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"unsafe"
)

// SRTPProtectionProfile is an SRTP protection profile's id, as the use_srtp
// extension carries it (RFC 5764, 4.1.2; RFC 7714, 14.2).
type SRTPProtectionProfile uint16

// The SRTP protection profiles OpenSSL negotiates, by their IANA names.
const (
	SRTP_AES128_CM_HMAC_SHA1_80 SRTPProtectionProfile = 0x0001
	SRTP_AES128_CM_HMAC_SHA1_32 SRTPProtectionProfile = 0x0002
	SRTP_AEAD_AES_128_GCM       SRTPProtectionProfile = 0x0007
	SRTP_AEAD_AES_256_GCM       SRTPProtectionProfile = 0x0008
)

// srtpNames are OpenSSL's names for the profiles, which
// SSL_CTX_set_tlsext_use_srtp(3) takes (they differ from IANA's).
var srtpNames = map[SRTPProtectionProfile]string{
	SRTP_AES128_CM_HMAC_SHA1_80: "SRTP_AES128_CM_SHA1_80",
	SRTP_AES128_CM_HMAC_SHA1_32: "SRTP_AES128_CM_SHA1_32",
	SRTP_AEAD_AES_128_GCM:       "SRTP_AEAD_AES_128_GCM",
	SRTP_AEAD_AES_256_GCM:       "SRTP_AEAD_AES_256_GCM",
}

// String returns the profile's IANA name, or its id in hex.
func (p SRTPProtectionProfile) String() string {
	switch p {
	case SRTP_AES128_CM_HMAC_SHA1_80:
		return "SRTP_AES128_CM_HMAC_SHA1_80"
	case SRTP_AES128_CM_HMAC_SHA1_32:
		return "SRTP_AES128_CM_HMAC_SHA1_32"
	case SRTP_AEAD_AES_128_GCM:
		return "SRTP_AEAD_AES_128_GCM"
	case SRTP_AEAD_AES_256_GCM:
		return "SRTP_AEAD_AES_256_GCM"
	}
	return fmt.Sprintf("0x%04X", uint16(p))
}

// ParseSRTPProtectionProfile returns the profile named name: its IANA name
// or OpenSSL's (SRTP_AES128_CM_SHA1_80, as `openssl s_server -use_srtp`
// takes it).
func ParseSRTPProtectionProfile(name string) (SRTPProtectionProfile, error) {
	for p, ossl := range srtpNames {
		if name == ossl || name == p.String() {
			return p, nil
		}
	}
	return 0, fmt.Errorf("openssl: unknown SRTP protection profile %q", name)
}

// SetSRTPProtectionProfiles wraps SSL_CTX_set_tlsext_use_srtp(3): a client
// offers the profiles in the use_srtp extension, in this order of
// preference; a server picks the first of the client's it also has. With
// no profile in common the handshake completes without SRTP (RFC 5764,
// 4.1.1): check SRTPProtectionProfile afterwards.
func (c *Ctx) SetSRTPProtectionProfiles(profiles ...SRTPProtectionProfile) error {
	if len(profiles) == 0 {
		return errors.New("openssl: SetSRTPProtectionProfiles: no profile")
	}
	names := make([]string, len(profiles))
	for i, p := range profiles {
		n, ok := srtpNames[p]
		if !ok {
			return fmt.Errorf("openssl: SRTP protection profile %v is not one OpenSSL negotiates", p)
		}
		names[i] = n
	}
	return c.with(func() error {
		cs := C.CString(strings.Join(names, ":"))
		defer C.free(unsafe.Pointer(cs))
		if C.gossl_SSL_CTX_set_tlsext_use_srtp(c.ptr, cs, c.res) != 1 {
			return ctxError("SSL_CTX_set_tlsext_use_srtp", c.res, 0)
		}
		return nil
	})
}

// SRTPProtectionProfile wraps SSL_get_selected_srtp_profile(3): the profile
// the handshake agreed on, or 0 for none.
func (s *SSL) SRTPProtectionProfile() SRTPProtectionProfile {
	nested, err := s.access()
	if err != nil {
		return 0
	}
	defer s.leave(nested)
	defer runtime.KeepAlive(s)
	return SRTPProtectionProfile(C.gossl_SSL_get_selected_srtp_profile(s.ptr))
}

// reservedLabels are the labels TLS itself derives keys with (RFC 5705,
// 4): crypto/tls refuses them, and so does ExportKeyingMaterial.
var reservedLabels = []string{"client finished", "server finished", "master secret", "key expansion"}

// maxExportLength is the most ExportKeyingMaterial derives: TLS 1.3's
// HkdfLabel carries the length in 16 bits (RFC 8446, 7.1), and TLS 1.2
// uses (SRTP keys, channel bindings) need a few dozen bytes.
const maxExportLength = 1<<16 - 1

// ExportKeyingMaterial wraps SSL_export_keying_material(3): length bytes
// derived from the connection's secrets (RFC 5705; RFC 8446, 7.5), as
// crypto/tls's ConnectionState.ExportKeyingMaterial. A nil context is no
// context, which differs from an empty one. As in crypto/tls, it fails
// before the handshake has completed, for the labels TLS reserves, and on a
// TLS 1.2 or DTLS connection without the extended master secret (RFC 7627),
// whose exported keys a man in the middle could share, and for a length
// above 65535 bytes.
func (s *SSL) ExportKeyingMaterial(label string, context []byte, length int) ([]byte, error) {
	nested, err := s.access()
	if err != nil {
		return nil, err
	}
	defer s.leave(nested)
	defer runtime.KeepAlive(s)
	switch {
	case length < 0:
		return nil, fmt.Errorf("openssl: ExportKeyingMaterial: negative length %d", length)
	case length > maxExportLength:
		return nil, fmt.Errorf("openssl: ExportKeyingMaterial: length %d is more than %d bytes", length, maxExportLength)
	case C.SSL_is_init_finished(s.ptr) != 1:
		return nil, errors.New("openssl: ExportKeyingMaterial: the handshake has not completed")
	}
	for _, r := range reservedLabels {
		if label == r {
			return nil, fmt.Errorf("openssl: ExportKeyingMaterial: label %q is reserved", label)
		}
	}
	if C.SSL_version(s.ptr) != C.TLS1_3_VERSION && C.gossl_SSL_get_extms_support(s.ptr) != 1 {
		return nil, errors.New("openssl: ExportKeyingMaterial is unavailable without the extended master secret (RFC 7627) or TLS 1.3")
	}
	out := make([]byte, length)
	lbl := C.CString(label)
	defer C.free(unsafe.Pointer(lbl))
	var ctxp *C.uchar
	useContext := C.int(0)
	if context != nil {
		useContext = 1
		if len(context) > 0 {
			ctxp = (*C.uchar)(C.CBytes(context))
			defer C.free(unsafe.Pointer(ctxp))
		}
	}
	var outp *C.uchar
	if length > 0 {
		outp = (*C.uchar)(unsafe.Pointer(&out[0]))
	}
	if C.gossl_SSL_export_keying_material(s.ptr, outp, C.size_t(length), lbl, C.size_t(len(label)),
		ctxp, C.size_t(len(context)), useContext, cBool(nested), s.res) != 1 {
		return nil, newError("SSL_export_keying_material", s.res, codeNotAvailable, nil)
	}
	return out, nil
}

// ProtocolVersion wraps SSL_version(3): the version negotiated (or, before
// that, the one the SSL tries), as the wire carries it.
func (s *SSL) ProtocolVersion() Version {
	nested, err := s.access()
	if err != nil {
		return 0
	}
	defer s.leave(nested)
	defer runtime.KeepAlive(s)
	return Version(C.SSL_version(s.ptr))
}

// CipherSuite wraps SSL_CIPHER_get_protocol_id(SSL_get_current_cipher(3)):
// the negotiated suite's IANA id, as crypto/tls's ConnectionState has it;
// false before a suite is chosen. CipherSuiteName names it.
func (s *SSL) CipherSuite() (uint16, bool) {
	nested, err := s.access()
	if err != nil {
		return 0, false
	}
	defer s.leave(nested)
	defer runtime.KeepAlive(s)
	id := C.gossl_SSL_get_cipher_id(s.ptr)
	return uint16(id), id >= 0
}

// ServerName wraps SSL_get_servername(3): on a server, the name the client
// sent in its server_name extension; on a client, the one it set. "" for
// none.
func (s *SSL) ServerName() string {
	nested, err := s.access()
	if err != nil {
		return ""
	}
	defer s.leave(nested)
	defer runtime.KeepAlive(s)
	if n := C.SSL_get_servername(s.ptr, C.TLSEXT_NAMETYPE_host_name); n != nil {
		return C.GoString(n)
	}
	return ""
}

type suiteNames struct{ iana, openssl string }

// cipherSuites lists every suite the library knows, once.
var cipherSuites = sync.OnceValue(func() map[uint16]suiteNames {
	const max = 1024
	ids := make([]C.uint16_t, max)
	buf := make([]byte, 64<<10)
	n := int(C.gossl_cipher_suites(&ids[0], max, (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf))))
	m := make(map[uint16]suiteNames, n)
	rest := buf
	next := func() string {
		i := 0
		for i < len(rest) && rest[i] != 0 {
			i++
		}
		s := string(rest[:i])
		rest = rest[min(i+1, len(rest)):]
		return s
	}
	for i := 0; i < n; i++ {
		iana := next()
		m[uint16(ids[i])] = suiteNames{iana: iana, openssl: next()}
	}
	return m
})

// CipherSuiteName returns the IANA name of the cipher suite with id
// ("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"), as crypto/tls's
// CipherSuiteName does, for every suite the linked OpenSSL knows; an
// unknown id is returned in hex. OpenSSL 1.1.1 keeps the IANA names only
// when built with enable-ssl-trace (Debian's and most distributions' are
// not): there the names come from crypto/tls, and a suite crypto/tls does
// not have (PSK, CCM, ARIA, ...) is returned in hex; CipherSuiteOpenSSLName
// still names it.
func CipherSuiteName(id uint16) string {
	if s, ok := cipherSuites()[id]; ok && s.iana != "" {
		return s.iana
	}
	return tls.CipherSuiteName(id)
}

// CipherSuiteOpenSSLName returns OpenSSL's name for the cipher suite with
// id ("ECDHE-ECDSA-AES128-GCM-SHA256"), the one cipher strings and
// `openssl s_client` use; "" if the linked OpenSSL does not know it.
func CipherSuiteOpenSSLName(id uint16) string {
	return cipherSuites()[id].openssl
}
