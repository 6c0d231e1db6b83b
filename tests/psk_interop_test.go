package tests

// Interop of the PSK cipher suites (issue 12) with the command-line peers of
// OpenSSL and GnuTLS, both directions, right key and wrong key:
//
//	go test -run 'PSK' ./tests/

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl/dtls"
	"github.com/openssl-stateless/openssl/internal/testpeer"
)

const pskIdentity = "coap-node-7"

var (
	pskKey      = []byte{0x3a, 0x5c, 0x11, 0x90, 0x42, 0x7e, 0x08, 0xd1, 0x6b, 0x2f, 0x99, 0xc4, 0x0e, 0x73, 0x55, 0xa8}
	pskKeyHex   = hex.EncodeToString(pskKey)
	wrongKeyHex = "00112233445566778899aabbccddeeff"
)

// pskListener is a certificate-less dtls.Listener that knows pskIdentity
// and echoes every record; the ConnectionStates of accepted connections
// arrive on the channel.
func pskListener(t *testing.T, cipherList string) (*dtls.Listener, <-chan dtls.ConnectionState) {
	t.Helper()
	l, err := dtls.Listen("udp", "127.0.0.1:0", &dtls.Config{
		GetPSK: func(identity string) ([]byte, error) {
			if identity == pskIdentity {
				return pskKey, nil
			}
			return nil, nil
		},
		PSKIdentityHint: "gw",
		CipherList:      cipherList,
	})
	require.NoError(t, err)
	return l, acceptStates(t, l)
}

func TestPSKListenerWithOpenSSLClient(t *testing.T) {
	for _, suite := range []string{"PSK-AES128-CCM8", "ECDHE-PSK-AES128-CBC-SHA256"} {
		t.Run(suite, func(t *testing.T) {
			l, states := pskListener(t, "")
			cl := startPeer(t, "s_client", "-dtls1_2", "-connect", l.Addr().String(),
				"-psk", pskKeyHex, "-psk_identity", pskIdentity, "-cipher", atLevel0(suite), "-nocommands")
			cl.WaitFor("Cipher is " + suite)
			line := fmt.Sprintf("reading %d from s_client\n", time.Now().UnixNano())
			cl.Send(line)
			cl.WaitFor(line)
			select {
			case cs := <-states:
				assert.Equal(t, suite, dtls.CipherSuiteOpenSSLName(cs.CipherSuite))
				assert.Equal(t, pskIdentity, cs.PSKIdentity)
				assert.True(t, cs.CookieExchanged)
			case <-time.After(testpeer.Timeout):
				t.Fatal("no ConnectionState")
			}
			assert.Contains(t, cl.String(), "PSK identity hint: gw")
		})
	}
}

func TestPSKListenerWithOpenSSLClientWrongKey(t *testing.T) {
	l, _ := pskListener(t, "")
	start := time.Now()
	cl := startPeer(t, "s_client", "-dtls1_2", "-connect", l.Addr().String(),
		"-psk", wrongKeyHex, "-psk_identity", pskIdentity, "-cipher", atLevel0("PSK-AES128-CCM8"), "-nocommands")
	cl.WaitFor("alert bad record mac")
	t.Logf("s_client got the alert after %v", time.Since(start))
	assert.Eventually(t, func() bool { return l.Stats().HandshakesFailed == 1 }, testpeer.Timeout, 10*time.Millisecond)
}

func TestPSKListenerWithGnuTLSClient(t *testing.T) {
	bin := testpeer.LookPath(t, "gnutls-cli")
	// ECDHE-PSK is tested the other way round (TestPSKDialWithGnuTLSServer):
	// gnutls-cli 3.7.9 with --priority NORMAL:-KX-ALL:+ECDHE-PSK dies of a
	// segmentation fault once the handshake is done, against openssl
	// s_server as against a dtls.Listener.
	for _, tc := range []struct{ name, priority, suite string }{
		{"PSK-AES128-CCM8", "NORMAL:-KX-ALL:+PSK:-CIPHER-ALL:+AES-128-CCM-8:-VERS-ALL:+VERS-DTLS1.2", "PSK-AES128-CCM8"},
		{"PSK-AES128-GCM", "NORMAL:-KX-ALL:+PSK:-CIPHER-ALL:+AES-128-GCM:-VERS-ALL:+VERS-DTLS1.2", "PSK-AES128-GCM-SHA256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, states := pskListener(t, "")
			port := strconv.Itoa(l.Addr().(*net.UDPAddr).Port)
			cl := testpeer.Start(t, "gnutls-cli", bin, "--udp", "--port", port,
				"--pskusername", pskIdentity, "--pskkey", pskKeyHex, "--priority", tc.priority, "127.0.0.1")
			cl.WaitFor("- Handshake was completed")
			line := fmt.Sprintf("reading %d from gnutls-cli\n", time.Now().UnixNano())
			cl.Send(line)
			cl.WaitFor(line)
			select {
			case cs := <-states:
				assert.Contains(t, dtls.CipherSuiteOpenSSLName(cs.CipherSuite), tc.suite)
				assert.Equal(t, pskIdentity, cs.PSKIdentity)
			case <-time.After(testpeer.Timeout):
				t.Fatal("no ConnectionState")
			}
		})
	}
}

func TestPSKListenerWithGnuTLSClientWrongKey(t *testing.T) {
	bin := testpeer.LookPath(t, "gnutls-cli")
	l, _ := pskListener(t, "")
	port := strconv.Itoa(l.Addr().(*net.UDPAddr).Port)
	cl := testpeer.Start(t, "gnutls-cli", bin, "--udp", "--port", port,
		"--pskusername", pskIdentity, "--pskkey", wrongKeyHex,
		"--priority", "NORMAL:-KX-ALL:+PSK:-VERS-ALL:+VERS-DTLS1.2", "127.0.0.1")
	cl.WaitFor("Bad record MAC")
	assert.Eventually(t, func() bool { return l.Stats().HandshakesFailed == 1 }, testpeer.Timeout, 10*time.Millisecond)
}

// opensslPSKServer starts `openssl s_server -dtls1_2 -listen -nocert` with
// the given key and returns its address.
func opensslPSKServer(t *testing.T, keyHex, suite string) (*testpeer.Proc, string) {
	t.Helper()
	opensslBin(t)
	port := testpeer.FreePort(t, "udp4", net.IPv4(127, 0, 0, 1))
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	srv := startPeer(t, "s_server", "-dtls1_2", "-listen", "-accept", addr, "-nocert",
		"-psk", keyHex, "-psk_identity", pskIdentity, "-psk_hint", "s_server-hint",
		"-cipher", atLevel0(suite), "-naccept", "1")
	srv.WaitFor("ACCEPT")
	return srv, addr
}

func TestPSKDialWithOpenSSLServer(t *testing.T) {
	checkGoroutines(t)
	for _, suite := range []string{"PSK-AES128-CCM8", "ECDHE-PSK-AES128-CBC-SHA256"} {
		t.Run(suite, func(t *testing.T) {
			srv, addr := opensslPSKServer(t, pskKeyHex, suite)
			var hint string
			c, err := dtls.Dial("udp", addr, &dtls.Config{GetClientPSK: func(h string) (string, []byte, error) {
				hint = h
				return pskIdentity, pskKey, nil
			}})
			require.NoError(t, err)
			defer c.Close()
			cs := c.ConnectionState()
			assert.Equal(t, suite, dtls.CipherSuiteOpenSSLName(cs.CipherSuite))
			assert.Equal(t, pskIdentity, cs.PSKIdentity)
			assert.True(t, cs.CookieExchanged)
			assert.Equal(t, "s_server-hint", hint)
			msg := fmt.Sprintf("hello %d from dtls.Dial\n", time.Now().UnixNano())
			_, err = c.Write([]byte(msg))
			require.NoError(t, err)
			srv.WaitFor(msg)
			srv.Send("reply from s_server\n")
			assert.Equal(t, "reply from s_server\n", readRecord(t, c))
			require.NoError(t, c.Close())
			require.NoError(t, srv.Wait())
		})
	}
}

// OpenSSL's DTLS server drops a Finished that does not decrypt, without an
// alert (RFC 6347 4.1.2.7), so a client with the wrong key learns nothing
// before its handshake timeout: the failure is a timeout, not a success.
func TestPSKDialWithOpenSSLServerWrongKey(t *testing.T) {
	_, addr := opensslPSKServer(t, wrongKeyHex, "PSK-AES128-CCM8")
	_, err := dtls.Dial("udp", addr, &dtls.Config{PSKIdentity: pskIdentity, PSKKey: pskKey,
		HandshakeTimeout: 3 * time.Second})
	require.Error(t, err)
	var ne net.Error
	assert.True(t, errors.As(err, &ne) && ne.Timeout(), "%v", err)
}

// gnutlsPSKServer starts `gnutls-serv --udp --echo` with a PSK password
// file holding key for pskIdentity.
func gnutlsPSKServer(t *testing.T, keyHex string) string {
	t.Helper()
	bin := testpeer.LookPath(t, "gnutls-serv")
	pw := filepath.Join(t.TempDir(), "psk.passwd")
	require.NoError(t, os.WriteFile(pw, []byte(pskIdentity+":"+keyHex+"\n"), 0o600))
	port := testpeer.FreePort(t, "udp", nil)
	srv := testpeer.Start(t, "gnutls-serv", bin, "--udp", "--port", strconv.Itoa(port), "--echo",
		"--pskpasswd", pw, "--priority", "NORMAL:+PSK:+ECDHE-PSK:+AES-128-CCM-8")
	srv.WaitFor(fmt.Sprintf("listening on IPv4 0.0.0.0 port %d...done", port))
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

func TestPSKDialWithGnuTLSServer(t *testing.T) {
	for _, suite := range []string{"PSK-AES128-CCM8", "ECDHE-PSK-CHACHA20-POLY1305"} {
		t.Run(suite, func(t *testing.T) {
			addr := gnutlsPSKServer(t, pskKeyHex)
			c, err := dtls.Dial("udp", addr, &dtls.Config{PSKIdentity: pskIdentity, PSKKey: pskKey, CipherList: atLevel0(suite)})
			require.NoError(t, err)
			defer c.Close()
			assert.Equal(t, suite, dtls.CipherSuiteOpenSSLName(c.ConnectionState().CipherSuite))
			msg := "hello from dtls.Dial over " + suite + "\n"
			_, err = c.Write([]byte(msg))
			require.NoError(t, err)
			assert.Equal(t, msg, readRecord(t, c))
		})
	}
}

// gnutls-serv, like OpenSSL, drops the undecryptable Finished silently.
func TestPSKDialWithGnuTLSServerWrongKey(t *testing.T) {
	addr := gnutlsPSKServer(t, wrongKeyHex)
	_, err := dtls.Dial("udp", addr, &dtls.Config{PSKIdentity: pskIdentity, PSKKey: pskKey,
		CipherList: atLevel0("PSK-AES128-CCM8"), HandshakeTimeout: 3 * time.Second})
	require.Error(t, err)
	var ne net.Error
	assert.True(t, errors.As(err, &ne) && ne.Timeout(), "%v", err)
}

// atLevel0 adds @SECLEVEL=0 to a cipher list naming a CCM8 suite: OpenSSL
// 3.4 and later allow those (a 64-bit tag) only at security level 0, in our
// Config and in the openssl tools alike; earlier versions take it as well.
func atLevel0(suite string) string {
	if strings.Contains(suite, "CCM8") {
		return suite + ":@SECLEVEL=0"
	}
	return suite
}
