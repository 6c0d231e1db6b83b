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
	"testing"

	"github.com/openssl-stateless/openssl/internal/testmain"
)

// TestMain fails the run if an OS thread is left with entries on OpenSSL's
// error queue: every operation of the binding must drain it (see
// testmain).
func TestMain(m *testing.M) { testmain.Main(m) }
