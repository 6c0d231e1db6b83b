package openssl

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Method selects the SSL_METHOD a Ctx is built on.
type Method int

// The methods NewCtx accepts. The DTLS ones negotiate DTLS 1.0 or 1.2, the
// TLS ones TLS 1.0 to 1.3, within the bounds set with SetMinProtoVersion and
// SetMaxProtoVersion.
const (
	DTLSServerMethod Method = C.GOSSL_METHOD_DTLS_SERVER // DTLS_server_method(3)
	DTLSClientMethod Method = C.GOSSL_METHOD_DTLS_CLIENT // DTLS_client_method(3)
	DTLSMethod       Method = C.GOSSL_METHOD_DTLS        // DTLS_method(3)
	TLSServerMethod  Method = C.GOSSL_METHOD_TLS_SERVER  // TLS_server_method(3)
	TLSClientMethod  Method = C.GOSSL_METHOD_TLS_CLIENT  // TLS_client_method(3)
	TLSMethod        Method = C.GOSSL_METHOD_TLS         // TLS_method(3)
)

// String returns the name of the OpenSSL function behind the method.
func (m Method) String() string {
	switch m {
	case DTLSServerMethod:
		return "DTLS_server_method"
	case DTLSClientMethod:
		return "DTLS_client_method"
	case DTLSMethod:
		return "DTLS_method"
	case TLSServerMethod:
		return "TLS_server_method"
	case TLSClientMethod:
		return "TLS_client_method"
	case TLSMethod:
		return "TLS_method"
	}
	return fmt.Sprintf("Method(%d)", int(m))
}

// IsDTLS reports whether m is one of the DTLS methods.
func (m Method) IsDTLS() bool { return m >= DTLSServerMethod && m <= DTLSMethod }

// Version is a protocol version as OpenSSL numbers it on the wire.
type Version int

// Protocol versions for SetMinProtoVersion and SetMaxProtoVersion. Zero means
// "the lowest (or highest) the library supports".
const (
	VersionTLS10  Version = C.TLS1_VERSION
	VersionTLS11  Version = C.TLS1_1_VERSION
	VersionTLS12  Version = C.TLS1_2_VERSION
	VersionTLS13  Version = C.TLS1_3_VERSION
	VersionDTLS10 Version = C.DTLS1_VERSION
	VersionDTLS12 Version = C.DTLS1_2_VERSION
)

// Options are SSL_OP_* bits for SetOptions (SSL_CTX_set_options(3)).
type Options uint64

// The options users of this package reach for. Any other SSL_OP_* value can
// be passed as Options(value).
const (
	OpCookieExchange         Options = C.SSL_OP_COOKIE_EXCHANGE
	OpNoQueryMTU             Options = C.SSL_OP_NO_QUERY_MTU
	OpNoTicket               Options = C.SSL_OP_NO_TICKET
	OpNoCompression          Options = C.SSL_OP_NO_COMPRESSION
	OpCipherServerPreference Options = C.SSL_OP_CIPHER_SERVER_PREFERENCE
	OpNoRenegotiation        Options = C.SSL_OP_NO_RENEGOTIATION
	OpEnableMiddleboxCompat  Options = C.SSL_OP_ENABLE_MIDDLEBOX_COMPAT
	OpNoTLSv13               Options = C.SSL_OP_NO_TLSv1_3
	OpNoAntiReplay           Options = C.SSL_OP_NO_ANTI_REPLAY
	OpAllowNoDHEKex          Options = C.SSL_OP_ALLOW_NO_DHE_KEX
	OpPreferChaCha           Options = C.SSL_OP_PRIORITIZE_CHACHA
	OpLegacyServerConnect    Options = C.SSL_OP_LEGACY_SERVER_CONNECT
	OpAll                    Options = C.SSL_OP_ALL
	// OpNoEncryptThenMAC turns off RFC 7366 for CBC suites. In DTLS, OpenSSL
	// (1.1.1 to 3.x) treats an encrypt-then-MAC record whose MAC fails as
	// fatal, where a MAC-then-encrypt one that fails is dropped.
	OpNoEncryptThenMAC Options = C.SSL_OP_NO_ENCRYPT_THEN_MAC
	// OpIgnoreUnexpectedEOF is 0 (no effect) on OpenSSL 1.1.1, which has no
	// such option and already treats an EOF without close_notify as EOF.
	OpIgnoreUnexpectedEOF Options = C.GOSSL_OP_IGNORE_UNEXPECTED_EOF
)

// Mode is SSL_MODE_* bits for SetMode (SSL_CTX_set_mode(3)).
type Mode int64

// The modes users of this package reach for. Any other SSL_MODE_* value can
// be passed as Mode(value).
const (
	// ModeReleaseBuffers frees a connection's read and write buffers
	// while it has nothing pending, and takes them again for the next
	// record: the memory of an idle connection, for an allocation per
	// busy record.
	ModeReleaseBuffers Mode = C.SSL_MODE_RELEASE_BUFFERS
	// ModeAutoRetry is on by default since OpenSSL 1.1.1.
	ModeAutoRetry Mode = C.SSL_MODE_AUTO_RETRY
)

// VerifyMode is the mode of SSL_CTX_set_verify(3).
type VerifyMode int

// Verification modes; combine with |.
const (
	VerifyNone              VerifyMode = C.SSL_VERIFY_NONE
	VerifyPeer              VerifyMode = C.SSL_VERIFY_PEER
	VerifyFailIfNoPeerCert  VerifyMode = C.SSL_VERIFY_FAIL_IF_NO_PEER_CERT
	VerifyClientOnce        VerifyMode = C.SSL_VERIFY_CLIENT_ONCE
	VerifyRequireClientCert            = VerifyPeer | VerifyFailIfNoPeerCert
)

const (
	cookieDTLS      = C.GOSSL_COOKIE_DTLS
	cookieStateless = C.GOSSL_COOKIE_STATELESS
)

// genFunc writes a cookie into dst (C memory of the protocol's limit) and
// returns its length. The public callback shape is wrapped into this one so
// that CookieSigner can fill OpenSSL's buffer without allocating.
type genFunc func(s *SSL, dst []byte) (int, error)

type verifyFunc func(s *SSL, cookie []byte) bool

// Ctx wraps an SSL_CTX: the configuration shared by many SSL objects.
//
// A Ctx is safe for concurrent use. Configure it before creating SSL objects
// from it; OpenSSL copies some settings into each SSL at SSL_new time.
// Methods of a nil *Ctx, or of one NewCtx did not make, return an error for
// which errors.Is(err, ErrInvalidObject) holds, or their zero value.
type Ctx struct {
	mu      sync.Mutex
	ptr     *C.SSL_CTX
	res     *C.gossl_result
	method  Method
	cleanup runtime.Cleanup

	gen        [2]atomic.Pointer[genFunc]
	verify     [2]atomic.Pointer[verifyFunc]
	certVerify atomic.Pointer[certVerifyFunc]

	// The callbacks of the IoT features (psk.go, alpn.go, keylog.go,
	// certificate.go).
	pskServer atomic.Pointer[pskServerFunc]
	pskClient atomic.Pointer[pskClientFunc]
	alpn      atomic.Pointer[alpnSelectFunc] // alpn.go
	keylog    atomic.Pointer[keylogFunc]     // keylog.go
	sni       atomic.Pointer[serverNameFunc] // certificate.go
}

type certVerifyFunc func(s *SSL, chain []*x509.Certificate) error

type ctxResources struct {
	ptr *C.SSL_CTX
	res *C.gossl_result
}

func freeCtx(r ctxResources) {
	C.SSL_CTX_free(r.ptr)
	C.free(unsafe.Pointer(r.res))
}

// NewCtx wraps SSL_CTX_new(3) with the given method.
func NewCtx(m Method) (*Ctx, error) {
	if m < DTLSServerMethod || m > TLSMethod {
		return nil, fmt.Errorf("openssl: NewCtx: unknown method %d", int(m))
	}
	res := newResult()
	ptr := C.gossl_SSL_CTX_new(C.int(m), res)
	if ptr == nil {
		err := newError("SSL_CTX_new", res, codeNotAvailable, nil)
		C.free(unsafe.Pointer(res))
		return nil, err
	}
	c := &Ctx{ptr: ptr, res: res, method: m}
	c.cleanup = runtime.AddCleanup(c, freeCtx, ctxResources{ptr, res})
	return c, nil
}

// Method returns the method the Ctx was created with (0 for a nil Ctx).
func (c *Ctx) Method() Method {
	if c == nil {
		return 0
	}
	return c.method // set by NewCtx, never changed
}

// check says why c cannot be used at all: nil, or not made by NewCtx.
// (A closed Ctx is found by with.)
func (c *Ctx) check() error {
	switch {
	case c == nil:
		return errNilCtx
	case c.method == 0:
		return errZeroCtx
	}
	return nil
}

// Close wraps SSL_CTX_free(3). SSL objects created from the Ctx keep working:
// OpenSSL counts their references to it. Close is idempotent. Close of a nil
// *Ctx returns an error, as (*os.File)(nil).Close does.
func (c *Ctx) Close() error {
	if err := c.check(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ptr == nil {
		return nil
	}
	c.cleanup.Stop()
	freeCtx(ctxResources{c.ptr, c.res})
	c.ptr, c.res = nil, nil
	return nil
}

// with runs f with the lock held and the Ctx open.
func (c *Ctx) with(f func() error) error {
	if err := c.check(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ptr == nil {
		return ErrClosed
	}
	err := f()
	runtime.KeepAlive(c)
	return err
}

// setFreeMark marks the SSL_CTX so that its freeing can be seen
// (freedMark): the cleanup test's proof. mark must not be 0.
func (c *Ctx) setFreeMark(mark uintptr) error {
	return c.with(func() error {
		if C.gossl_SSL_CTX_set_mark(c.ptr, C.uintptr_t(mark)) != 1 {
			return errors.New("openssl: SSL_CTX_set_ex_data failed")
		}
		return nil
	})
}

// freedMark returns the mark of the last marked SSL_CTX OpenSSL freed.
func freedMark() uintptr { return uintptr(C.gossl_SSL_CTX_mark_freed()) }

func cBytes(b []byte) (*C.char, C.int) {
	if len(b) == 0 {
		return nil, 0
	}
	return (*C.char)(unsafe.Pointer(&b[0])), C.int(len(b))
}

// UseCertificateFile loads a PEM certificate, followed by its chain, from a
// file (as SSL_CTX_use_certificate_chain_file(3) does). A missing file gives
// an error for which errors.Is(err, fs.ErrNotExist) holds.
func (c *Ctx) UseCertificateFile(path string) error {
	if err := c.check(); err != nil {
		return err
	}
	pem, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("openssl: certificate: %w", err)
	}
	if err := c.UseCertificatePEM(pem); err != nil {
		return fmt.Errorf("openssl: certificate file %s: %w", path, err)
	}
	return nil
}

// UsePrivateKeyFile loads a PEM private key from a file
// (SSL_CTX_use_PrivateKey_file(3)). Encrypted keys are refused rather than
// prompting on the terminal. If a certificate is loaded, the key must match
// it: otherwise errors.Is(err, ErrKeyMismatch) holds.
func (c *Ctx) UsePrivateKeyFile(path string) error {
	if err := c.check(); err != nil {
		return err
	}
	pem, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("openssl: private key: %w", err)
	}
	if err := c.UsePrivateKeyPEM(pem); err != nil {
		return fmt.Errorf("openssl: private key file %s: %w", path, err)
	}
	return nil
}

// UseCertificatePEM loads a leaf certificate and any chain certificates that
// follow it from PEM bytes (PEM_read_bio_X509_AUX(3),
// SSL_CTX_use_certificate(3), SSL_CTX_add0_chain_cert(3)). On a Ctx that
// has a key already, a certificate that does not match it is installed
// all the same, and OpenSSL drops the key (the error then wraps
// ErrKeyMismatch): the Ctx serves no handshake until UsePrivateKeyPEM
// gives the matching key. To change certificates while serving, give
// connections a Certificate (NewCertificate, SSL.UseCertificate, from
// SetServerNameCallback), or make a new Ctx.
func (c *Ctx) UseCertificatePEM(pem []byte) error {
	return c.with(func() error {
		p, n := cBytes(pem)
		if ret := C.gossl_SSL_CTX_use_certificate_PEM(c.ptr, p, n, c.res); ret != 1 {
			return ctxError("SSL_CTX_use_certificate", c.res, ret)
		}
		return nil
	})
}

// UsePrivateKeyPEM loads a private key from PEM bytes
// (PEM_read_bio_PrivateKey(3), SSL_CTX_use_PrivateKey(3)) and checks it
// against the loaded certificate (SSL_CTX_check_private_key(3)).
func (c *Ctx) UsePrivateKeyPEM(pem []byte) error {
	return c.with(func() error {
		p, n := cBytes(pem)
		if ret := C.gossl_SSL_CTX_use_PrivateKey_PEM(c.ptr, p, n, c.res); ret != 1 {
			return ctxError("SSL_CTX_use_PrivateKey", c.res, ret)
		}
		return nil
	})
}

// AddCAPEM adds every certificate in the PEM bytes to the trust store used
// to verify peers (X509_STORE_add_cert(3)) and to the list of CA names a
// server sends when it asks for a client certificate (SSL_CTX_add_client_CA(3)).
func (c *Ctx) AddCAPEM(pem []byte) error {
	return c.with(func() error {
		p, n := cBytes(pem)
		if ret := C.gossl_X509_STORE_add_cert_PEM(c.ptr, p, n, c.res); ret <= 0 {
			return ctxError("X509_STORE_add_cert", c.res, ret)
		}
		return nil
	})
}

// LoadVerifyLocations wraps SSL_CTX_load_verify_locations(3): a PEM file of
// trusted certificates, a hashed directory, or both ("" for neither).
func (c *Ctx) LoadVerifyLocations(caFile, caDir string) error {
	if err := c.check(); err != nil {
		return err
	}
	if caFile == "" && caDir == "" {
		return fmt.Errorf("openssl: LoadVerifyLocations: no file and no directory given")
	}
	if caFile != "" {
		if _, err := os.Stat(caFile); err != nil {
			return fmt.Errorf("openssl: CA file: %w", err)
		}
	}
	if caDir != "" {
		if _, err := os.Stat(caDir); err != nil {
			return fmt.Errorf("openssl: CA directory: %w", err)
		}
	}
	return c.with(func() error {
		var f, d *C.char
		if caFile != "" {
			f = C.CString(caFile)
			defer C.free(unsafe.Pointer(f))
		}
		if caDir != "" {
			d = C.CString(caDir)
			defer C.free(unsafe.Pointer(d))
		}
		if C.gossl_SSL_CTX_load_verify_locations(c.ptr, f, d, c.res) != 1 {
			return ctxError("SSL_CTX_load_verify_locations", c.res, 0)
		}
		return nil
	})
}

// SetDefaultVerifyPaths wraps SSL_CTX_set_default_verify_paths(3): trust the
// system's certificate store.
func (c *Ctx) SetDefaultVerifyPaths() error {
	return c.with(func() error {
		if C.gossl_SSL_CTX_set_default_verify_paths(c.ptr, c.res) != 1 {
			return ctxError("SSL_CTX_set_default_verify_paths", c.res, 0)
		}
		return nil
	})
}

// SetVerify wraps SSL_CTX_set_verify(3) and, when depth >= 0,
// SSL_CTX_set_verify_depth(3).
func (c *Ctx) SetVerify(mode VerifyMode, depth int) error {
	return c.with(func() error {
		C.SSL_CTX_set_verify(c.ptr, C.int(mode), nil)
		if depth >= 0 {
			C.SSL_CTX_set_verify_depth(c.ptr, C.int(depth))
		}
		return nil
	})
}

// SetCertVerifyCallback replaces OpenSSL's chain verification with f
// (SSL_CTX_set_cert_verify_callback(3)), called during the handshake with
// the chain the peer sent, leaf first, parsed by crypto/x509: verify it
// with x509.Certificate.Verify against an x509.CertPool, as crypto/tls
// does. A non-nil error (or a panic) refuses the peer: OpenSSL sends it a
// fatal alert, the handshake fails, and the error is the cause of the
// handshake's *Error. It runs when the peer sends certificates and the
// verify mode (SetVerify) asks for them: VerifyPeer on a client, VerifyPeer
// with or without VerifyFailIfNoPeerCert on a server (with VerifyNone,
// OpenSSL's own verification runs, whose result a client ignores). nil
// restores OpenSSL's own verification. f replaces all of it, the name
// check SSL.SetHost asks for included: check the name in f
// (x509.VerifyOptions.DNSName). The alert the peer gets is crypto/tls's
// for the error: unknown_ca for an x509.UnknownAuthorityError,
// certificate_expired for an expired certificate, else bad_certificate. The chain's certificates are shared with
// every connection that received the same ones (see PeerCertificates):
// f must not modify them.
func (c *Ctx) SetCertVerifyCallback(f func(s *SSL, chain []*x509.Certificate) error) error {
	return c.with(func() error {
		if f == nil {
			c.certVerify.Store(nil)
		} else {
			fn := certVerifyFunc(f)
			c.certVerify.Store(&fn)
		}
		C.gossl_SSL_CTX_set_cert_verify_callback(c.ptr, cBool(f != nil))
		return nil
	})
}

// verifyCode is the X509_V_ERR_* code whose alert crypto/tls would send for
// a refused certificate: unknown_ca for a chain to no trusted root,
// certificate_expired for a certificate out of its validity, and
// bad_certificate for the rest (a name mismatch, a callback's own
// refusal), where a bare failure would give handshake_failure.
func verifyCode(err error) C.int {
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(err, &unknown):
		return C.X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return C.X509_V_ERR_CERT_HAS_EXPIRED
	}
	return C.X509_V_ERR_CERT_REJECTED
}

// SetMinProtoVersion wraps SSL_CTX_set_min_proto_version(3).
func (c *Ctx) SetMinProtoVersion(v Version) error {
	return c.setProto(C.GOSSL_PROTO_MIN, v)
}

// SetMaxProtoVersion wraps SSL_CTX_set_max_proto_version(3).
func (c *Ctx) SetMaxProtoVersion(v Version) error {
	return c.setProto(C.GOSSL_PROTO_MAX, v)
}

func (c *Ctx) setProto(which C.int, v Version) error {
	if err := c.check(); err != nil {
		return err
	}
	// OpenSSL 3.0 accepts a TLS version on a DTLS SSL_CTX (and the reverse
	// fails only sometimes), leaving a bound that no handshake can meet.
	valid := v == 0
	if c.method.IsDTLS() {
		valid = valid || v == VersionDTLS10 || v == VersionDTLS12
	} else {
		valid = valid || (v >= VersionTLS10 && v <= VersionTLS13)
	}
	if !valid {
		return fmt.Errorf("openssl: protocol version %#x not valid for %s", int(v), c.method)
	}
	return c.with(func() error {
		if C.gossl_SSL_CTX_set_proto_version(c.ptr, which, C.int(v), c.res) != 1 {
			op := "SSL_CTX_set_min_proto_version"
			if which == C.GOSSL_PROTO_MAX {
				op = "SSL_CTX_set_max_proto_version"
			}
			return ctxError(op, c.res, 0)
		}
		return nil
	})
}

// MinProtoVersion wraps SSL_CTX_get_min_proto_version(3); 0 means no bound.
func (c *Ctx) MinProtoVersion() Version {
	var v Version
	_ = c.with(func() error { v = Version(C.gossl_SSL_CTX_get_proto_version(c.ptr, C.GOSSL_PROTO_MIN)); return nil })
	return v
}

// MaxProtoVersion wraps SSL_CTX_get_max_proto_version(3); 0 means no bound.
func (c *Ctx) MaxProtoVersion() Version {
	var v Version
	_ = c.with(func() error { v = Version(C.gossl_SSL_CTX_get_proto_version(c.ptr, C.GOSSL_PROTO_MAX)); return nil })
	return v
}

// SetCipherList wraps SSL_CTX_set_cipher_list(3): the OpenSSL cipher string
// for TLS 1.2 and DTLS.
func (c *Ctx) SetCipherList(list string) error {
	if err := noNUL("cipher list", list); err != nil {
		return err
	}
	return c.with(func() error {
		cs := C.CString(list)
		defer C.free(unsafe.Pointer(cs))
		if C.gossl_SSL_CTX_set_cipher_list(c.ptr, cs, c.res) != 1 {
			return ctxError("SSL_CTX_set_cipher_list", c.res, 0)
		}
		return nil
	})
}

// SetCiphersuites wraps SSL_CTX_set_ciphersuites(3): the TLS 1.3 suites.
func (c *Ctx) SetCiphersuites(list string) error {
	if err := noNUL("cipher suites", list); err != nil {
		return err
	}
	return c.with(func() error {
		cs := C.CString(list)
		defer C.free(unsafe.Pointer(cs))
		if C.gossl_SSL_CTX_set_ciphersuites(c.ptr, cs, c.res) != 1 {
			return ctxError("SSL_CTX_set_ciphersuites", c.res, 0)
		}
		return nil
	})
}

// SetOptions wraps SSL_CTX_set_options(3) and returns the options now set.
func (c *Ctx) SetOptions(o Options) Options {
	var out Options
	_ = c.with(func() error { out = Options(C.gossl_SSL_CTX_set_options(c.ptr, C.uint64_t(o), 0)); return nil })
	return out
}

// ClearOptions wraps SSL_CTX_clear_options(3) and returns the options now set.
func (c *Ctx) ClearOptions(o Options) Options {
	var out Options
	_ = c.with(func() error { out = Options(C.gossl_SSL_CTX_set_options(c.ptr, 0, C.uint64_t(o))); return nil })
	return out
}

// Options wraps SSL_CTX_get_options(3).
func (c *Ctx) Options() Options {
	return c.SetOptions(0)
}

// SetMode wraps SSL_CTX_set_mode(3) and returns the modes now set. SSLs
// made from the Ctx afterwards take its modes.
func (c *Ctx) SetMode(m Mode) Mode {
	var out Mode
	_ = c.with(func() error { out = Mode(C.gossl_SSL_CTX_set_mode(c.ptr, C.long(m), 0)); return nil })
	return out
}

// SetReadAhead wraps SSL_CTX_set_read_ahead(3): TLS SSLs made from c
// afterwards read from their BIO as much as their read buffer holds, not
// one record at a time: fewer reads of a socket BIO for a bulk reader.
// DTLS reads a datagram at a time either way. StreamConn works either way.
func (c *Ctx) SetReadAhead(on bool) error {
	return c.with(func() error {
		v := C.int(0)
		if on {
			v = 1
		}
		C.gossl_SSL_CTX_set_read_ahead(c.ptr, v)
		return nil
	})
}

// SetMaxSendFragment wraps SSL_CTX_set_max_send_fragment(3): the largest
// plaintext record the SSLs of c write, from 512 to 16384 bytes (the
// default). OpenSSL sizes an SSL's write buffer from it: a DTLS SSL whose
// records never exceed its MTU needs no 17 KiB buffer. Over TLS, SSL_write
// splits longer data into records of this size; over DTLS, a longer
// SSL_write fails (SSL_R_EXCEEDS_MAX_FRAGMENT_SIZE), and handshake messages
// are fragmented to it as to the MTU.
func (c *Ctx) SetMaxSendFragment(n int) error {
	if n < 512 || n > 16384 {
		return fmt.Errorf("openssl: SetMaxSendFragment: %d outside [512, 16384]", n)
	}
	return c.with(func() error {
		if C.gossl_SSL_CTX_set_max_send_fragment(c.ptr, C.long(n), c.res) != 1 {
			return ctxError("SSL_CTX_set_max_send_fragment", c.res, 0)
		}
		return nil
	})
}

// SetMaxFragmentLength wraps SSL_CTX_set_tlsext_max_fragment_length(3): a
// client asks the server (RFC 6066's max_fragment_length extension) to
// send records of at most n bytes, 512, 1024, 2048 or 4096; 0 asks for
// nothing, the default. A server that accepts it keeps to it (and from
// OpenSSL 3.2 on, both sides' read buffers shrink to fit; 16.7 KiB
// otherwise); one that does not ignores it. Over TLS 1.2 and DTLS 1.2 the
// client's own records keep to it too.
func (c *Ctx) SetMaxFragmentLength(n int) error {
	mode, ok := maxFragmentModes[n]
	if !ok {
		return fmt.Errorf("openssl: SetMaxFragmentLength: %d is not 0, 512, 1024, 2048 or 4096", n)
	}
	return c.with(func() error {
		if C.gossl_SSL_CTX_set_max_fragment_length(c.ptr, mode, c.res) != 1 {
			return ctxError("SSL_CTX_set_tlsext_max_fragment_length", c.res, 0)
		}
		return nil
	})
}

// maxFragmentModes maps RFC 6066's lengths to their codes.
var maxFragmentModes = map[int]C.uint8_t{0: 0, 512: 1, 1024: 2, 2048: 3, 4096: 4}

// ClearMode wraps SSL_CTX_clear_mode(3) and returns the modes now set.
func (c *Ctx) ClearMode(m Mode) Mode {
	var out Mode
	_ = c.with(func() error { out = Mode(C.gossl_SSL_CTX_set_mode(c.ptr, 0, C.long(m))); return nil })
	return out
}

// SetQuietShutdown wraps SSL_CTX_set_quiet_shutdown(3).
func (c *Ctx) SetQuietShutdown(on bool) error {
	return c.with(func() error {
		C.SSL_CTX_set_quiet_shutdown(c.ptr, cBool(on))
		return nil
	})
}

func cBool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// SetCookieGenerateCallback registers f as the DTLS cookie generator
// (SSL_CTX_set_cookie_generate_cb(3)), reached through a C trampoline. The
// cookie must be 1 to 255 bytes. If f returns an error, a cookie over the
// limit, or panics, OpenSSL sees a failure and DTLSv1Listen returns that
// error (or re-raises the panic) on the calling goroutine. nil removes the
// callback.
func (c *Ctx) SetCookieGenerateCallback(f func(s *SSL) ([]byte, error)) error {
	return c.setGen(cookieDTLS, wrapGenerate(f))
}

// SetCookieVerifyCallback registers f as the DTLS cookie verifier
// (SSL_CTX_set_cookie_verify_cb(3)). cookie aliases OpenSSL's buffer and is
// valid only during the call. A panic counts as a rejected cookie and is
// re-raised on the goroutine that called DTLSv1Listen. nil removes it.
func (c *Ctx) SetCookieVerifyCallback(f func(s *SSL, cookie []byte) bool) error {
	return c.setVerify(cookieDTLS, f)
}

// SetStatelessCookieGenerateCallback registers f as the TLS 1.3 cookie
// generator (SSL_CTX_set_stateless_cookie_generate_cb(3)). The cookie must be
// 1 to 255 bytes: OpenSSL offers a 4096-byte buffer but writes the cookie
// behind a one-byte length. Failures are handled as for
// SetCookieGenerateCallback.
func (c *Ctx) SetStatelessCookieGenerateCallback(f func(s *SSL) ([]byte, error)) error {
	return c.setGen(cookieStateless, wrapGenerate(f))
}

// SetStatelessCookieVerifyCallback registers f as the TLS 1.3 cookie
// verifier (SSL_CTX_set_stateless_cookie_verify_cb(3)).
func (c *Ctx) SetStatelessCookieVerifyCallback(f func(s *SSL, cookie []byte) bool) error {
	return c.setVerify(cookieStateless, f)
}

func wrapGenerate(f func(s *SSL) ([]byte, error)) genFunc {
	if f == nil {
		return nil
	}
	return func(s *SSL, dst []byte) (int, error) {
		cookie, err := f(s)
		if err != nil {
			return 0, err
		}
		if len(cookie) > len(dst) {
			return 0, fmt.Errorf("%w: %d bytes, limit %d", ErrCookieTooLong, len(cookie), len(dst))
		}
		return copy(dst, cookie), nil
	}
}

func (c *Ctx) setGen(kind int, f genFunc) error {
	return c.with(func() error {
		if f == nil {
			c.gen[kind].Store(nil)
		} else {
			c.gen[kind].Store(&f)
		}
		C.gossl_SSL_CTX_set_cookie_cb(c.ptr, C.int(kind), C.GOSSL_COOKIE_GENERATE, cBool(f != nil))
		return nil
	})
}

func (c *Ctx) setVerify(kind int, f verifyFunc) error {
	return c.with(func() error {
		if f == nil {
			c.verify[kind].Store(nil)
		} else {
			c.verify[kind].Store(&f)
		}
		C.gossl_SSL_CTX_set_cookie_cb(c.ptr, C.int(kind), C.GOSSL_COOKIE_VERIFY, cBool(f != nil))
		return nil
	})
}
