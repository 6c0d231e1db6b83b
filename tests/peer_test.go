package tests

import (
	"context"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl/internal/testpeer"
)

// opensslBin returns the path of the openssl command-line tool, skipping the
// test when it is not installed (CI installs it, so CI never skips).
func opensslBin(t *testing.T) string {
	t.Helper()
	return testpeer.LookPath(t, "openssl")
}

// opensslCLIVersion returns the first line of `openssl version`, such as
// "OpenSSL 3.0.13 30 Jan 2024 (Library: OpenSSL 3.0.13 30 Jan 2024)".
func opensslCLIVersion(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testpeer.Timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, opensslBin(t), "version").Output()
	require.NoError(t, err)
	return strings.TrimSpace(string(out))
}

var cliVersionRE = regexp.MustCompile(`^OpenSSL (\d+)\.(\d+)\.`)

// opensslCLISeries returns the release series of the openssl tool: "1.1"
// for 1.1.1w, "3.0" for 3.0.13, "3.5" for 3.5.9; "" when `openssl version`
// names no OpenSSL (LibreSSL, say).
func opensslCLISeries(t *testing.T) string {
	t.Helper()
	m := cliVersionRE.FindStringSubmatch(opensslCLIVersion(t))
	if m == nil {
		return ""
	}
	return m[1] + "." + m[2]
}

// startPeer starts `openssl args...` (an s_client or s_server, named by
// args[0]), its stdout and stderr merged. The process is killed (if still
// running) and waited for in t.Cleanup; its output is logged when the
// test failed.
func startPeer(t *testing.T, args ...string) *testpeer.Proc {
	t.Helper()
	return testpeer.Start(t, args[0], opensslBin(t), args...)
}

// countLines counts the lines of a peer's output that contain s.
func countLines(out, s string) int {
	n := 0
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, s) {
			n++
		}
	}
	return n
}
