package main

import (
	"bytes"
	"encoding/pem"
	"flag"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl/internal/testpeer"
)

// assertOneLineError checks the shape of every failure: one line on stderr
// starting with "ossl-stateless:", nothing on stdout, no stack trace.
func assertOneLineError(t *testing.T, r result, code int, want string) {
	t.Helper()
	assert.Equal(t, code, r.code, "exit status; stderr: %s", r.stderr)
	assert.Empty(t, r.stdout, "nothing on stdout")
	assert.True(t, strings.HasPrefix(r.stderr, prog+": "), "stderr starts with %q: %q", prog+": ", r.stderr)
	assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line on stderr: %q", r.stderr)
	assert.True(t, strings.HasSuffix(r.stderr, "\n"), "the line ends with a newline")
	assert.Contains(t, r.stderr, want)
	assertNoCrash(t, r.stderr)
}

// TestHelp checks -help on the tool and on both commands: exit 0, the help
// on stdout, and every flag the command defines documented in it.
func TestHelp(t *testing.T) {
	for _, tc := range []struct {
		args []string
		fs   *flag.FlagSet
	}{
		{[]string{"-help"}, nil},
		{[]string{"help"}, nil},
		{[]string{"server", "-help"}, serverFlags(&serverOpts{})},
		{[]string{"client", "-h"}, clientFlags(&clientOpts{})},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, strings.NewReader(""), &stdout, &stderr, nil)
			assert.Equal(t, 0, code)
			assert.Empty(t, stderr.String())
			help := stdout.String()
			assert.True(t, strings.HasPrefix(help, "Usage: ossl-stateless"), "help starts with a usage line")
			assert.Contains(t, help, "Exit status")
			assert.NotContains(t, help, "%!", "no broken format verb")
			if tc.fs != nil {
				tc.fs.VisitAll(func(f *flag.Flag) {
					assert.Contains(t, help, "-"+f.Name+" ", "flag -%s is documented", f.Name)
				})
				assert.Contains(t, help, "256 to 16384", "the MTU bounds are filled in")
			}
		})
	}
	// And through the binary.
	r := runTool(t, "", "server", "-help")
	assert.Equal(t, 0, r.code)
	assert.Contains(t, r.stdout, "-mode echo|forward")
	assert.Empty(t, r.stderr)
}

// TestUsageErrors runs the binary with bad command lines: each gives exit
// status 2 and one line on stderr that names the problem and points to
// -help.
func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "no command given"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"server", "-bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"server", "-accept"}, "flag needs an argument: -accept"},
		{[]string{"server", "-mtu", "abc"}, `invalid value "abc" for flag -mtu`},
		{[]string{"server", "-mtu", "100"}, "-mtu 100 is outside 256 to 16384"},
		{[]string{"server", "-mode", "relay"}, `-mode must be echo or forward, not "relay"`},
		{[]string{"server", "-mode", "forward"}, "-mode forward needs -backend"},
		{[]string{"server", "-backend", "127.0.0.1:9"}, "-backend needs -mode forward"},
		{[]string{"server", "-mode", "forward", "-backend", "nohost"}, `-backend "nohost": want host:port`},
		{[]string{"server", "-dtls1_2", "-tls1_3"}, "-dtls1_2 and -tls1_3 exclude each other"},
		{[]string{"server", "-tls1_3", "-mtu", "1400"}, "-mtu applies to DTLS only"},
		{[]string{"server", "-readers", "0"}, "-readers must be 1 to 64, not 0"},
		{[]string{"server", "-tls1_3", "-readers", "2"}, "-readers applies to DTLS only"},
		{[]string{"server", "-verify"}, "flag needs an argument: -verify"},
		{[]string{"server", "-tls1_3", "-Verify", "1"}, "with -tls1_3, -verify and -Verify need -CAfile"},
		{[]string{"server", "-Verify", "-2"}, "-Verify takes a depth of 0 or more"},
		{[]string{"server", "-use_srtp", "SRTP_NOPE"}, `-use_srtp: unknown profile "SRTP_NOPE"`},
		{[]string{"server", "-tls1_3", "-use_srtp", "SRTP_AES128_CM_SHA1_80"}, "-cipher and -use_srtp apply to DTLS only"},
		{[]string{"server", "-keymatexport", "x", "-keymatexportlen", "0"}, "-keymatexportlen must be 1 to 4096"},
		{[]string{"server", "-key", "k.pem"}, "-key needs -cert"},
		{[]string{"server", "-accept", "127.0.0.1:99999"}, `"99999" is not a port number`},
		{[]string{"server", "-accept", "a:b:c"}, "want host:port"},
		{[]string{"server", "-idle", "-1s"}, "-idle must not be negative"},
		{[]string{"server", "-tls1_3", "-stateless", "-cookie-secret", "s.key"}, "-cookie-secret applies to DTLS only"},
		{[]string{"client", "-maxfraglen", "1000"}, "-maxfraglen takes 512, 1024, 2048 or 4096, not 1000"},
		{[]string{"client", "-tls1_3", "-maxfraglen", "512"}, "-maxfraglen applies to DTLS only"},
		{[]string{"server", "extra"}, `unexpected argument "extra"`},
		{[]string{"client", "-stateless"}, "-stateless is a server flag"},
		{[]string{"client", "-accept", "127.0.0.1:1"}, "flag provided but not defined: -accept"},
		{[]string{"client", "-insecure", "-verify", "2"}, "-insecure skips verification"},
		{[]string{"client", "-insecure", "-CAfile", "ca.pem"}, "-insecure skips verification"},
		{[]string{"client", "-connect", "localhost"}, `-connect "localhost": want host:port`},
		{[]string{"client", "-connect", ":4433"}, "the host is missing"},
		{[]string{"client", "-connect", "localhost:0"}, `"0" is not a port number`},
		{[]string{"client", "-wait", "0s"}, "-wait must be positive"},
		{[]string{"client", "-timeout", "-1s"}, "-timeout must be positive"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := runTool(t, "", tc.args...)
			assertOneLineError(t, r, 2, tc.want)
			assert.Contains(t, r.stderr, "-help')", "points to -help")
		})
	}
}

// TestRuntimeErrors runs the binary against missing and bad files, a port
// in use and unreachable servers: exit status 1 and one clear line.
func TestRuntimeErrors(t *testing.T) {
	p := newPKI(t)
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.pem")
	garbage := filepath.Join(dir, "garbage.pem")
	require.NoError(t, os.WriteFile(garbage, []byte("not PEM at all\n"), 0o600))
	shortSecret := filepath.Join(dir, "short.key")
	require.NoError(t, os.WriteFile(shortSecret, make([]byte, 31), 0o600))
	hugeSecret := filepath.Join(dir, "huge.key")
	require.NoError(t, os.WriteFile(hugeSecret, make([]byte, 4097), 0o600))
	// What `openssl pkey -aes128` writes: the body is never read.
	encrypted := filepath.Join(dir, "encrypted.key")
	require.NoError(t, os.WriteFile(encrypted, pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: make([]byte, 64)}), 0o600))
	// Another of our servers, whose socket has SO_REUSEPORT: a second one
	// on its port would have started beside it.
	_, ours := startServer(t)

	udpBusy, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	t.Cleanup(func() { udpBusy.Close() })
	tcpBusy, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { tcpBusy.Close() })

	// A UDP socket that reads and never answers: a server that is down
	// without the kernel saying so.
	silent, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	t.Cleanup(func() { silent.Close() })

	for _, tc := range []struct {
		name string
		args []string
		want string
		max  time.Duration // the failure comes this fast (0: no bound)
	}{
		{"server cert missing", []string{"server", "-cert", missing}, "-cert " + missing + ": no such file or directory", 0},
		{"server key missing", []string{"server", "-cert", p.Server.CertFile, "-key", missing}, "-key " + missing + ": no such file or directory", 0},
		{"server key of another cert", []string{"server", "-cert", p.Server.CertFile, "-key", p.Client.KeyFile}, "private key does not match public key", 0},
		{"server cert not PEM", []string{"server", "-cert", garbage, "-key", p.Server.KeyFile}, "failed to find any PEM data in certificate input", 0},
		{"server CAfile missing", []string{"server", "-CAfile", missing, "-Verify", "1"}, "-CAfile " + missing + ": no such file or directory", 0},
		{"server CAfile without certificates", []string{"server", "-CAfile", garbage}, "-CAfile " + garbage + ": no PEM certificate in it", 0},
		{"server cookie secret missing", []string{"server", "-cookie-secret", missing}, "-cookie-secret " + missing + ": no such file or directory", 0},
		{"server cookie secret short", []string{"server", "-cookie-secret", shortSecret}, "-cookie-secret " + shortSecret + ": 31 bytes, too short: a secret needs at least 32", 0},
		{"server cookie secret too long", []string{"server", "-cookie-secret", hugeSecret}, "-cookie-secret " + hugeSecret + ": more than 4096 bytes: not a secret file", 0},
		// A directory: unreadable as a file even for root, whom permission
		// bits do not stop.
		{"server cookie secret unreadable", []string{"server", "-cookie-secret", dir}, "-cookie-secret " + dir + ": is a directory", 0},
		{"server TLS CAfile missing", []string{"server", "-tls1_3", "-CAfile", missing}, "-CAfile " + missing + ": no such file or directory", 0},
		{"UDP port in use", []string{"server", "-accept", udpBusy.LocalAddr().String()}, "cannot listen on " + udpBusy.LocalAddr().String() + " (udp): address already in use", 0},
		{"UDP port of another server", []string{"server", "-accept", ours}, "cannot listen on " + ours + " (udp): address already in use (servers share a port only with the same -cookie-secret)", 0},
		{"server key encrypted", []string{"server", "-cert", p.Server.CertFile, "-key", encrypted}, "-key " + encrypted + ": the private key is encrypted; give it decrypted", 0},
		{"TCP port in use", []string{"server", "-tls1_3", "-stateless", "-accept", tcpBusy.Addr().String()}, "cannot listen on " + tcpBusy.Addr().String() + " (tcp): address already in use", 0},
		{"client CAfile missing", []string{"client", "-CAfile", missing}, "-CAfile " + missing + ": no such file or directory", 0},
		{"client cert missing", []string{"client", "-cert", missing}, "-cert " + missing + ": no such file or directory", 0},
		// -timeout 15s: the refusal, not the timeout, ends it.
		{"DTLS server unreachable", []string{"client", "-connect", testpeer.FreeLoopbackAddr(t, "udp"), "-insecure", "-timeout", "15s"}, "connection refused (ICMP port unreachable): no DTLS server there", 5 * time.Second},
		{"DTLS server silent", []string{"client", "-connect", silent.LocalAddr().String(), "-insecure", "-timeout", "1s"}, "no DTLS handshake with " + silent.LocalAddr().String() + " within 1s", 5 * time.Second},
		{"TLS server unreachable", []string{"client", "-tls1_3", "-connect", testpeer.FreeLoopbackAddr(t, "tcp"), "-insecure"}, "connection refused", 5 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runTool(t, "a line\n", tc.args...)
			assertOneLineError(t, r, 1, tc.want)
			if tc.max > 0 {
				assert.Less(t, r.elapsed, tc.max, "fails fast")
			}
		})
	}
}
