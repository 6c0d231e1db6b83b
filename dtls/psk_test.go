package dtls_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl"
	"github.com/openssl-stateless/openssl/dtls"
)

var deviceKey = []byte{0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10}

// pskServerConfig is a certificate-less server that knows one device.
func pskServerConfig() *dtls.Config {
	return &dtls.Config{
		GetPSK: func(identity string) ([]byte, error) {
			if identity == "sensor-17" {
				return deviceKey, nil
			}
			return nil, nil
		},
		PSKIdentityHint: "gateway-1",
	}
}

func dialPSK(t *testing.T, l *dtls.Listener, cfg *dtls.Config) (*dtls.Conn, error) {
	t.Helper()
	c, err := dtls.Dial("udp", l.Addr().String(), cfg) // Dial runs the handshake
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return c, c.HandshakeContext(ctx)
}

func TestPSKSuites(t *testing.T) {
	for _, suite := range []string{"PSK-AES128-CCM8", "ECDHE-PSK-AES128-CBC-SHA256", "ECDHE-PSK-CHACHA20-POLY1305", ""} {
		t.Run(suite, func(t *testing.T) {
			forEachSocketMode(t, func(t *testing.T, shared bool) {
				scfg := pskServerConfig()
				scfg.SharedSocket = shared
				l := listen(t, scfg)
				serveEcho(t, l)
				c, err := dialPSK(t, l, &dtls.Config{PSKIdentity: "sensor-17", PSKKey: deviceKey, CipherList: atLevel0(suite)})
				require.NoError(t, err)
				cs := c.ConnectionState()
				if suite == "" {
					suite = "ECDHE-PSK-CHACHA20-POLY1305" // the first of the default PSK list
				}
				assert.Equal(t, suite, dtls.CipherSuiteOpenSSLName(cs.CipherSuite))
				assert.Equal(t, "sensor-17", cs.PSKIdentity)
				assert.Empty(t, cs.PeerCertificates)
				roundTrip(t, c, []byte("temperature=21.5"))
			})
		})
	}
}

func TestPSKServerSeesIdentityAndHint(t *testing.T) {
	scfg := pskServerConfig()
	l := listen(t, scfg)
	accepted := make(chan dtls.ConnectionState, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		dc := c.(*dtls.Conn)
		if dc.Handshake() == nil {
			accepted <- dc.ConnectionState()
		}
		_, _ = c.Read(make([]byte, 10))
	}()
	var hint string
	c, err := dialPSK(t, l, &dtls.Config{GetClientPSK: func(h string) (string, []byte, error) {
		hint = h
		return "sensor-17", deviceKey, nil
	}})
	require.NoError(t, err)
	assert.Equal(t, "gateway-1", hint)
	select {
	case cs := <-accepted:
		assert.Equal(t, "sensor-17", cs.PSKIdentity)
		assert.True(t, cs.CookieExchanged)
	case <-time.After(20 * time.Second):
		t.Fatal("no connection accepted")
	}
	_ = c.Close()
}

// A wrong key must end the handshake with an alert, not with the client
// retransmitting its Finished until the handshake timeout.
func TestPSKWrongKeyFailsFast(t *testing.T) {
	for _, suite := range []string{"PSK-AES128-CCM8", "ECDHE-PSK-AES128-CBC-SHA256"} {
		t.Run(suite, func(t *testing.T) {
			scfg := pskServerConfig()
			l := listen(t, scfg)
			serveEcho(t, l)
			wrong := bytes.Repeat([]byte{0xee}, 16)
			start := time.Now()
			_, err := dialPSK(t, l, &dtls.Config{PSKIdentity: "sensor-17", PSKKey: wrong, CipherList: atLevel0(suite),
				HandshakeTimeout: time.Minute})
			require.Error(t, err)
			var alert openssl.AlertError
			require.True(t, errors.As(err, &alert), "an alert, not a timeout: %v", err)
			assert.Equal(t, openssl.AlertBadRecordMAC, alert)
			// Generous on a shared machine; a timeout would take a minute.
			assert.Less(t, time.Since(start), 30*time.Second)
			assert.Eventually(t, func() bool { return l.Stats().HandshakesFailed == 1 }, 10*time.Second, 10*time.Millisecond)
		})
	}
}

func TestPSKUnknownIdentity(t *testing.T) {
	l := listen(t, pskServerConfig())
	serveEcho(t, l)
	_, err := dialPSK(t, l, &dtls.Config{PSKIdentity: "intruder", PSKKey: deviceKey})
	require.Error(t, err)
	var alert openssl.AlertError
	require.True(t, errors.As(err, &alert), "%v", err)
	assert.Equal(t, openssl.AlertUnknownPSKIdentity, alert)
}

func TestPSKCallbackErrorAndPanic(t *testing.T) {
	for name, get := range map[string]func(string) ([]byte, error){
		"error": func(string) ([]byte, error) { return nil, errors.New("dtls: key store unavailable") },
		"panic": func(string) ([]byte, error) { panic("key store exploded") },
	} {
		t.Run(name, func(t *testing.T) {
			scfg := pskServerConfig()
			scfg.GetPSK = get
			l := listen(t, scfg)
			serveEcho(t, l)
			_, err := dialPSK(t, l, &dtls.Config{PSKIdentity: "sensor-17", PSKKey: deviceKey})
			require.Error(t, err)
			var alert openssl.AlertError
			require.True(t, errors.As(err, &alert), "%v", err)
		})
	}
}

func TestPSKConfigValidation(t *testing.T) {
	for name, cfg := range map[string]*dtls.Config{
		"identity without key": {PSKIdentity: "a"},
		"key without identity": {PSKKey: deviceKey},
		"NUL in identity":      {PSKIdentity: "a\x00b", PSKKey: deviceKey},
		"key too long":         {PSKIdentity: "a", PSKKey: make([]byte, openssl.MaxPSKLen+1)},
	} {
		_, err := dtls.Dial("udp", "127.0.0.1:9", cfg)
		assert.Error(t, err, name)
	}
	_, err := dtls.Listen("udp", "127.0.0.1:0", &dtls.Config{})
	assert.ErrorContains(t, err, "GetPSK")
}

// atLevel0 adds @SECLEVEL=0 to a cipher list naming a CCM8 suite: OpenSSL
// 3.4 and later allow those (a 64-bit tag) only at security level 0.
func atLevel0(suite string) string {
	if strings.Contains(suite, "CCM8") {
		return suite + ":@SECLEVEL=0"
	}
	return suite
}
