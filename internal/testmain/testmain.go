// Package errqueuecheck is the TestMain of the packages that drive OpenSSL:
// it fails the run if any OS thread the tests may have used is left with
// entries on OpenSSL's error queue, which every operation of the binding
// must drain.
package errqueuecheck

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"testing"

	"github.com/openssl-stateless/openssl"
)

// Main runs the tests and exits with their status, failing the run if they
// passed but left an OpenSSL error queue dirty. The queue is per thread, so
// the check runs on many locked threads at once; GOMAXPROCS bounds the
// threads that ran Go code, and extra ones catch threads cgo calls were
// parked on. Call it as the whole of TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if dirty := DirtyThreads(4 * runtime.GOMAXPROCS(0)); dirty > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: OpenSSL error queue not empty on %d thread(s) after the tests\n", dirty)
			code = 1
		}
	}
	os.Exit(code)
}

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
