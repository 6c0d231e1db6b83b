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
	base := peerCertificatesCached()
	parseFifty(t, ca)
	deadline := time.Now().Add(10 * time.Second)
	for peerCertificatesCached() > base && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	require.LessOrEqual(t, peerCertificatesCached(), base, "entries of certificates nobody holds")

	_, err := parsePeerCertificate([]byte("not a certificate"))
	require.Error(t, err)
	require.LessOrEqual(t, peerCertificatesCached(), base, "a failed parse adds no entry")
}

// parseFifty parses 50 new certificates twice each, checks that the second
// parse is the first's certificate and that each has its entry, and drops
// them.
func parseFifty(t *testing.T, ca *testcert.CA) {
	held := make([]any, 0, 50)
	for i := range 50 {
		der := ca.Issue(t, "peer", testcert.Options{}).Leaf.Raw
		c, err := parsePeerCertificate(append([]byte(nil), der...))
		require.NoError(t, err)
		again, err := parsePeerCertificate(append([]byte(nil), der...))
		require.NoError(t, err)
		require.Same(t, c, again, "certificate %d parsed twice", i)
		held = append(held, c)
	}
	require.GreaterOrEqual(t, peerCertificatesCached(), len(held))
	runtime.KeepAlive(held)
}
