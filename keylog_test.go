package openssl_test

import (
	"encoding/hex"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl"
)

type lineLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *lineLog) add(_ *openssl.SSL, line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, line)
}

func TestKeylogTLS12(t *testing.T) {
	sctx, cctx, _ := pskCtxs(t, false, pskKey)
	var log lineLog
	require.NoError(t, sctx.SetKeylogCallback(log.add))
	_, cli, serr, cerr := pskHandshake(t, sctx, cctx)
	require.NoError(t, serr)
	require.NoError(t, cerr)
	random := cli.SSL().ClientRandom()
	require.Len(t, random, 32)
	require.Len(t, log.lines, 1)
	f := strings.Fields(log.lines[0])
	require.Len(t, f, 3)
	assert.Equal(t, "CLIENT_RANDOM", f[0])
	assert.Equal(t, hex.EncodeToString(random), strings.ToLower(f[1]), "the line names this handshake's client random")
	assert.Len(t, f[2], 96, "a 48-byte master secret")
}

func TestKeylogTLS13(t *testing.T) {
	sctx, cctx, _ := pskCtxs(t, true, pskKey)
	var log lineLog
	require.NoError(t, cctx.SetKeylogCallback(log.add))
	_, cli, serr, cerr := pskHandshake(t, sctx, cctx)
	require.NoError(t, serr)
	require.NoError(t, cerr)
	random := hex.EncodeToString(cli.SSL().ClientRandom())
	labels := map[string]bool{}
	for _, line := range log.lines {
		f := strings.Fields(line)
		require.Len(t, f, 3, line)
		assert.Equal(t, random, strings.ToLower(f[1]))
		labels[f[0]] = true
	}
	for _, want := range []string{"CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0"} {
		assert.True(t, labels[want], "%s logged: %v", want, log.lines)
	}
}

func TestKeylogPanicIsReraised(t *testing.T) {
	sctx, cctx, _ := pskCtxs(t, false, pskKey)
	require.NoError(t, sctx.SetKeylogCallback(func(*openssl.SSL, string) { panic("keylog boom") }))
	cc, sc := tcpPair(t)
	srv, err := openssl.NewServerConn(sc, sctx)
	require.NoError(t, err)
	defer srv.Close()
	cli, err := openssl.NewClientConn(cc, cctx)
	require.NoError(t, err)
	defer cli.Close()
	go func() { _ = cli.Handshake(); cc.Close() }()
	assert.PanicsWithValue(t, "keylog boom", func() { _ = srv.Handshake() })
	require.NoError(t, sctx.SetKeylogCallback(nil))
}
