package openssl_test

import (
	"testing"

	"github.com/openssl-stateless/openssl/internal/errqueuecheck"
)

// TestMain fails the run if any OS thread the tests may have used is left
// with entries on OpenSSL's error queue (see errqueuecheck).
func TestMain(m *testing.M) { errqueuecheck.Main(m) }
