package openssl_test

import (
	"errors"
	"runtime"
	"syscall"
	"testing"
	"time"
	"weak"

	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl"
)

// The cleanups registered with runtime.AddCleanup are the safety net for an
// object its user forgot to Close. These tests drop objects and watch the
// net catch them.
//
// The observable is the kernel's: a datagram BIO made with closeFD owns one
// end of a socket pair and closes it in BIO_free (BIO_CLOSE), so the other
// end reads end of stream exactly when the C object has been freed. The BIO
// is never read or written, so a stream pair serves, and stream sockets
// report the close. Nothing is mocked and nothing in the package exists for
// the test.

// cleanupWait bounds how long a test waits for a cleanup. Cleanups run on a
// goroutine of the runtime after the cycle that found the object
// unreachable: normally within a millisecond of the first runtime.GC.
const cleanupWait = 10 * time.Second

// closed reports whether the other end of peer's pair has been closed: a
// read of the non-blocking socket returns end of stream (0, nil) rather
// than EAGAIN.
func closed(t *testing.T, peer int) bool {
	t.Helper()
	n, err := syscall.Read(peer, make([]byte, 1))
	if errors.Is(err, syscall.EAGAIN) {
		return false
	}
	require.NoError(t, err)
	require.Equal(t, 0, n, "nothing is ever written to the pair")
	return true
}

// awaitFreed runs the collector until the BIO owning the other end of the
// pair has been freed, and fails the test if that does not happen in time.
func awaitFreed(t *testing.T, peer int, what string) {
	t.Helper()
	deadline := time.Now().Add(cleanupWait)
	for !closed(t, peer) {
		if time.Now().After(deadline) {
			t.Fatalf("a dropped %s was not freed by its cleanup within %v", what, cleanupWait)
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
}

// stillOpen checks the control case: while the object is reachable, no
// number of collections frees it.
func stillOpen(t *testing.T, peer int) {
	t.Helper()
	for range 3 {
		runtime.GC()
	}
	time.Sleep(5 * time.Millisecond) // room for a cleanup that should not run
	require.False(t, closed(t, peer), "freed while still reachable")
}

// ownedBIO returns a datagram BIO owning one end of a fresh socket pair, and
// the other end to watch.
func ownedBIO(t *testing.T) (*openssl.BIO, int) {
	t.Helper()
	fds := socketpair(t, syscall.SOCK_STREAM)
	b, err := openssl.NewDatagramBIO(fds[0], true)
	if err != nil {
		syscall.Close(fds[0])
		require.NoError(t, err)
	}
	return b, fds[1]
}

// A BIO that nobody owns is freed by its own cleanup (BIO_free).
func TestCleanupFreesDroppedBIO(t *testing.T) {
	peer := func() int {
		b, peer := ownedBIO(t)
		stillOpen(t, peer)
		runtime.KeepAlive(b)
		return peer
	}()
	awaitFreed(t, peer, "*BIO")
}

// A dropped SSL is freed by its cleanup (freeSSL: SSL_free, which frees
// the BIOs SetBIO gave it; their own cleanups were stopped then). The BIO
// closing its descriptor is the proof that SSL_free ran.
func TestCleanupFreesDroppedSSL(t *testing.T) {
	ctx, err := openssl.NewCtx(openssl.DTLSServerMethod)
	require.NoError(t, err)
	defer ctx.Close()
	peer := func() int {
		s, err := openssl.NewSSL(ctx)
		require.NoError(t, err)
		b, peer := ownedBIO(t)
		require.NoError(t, s.SetBIO(b, b))
		stillOpen(t, peer)
		runtime.KeepAlive(s)
		return peer
	}()
	awaitFreed(t, peer, "*SSL")
}

// A dropped Ctx, with the SSL made from it, a CookieSigner installed and a
// callback that refers to the Ctx itself (a cycle through the Ctx's
// callbacks): the SSL is freed first (it keeps its Ctx alive, so it must
// go first), then the Ctx becomes unreachable, which is what lets the
// runtime run its cleanup (freeCtx: SSL_CTX_free). Nothing the cleanup,
// the SSL's cgo.Handle or the callbacks hold may keep it reachable.
//
// SSL_CTX_free itself is seen through a mark set on the SSL_CTX
// (SetFreeMark, an ex_data slot whose free function OpenSSL calls when it
// frees the SSL_CTX): the test waits for that mark to be reported.
func TestCleanupFreesDroppedCtx(t *testing.T) {
	mark := uintptr(time.Now().UnixNano()) | 1 // never 0, and new each run
	peer, ctxRef := func() (int, weak.Pointer[openssl.Ctx]) {
		ctx, err := openssl.NewCtx(openssl.DTLSServerMethod)
		require.NoError(t, err)
		require.NoError(t, openssl.SetFreeMark(ctx, mark))
		require.NoError(t, newSigner(t, nil).Install(ctx))
		require.NoError(t, ctx.SetCookieVerifyCallback(func(s *openssl.SSL, cookie []byte) bool {
			return s.Ctx() == ctx && len(cookie) > 0
		}))
		s, err := openssl.NewSSL(ctx)
		require.NoError(t, err)
		b, peer := ownedBIO(t)
		require.NoError(t, s.SetBIO(b, b))
		return peer, weak.Make(ctx)
	}()
	awaitFreed(t, peer, "*SSL made from a dropped *Ctx")
	deadline := time.Now().Add(cleanupWait)
	for ctxRef.Value() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("a dropped *Ctx stayed reachable for %v: its cleanup can never run", cleanupWait)
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	for openssl.FreedMark() != mark {
		if time.Now().After(deadline) {
			t.Fatalf("a dropped *Ctx was collected but its SSL_CTX not freed within %v", cleanupWait)
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
}
