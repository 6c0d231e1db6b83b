package dtls_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl/dtls"
)

// Both ends log the same line, one per handshake, each handshake its own
// client random.
func TestKeyLogWriter(t *testing.T) {
	p := newPKI(t)
	var slog, clog syncBuffer
	scfg := p.serverConfig()
	scfg.KeyLogWriter = &slog
	l := listen(t, scfg)
	serveEcho(t, l)
	ccfg := p.clientConfig()
	ccfg.KeyLogWriter = &clog
	for range 2 {
		c, err := dtls.Dial("udp", l.Addr().String(), ccfg)
		require.NoError(t, err)
		roundTrip(t, c, []byte("x"))
		c.Close()
	}
	clines := strings.Split(strings.TrimSuffix(clog.String(), "\n"), "\n")
	require.Len(t, clines, 2, "one line per handshake: %q", clog.String())
	assert.Eventually(t, func() bool { return slog.String() == clog.String() }, 10*time.Second, 10*time.Millisecond,
		"the server logged the client's lines: %q vs %q", slog.String(), clog.String())
	a, b := strings.Fields(clines[0]), strings.Fields(clines[1])
	require.Len(t, a, 3)
	require.Len(t, b, 3)
	assert.Equal(t, "CLIENT_RANDOM", a[0])
	assert.NotEqual(t, a[1], b[1], "each handshake its client random")
}

type panicWriter struct{}

func (panicWriter) Write([]byte) (int, error) { panic("writer boom") }

func TestKeyLogWriterPanicDoesNotEndListener(t *testing.T) {
	p := newPKI(t)
	scfg := p.serverConfig()
	scfg.KeyLogWriter = panicWriter{}
	l := listen(t, scfg)
	serveEcho(t, l)
	for range 2 {
		c, err := dtls.Dial("udp", l.Addr().String(), p.clientConfig())
		require.NoError(t, err)
		roundTrip(t, c, []byte("still serving"))
		c.Close()
	}
}
