package openssl_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl"
)

func newDTLSClient(t *testing.T) (*openssl.SSL, *openssl.BIO) {
	t.Helper()
	ctx, err := openssl.NewCtx(openssl.DTLSClientMethod)
	require.NoError(t, err)
	t.Cleanup(func() { ctx.Close() })
	s, err := openssl.NewSSL(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	b, err := openssl.NewPacketBIO(1200, 4096)
	require.NoError(t, err)
	require.NoError(t, s.SetBIO(b, b))
	require.NoError(t, b.SetPeer(clientAP))
	return s, b
}

// DTLSv1_get_timeout reports the retransmission timer after the first
// flight; DTLSv1_handle_timeout retransmits it once the timer has fired.
func TestDTLSTimeoutsRetransmit(t *testing.T) {
	s, b := newDTLSClient(t)
	require.NoError(t, s.SetDTLSInitialTimeout(30*time.Millisecond))
	require.ErrorIs(t, s.Connect(), openssl.ErrWantRead)
	var first [][]byte
	require.NoError(t, b.DrainDatagrams(func(p []byte) error { first = append(first, append([]byte(nil), p...)); return nil }))
	require.Len(t, first, 1, "the ClientHello")

	left, running := s.DTLSTimeout()
	require.True(t, running)
	assert.LessOrEqual(t, left, 30*time.Millisecond, "the initial timeout set with DTLS_set_timer_cb")
	again, err := s.DTLSHandleTimeout()
	require.NoError(t, err)
	assert.False(t, again, "nothing to do before the timer fires")

	time.Sleep(left + 5*time.Millisecond)
	again, err = s.DTLSHandleTimeout()
	require.NoError(t, err)
	assert.True(t, again, "retransmitted after the timer fired")
	var second [][]byte
	require.NoError(t, b.DrainDatagrams(func(p []byte) error { second = append(second, p); return nil }))
	require.Len(t, second, 1)
	left, running = s.DTLSTimeout()
	require.True(t, running)
	assert.Greater(t, left, 30*time.Millisecond, "the timeout doubled")
	assert.LessOrEqual(t, left, 60*time.Millisecond)

	assert.Error(t, s.SetDTLSInitialTimeout(time.Microsecond))
}

// SetMTU sets SSL_OP_NO_QUERY_MTU: without it the SSL_clear inside
// DTLSv1_listen would forget the MTU. Found by the interop tests, where
// s_client received a 4.5 KB certificate in one datagram at "MTU 1200".
func TestSetMTUSurvivesListen(t *testing.T) {
	ctx := newDTLSServerCtx(t, true)
	s, b := newPacketListener(t, ctx)
	require.NoError(t, s.SetMTU(600))
	assert.NotZero(t, s.SetOptions(0)&openssl.OpNoQueryMTU)
	assert.Error(t, s.SetMTU(10), "below the minimum")
	_, err, out := listenOnce(t, s, b, clientHello{}.bytes(), clientAP)
	require.True(t, errors.Is(err, openssl.ErrRetry))
	require.Len(t, out, 1)
	assert.NotZero(t, s.SetOptions(0)&openssl.OpNoQueryMTU, "still set after DTLSv1_listen's SSL_clear")
}
