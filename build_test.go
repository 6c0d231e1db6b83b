package openssl_test

import (
	"os"
	"regexp"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl"
)

// TestCgoMarks keeps the #cgo noescape/nocallback lines of build.go and the
// "go: noescape nocallback" marks beside the prototypes in include/shim.h
// the same list, and keeps the marks off every call that can run a Go
// callback: a nocallback function that calls Go crashes the process, and a
// noescape pointer that C keeps is a use-after-free.
func TestCgoMarks(t *testing.T) {
	header, err := os.ReadFile("include/shim.h")
	require.NoError(t, err)
	build, err := os.ReadFile("build.go")
	require.NoError(t, err)

	var marked []string
	for _, m := range regexp.MustCompile(`(?m)\b(gossl_\w+)\([^;]*\);\s*/\* go: noescape nocallback \*/`).FindAllSubmatch(header, -1) {
		marked = append(marked, string(m[1]))
	}
	var noescape, nocallback []string
	for _, m := range regexp.MustCompile(`(?m)^#cgo (noescape|nocallback) (\w+)$`).FindAllSubmatch(build, -1) {
		if string(m[1]) == "noescape" {
			noescape = append(noescape, string(m[2]))
		} else {
			nocallback = append(nocallback, string(m[2]))
		}
	}
	slices.Sort(marked)
	slices.Sort(noescape)
	slices.Sort(nocallback)
	require.NotEmpty(t, marked)
	assert.Equal(t, marked, noescape, "#cgo noescape lines in build.go")
	assert.Equal(t, marked, nocallback, "#cgo nocallback lines in build.go")

	// Functions that run libssl operations (and so cookie, verify and
	// timer callbacks) or set callbacks must never be marked.
	for _, f := range []string{"gossl_SSL_op", "gossl_SSL_read", "gossl_SSL_write", "gossl_DTLSv1_listen",
		"gossl_SSL_CTX_set_cookie_cb", "gossl_SSL_CTX_set_cert_verify_callback", "gossl_DTLS_set_timer_cb"} {
		assert.NotContains(t, marked, f)
	}
}

// TestRecordBuffersEscape keeps what the record calls of ssl.go rely on
// now that cgo does not check their buffers: a buffer given to Read, Peek
// or Write is moved to the heap, so that a Go callback that grows the
// stack during the call cannot move it from under OpenSSL. cgo does that
// for every argument of a call not marked both noescape and nocallback
// (TestCgoMarks keeps these unmarked; marked, this test fails). An array
// on the caller's stack then costs one allocation more than a slice
// already on the heap. Only the plain build proves it: -asan and checkptr
// move such buffers to the heap anyway.
func TestRecordBuffersEscape(t *testing.T) {
	ctx, err := openssl.NewCtx(openssl.DTLSServerMethod)
	require.NoError(t, err)
	defer ctx.Close()
	ssl, err := openssl.NewSSL(ctx)
	require.NoError(t, err)
	defer ssl.Close()
	// Direct calls: through a func value the compiler would move any
	// argument to the heap, whatever the callee.
	heap := make([]byte, 64)
	for _, c := range []struct {
		name          string
		onHeap, stack func()
	}{
		{"Read", func() { _, _ = ssl.Read(heap) }, func() { var a [64]byte; _, _ = ssl.Read(a[:]) }},
		{"Peek", func() { _, _ = ssl.Peek(heap) }, func() { var a [64]byte; _, _ = ssl.Peek(a[:]) }},
		{"Write", func() { _, _ = ssl.Write(heap) }, func() { var a [64]byte; _, _ = ssl.Write(a[:]) }},
	} {
		assert.Equal(t, testing.AllocsPerRun(20, c.onHeap)+1, testing.AllocsPerRun(20, c.stack),
			"%s: a stack buffer must escape to the heap", c.name)
	}
}
