package dtls_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl/dtls"
	"github.com/openssl-stateless/openssl/internal/testcert"
	"github.com/openssl-stateless/openssl/internal/testmain"
)

// TestMain fails the run on leaked goroutines and on entries left on
// OpenSSL's error queue (see testmain).
func TestMain(m *testing.M) { testmain.Main(m) }

// pki holds the parts of a testcert.PKI this package's tests use.
type pki struct {
	ca             *testcert.CA
	server, client *testcert.Pair
}

func newPKI(t testing.TB) *pki {
	t.Helper()
	p := testcert.NewPKI(t, "dtls test CA", testcert.Options{})
	return &pki{ca: p.CA, server: p.Server, client: p.Client}
}

func (p *pki) pool() *x509.CertPool { return p.ca.Pool() }

func (p *pki) serverConfig() *dtls.Config {
	return &dtls.Config{CertificatePEM: p.server.CertPEM, KeyPEM: p.server.KeyPEM}
}

func (p *pki) clientConfig() *dtls.Config {
	return &dtls.Config{RootCAs: p.pool(), ServerName: "localhost"}
}

// mutualServerConfig is serverConfig requiring client certificates
// verified against the test CA.
func (p *pki) mutualServerConfig() *dtls.Config {
	c := p.serverConfig()
	c.ClientAuth = tls.RequireAndVerifyClientCert
	c.ClientCAs = p.pool()
	return c
}

// certClientConfig is clientConfig with cert, the client's certificate and
// key.
func (p *pki) certClientConfig(cert *testcert.Pair) *dtls.Config {
	c := p.clientConfig()
	c.CertificatePEM, c.KeyPEM = cert.CertPEM, cert.KeyPEM
	return c
}

// listen starts a Listener on loopback, closed at the end of the test.
func listen(t testing.TB, cfg *dtls.Config) *dtls.Listener {
	t.Helper()
	l, err := dtls.Listen("udp", "127.0.0.1:0", cfg)
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return l
}

// serveEcho accepts connections and echoes every datagram. The returned
// stop closes the listener and every accepted connection and waits for all
// of it; it also runs at cleanup, so the order of defers does not matter.
func serveEcho(t testing.TB, l *dtls.Listener) (stop func()) {
	stop, _ = serveEchoAccepted(t, l)
	return stop
}

// serveEchoAccepted is serveEcho that also returns what it accepted so
// far.
func serveEchoAccepted(t testing.TB, l *dtls.Listener) (stop func(), accepted func() []net.Conn) {
	var mu sync.Mutex
	var conns []net.Conn
	var handlers sync.WaitGroup
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			handlers.Add(1)
			go func() {
				defer handlers.Done()
				defer c.Close()
				echo(c)
			}()
		}
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			l.Close()
			<-done
			mu.Lock()
			for _, c := range conns {
				c.Close()
			}
			mu.Unlock()
			handlers.Wait()
		})
	}
	t.Cleanup(stop)
	accepted = func() []net.Conn {
		mu.Lock()
		defer mu.Unlock()
		return append([]net.Conn(nil), conns...)
	}
	return stop, accepted
}

func echo(c net.Conn) {
	buf := make([]byte, 1<<16)
	for {
		_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		if _, err := c.Write(buf[:n]); err != nil {
			return
		}
	}
}

// roundTrip writes msg and reads the echo.
func roundTrip(t testing.TB, c net.Conn, msg []byte) {
	t.Helper()
	_, err := c.Write(msg)
	require.NoError(t, err)
	buf := make([]byte, 1<<16)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	n, err := c.Read(buf)
	require.NoError(t, err)
	require.Equal(t, msg, buf[:n])
}

func newPool(certs ...*x509.Certificate) *x509.CertPool {
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool
}

// forEachSocketMode runs test with connections that read sockets of their
// own (Linux) and with every connection sharing the Listener's socket.
func forEachSocketMode(t *testing.T, test func(t *testing.T, shared bool)) {
	t.Run("own", func(t *testing.T) { test(t, false) })
	t.Run("shared", func(t *testing.T) { test(t, true) })
}

// realDataArrives checks that, after a flood of junk from the client's
// address, the server reads the client's real data: the client sends it
// repeatedly, since the junk may have crowded some of it out.
func realDataArrives(t *testing.T, client, server net.Conn) {
	t.Helper()
	go func() {
		for i := 0; i < 50; i++ {
			if _, err := client.Write([]byte("real")); err != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	buf := make([]byte, 2048)
	require.NoError(t, server.SetReadDeadline(time.Now().Add(10*time.Second)))
	n, err := server.Read(buf)
	require.NoError(t, err)
	if string(buf[:n]) == "hello" { // endLinger's, read first
		n, err = server.Read(buf)
		require.NoError(t, err)
	}
	assert.Equal(t, "real", string(buf[:n]))
}

// echoClients dials l from clients goroutines at once, each with a Config
// from cfg, and has each round-trip msgs messages through the echo server.
func echoClients(t *testing.T, l *dtls.Listener, cfg func() *dtls.Config, clients, msgs int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, err := dtls.Dial("udp", l.Addr().String(), cfg())
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			buf := make([]byte, 2048)
			for j := 0; j < msgs; j++ {
				msg := []byte(fmt.Sprintf("client %d message %d", i, j))
				if _, err := c.Write(msg); err != nil {
					errs <- err
					return
				}
				n, err := c.Read(buf)
				if err != nil {
					errs <- err
					return
				}
				if string(buf[:n]) != string(msg) {
					errs <- fmt.Errorf("client %d got %q, want %q", i, buf[:n], msg)
					return
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// exchange writes msg from a to b and back.
func exchange(t *testing.T, a, b net.Conn, msg []byte) {
	t.Helper()
	buf := make([]byte, 2048)
	for _, dir := range [][2]net.Conn{{a, b}, {b, a}} {
		_, err := dir[0].Write(msg)
		require.NoError(t, err)
		n, err := dir[1].Read(buf)
		require.NoError(t, err)
		require.Equal(t, msg, buf[:n])
	}
}

// endLinger sends a record from client, which the server's lingering
// takes as the sign that the handshake is over on both sides, and waits
// for the lingering to end (the record stays for the server's first Read).
func endLinger(t *testing.T, client *dtls.Conn, server net.Conn) {
	t.Helper()
	done := dtls.LingerDone(server.(*dtls.Conn))
	require.NotNil(t, done)
	_, err := client.Write([]byte("hello"))
	require.NoError(t, err)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the server still lingers after the client's first record")
	}
}
