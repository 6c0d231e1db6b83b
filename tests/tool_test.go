package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// The ossl-stateless tool, built once per test process for the tests that
// run it as a server (several instances sharing one cookie secret), and
// removed by TestMain.
var (
	toolOnce sync.Once
	toolDir  string
	toolBin  string
	toolErr  error
	toolLog  []byte
)

// osslStatelessBin returns the path of cmd/ossl-stateless, built on first
// use. A build failure fails the test with the compiler's output.
func osslStatelessBin(t *testing.T) string {
	t.Helper()
	toolOnce.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			goBin = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
		}
		if toolDir, toolErr = os.MkdirTemp("", "ossl-stateless-tests-"); toolErr != nil {
			return
		}
		bin := filepath.Join(toolDir, "ossl-stateless")
		toolLog, toolErr = exec.Command(goBin, "build", "-o", bin, "github.com/openssl-stateless/openssl/cmd/ossl-stateless").CombinedOutput()
		if toolErr == nil {
			toolBin = bin
		}
	})
	if toolErr != nil {
		t.Fatalf("building cmd/ossl-stateless: %v\n%s", toolErr, toolLog)
	}
	return toolBin
}

// removeTool deletes what osslStatelessBin built.
func removeTool() {
	if toolDir != "" {
		os.RemoveAll(toolDir)
	}
}
