package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestTLSClientChecksIPAddress: the TLS client lets OpenSSL check an IP
// address against the certificate's IP SANs (SetHost) on every supported
// version, also when the server sends a chain, and shows the leaf of that
// chain. Before SetHost took addresses on 1.1.1, the tool checked them in
// Go and refused chains longer than one certificate.
func TestTLSClientChecksIPAddress(t *testing.T) {
	p := newPKI(t)
	chain := filepath.Join(t.TempDir(), "chain.pem")
	require.NoError(t, os.WriteFile(chain, append(append([]byte{}, p.Server.CertPEM...), p.CA.CertPEM...), 0o600))
	_, addr := startServer(t, "-tls1_3", "-stateless", "-cert", chain, "-key", p.Server.KeyFile)

	r := runTool(t, "hello\n", "client", "-tls1_3", "-connect", addr, "-CAfile", p.CAFile)
	require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
	require.Equal(t, "hello\n", r.stdout)
	require.Contains(t, r.stderr, "Verification: OK (127.0.0.1)")
	require.Contains(t, r.stderr, "CN=localhost", "the leaf of the two-certificate chain is shown")

	r = runTool(t, "hello\n", "client", "-tls1_3", "-connect", addr, "-CAfile", p.CAFile, "-servername", "10.1.2.3")
	assertOneLineError(t, r, 1, "the certificate of "+addr+" does not verify: IP address mismatch (connect by a name the certificate carries, or set -servername)")
}
