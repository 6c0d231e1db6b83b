package openssl

import (
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl/internal/testcert"
)

// The table of parsed peer certificates keeps none alive: once nothing
// holds a certificate, its entry goes, so a peer that sends new
// certificates over and over leaves nothing behind.
func TestPeerCertificateTableHoldsNothing(t *testing.T) {
	ca := testcert.NewCA(t, "table CA")
	ders := parseFifty(t, ca)
	cached := func() int { // how many of the fifty the table still holds
		peerCerts.mu.Lock()
		defer peerCerts.mu.Unlock()
		n := 0
		for _, der := range ders {
			if _, ok := peerCerts.m[string(der)]; ok {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(10 * time.Second)
	for cached() > 0 && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	require.Zero(t, cached(), "entries of certificates nobody holds")

	before := peerCertificatesCached()
	_, err := parsePeerCertificate([]byte("not a certificate"))
	require.Error(t, err)
	require.LessOrEqual(t, peerCertificatesCached(), before, "a failed parse adds no entry")
}

// parseFifty parses 50 new certificates twice each, checks that the second
// parse returns the first's certificate, even after the caller's bytes
// changed, and that the table holds each; it drops the certificates and
// returns their DER.
func parseFifty(t *testing.T, ca *testcert.CA) [][]byte {
	held := make([]any, 0, 50)
	ders := make([][]byte, 0, 50)
	for i := range 50 {
		der := ca.Issue(t, "peer", testcert.Options{}).Leaf.Raw
		in := append([]byte(nil), der...)
		c, err := parsePeerCertificate(in)
		require.NoError(t, err)
		clear(in) // the caller's buffer is reused: the table has its own copy
		again, err := parsePeerCertificate(append([]byte(nil), der...))
		require.NoError(t, err)
		require.Same(t, c, again, "certificate %d parsed twice", i)
		require.Equal(t, der, c.Raw)
		held = append(held, c)
		ders = append(ders, der)
	}
	peerCerts.mu.Lock()
	for _, der := range ders {
		_, ok := peerCerts.m[string(der)]
		require.True(t, ok)
	}
	peerCerts.mu.Unlock()
	runtime.KeepAlive(held)
	return ders
}
