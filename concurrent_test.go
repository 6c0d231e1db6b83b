package openssl_test

import (
	"bytes"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl"
)

// An SSL is not safe for concurrent use, and two goroutines in libssl on one
// SSL corrupt its memory (ASan reported a use-after-free). The binding
// refuses the second caller with ErrConcurrentUse, and a Close that comes
// while a method runs takes effect when that method returns.

// blockedListen starts DTLSv1Listen on another goroutine and returns once
// it is inside the cookie generate callback, that is, inside C. release
// lets it finish; the channel then has its result.
func blockedListen(t *testing.T) (s *openssl.SSL, b *openssl.BIO, release func(), result <-chan error) {
	t.Helper()
	ctx := newDTLSServerCtx(t, false)
	inside := make(chan struct{})
	resume := make(chan struct{})
	require.NoError(t, ctx.SetCookieGenerateCallback(func(s *openssl.SSL) ([]byte, error) {
		inside <- struct{}{}
		<-resume
		return peerCookie(s), nil // accessors still work inside the callback, Close or not
	}))
	require.NoError(t, ctx.SetCookieVerifyCallback(func(s *openssl.SSL, c []byte) bool {
		return bytes.Equal(c, peerCookie(s))
	}))
	s, b = newPacketListener(t, ctx)
	require.NoError(t, b.PushDatagram(clientHello{}.bytes(), clientAP))
	res := make(chan error, 1)
	go func() {
		_, err := s.DTLSv1Listen()
		res <- err
	}()
	<-inside
	var once sync.Once
	release = func() { once.Do(func() { close(resume) }) }
	t.Cleanup(release)
	return s, b, release, res
}

// While one goroutine is inside an operation (here, in its cookie
// callback), every method another goroutine calls on the SSL or its BIO is
// refused with ErrConcurrentUse, not ErrInCallback: the callback's own
// goroutine is told apart by its thread. Methods without an error result
// return their zero value.
func TestConcurrentUseRefused(t *testing.T) {
	s, b, release, result := blockedListen(t)

	buf := make([]byte, 64)
	_, err := s.Read(buf)
	assert.ErrorIs(t, err, openssl.ErrConcurrentUse, "Read")
	_, err = s.Write([]byte("x"))
	assert.ErrorIs(t, err, openssl.ErrConcurrentUse, "Write")
	_, err = s.DTLSv1Listen()
	assert.ErrorIs(t, err, openssl.ErrConcurrentUse, "DTLSv1Listen")
	assert.ErrorIs(t, s.Accept(), openssl.ErrConcurrentUse, "Accept")
	assert.ErrorIs(t, s.SetMTU(1200), openssl.ErrConcurrentUse, "SetMTU")
	_, err = s.PeerCertificates()
	assert.ErrorIs(t, err, openssl.ErrConcurrentUse, "PeerCertificates")
	assert.False(t, s.PeerAddrPort().IsValid(), "PeerAddrPort returns its zero value")
	assert.Nil(t, s.PeerAddr())
	assert.Zero(t, s.Pending())
	assert.ErrorIs(t, b.PushDatagram([]byte{1}, clientAP), openssl.ErrConcurrentUse, "the owned BIO counts as the SSL")
	assert.ErrorIs(t, b.DrainDatagrams(func([]byte) error { return nil }), openssl.ErrConcurrentUse)
	assert.Equal(t, "openssl: SSL used from two goroutines at once", openssl.ErrConcurrentUse.Error())

	release()
	require.ErrorIs(t, <-result, openssl.ErrRetry, "the running operation is unharmed")
	_, err = s.Read(buf)
	assert.ErrorIs(t, err, openssl.ErrWantRead, "usable again once it returned")
}

// Close from another goroutine while an operation runs in C does not free
// the SSL under it: it returns nil at once and the operation frees the SSL
// (and its BIO) on its way out. Under ASan, freeing at once is a
// use-after-free.
func TestCloseDuringOperationIsDeferred(t *testing.T) {
	s, b, release, result := blockedListen(t)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "idempotent while deferred")
	_, err := s.Read(make([]byte, 1))
	assert.ErrorIs(t, err, openssl.ErrClosed, "closing already")
	release()
	require.ErrorIs(t, <-result, openssl.ErrRetry)
	_, err = s.DTLSv1Listen()
	assert.ErrorIs(t, err, openssl.ErrClosed, "freed once the operation returned")
	assert.ErrorIs(t, b.PushDatagram([]byte{1}, clientAP), openssl.ErrClosed, "with its BIO")
}

// DrainDatagrams holds the BIO (and its SSL) while send runs: send's bytes
// are the BIO's C memory, so a Close meanwhile waits for the drain to end,
// and other methods are refused.
func TestCloseDuringDrainIsDeferred(t *testing.T) {
	ctx := newDTLSServerCtx(t, true)
	s, b := newPacketListener(t, ctx)
	require.NoError(t, b.PushDatagram(clientHello{}.bytes(), clientAP))
	_, err := s.DTLSv1Listen()
	require.ErrorIs(t, err, openssl.ErrRetry)

	inside := make(chan struct{})
	resume := make(chan struct{})
	drained := make(chan error, 1)
	var got []byte
	go func() {
		drained <- b.DrainDatagrams(func(p []byte) error {
			close(inside)
			<-resume
			got = append(got, p...) // still valid: the Close below waits
			return nil
		})
	}()
	<-inside
	_, err = s.Write([]byte("x"))
	assert.ErrorIs(t, err, openssl.ErrConcurrentUse)
	assert.NoError(t, b.Close(), "Close of an owned BIO does nothing")
	require.NoError(t, s.Close())
	close(resume)
	require.NoError(t, <-drained)
	_, err = helloVerifyCookie(got)
	assert.NoError(t, err, "the HelloVerifyRequest arrived intact")
	_, err = s.DTLSv1Listen()
	assert.ErrorIs(t, err, openssl.ErrClosed)
}

// isExpected reports whether err is an outcome the hammer tests allow: a
// refusal, a closed object, or an ordinary result of driving a listening
// SSL with stray calls.
func isExpected(err error) bool {
	var oe *openssl.Error
	return err == nil || errors.Is(err, openssl.ErrConcurrentUse) || errors.Is(err, openssl.ErrClosed) ||
		errors.Is(err, openssl.ErrRetry) || errors.Is(err, openssl.ErrWantRead) ||
		errors.Is(err, openssl.ErrDatagramPending) || errors.As(err, &oe)
}

// hammer runs work on two goroutines until each has run at least min
// times and either a refusal was seen or the deadline passed, then closes
// the object from the test's goroutine while they still run, and waits for
// both to see ErrClosed. It returns how many calls were refused.
func hammer(t *testing.T, min int, work func(worker, i int) error, closeIt func() error) int64 {
	t.Helper()
	var refused, calls atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				err := work(w, i)
				calls.Add(1)
				switch {
				case errors.Is(err, openssl.ErrConcurrentUse):
					refused.Add(1)
				case errors.Is(err, openssl.ErrClosed):
					return
				case !isExpected(err):
					errs <- err
					return
				}
			}
		}()
	}
	deadline := time.Now().Add(5 * time.Second)
	for (calls.Load() < int64(2*min) || refused.Load() == 0) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	require.NoError(t, closeIt(), "Close while the workers run")
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the workers did not see ErrClosed after Close")
	}
	close(errs)
	for err := range errs {
		t.Errorf("unexpected error: %v", err)
	}
	return refused.Load()
}

// Two goroutines hammer one listening SSL with DTLSv1Listen, Read, Write
// and its BIO's datagram methods; Close comes from a third while they run.
// Nothing crashes (run under -race and `make leaks`, that is ASan), every
// call either works or is refused, and with two CPUs refusals are seen.
func TestConcurrentUseHammerSSL(t *testing.T) {
	ctx := newDTLSServerCtx(t, true)
	s, b := newPacketListener(t, ctx)
	hello := clientHello{}.bytes()
	discard := func([]byte) error { return nil }
	refused := hammer(t, 2000, func(w, i int) error {
		var err error
		buf := make([]byte, 64)
		switch (w + i) % 5 {
		case 0:
			err = b.PushDatagram(hello, clientAP)
		case 1:
			_, err = s.DTLSv1ListenAddrPort()
		case 2:
			_, err = s.Read(buf)
		case 3:
			_, err = s.Write(buf)
		case 4:
			err = b.DrainDatagrams(discard)
		}
		return err
	}, s.Close)
	t.Logf("%d calls refused with ErrConcurrentUse", refused)
	if runtime.GOMAXPROCS(0) > 1 {
		assert.NotZero(t, refused, "two goroutines on two CPUs collide")
	}
}

// The same for a memory BIO of its own: BIO_write and BIO_read on one
// memory BIO from two threads reallocate its buffer under each other.
func TestConcurrentUseHammerBIO(t *testing.T) {
	b, err := openssl.NewMemBIO()
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	refused := hammer(t, 2000, func(w, i int) error {
		var err error
		buf := make([]byte, 512)
		switch (w + i) % 3 {
		case 0:
			_, err = b.Write(buf)
		case 1:
			_, err = b.Read(buf)
		case 2:
			if b.Pending() < 0 {
				err = errors.New("negative Pending")
			}
		}
		if errors.Is(err, openssl.ErrWantRead) {
			err = nil
		}
		return err
	}, b.Close)
	t.Logf("%d calls refused with ErrConcurrentUse", refused)
	if runtime.GOMAXPROCS(0) > 1 {
		assert.NotZero(t, refused, "two goroutines on two CPUs collide")
	}
}
