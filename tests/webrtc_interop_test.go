package tests

// DTLS-SRTP (RFC 5764) against OpenSSL's and GnuTLS's command-line peers,
// in both roles: the SRTP protection profile agreed and the 60 bytes of
// keying material exported with the label "EXTRACTOR-dtls_srtp" (two
// SRTP_AES128_CM_HMAC_SHA1_80 master keys and salts) must be the same on
// both sides.
//
//	go test -run 'SRTP' ./tests/

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl/dtls"
	"github.com/openssl-stateless/openssl/internal/testpeer"
)

const (
	srtpLabel = "EXTRACTOR-dtls_srtp"
	srtpLen   = 60
)

// The keying material lines the peers print: s_client and s_server in
// upper-case hex, gnutls-cli in lower case.
var (
	opensslKeymatRE = regexp.MustCompile(fmt.Sprintf(`Keying material: ([0-9A-F]{%d})\n`, 2*srtpLen))
	gnutlsKeymatRE  = regexp.MustCompile(fmt.Sprintf(`- Key material: ([0-9a-f]{%d})\n`, 2*srtpLen))
)

// waitKeymat waits until p has printed its whole keying material line.
func waitKeymat(t *testing.T, p *testpeer.Proc, re *regexp.Regexp) string {
	t.Helper()
	var km string
	require.Eventually(t, func() bool {
		m := re.FindStringSubmatch(p.String())
		if m != nil {
			km = m[1]
		}
		return m != nil
	}, testpeer.Timeout, 10*time.Millisecond, "%s printed no keying material", p)
	return km
}

func srtpKeymat(t *testing.T, cs dtls.ConnectionState) string {
	t.Helper()
	km, err := cs.ExportKeyingMaterial(srtpLabel, nil, srtpLen)
	require.NoError(t, err)
	return fmt.Sprintf("%X", km)
}

// acceptOne accepts one connection from l in the background.
func acceptOne(t *testing.T, l *dtls.Listener) <-chan *dtls.Conn {
	ch := make(chan *dtls.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			close(ch)
			return
		}
		t.Cleanup(func() { c.Close() })
		ch <- c.(*dtls.Conn)
	}()
	return ch
}

func srtpServer(t *testing.T, p *pki) *dtls.Listener {
	t.Helper()
	cfg := p.serverConfig()
	cfg.SRTPProtectionProfiles = []dtls.SRTPProtectionProfile{dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AES128_CM_HMAC_SHA1_80}
	l, err := dtls.Listen("udp", "127.0.0.1:0", cfg)
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return l
}

func TestSRTPListenerWithOpenSSLClient(t *testing.T) {
	checkGoroutines(t)
	p := newPKI(t)
	l := srtpServer(t, p)
	ch := acceptOne(t, l)
	cl := startPeer(t, "s_client", "-dtls1_2", "-connect", l.Addr().String(), "-CAfile", p.CAFile,
		"-verify_return_error", "-use_srtp", "SRTP_AES128_CM_SHA1_80",
		"-keymatexport", srtpLabel, "-keymatexportlen", strconv.Itoa(srtpLen), "-nocommands")
	km := waitKeymat(t, cl, opensslKeymatRE)
	sc := <-ch
	require.NotNil(t, sc)
	cs := sc.ConnectionState()
	assert.Equal(t, dtls.SRTP_AES128_CM_HMAC_SHA1_80, cs.SRTPProtectionProfile)
	assert.Contains(t, cl.String(), "SRTP Extension negotiated, profile=SRTP_AES128_CM_SHA1_80")
	assert.Equal(t, km, srtpKeymat(t, cs), "s_client and dtls.Listener export the same SRTP keys")
}

func TestSRTPDialWithOpenSSLServer(t *testing.T) {
	checkGoroutines(t)
	p := newPKI(t)
	port := testpeer.FreePort(t, "udp4", net.IPv4(127, 0, 0, 1))
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	srv := startPeer(t, "s_server", "-dtls1_2", "-listen", "-accept", addr,
		"-cert", p.Server.CertFile, "-key", p.Server.KeyFile, "-naccept", "1",
		"-use_srtp", "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80",
		"-keymatexport", srtpLabel, "-keymatexportlen", strconv.Itoa(srtpLen))
	srv.WaitFor("ACCEPT")
	cfg := p.clientConfig("")
	cfg.SRTPProtectionProfiles = []dtls.SRTPProtectionProfile{dtls.SRTP_AES128_CM_HMAC_SHA1_80, dtls.SRTP_AEAD_AES_128_GCM}
	c, err := dtls.Dial("udp", addr, cfg)
	require.NoError(t, err)
	defer c.Close()
	cs := c.ConnectionState()
	// s_server picks by its own order among what the client offers.
	assert.Equal(t, dtls.SRTP_AEAD_AES_128_GCM, cs.SRTPProtectionProfile)
	km := waitKeymat(t, srv, opensslKeymatRE)
	assert.Contains(t, srv.String(), "SRTP Extension negotiated, profile=SRTP_AEAD_AES_128_GCM")
	assert.Equal(t, km, srtpKeymat(t, cs), "s_server and dtls.Dial export the same SRTP keys")
}

func TestSRTPListenerWithGnuTLSClient(t *testing.T) {
	checkGoroutines(t)
	bin := testpeer.LookPath(t, "gnutls-cli")
	p := newPKI(t)
	l := srtpServer(t, p)
	ch := acceptOne(t, l)
	port := strconv.Itoa(l.Addr().(*net.UDPAddr).Port)
	cl := testpeer.Start(t, "gnutls-cli", bin, "--udp", "--port", port, "--x509cafile", p.CAFile,
		"--srtp-profiles=SRTP_AES128_CM_HMAC_SHA1_80", "--keymatexport", srtpLabel,
		"--keymatexportsize", strconv.Itoa(srtpLen), "127.0.0.1")
	cl.WaitFor("- Handshake was completed")
	out := cl.String()
	assert.Contains(t, out, "- SRTP profile: SRTP_AES128_CM_HMAC_SHA1_80")
	sc := <-ch
	require.NotNil(t, sc)
	cs := sc.ConnectionState()
	assert.Equal(t, dtls.SRTP_AES128_CM_HMAC_SHA1_80, cs.SRTPProtectionProfile)
	km := waitKeymat(t, cl, gnutlsKeymatRE)
	assert.Equal(t, strings.ToUpper(km), srtpKeymat(t, cs), "gnutls-cli and dtls.Listener export the same SRTP keys")
}

// gnutls-serv (3.7.9) prints no keying material for its UDP connections:
// against it the profile is checked, and the bytes against gnutls-cli
// above and both OpenSSL tools.
func TestSRTPDialWithGnuTLSServer(t *testing.T) {
	checkGoroutines(t)
	bin := testpeer.LookPath(t, "gnutls-serv")
	p := newPKI(t)
	port := testpeer.FreePort(t, "udp", nil)
	srv := testpeer.Start(t, "gnutls-serv", bin, "--udp", "--port", strconv.Itoa(port),
		"--x509certfile", p.Server.CertFile, "--x509keyfile", p.Server.KeyFile, "--echo",
		"--srtp-profiles=SRTP_AES128_CM_HMAC_SHA1_32")
	srv.WaitFor(fmt.Sprintf("listening on IPv4 0.0.0.0 port %d...done", port))
	cfg := p.clientConfig("localhost")
	cfg.SRTPProtectionProfiles = []dtls.SRTPProtectionProfile{dtls.SRTP_AES128_CM_HMAC_SHA1_80, dtls.SRTP_AES128_CM_HMAC_SHA1_32}
	c, err := dtls.Dial("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), cfg)
	require.NoError(t, err)
	defer c.Close()
	cs := c.ConnectionState()
	assert.Equal(t, dtls.SRTP_AES128_CM_HMAC_SHA1_32, cs.SRTPProtectionProfile, "the one profile gnutls-serv has")
	assert.Len(t, srtpKeymat(t, cs), 2*srtpLen)
	_, err = c.Write([]byte("rtp-ish\n"))
	require.NoError(t, err)
	assert.Equal(t, "rtp-ish\n", readRecord(t, c))
}
