package main

import (
	"encoding/json"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl/internal/record"
	"github.com/openssl-stateless/openssl/internal/testpeer"
)

// runProbeJSON runs `probe -json args...` and returns its report.
func runProbeJSON(t *testing.T, args ...string) probeReport {
	t.Helper()
	res := runTool(t, "", append([]string{"probe", "-json"}, args...)...)
	require.Equal(t, 0, res.code, "probe exit status; stderr:\n%s", res.stderr)
	assertNoCrash(t, res.stderr)
	var r probeReport
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &r), "probe -json output:\n%s", res.stdout)
	t.Logf("probe report:\n%s", res.stdout)
	return r
}

// assertStatelessDTLS checks what every cookie-protected DTLS server of
// the tests shows: a HelloVerifyRequest smaller than any ClientHello,
// nothing kept, and a cookie that works from its own port only, and not
// with a bit flipped.
func assertStatelessDTLS(t *testing.T, r probeReport, cookieLen int) {
	t.Helper()
	assert.Equal(t, "udp", r.Transport)
	assert.Equal(t, answerHVR, r.FirstAnswer)
	assert.Equal(t, []string{"HelloVerifyRequest"}, r.Messages)
	assert.False(t, r.KeepsState)
	assert.False(t, r.IgnoresOthersWhileUnverified)
	require.NotNil(t, r.Amplification)
	amp := r.Amplification
	assert.Equal(t, 1, amp.Minimal.AnswerDatagrams)
	assert.Less(t, amp.Minimal.Factor, 1.0)
	assert.Equal(t, 1200, amp.Large.ClientHelloBytes, "the large ClientHello is padded to -large")
	assert.Equal(t, answerHVR, amp.Large.FirstAnswer)
	assert.Less(t, amp.Large.Factor, amp.Minimal.Factor)
	assert.False(t, amp.ExceedsClientHello)
	require.NotNil(t, r.Cookie)
	c := r.Cookie
	assert.Equal(t, cookieLen, c.Length)
	assert.True(t, c.Accepted, "its own cookie, from its own port")
	assert.Equal(t, answerSH, c.SamePortAnswer)
	require.NotNil(t, c.PortBound)
	assert.True(t, *c.PortBound)
	assert.Equal(t, answerHVR, c.OtherPortAnswer, "a cookie from another port is answered with a new one")
	require.NotNil(t, c.BitFlipRejected)
	assert.True(t, *c.BitFlipRejected)
	assert.Equal(t, answerHVR, c.BitFlipAnswer)
	assert.Contains(t, r.Verdict, "STATELESS: it answers an unverified client with a HelloVerifyRequest")
	assert.Contains(t, r.Verdict, "no amplification")
	assert.Empty(t, r.Notes)
}

// TestProbeOpenSSLListen: `openssl s_server -dtls1_2 -listen` answers with
// DTLSv1_listen's HelloVerifyRequest (s_server's 20-byte cookie, an HMAC
// of the peer's address and port with a secret of the process: no expiry).
func TestProbeOpenSSLListen(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	addr := testpeer.FreeLoopbackAddr(t, "udp")
	srv := opensslPeer(t, "s_server", "s_server", "-dtls1_2", "-listen", "-accept", addr,
		"-cert", p.Server.CertFile, "-key", p.Server.KeyFile)
	srv.WaitFor("ACCEPT")
	r := runProbeJSON(t, "-connect", addr, "-dtls1_2", "-replay-max", "1s")
	assertStatelessDTLS(t, r, 20)
	require.NotNil(t, r.Cookie.Replay)
	assert.False(t, r.Cookie.Replay.Expires, "s_server's cookies do not expire")
	assert.Equal(t, int64(1000), r.Cookie.Replay.LastAcceptedMS)
	assert.Contains(t, r.Verdict, "a cookie is still accepted after 1s")
	assert.Nil(t, r.DTLS10, "-dtls1_2: no DTLS 1.0 ClientHello")
	// The probe finished the one handshake it let s_server start and
	// closed it with close_notify: s_server reads end of data ("DONE").
	// (It then ends: the DTLS s_server serves one connection and prints
	// ERROR when it cannot listen again.)
	srv.WaitFor("DONE")
	assert.NotContains(t, srv.Stdout.String(), "alert", "no alert from the probe")
}

// TestProbeOpenSSLWithoutListen: `openssl s_server -dtls1_2` without
// -listen does not go straight to its certificate flight: s_server sets
// SSL_OP_COOKIE_EXCHANGE, so SSL_accept itself sends a HelloVerifyRequest,
// but it keeps the unverified client's SSL and serves no one else until
// that client returns its cookie. The probe must call that keeping state.
func TestProbeOpenSSLWithoutListen(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	addr := testpeer.FreeLoopbackAddr(t, "udp")
	srv := opensslPeer(t, "s_server", "s_server", "-dtls1_2", "-accept", addr,
		"-cert", p.Server.CertFile, "-key", p.Server.KeyFile)
	srv.WaitFor("ACCEPT")
	r := runProbeJSON(t, "-connect", addr, "-dtls1_2", "-replay-max", "1s")
	assert.Equal(t, answerHVR, r.FirstAnswer)
	assert.True(t, r.KeepsState)
	assert.True(t, r.IgnoresOthersWhileUnverified)
	assert.Equal(t, answerNone, r.Amplification.Large.FirstAnswer, "the second client, on another port, is not answered")
	require.NotNil(t, r.Cookie)
	assert.Equal(t, 20, r.Cookie.Length)
	assert.True(t, r.Cookie.Accepted, "the first client, returning its cookie, is served")
	assert.Nil(t, r.Cookie.PortBound, "not tested: null, not false")
	assert.Nil(t, r.Cookie.BitFlipRejected, "not tested: null, not false")
	assert.Contains(t, r.Verdict, "KEEPS STATE: it asks for a cookie")
	assert.Contains(t, r.Verdict, "another client got no answer until the first returned its cookie")
	require.Len(t, r.Notes, 1)
	assert.Contains(t, r.Notes[0], "were not tested")
}

// TestProbeGnuTLS: `gnutls-serv --udp` asks for a 16-byte cookie bound to
// the peer's address and port; with --nocookie it answers the first
// ClientHello with its whole certificate flight, larger than the
// ClientHello: the amplification the issue is about.
func TestProbeGnuTLS(t *testing.T) {
	t.Parallel()
	bin := testpeer.LookPath(t, "gnutls-serv")
	p := newPKI(t)
	start := func(flags ...string) string {
		port := testpeer.FreePort(t, "udp", nil)
		args := append([]string{"--udp", "--port", strconv.Itoa(port),
			"--x509certfile", p.Server.CertFile, "--x509keyfile", p.Server.KeyFile, "--echo"}, flags...)
		srv := testpeer.Start(t, "gnutls-serv", bin, args...)
		srv.WaitFor(fmt.Sprintf("listening on IPv4 0.0.0.0 port %d...done", port))
		return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	}

	r := runProbeJSON(t, "-connect", start(), "-replay-max", "1s")
	assertStatelessDTLS(t, r, 16)
	require.NotNil(t, r.Cookie.Replay)
	assert.False(t, r.Cookie.Replay.Expires)
	require.NotNil(t, r.DTLS10, "without -dtls1_2, a DTLS 1.0 ClientHello too")
	assert.Equal(t, answerHVR, r.DTLS10.FirstAnswer)

	r = runProbeJSON(t, "-connect", start("--nocookie"), "-dtls1_2")
	assert.Equal(t, answerSH, r.FirstAnswer)
	assert.True(t, r.KeepsState)
	assert.Nil(t, r.Cookie)
	amp := r.Amplification
	assert.Subset(t, amp.Minimal.Messages, []string{"ServerHello", "Certificate", "ServerHelloDone"})
	assert.Greater(t, amp.Minimal.Factor, 2.0, "the certificate flight is several times the ClientHello")
	assert.Greater(t, amp.Minimal.LargestDatagram, amp.Minimal.ClientHelloBytes)
	assert.True(t, amp.ExceedsClientHello)
	assert.Contains(t, r.Verdict, "KEEPS STATE AND AMPLIFIES: it answers an unverified client with its certificate flight (ServerHello, Certificate")
	assert.Contains(t, r.Verdict, fmt.Sprintf("%.1fx", amp.Minimal.Factor))
}

// TestProbeOurServer: ossl-stateless server's CookieSigner binds the cookie
// to address and port and limits its life: with -cookie-lifetime 1s a
// cookie carries the second it was issued and is refused once the clock
// has moved on by more than one second, so between 1s and 2s after it was
// issued. The probe's bisection must land there, and the server must hold
// no connection afterwards.
func TestProbeOurServer(t *testing.T) {
	t.Parallel()
	srv, addr := startServer(t, "-cookie-lifetime", "1s")
	r := runProbeJSON(t, "-connect", addr, "-replay-max", "2s")
	assertStatelessDTLS(t, r, 21)
	rr := r.Cookie.Replay
	require.NotNil(t, rr)
	assert.True(t, rr.Expires)
	assert.Less(t, rr.LastAcceptedMS, int64(2000), "no cookie is accepted 2s after it was issued")
	assert.GreaterOrEqual(t, rr.FirstRejectedMS, int64(1000), "every cookie is accepted for its first second")
	assert.LessOrEqual(t, rr.FirstRejectedMS-rr.LastAcceptedMS, int64(250), "bisected to an eighth of the bound")
	require.NotNil(t, r.DTLS10)
	assert.Equal(t, answerHVR, r.DTLS10.FirstAnswer)
	assert.NotContains(t, r.Verdict, "note:")

	stats := parseStats(t, stopServer(t, srv))
	t.Logf("server stats: %v", stats)
	assert.Zero(t, stats["live_conns"])
	assert.Zero(t, stats["handshakes_failed"], "the probe finishes the handshakes it starts")
	assert.Equal(t, stats["cookies_verified"], stats["handshakes_completed"])
	assert.GreaterOrEqual(t, stats["cookies_rejected"], 2, "the other port's and the flipped cookie")
}

// TestProbeTLS13 probes TLS 1.3 servers over TCP: `openssl s_server
// -stateless` and ours send a HelloRetryRequest with a cookie and accept
// it back; `openssl s_server -tls1_3` alone answers with its ServerHello.
func TestProbeTLS13(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	openssl := func(stateless bool) string {
		addr := testpeer.FreeLoopbackAddr(t, "tcp")
		args := []string{"s_server", "-tls1_3", "-accept", addr, "-cert", p.Server.CertFile, "-key", p.Server.KeyFile, "-naccept", "1"}
		if stateless {
			args = append(args, "-stateless")
		}
		srv := opensslPeer(t, "s_server", args...)
		srv.WaitFor("ACCEPT")
		return addr
	}
	_, ours := startServer(t, "-tls1_3", "-stateless")
	for name, tc := range map[string]struct {
		addr      string
		cookieLen int // 0: none
	}{
		"openssl s_server -stateless": {openssl(true), 0},
		"ossl-stateless -stateless":   {ours, 0},
		"openssl s_server":            {openssl(false), -1},
	} {
		r := runProbeJSON(t, "-tls1_3", "-connect", tc.addr)
		assert.Equal(t, "tcp", r.Transport, name)
		require.NotNil(t, r.TLS13, name)
		tr := r.TLS13
		if tc.cookieLen < 0 {
			assert.Equal(t, answerSH, r.FirstAnswer, name)
			assert.False(t, tr.HelloRetryRequest, name)
			assert.Contains(t, r.Verdict, "NO COOKIE EXCHANGE", name)
			continue
		}
		assert.Equal(t, answerHRR, r.FirstAnswer, name)
		assert.True(t, tr.HelloRetryRequest, name)
		assert.True(t, tr.Cookie, name)
		// OpenSSL wraps the application's cookie in its own (HMAC,
		// cipher suite, key share group, transcript hash, time).
		assert.Greater(t, tr.CookieLength, 64, name)
		assert.Greater(t, tr.HelloRetryRequestBytes, tr.CookieLength, name)
		assert.True(t, tr.CookieAccepted, name)
		assert.Equal(t, answerSH, tr.SecondAnswer, name)
		assert.Contains(t, r.Verdict, "STATELESS: it answers a first ClientHello with a HelloRetryRequest carrying a", name)
	}
}

// TestProbeTable checks the table form against our server, and that a
// port nobody listens on is a runtime error in one line.
func TestProbeTable(t *testing.T) {
	t.Parallel()
	srv, addr := startServer(t)
	res := runTool(t, "", "probe", "-connect", addr, "-replay-max", "0")
	require.Equal(t, 0, res.code, res.stderr)
	out := res.stdout
	t.Logf("probe:\n%s", out)
	assert.True(t, strings.HasPrefix(out, "PROBE "+addr+" (DTLS 1.2 over UDP; answers counted for 300ms after each ClientHello)\n"))
	for _, re := range []string{
		`(?m)^  first ClientHello \(\d+ bytes\) +HelloVerifyRequest: 1 datagram\(s\), 49 bytes, largest 49$`,
		`(?m)^  keeps state before a cookie +no$`,
		`(?m)^  cookie length +21 bytes$`,
		`(?m)^  cookie from another local port +HelloVerifyRequest: refused \(bound to the source port\)$`,
		`(?m)^VERDICT STATELESS: `,
	} {
		assert.Regexp(t, regexp.MustCompile(re), out)
	}
	assert.NotContains(t, out, "replayed", "-replay-max 0 skips the replay search")
	stopServer(t, srv)

	closed := testpeer.FreeLoopbackAddr(t, "udp")
	res = runTool(t, "", "probe", "-connect", closed)
	assert.Equal(t, exitRuntime, res.code)
	assert.Equal(t, "ossl-stateless: probing "+closed+": connection refused (ICMP port unreachable): no server on that port\n", res.stderr)
}

// TestProbeThroughLoss: the probe retransmits a ClientHello that got no
// answer, as a DTLS client does, so one lost datagram does not turn a
// check into "got none". Through a relay that drops the first datagram of
// every client port (each first ClientHello, once), the report is the same
// as without it.
func TestProbeThroughLoss(t *testing.T) {
	t.Parallel()
	srv, addr := startServer(t, "-cookie-lifetime", "1s")
	relay, dropped := lossyRelay(t, addr)
	r := runProbeJSON(t, "-connect", relay, "-replay-max", "2s")
	assertStatelessDTLS(t, r, 21)
	assert.GreaterOrEqual(t, dropped(), 5, "the relay dropped a first datagram for every port the probe used")
	require.NotNil(t, r.Cookie.Replay)
	assert.True(t, r.Cookie.Replay.Expires)
	stopServer(t, srv)
}

// lossyRelay relays UDP between clients and upstream, each client port
// through a socket of its own, and drops the first datagram of each
// client port. It returns its address and a count of what it dropped.
func lossyRelay(t *testing.T, upstream string) (string, func() int) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	up, err := net.ResolveUDPAddr("udp", upstream)
	require.NoError(t, err)
	var mu sync.Mutex
	ports := map[string]*net.UDPConn{}
	dropped := 0
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 1<<16)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			mu.Lock()
			c := ports[from.String()]
			if c == nil {
				if c, err = net.DialUDP("udp", nil, up); err == nil {
					ports[from.String()] = c
					dropped++
					wg.Add(1)
					go func() { // the server's answers, back to the client
						defer wg.Done()
						b := make([]byte, 1<<16)
						for {
							n, err := c.Read(b)
							if err != nil {
								return
							}
							_, _ = pc.WriteTo(b[:n], from)
						}
					}()
				}
				mu.Unlock()
				continue // this port's first datagram: lost
			}
			mu.Unlock()
			_, _ = c.Write(buf[:n])
		}
	}()
	t.Cleanup(func() {
		pc.Close()
		mu.Lock()
		for _, c := range ports {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return pc.LocalAddr().String(), func() int {
		mu.Lock()
		defer mu.Unlock()
		return dropped
	}
}

// A server whose handshake fails after the cookie (a PSK-only server, and
// the probe offers certificate suites): the alert that answers the
// returned cookie shows the cookie passed, and the other checks still run.
// Before, the probe reported the server's own cookie refused and skipped
// the replay test.
func TestProbeCookieAcceptedThenAlert(t *testing.T) {
	t.Parallel()
	srv, addr := startServer(t, "-nocert", "-psk", "1f6c229a04e17b38")
	r := runProbeJSON(t, "-connect", addr, "-dtls1_2", "-replay-max", "0")
	require.NotNil(t, r.Cookie)
	c := r.Cookie
	assert.Equal(t, answerAlert, c.SamePortAnswer)
	assert.True(t, c.Accepted, "an alert after the cookie: it passed")
	require.NotNil(t, c.PortBound)
	assert.True(t, *c.PortBound)
	require.NotNil(t, c.BitFlipRejected)
	assert.True(t, *c.BitFlipRejected)
	assert.NotContains(t, r.Verdict, "not accepted")
	stats := parseStats(t, stopServer(t, srv))
	assert.Equal(t, 1, stats["cookies_verified"])

}

// sizeLimitProxy forwards datagrams between clients and upstream, and
// drops those from clients longer than limit, as a path with a small MTU
// or a server with a small receive buffer does. It returns its address.
func sizeLimitProxy(t *testing.T, upstream string, limit int) string {
	t.Helper()
	front, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	up, err := net.ResolveUDPAddr("udp", upstream)
	require.NoError(t, err)
	var mu sync.Mutex
	backs := map[string]*net.UDPConn{}
	t.Cleanup(func() {
		front.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, b := range backs {
			b.Close()
		}
	})
	go func() {
		buf := make([]byte, 1<<16)
		for {
			n, from, err := front.ReadFromUDP(buf)
			if err != nil {
				return
			}
			if n > limit {
				continue
			}
			mu.Lock()
			back := backs[from.String()]
			if back == nil {
				if back, err = net.DialUDP("udp", nil, up); err != nil {
					mu.Unlock()
					return
				}
				backs[from.String()] = back
				go func(back *net.UDPConn, to *net.UDPAddr) {
					b := make([]byte, 1<<16)
					for {
						n, err := back.Read(b)
						if err != nil {
							return
						}
						_, _ = front.WriteToUDP(b[:n], to)
					}
				}(back, from)
			}
			mu.Unlock()
			_, _ = back.Write(buf[:n])
		}
	}()
	return front.LocalAddr().String()
}

// A stateless server behind a path that drops datagrams over 1024 bytes:
// the large ClientHello gets no answer, and a minimal one from another
// port does, so the probe does not call it stateful. Before, it reported
// KEEPS STATE and skipped the cookie checks.
func TestProbeLargeDatagramsDropped(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t)
	r := runProbeJSON(t, "-connect", sizeLimitProxy(t, addr, 1024), "-dtls1_2", "-replay-max", "0")
	assert.Equal(t, answerNone, r.Amplification.Large.FirstAnswer)
	assert.False(t, r.IgnoresOthersWhileUnverified)
	assert.False(t, r.KeepsState)
	assert.Contains(t, r.Verdict, "STATELESS")
	require.NotNil(t, r.Cookie)
	assert.True(t, r.Cookie.Accepted)
	require.NotNil(t, r.Cookie.PortBound)
	assert.True(t, *r.Cookie.PortBound)
	require.NotEmpty(t, r.Notes)
	assert.Contains(t, strings.Join(r.Notes, "\n"), "drops datagrams that large")
}

// cookieAlertServer is a DTLS server in the shape of OpenSSL's SSL_accept
// with a cookie exchange (no DTLSv1_listen): a ClientHello without a
// cookie gets a HelloVerifyRequest whose cookie names the client's port, a
// right cookie a ServerHello (nothing after it: the probe's client gives
// up there), and a wrong one a fatal handshake_failure alert, as
// tls_early_post_process_client_hello sends it. It returns its address.
func cookieAlertServer(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	t.Cleanup(func() { pc.Close() })
	reply := func(to *net.UDPAddr, ct record.ContentType, seq uint64, payload []byte) {
		h := record.Header{Type: ct, Version: record.VersionDTLS12, Sequence: seq}
		_, _ = pc.WriteToUDP(record.AppendDTLSRecord(nil, h, payload), to)
	}
	go func() {
		buf := make([]byte, 1<<16)
		var seq uint64
		for {
			n, from, err := pc.ReadFromUDP(buf)
			if err != nil {
				return
			}
			_, m, err := record.FirstDTLSHandshake(buf[:n])
			if err != nil || m.Type != record.TypeClientHello || m.IsFragment() {
				continue
			}
			ch, err := record.ParseDTLSClientHello(m.Body)
			if err != nil {
				continue
			}
			want := []byte(fmt.Sprintf("cookie for port %d", from.Port))
			seq++
			switch {
			case len(ch.Cookie) == 0:
				hvr := record.HelloVerifyRequest{Version: record.VersionDTLS10, Cookie: want}.Append(nil)
				reply(from, record.Handshake, seq, record.AppendDTLSHandshake(nil, record.TypeHelloVerifyRequest, m.MessageSeq, hvr))
			case string(ch.Cookie) == string(want):
				sh := record.ServerHello{Version: record.VersionDTLS12, Random: make([]byte, 32), CipherSuite: 0xc02b}.Append(nil)
				reply(from, record.Handshake, seq, record.AppendDTLSHandshake(nil, record.TypeServerHello, m.MessageSeq, sh))
			default:
				reply(from, record.Alert, seq, []byte{2, 40})
			}
		}
	}()
	return pc.LocalAddr().String()
}

// Against a server that refuses a wrong cookie with an alert (OpenSSL's
// SSL_accept with a cookie exchange), an alert is a refusal, since the
// server's own cookie got a ServerHello: the cookie is bound to the port
// and a flipped bit is refused. An alert counted as "passed" would have
// reported the opposite of both.
func TestProbeAlertForWrongCookie(t *testing.T) {
	t.Parallel()
	r := runProbeJSON(t, "-connect", cookieAlertServer(t), "-dtls1_2", "-replay-max", "0")
	require.NotNil(t, r.Cookie)
	c := r.Cookie
	assert.Equal(t, answerSH, c.SamePortAnswer)
	assert.True(t, c.Accepted)
	assert.Equal(t, answerAlert, c.OtherPortAnswer)
	require.NotNil(t, c.PortBound)
	assert.True(t, *c.PortBound)
	assert.Equal(t, answerAlert, c.BitFlipAnswer)
	require.NotNil(t, c.BitFlipRejected)
	assert.True(t, *c.BitFlipRejected)
	assert.NotContains(t, r.Verdict, "not bound")
	assert.NotContains(t, r.Verdict, "bit flipped is accepted")
}
