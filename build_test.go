package openssl_test

import (
	"os"
	"regexp"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
