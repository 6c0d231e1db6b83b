package openssl_test

import (
	"testing"

	"github.com/openssl-stateless/openssl/internal/testmain"
)

// TestMain fails the run if any OS thread the tests may have used is left
// with entries on OpenSSL's error queue (see testmain).
func TestMain(m *testing.M) { testmain.Main(m) }
