// Package tests holds interop tests: the binding against real peers (the
// openssl command-line tool) over real loopback sockets. Peers are started
// per test, awaited by their readiness line, and killed and waited for in
// t.Cleanup. The tests skip only when the openssl tool is not installed.
//
// The tests that check the records a peer sent and received read its
// protocol log: `-trace` where the tool has it, `-msg` where it does not
// (OpenSSL 1.1.1 as Debian builds it); TESTS_OPENSSL_TRACE=msg forces
// -msg. See traceFlag and parseTrace.
package tests

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"testing"

	"github.com/openssl-stateless/openssl"
)

// TestMain fails the run if an OS thread is left with entries on OpenSSL's
// error queue: every operation of the binding must drain it. The queue is
// per thread, so the check runs on many locked threads at once.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if dirty := dirtyThreads(4 * runtime.GOMAXPROCS(0)); dirty > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: OpenSSL error queue not empty on %d thread(s) after the tests\n", dirty)
			code = 1
		}
	}
	os.Exit(code)
}

func dirtyThreads(n int) int {
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
			if !openssl.ErrorQueueEmpty() {
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
