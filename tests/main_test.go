// Package tests holds interop tests: the binding against real peers (the
// openssl command-line tool) over real loopback sockets. Peers are started
// per test, awaited by their readiness line, and killed and waited for in
// t.Cleanup. The tests skip only when the openssl tool is not installed,
// the namespace tests when namespaces are refused (not root), and the
// balancer test when ip or nft is not installed.
//
// The tests that check the records a peer sent and received read its
// protocol log: `-trace` where the tool has it, `-msg` where it does not
// (OpenSSL 1.1.1 as Debian builds it); TESTS_OPENSSL_TRACE=msg forces
// -msg. See traceFlag and parseTrace.
//
// The tests, by what they run against the peers:
//   - dtls_interop_test.go: a DTLS server and client written with the
//     binding's thin API (DTLSv1_listen, SSL_accept, SSL_connect...);
//   - tls_interop_test.go: TLS 1.3's stateless cookie exchange
//     (SSL_stateless);
//   - dtlspkg_interop_test.go: package dtls (Listener, Dial), also against
//     GnuTLS's gnutls-cli and gnutls-serv;
//   - spoof_linux_test.go: ClientHellos from forged sources, sent over a
//     raw socket from one network namespace to a dtls.Listener in another
//     (root only; netns_linux_test.go makes the namespaces);
//   - scale_linux_test.go: ossl-stateless server processes sharing one
//     -cookie-secret, behind an nftables balancer in network namespaces
//     (root, ip and nft only) and on one SO_REUSEPORT port with the
//     client's ClientHellos steered between them (tool_test.go builds the
//     tool).
//
// They share one set of helpers, a file for each job:
//   - main_test.go: TestMain and checkGoroutines, the leak checks;
//   - peer_test.go: the command-line peers (opensslBin, startPeer...);
//   - pki_test.go: certificates, and the openssl.Ctx and dtls.Configs that
//     use them;
//   - socket_test.go: driving the thin API over a Go UDP socket;
//   - wire_test.go: datagrams between the peers, lost or looked at
//     (lossyRelay, cookieSniffer), parsed with internal/record;
//   - trace_test.go: the peers' protocol logs (traceFlag, parseTrace), with
//     tests of the parsers on captured logs;
//   - echo_test.go: a dtls.Listener that echoes what it reads.
package tests

import (
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/openssl-stateless/openssl/internal/testmain"
)

// TestMain fails the run if an OS thread is left with entries on OpenSSL's
// error queue: every operation of the binding must drain it (see
// testmain). It removes the ossl-stateless binary the scale-out tests
// built.
func TestMain(m *testing.M) {
	code := testmain.Run(m)
	removeTool()
	os.Exit(code)
}

// checkGoroutines fails the test if it leaves goroutines behind. Call it
// first, so that its cleanup runs after every other one (peers killed and
// waited for, listeners, connections and sockets closed).
func checkGoroutines(t *testing.T) {
	t.Helper()
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
}
