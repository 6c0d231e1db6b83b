package openssl

/*
#include "shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"unsafe"
)

// Sentinel errors. Callers branch on these with errors.Is.
var (
	// ErrRetry reports a non-fatal outcome: DTLSv1_listen(3) returned 0 (a
	// HelloVerifyRequest was sent, no datagram was available, or a datagram
	// was dropped). Call again with the next datagram.
	ErrRetry = errors.New("openssl: retry")

	// ErrHelloRetryRequest reports that SSL_stateless(3) returned 0: a
	// HelloRetryRequest carrying a cookie was sent. errors.Is(err, ErrRetry)
	// also holds for it.
	ErrHelloRetryRequest error = helloRetryRequest{}

	// ErrWantRead means the operation needs more input from the read BIO
	// (SSL_ERROR_WANT_READ). It is control flow, not a failure.
	ErrWantRead = errors.New("openssl: want read")

	// ErrWantWrite means the write BIO could not take the output
	// (SSL_ERROR_WANT_WRITE).
	ErrWantWrite = errors.New("openssl: want write")

	// ErrClosed is returned by every method of a Ctx, SSL, BIO or BIOAddr
	// after its Close. errors.Is(err, net.ErrClosed) holds.
	ErrClosed = fmt.Errorf("openssl: use of closed object: %w", net.ErrClosed)

	// ErrCookieTooLong is reported when a cookie generate callback returns a
	// cookie over the protocol's limit: 255 bytes for DTLS and, in practice,
	// for TLS 1.3 too (OpenSSL's buffer is 4096 bytes but the cookie travels
	// behind a one-byte length).
	ErrCookieTooLong = errors.New("openssl: cookie longer than the protocol allows")

	// ErrEmptyCookie is reported when a cookie generate callback returns no
	// bytes: a peer echoing an empty cookie is indistinguishable from one
	// sending none, and the exchange would never end.
	ErrEmptyCookie = errors.New("openssl: cookie generate callback returned an empty cookie")

	// ErrNoPeer is reported by a CookieSigner when the SSL has no peer
	// address to bind the cookie to (a memory BIO without SetPeerAddr).
	ErrNoPeer = errors.New("openssl: no peer address to bind the cookie to")

	// ErrKeyMismatch is reported when a private key does not belong to the
	// certificate loaded beside it.
	ErrKeyMismatch = errors.New("openssl: private key does not match the certificate")

	// ErrInCallback is returned when a callback calls an operation (or
	// SetBIO) on the SSL whose operation invoked it, or one that reads or
	// writes its BIOs. A callback may read PeerAddr, PeerAddrPort, UserData
	// and the SSL's other accessors, and call SetPeerAddr and Close (which
	// then takes effect when the operation returns).
	ErrInCallback = errors.New("openssl: operation on an SSL from inside its own callback")

	// ErrConcurrentUse is returned by a method of an SSL, or of a BIO, while
	// another method of the same object (or, for a BIO an SSL owns, of that
	// SSL) runs on another goroutine. Neither is safe for concurrent use:
	// the error reports the caller's bug, which OpenSSL would otherwise turn
	// into memory corruption. Close is never refused: it takes effect when
	// the running method returns.
	ErrConcurrentUse = errors.New("openssl: SSL used from two goroutines at once")

	// ErrInvalidObject is what errors.Is finds in the error of a method
	// called on a nil *SSL, *Ctx, *BIO, *BIOAddr, *CookieSigner or
	// *StreamConn, or on a zero value that its constructor did not make.
	// errors.Is(err, os.ErrInvalid) holds as well; Close of a nil object
	// returns it too, as (*os.File)(nil).Close does.
	ErrInvalidObject = fmt.Errorf("openssl: nil object, or not made by its constructor: %w", os.ErrInvalid)

	// ErrWrongMethod is reported by an operation that the Ctx's method
	// does not support: Stateless on a DTLS Ctx, DTLSv1Listen on a TLS one.
	ErrWrongMethod = errors.New("openssl: operation not supported by the Ctx's method")

	// ErrDatagramPending is returned by (*BIO).PushDatagram when the
	// previous datagram has not been read by OpenSSL yet.
	ErrDatagramPending = errors.New("openssl: previous datagram not yet consumed")
)

// invalidObject is the error of a method called on a nil object or a zero
// value: its own message, and ErrInvalidObject (and so os.ErrInvalid) for
// errors.Is.
type invalidObject string

func (e invalidObject) Error() string { return "openssl: " + string(e) }

func (e invalidObject) Unwrap() error { return ErrInvalidObject }

const (
	errNilSSL         invalidObject = "nil *SSL"
	errZeroSSL        invalidObject = "SSL not made by NewSSL"
	errNilCtx         invalidObject = "nil *Ctx"
	errZeroCtx        invalidObject = "Ctx not made by NewCtx"
	errNilBIO         invalidObject = "nil *BIO"
	errZeroBIO        invalidObject = "BIO not made by NewMemBIO, NewDatagramBIO or NewPacketBIO"
	errNilBIOAddr     invalidObject = "nil *BIOAddr"
	errZeroBIOAddr    invalidObject = "BIOAddr not made by NewBIOAddr"
	errNilSigner      invalidObject = "nil *CookieSigner"
	errZeroSigner     invalidObject = "CookieSigner not made by NewCookieSigner"
	errNilStreamConn  invalidObject = "nil *StreamConn"
	errZeroStreamConn invalidObject = "StreamConn not made by NewServerConn or NewClientConn"
	errNilBatch       invalidObject = "nil *ListenBatch"
	errZeroBatch      invalidObject = "ListenBatch not made by NewListenBatch, or its Len, From or AnswerLen resized"
)

// wrongMethod is ErrWrongMethod for op on a Ctx of method m, naming the
// operation to use instead.
func wrongMethod(op string, m Method, instead string) error {
	return fmt.Errorf("%w: %s on a %s Ctx (use %s)", ErrWrongMethod, op, m, instead)
}

type helloRetryRequest struct{}

func (helloRetryRequest) Error() string {
	return "openssl: HelloRetryRequest sent; read the client's second ClientHello and call Stateless again"
}

func (helloRetryRequest) Is(target error) bool { return target == ErrRetry }

// ErrorCode is the value of SSL_get_error(3) for a failed operation.
type ErrorCode int

// The SSL_get_error(3) codes. ErrWantRead, ErrWantWrite and io.EOF stand
// for CodeWantRead, CodeWantWrite and CodeZeroReturn where a method
// returns an error; *Error carries the code for the rest.
const (
	CodeNone            ErrorCode = C.SSL_ERROR_NONE
	CodeSSL             ErrorCode = C.SSL_ERROR_SSL
	CodeWantRead        ErrorCode = C.SSL_ERROR_WANT_READ
	CodeWantWrite       ErrorCode = C.SSL_ERROR_WANT_WRITE
	CodeWantX509Lookup  ErrorCode = C.SSL_ERROR_WANT_X509_LOOKUP
	CodeSyscall         ErrorCode = C.SSL_ERROR_SYSCALL
	CodeZeroReturn      ErrorCode = C.SSL_ERROR_ZERO_RETURN
	CodeWantConnect     ErrorCode = C.SSL_ERROR_WANT_CONNECT
	CodeWantAccept      ErrorCode = C.SSL_ERROR_WANT_ACCEPT
	CodeWantAsync       ErrorCode = C.SSL_ERROR_WANT_ASYNC
	CodeWantAsyncJob    ErrorCode = C.SSL_ERROR_WANT_ASYNC_JOB
	CodeWantClientHello ErrorCode = C.SSL_ERROR_WANT_CLIENT_HELLO_CB
	codeNotAvailable    ErrorCode = -1
)

var errorCodeNames = map[ErrorCode]string{
	CodeNone:            "SSL_ERROR_NONE",
	CodeSSL:             "SSL_ERROR_SSL",
	CodeWantRead:        "SSL_ERROR_WANT_READ",
	CodeWantWrite:       "SSL_ERROR_WANT_WRITE",
	CodeWantX509Lookup:  "SSL_ERROR_WANT_X509_LOOKUP",
	CodeSyscall:         "SSL_ERROR_SYSCALL",
	CodeZeroReturn:      "SSL_ERROR_ZERO_RETURN",
	CodeWantConnect:     "SSL_ERROR_WANT_CONNECT",
	CodeWantAccept:      "SSL_ERROR_WANT_ACCEPT",
	CodeWantAsync:       "SSL_ERROR_WANT_ASYNC",
	CodeWantAsyncJob:    "SSL_ERROR_WANT_ASYNC_JOB",
	CodeWantClientHello: "SSL_ERROR_WANT_CLIENT_HELLO_CB",
}

// String returns the C name of the code, such as "SSL_ERROR_WANT_READ".
func (c ErrorCode) String() string {
	if n, ok := errorCodeNames[c]; ok {
		return n
	}
	return fmt.Sprintf("SSL_ERROR(%d)", int(c))
}

// ErrorEntry is one entry of OpenSSL's error queue (ERR_get_error(3)).
type ErrorEntry struct {
	Code    uint64 // packed library and reason, as ERR_get_error returns it
	Library string // ERR_lib_error_string
	Reason  string // ERR_reason_error_string
	Text    string // ERR_error_string_n
	Data    string // the optional data string attached to the entry
}

// Error returns the entry's text, with its data in parentheses.
func (e ErrorEntry) Error() string {
	if e.Data != "" {
		return e.Text + " (" + e.Data + ")"
	}
	return e.Text
}

// Error is a failed OpenSSL operation: what was called, what it returned,
// SSL_get_error's verdict and every entry the error queue held when the call
// returned. errors.Is works on the cause (Err), on errno, on ErrWantRead and
// ErrWantWrite, and errors.As finds an ErrorEntry.
type Error struct {
	Op      string        // the OpenSSL function, e.g. "DTLSv1_listen"
	Ret     int           // its raw return value
	Code    ErrorCode     // SSL_get_error(3), or -1 where no SSL is involved
	Errno   syscall.Errno // errno after the call, kept for SSL_ERROR_SYSCALL
	Queue   []ErrorEntry  // the error queue, oldest first
	Dropped int           // entries beyond those kept in Queue
	Err     error         // a cause from Go, such as a cookie callback's error

	alert int // the first alert the peer sent, found in Queue; -1 for none
}

// Error describes the call, its result and the queue in one line.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("openssl: ")
	b.WriteString(e.Op)
	fmt.Fprintf(&b, " returned %d", e.Ret)
	if e.Code != codeNotAvailable {
		b.WriteString(" (")
		b.WriteString(e.Code.String())
		b.WriteString(")")
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	for _, q := range e.Queue {
		b.WriteString(": ")
		b.WriteString(q.Error())
	}
	if e.Dropped > 0 {
		fmt.Fprintf(&b, " (+%d more)", e.Dropped)
	}
	if e.Code == CodeSyscall && e.Errno != 0 {
		b.WriteString(": ")
		b.WriteString(e.Errno.Error())
	}
	if e.Err == nil && len(e.Queue) == 0 && e.Code == CodeSyscall && e.Errno == 0 {
		b.WriteString(": no error queue entry and no errno")
	}
	return b.String()
}

// Unwrap returns the Go cause, the alert the peer sent (an AlertError),
// errno and the queue entries.
func (e *Error) Unwrap() []error {
	errs := make([]error, 0, len(e.Queue)+3)
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	if e.alert >= 0 {
		errs = append(errs, AlertError(e.alert))
	}
	if e.Errno != 0 {
		errs = append(errs, e.Errno)
	}
	for _, q := range e.Queue {
		errs = append(errs, q)
	}
	return errs
}

// Is reports ErrWantRead and ErrWantWrite from the SSL_get_error code.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrWantRead:
		return e.Code == CodeWantRead
	case ErrWantWrite:
		return e.Code == CodeWantWrite
	}
	return false
}

// newError builds an *Error from a captured result. Only failure paths
// reach it, so the string lookups (one cgo call per entry) cost nothing on
// the fast path.
func newError(op string, r *C.gossl_result, code ErrorCode, cause error) *Error {
	e := &Error{
		Op:      op,
		Ret:     int(r.ret),
		Code:    code,
		Errno:   syscall.Errno(r.sys_errno),
		Dropped: int(r.dropped),
		Err:     cause,
		alert:   -1,
	}
	n := int(r.nerr)
	if n > 0 {
		e.Queue = make([]ErrorEntry, n)
	}
	var lib, reason [128]C.char
	var text [256]C.char
	for i := 0; i < n; i++ {
		ent := &r.errs[i]
		C.gossl_ERR_strings(ent.code, &lib[0], C.size_t(len(lib)), &reason[0], C.size_t(len(reason)), &text[0], C.size_t(len(text)))
		e.Queue[i] = ErrorEntry{
			Code:    uint64(ent.code),
			Library: C.GoString(&lib[0]),
			Reason:  C.GoString(&reason[0]),
			Text:    C.GoString(&text[0]),
			Data:    C.GoString(&ent.data[0]),
		}
		if a := int(C.gossl_ERR_alert(ent.code)); a >= 0 && e.alert < 0 {
			e.alert = a
		}
	}
	return e
}

// sslResultError maps a result of an operation on an SSL: want-read and
// want-write become sentinels without allocating, close_notify becomes
// io.EOF, and the rest an *Error.
func sslResultError(op string, r *C.gossl_result, cause error) error {
	code := ErrorCode(r.ssl_err)
	if cause == nil && r.nerr == 0 {
		switch code {
		case CodeWantRead:
			return ErrWantRead
		case CodeWantWrite:
			return ErrWantWrite
		case CodeZeroReturn:
			return io.EOF
		}
	}
	return newError(op, r, code, cause)
}

// newResult allocates a result in C memory: the operations may call back
// into Go, which may move goroutine stacks, so the result must not live on
// one.
func newResult() *C.gossl_result {
	r := (*C.gossl_result)(C.calloc(1, C.size_t(unsafe.Sizeof(C.gossl_result{}))))
	if r == nil {
		panic("openssl: out of memory")
	}
	return r
}

// ctxError builds the error of a failed SSL_CTX call.
func ctxError(op string, r *C.gossl_result, ret C.int) error {
	if ret == C.GOSSL_KEY_MISMATCH {
		return newError(op, r, codeNotAvailable, ErrKeyMismatch)
	}
	return newError(op, r, codeNotAvailable, nil)
}

// AlertError is an alert the peer sent: the reason it ended the handshake or
// the connection, as crypto/tls's AlertError is. errors.As finds it in the
// *Error of the operation that received it:
//
//	var alert openssl.AlertError
//	if errors.As(err, &alert) && alert == openssl.AlertCertificateRequired { ... }
//
// Alerts this side sends are not AlertErrors: the *Error says why it sent
// one.
type AlertError uint8

// Alert descriptions (RFC 8446 section 6, RFC 6347) the callers of this
// package branch on; any other value is an AlertError too.
const (
	AlertCloseNotify            AlertError = 0
	AlertUnexpectedMessage      AlertError = 10
	AlertBadRecordMAC           AlertError = 20
	AlertHandshakeFailure       AlertError = 40
	AlertBadCertificate         AlertError = 42
	AlertUnsupportedCertificate AlertError = 43
	AlertCertificateRevoked     AlertError = 44
	AlertCertificateExpired     AlertError = 45
	AlertCertificateUnknown     AlertError = 46
	AlertIllegalParameter       AlertError = 47
	AlertUnknownCA              AlertError = 48
	AlertAccessDenied           AlertError = 49
	AlertDecodeError            AlertError = 50
	AlertDecryptError           AlertError = 51
	AlertProtocolVersion        AlertError = 70
	AlertInsufficientSecurity   AlertError = 71
	AlertInternalError          AlertError = 80
	AlertUserCanceled           AlertError = 90
	AlertMissingExtension       AlertError = 109
	AlertUnsupportedExtension   AlertError = 110
	AlertUnrecognizedName       AlertError = 112
	AlertUnknownPSKIdentity     AlertError = 115
	AlertCertificateRequired    AlertError = 116
	AlertNoApplicationProtocol  AlertError = 120
)

var alertNames = map[AlertError]string{
	AlertCertificateRequired:   "certificate required",
	AlertNoApplicationProtocol: "no application protocol",
	AlertMissingExtension:      "missing extension",
	AlertUnknownPSKIdentity:    "unknown PSK identity",
}

// String returns the alert's name: OpenSSL's (SSL_alert_desc_string_long(3)),
// such as "unknown CA", or RFC 8446's for the TLS 1.3 alerts that OpenSSL
// 1.1.1 and 3.x do not name.
func (a AlertError) String() string {
	if n, ok := alertNames[a]; ok {
		return n
	}
	name := C.GoString(C.SSL_alert_desc_string_long(C.int(a)))
	if name == "" || name == "unknown" {
		return fmt.Sprintf("alert(%d)", uint8(a))
	}
	return name
}

// Error says which alert the peer sent.
func (a AlertError) Error() string {
	return fmt.Sprintf("openssl: the peer sent alert %d: %s", uint8(a), a.String())
}

// VerifyCode is an X509_V_* result of OpenSSL's certificate verification
// (SSL_get_verify_result(3)).
type VerifyCode int

// The verification results callers branch on; any other X509_V_ERR_* value
// is a VerifyCode too, named by its String method.
const (
	VerifyOK                              VerifyCode = C.X509_V_OK
	VerifyErrUnableToGetIssuerCert        VerifyCode = C.X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT
	VerifyErrUnableToGetIssuerCertLocally VerifyCode = C.X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
	VerifyErrUnableToVerifyLeafSignature  VerifyCode = C.X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE
	VerifyErrCertSignatureFailure         VerifyCode = C.X509_V_ERR_CERT_SIGNATURE_FAILURE
	VerifyErrCertNotYetValid              VerifyCode = C.X509_V_ERR_CERT_NOT_YET_VALID
	VerifyErrCertHasExpired               VerifyCode = C.X509_V_ERR_CERT_HAS_EXPIRED
	VerifyErrDepthZeroSelfSignedCert      VerifyCode = C.X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT
	VerifyErrSelfSignedCertInChain        VerifyCode = C.X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN
	VerifyErrCertRevoked                  VerifyCode = C.X509_V_ERR_CERT_REVOKED
	VerifyErrInvalidCA                    VerifyCode = C.X509_V_ERR_INVALID_CA
	VerifyErrInvalidPurpose               VerifyCode = C.X509_V_ERR_INVALID_PURPOSE
	VerifyErrCertUntrusted                VerifyCode = C.X509_V_ERR_CERT_UNTRUSTED
	VerifyErrCertRejected                 VerifyCode = C.X509_V_ERR_CERT_REJECTED
	VerifyErrApplicationVerification      VerifyCode = C.X509_V_ERR_APPLICATION_VERIFICATION
	VerifyErrHostnameMismatch             VerifyCode = C.X509_V_ERR_HOSTNAME_MISMATCH
	VerifyErrEmailMismatch                VerifyCode = C.X509_V_ERR_EMAIL_MISMATCH
	VerifyErrIPAddressMismatch            VerifyCode = C.X509_V_ERR_IP_ADDRESS_MISMATCH
)

// String returns OpenSSL's description (X509_verify_cert_error_string(3)).
func (c VerifyCode) String() string {
	return C.GoString(C.X509_verify_cert_error_string(C.long(c)))
}

// IsNameMismatch reports whether the certificate verified but does not
// carry the name, address or e-mail it was checked against.
func (c VerifyCode) IsNameMismatch() bool {
	return c == VerifyErrHostnameMismatch || c == VerifyErrIPAddressMismatch || c == VerifyErrEmailMismatch
}

// VerifyError is a failure of OpenSSL's own certificate verification, as
// SSL_get_verify_result(3) reports it after a handshake. A chain verified
// in Go instead, through SetCertVerifyCallback, fails with the callback's
// own error: the dtls package verifies as crypto/tls does and reports a
// *tls.CertificateVerificationError, never a VerifyError.
type VerifyError struct {
	Code VerifyCode
}

// Error returns OpenSSL's description of the verification failure.
func (e *VerifyError) Error() string {
	return fmt.Sprintf("openssl: certificate verify failed: %s (X509_V_ERR %d)", e.Code, int(e.Code))
}

// noNUL refuses a string OpenSSL would read only up to its first NUL
// byte (a name, a path, a cipher list): C.CString copies the whole string,
// so "a.example\x00.evil" would be sent or checked as "a.example".
func noNUL(what, s string) error {
	if strings.IndexByte(s, 0) >= 0 {
		return fmt.Errorf("openssl: %s %q holds a NUL byte", what, s)
	}
	return nil
}
