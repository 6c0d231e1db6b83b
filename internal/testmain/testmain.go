// Package testmain is the TestMain of the packages whose tests call OpenSSL
// (the root package, dtls, tests; cmd/ossl-stateless through Run): after
// the tests pass it fails the run if goroutines were leaked (goleak) or if
// any OS thread the tests may have used is left with entries on OpenSSL's
// error queue, which every operation of the binding must drain.
package testmain

/*
#cgo pkg-config: libcrypto
#include <openssl/err.h>

static void testmain_push_error(void)
{
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    ERR_new();
    ERR_set_debug("testmain", 0, "PushForeignError");
    ERR_set_error(ERR_LIB_USER, 1, NULL);
#else
    ERR_put_error(ERR_LIB_USER, 0, 1, "testmain", 0);
#endif
}
*/
import "C"

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

// Main runs the tests and exits with their status, failing the run if they
// passed but leaked goroutines or left an OpenSSL error queue dirty. The
// queue is per thread, so the check runs on many locked threads at once;
// GOMAXPROCS bounds the threads that ran Go code, and extra ones catch
// threads cgo calls were parked on. Call it as the whole of TestMain.
func Main(m *testing.M) { os.Exit(Run(m)) }

// Run is Main for a TestMain with set-up and tear-down of its own: it
// returns the exit code instead of exiting.
func Run(m *testing.M) int {
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "FAIL: goroutines leaked by the tests: %v\n", err)
			code = 1
		}
	}
	if code == 0 {
		if dirty := DirtyThreads(4 * runtime.GOMAXPROCS(0)); dirty > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: OpenSSL error queue not empty on %d thread(s) after the tests\n", dirty)
			code = 1
		}
	}
	return code
}

// QueueEmpty reports whether OpenSSL's error queue of the calling OS thread
// is empty (ERR_peek_error(3) == 0). libcrypto is one library per process,
// so this sees the same per-thread queue the binding uses. Pin the
// goroutine with runtime.LockOSThread for the answer to mean anything.
func QueueEmpty() bool {
	return C.ERR_peek_error() == 0
}

// PushForeignError queues an entry on the calling OS thread's error queue,
// as other C code in the process may leave one there; the binding's next
// operation on that thread must neither report it nor leave it behind.
func PushForeignError() { C.testmain_push_error() }

// DirtyThreads checks the error queue on n goroutines at once, each locked
// to its OS thread, and returns on how many it was not empty.
func DirtyThreads(n int) int {
	var wg sync.WaitGroup
	var mu sync.Mutex
	dirty := 0
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			<-start
			if !QueueEmpty() {
				mu.Lock()
				dirty++
				mu.Unlock()
			}
		}()
	}
	close(start)
	wg.Wait()
	return dirty
}
