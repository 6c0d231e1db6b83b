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
	// SetBIO) on the SSL whose operation invoked it. A callback may read
	// PeerAddr, PeerAddrPort and UserData, and call SetPeerAddr and Close
	// (which then takes effect when the operation returns).
	ErrInCallback = errors.New("openssl: operation on an SSL from inside its own callback")

	// ErrDatagramPending is returned by (*BIO).PushDatagram when the
	// previous datagram has not been read by OpenSSL yet.
	ErrDatagramPending = errors.New("openssl: previous datagram not yet consumed")
)

type helloRetryRequest struct{}

func (helloRetryRequest) Error() string {
	return "openssl: HelloRetryRequest sent; read the client's second ClientHello and call Stateless again"
}

func (helloRetryRequest) Is(target error) bool { return target == ErrRetry }

// ErrorCode is the value of SSL_get_error(3) for a failed operation.
type ErrorCode int

// The SSL_get_error(3) codes.
const (
	ErrorNone             ErrorCode = C.SSL_ERROR_NONE
	ErrorSSL              ErrorCode = C.SSL_ERROR_SSL
	ErrorWantRead         ErrorCode = C.SSL_ERROR_WANT_READ
	ErrorWantWrite        ErrorCode = C.SSL_ERROR_WANT_WRITE
	ErrorWantX509Lookup   ErrorCode = C.SSL_ERROR_WANT_X509_LOOKUP
	ErrorSyscall          ErrorCode = C.SSL_ERROR_SYSCALL
	ErrorZeroReturn       ErrorCode = C.SSL_ERROR_ZERO_RETURN
	ErrorWantConnect      ErrorCode = C.SSL_ERROR_WANT_CONNECT
	ErrorWantAccept       ErrorCode = C.SSL_ERROR_WANT_ACCEPT
	ErrorWantAsync        ErrorCode = C.SSL_ERROR_WANT_ASYNC
	ErrorWantAsyncJob     ErrorCode = C.SSL_ERROR_WANT_ASYNC_JOB
	ErrorWantClientHello  ErrorCode = C.SSL_ERROR_WANT_CLIENT_HELLO_CB
	errorCodeNotAvailable ErrorCode = -1
)

var errorCodeNames = map[ErrorCode]string{
	ErrorNone:            "SSL_ERROR_NONE",
	ErrorSSL:             "SSL_ERROR_SSL",
	ErrorWantRead:        "SSL_ERROR_WANT_READ",
	ErrorWantWrite:       "SSL_ERROR_WANT_WRITE",
	ErrorWantX509Lookup:  "SSL_ERROR_WANT_X509_LOOKUP",
	ErrorSyscall:         "SSL_ERROR_SYSCALL",
	ErrorZeroReturn:      "SSL_ERROR_ZERO_RETURN",
	ErrorWantConnect:     "SSL_ERROR_WANT_CONNECT",
	ErrorWantAccept:      "SSL_ERROR_WANT_ACCEPT",
	ErrorWantAsync:       "SSL_ERROR_WANT_ASYNC",
	ErrorWantAsyncJob:    "SSL_ERROR_WANT_ASYNC_JOB",
	ErrorWantClientHello: "SSL_ERROR_WANT_CLIENT_HELLO_CB",
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
}

// Error describes the call, its result and the queue in one line.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("openssl: ")
	b.WriteString(e.Op)
	fmt.Fprintf(&b, " returned %d", e.Ret)
	if e.Code != errorCodeNotAvailable {
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
	if e.Code == ErrorSyscall && e.Errno != 0 {
		b.WriteString(": ")
		b.WriteString(e.Errno.Error())
	}
	if e.Err == nil && len(e.Queue) == 0 && e.Code == ErrorSyscall && e.Errno == 0 {
		b.WriteString(": no error queue entry and no errno")
	}
	return b.String()
}

// Unwrap returns the Go cause, errno and the queue entries.
func (e *Error) Unwrap() []error {
	errs := make([]error, 0, len(e.Queue)+2)
	if e.Err != nil {
		errs = append(errs, e.Err)
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
		return e.Code == ErrorWantRead
	case ErrWantWrite:
		return e.Code == ErrorWantWrite
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
	}
	n := int(r.nerr)
	if n > 0 {
		e.Queue = make([]ErrorEntry, n)
	}
	var lib, reason [128]C.char
	var text [256]C.char
	for i := 0; i < n; i++ {
		ent := &r.errs[i]
		C.gossl_err_strings(ent.code, &lib[0], C.size_t(len(lib)), &reason[0], C.size_t(len(reason)), &text[0], C.size_t(len(text)))
		e.Queue[i] = ErrorEntry{
			Code:    uint64(ent.code),
			Library: C.GoString(&lib[0]),
			Reason:  C.GoString(&reason[0]),
			Text:    C.GoString(&text[0]),
			Data:    C.GoString(&ent.data[0]),
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
		case ErrorWantRead:
			return ErrWantRead
		case ErrorWantWrite:
			return ErrWantWrite
		case ErrorZeroReturn:
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
	if ret == -2 {
		return newError(op, r, errorCodeNotAvailable, ErrKeyMismatch)
	}
	return newError(op, r, errorCodeNotAvailable, nil)
}
