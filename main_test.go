package openssl_test

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"testing"

	"github.com/openssl-stateless/openssl"
)

// TestMain fails the run if any OS thread the tests may have used is left
// with entries on OpenSSL's error queue. The queue is per thread, so the
// check runs on many locked threads at once; GOMAXPROCS bounds the threads
// that ran Go code, and extra ones catch threads cgo calls were parked on.
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
