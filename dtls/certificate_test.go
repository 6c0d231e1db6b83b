package dtls_test

import (
	"crypto/tls"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl"
	"github.com/openssl-stateless/openssl/dtls"
	"github.com/openssl-stateless/openssl/internal/testcert"
)

// issue makes a tls.Certificate for names from ca.
func issue(t *testing.T, ca *testcert.CA, names ...string) tls.Certificate {
	t.Helper()
	pair := ca.Issue(t, names[0], testcert.Options{Names: names})
	tc, err := tls.X509KeyPair(pair.CertPEM, pair.KeyPEM)
	require.NoError(t, err)
	tc.Leaf = pair.Leaf
	return tc
}

func dialName(t *testing.T, l *dtls.Listener, ca *testcert.CA, name string) (*dtls.Conn, error) {
	t.Helper()
	return dtls.Dial("udp", l.Addr().String(), &dtls.Config{RootCAs: ca.Pool(), ServerName: name})
}

func TestCertificatesBySNI(t *testing.T) {
	ca := testcert.NewCA(t, "sni CA")
	a, b := issue(t, ca, "a.example"), issue(t, ca, "b.example")
	l := listen(t, &dtls.Config{Certificates: []tls.Certificate{a, b}})
	serveEcho(t, l)
	for _, tc := range []struct {
		name string
		want tls.Certificate
	}{{"a.example", a}, {"b.example", b}} {
		c, err := dialName(t, l, ca, tc.name)
		require.NoError(t, err, tc.name)
		cs := c.ConnectionState()
		assert.Equal(t, tc.want.Certificate[0], cs.PeerCertificates[0].Raw, "%s got its own certificate", tc.name)
		roundTrip(t, c, []byte(tc.name))
		c.Close()
	}
	// A name neither has: the first, which then fails verification.
	_, err := dialName(t, l, ca, "c.example")
	var ve *tls.CertificateVerificationError
	require.True(t, errors.As(err, &ve), "%v", err)
	assert.Equal(t, a.Certificate[0], ve.UnverifiedCertificates[0].Raw)
}

func TestGetCertificateSeesServerName(t *testing.T) {
	ca := testcert.NewCA(t, "get CA")
	a := issue(t, ca, "a.example")
	var seen atomic.Value
	l := listen(t, &dtls.Config{GetCertificate: func(hello *dtls.ClientHelloInfo) (*tls.Certificate, error) {
		seen.Store(hello.ServerName)
		return &a, nil
	}})
	got := make(chan string, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		got <- c.(*dtls.Conn).ConnectionState().ServerName
		_, _ = c.Read(make([]byte, 1))
	}()
	c, err := dialName(t, l, ca, "a.example")
	require.NoError(t, err)
	defer c.Close()
	assert.Equal(t, "a.example", seen.Load())
	assert.Equal(t, "a.example", <-got, "the server's ConnectionState names what the client asked for")
}

func TestGetCertificateFailures(t *testing.T) {
	ca := testcert.NewCA(t, "fail CA")
	for name, tc := range map[string]struct {
		get   func(*dtls.ClientHelloInfo) (*tls.Certificate, error)
		alert openssl.AlertError
	}{
		"error":   {func(*dtls.ClientHelloInfo) (*tls.Certificate, error) { return nil, errors.New("dtls: vault sealed") }, openssl.AlertInternalError},
		"nil":     {func(*dtls.ClientHelloInfo) (*tls.Certificate, error) { return nil, nil }, openssl.AlertUnrecognizedName},
		"panic":   {func(*dtls.ClientHelloInfo) (*tls.Certificate, error) { panic("vault exploded") }, openssl.AlertInternalError},
		"garbage": {func(*dtls.ClientHelloInfo) (*tls.Certificate, error) { return &tls.Certificate{}, nil }, openssl.AlertInternalError},
	} {
		t.Run(name, func(t *testing.T) {
			l := listen(t, &dtls.Config{GetCertificate: tc.get})
			serveEcho(t, l)
			_, err := dialName(t, l, ca, "a.example")
			require.Error(t, err)
			var alert openssl.AlertError
			require.True(t, errors.As(err, &alert), "%v", err)
			assert.Equal(t, tc.alert, alert)
		})
	}
}

// Rotation on a live Listener: clients keep exchanging records while the
// certificate is swapped; every client dialling after the swap sees the
// new one, and none of the established connections fails.
func TestCertificateRotationUnderLoad(t *testing.T) {
	ca := testcert.NewCA(t, "rotation CA")
	oldCert, newCert := issue(t, ca, "gw.example"), issue(t, ca, "gw.example")
	var current atomic.Pointer[tls.Certificate]
	current.Store(&oldCert)
	l := listen(t, &dtls.Config{GetCertificate: func(*dtls.ClientHelloInfo) (*tls.Certificate, error) {
		return current.Load(), nil
	}})
	serveEcho(t, l)

	const live = 4
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, live)
	for i := range live {
		c, err := dialName(t, l, ca, "gw.example")
		require.NoError(t, err)
		require.Equal(t, oldCert.Certificate[0], c.ConnectionState().PeerCertificates[0].Raw)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			buf := make([]byte, 64)
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				msg := fmt.Sprintf("conn %d record %d", i, n)
				if _, err := c.Write([]byte(msg)); err != nil {
					errs <- err
					return
				}
				_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
				k, err := c.Read(buf)
				if err != nil || string(buf[:k]) != msg {
					errs <- fmt.Errorf("conn %d: %q, %v", i, buf[:k], err)
					return
				}
			}
		}()
	}
	time.Sleep(100 * time.Millisecond)
	current.Store(&newCert)
	for range 3 {
		c, err := dialName(t, l, ca, "gw.example")
		require.NoError(t, err)
		assert.Equal(t, newCert.Certificate[0], c.ConnectionState().PeerCertificates[0].Raw, "a client after the swap sees the new certificate")
		roundTrip(t, c, []byte("after rotation"))
		c.Close()
	}
	time.Sleep(100 * time.Millisecond)
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error("a live connection failed during rotation:", err)
	}
}

// Connections that receive the same certificate share one parsed
// *x509.Certificate, as crypto/tls's clients do, on both sides: parsed once
// while any connection holds it. Another certificate is another one.
func TestPeerCertificatesShared(t *testing.T) {
	p := newPKI(t)
	l := listen(t, p.mutualServerConfig())
	_, accepted := serveEchoAccepted(t, l)
	alice, bob := p.ca.Issue(t, "alice", testcert.Options{Client: true}), p.ca.Issue(t, "bob", testcert.Options{Client: true})
	dial := func(pair *testcert.Pair) *dtls.Conn {
		c, err := dtls.Dial("udp", l.Addr().String(), p.certClientConfig(pair))
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		roundTrip(t, c, []byte("hello")) // the server's handshake is done once its echo is back
		return c
	}
	c1, c2, c3 := dial(alice), dial(alice), dial(bob)
	s1, s2 := c1.ConnectionState().PeerCertificates[0], c2.ConnectionState().PeerCertificates[0]
	assert.Same(t, s1, s2, "two clients of one server share its parsed certificate")
	assert.Same(t, s1, c3.ConnectionState().PeerCertificates[0])
	assert.Same(t, c1.ConnectionState().VerifiedChains[0][0], s1, "the verified chain starts with the same leaf")

	conns := accepted()
	require.Len(t, conns, 3)
	byName := map[string][]*dtls.Conn{}
	for _, c := range conns {
		sc := c.(*dtls.Conn)
		leaf := sc.ConnectionState().PeerCertificates[0]
		byName[leaf.Subject.CommonName] = append(byName[leaf.Subject.CommonName], sc)
	}
	require.Len(t, byName["alice"], 2)
	require.Len(t, byName["bob"], 1)
	a1, a2 := byName["alice"][0].ConnectionState().PeerCertificates[0], byName["alice"][1].ConnectionState().PeerCertificates[0]
	assert.Same(t, a1, a2, "the server shares the certificate two clients sent")
	assert.NotSame(t, a1, byName["bob"][0].ConnectionState().PeerCertificates[0])
}
