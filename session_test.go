package openssl_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl"
)

// resumeOnce runs a TLS 1.2 handshake offering der (if any) and returns
// the client's session and whether it was reused.
func resumeOnce(t *testing.T, sctx, cctx *openssl.Ctx, der []byte) ([]byte, bool) {
	t.Helper()
	cc, sc := tcpPair(t)
	srv, err := openssl.NewServerConn(sc, sctx)
	require.NoError(t, err)
	defer srv.Close()
	cli, err := openssl.NewClientConn(cc, cctx)
	require.NoError(t, err)
	defer cli.Close()
	if der != nil {
		require.NoError(t, cli.SSL().SetSession(der))
	}
	done := make(chan error, 1)
	go func() { done <- srv.Handshake() }()
	require.NoError(t, cli.Handshake())
	require.NoError(t, <-done)
	assert.Equal(t, cli.SSL().SessionReused(), srv.SSL().SessionReused())
	return cli.SSL().Session(), cli.SSL().SessionReused()
}

func TestSessionResumptionSharedTicketKey(t *testing.T) {
	p := newPKI(t)
	key := bytes.Repeat([]byte{0x42}, openssl.TicketKeyLen)
	s1, s2 := newTLSServerCtx(t, p, nil), newTLSServerCtx(t, p, nil)
	cctx := newTLSClientCtx(t)
	for _, c := range []*openssl.Ctx{s1, s2, cctx} {
		require.NoError(t, c.SetMaxProtoVersion(openssl.VersionTLS12))
	}
	require.NoError(t, s1.SetTicketKey(key))
	require.NoError(t, s2.SetTicketKey(key))
	der, reused := resumeOnce(t, s1, cctx, nil)
	require.NotEmpty(t, der)
	assert.False(t, reused)
	_, reused = resumeOnce(t, s1, cctx, der)
	assert.True(t, reused, "the same server resumes")
	_, reused = resumeOnce(t, s2, cctx, der)
	assert.True(t, reused, "a second server with the same ticket key resumes")

	// Rotation: the old ticket no longer decrypts; a full handshake.
	require.NoError(t, s2.SetTicketKey(bytes.Repeat([]byte{0x43}, openssl.TicketKeyLen)))
	_, reused = resumeOnce(t, s2, cctx, der)
	assert.False(t, reused)
}

func TestSessionErrors(t *testing.T) {
	ctx := newTLSClientCtx(t)
	assert.Error(t, ctx.SetTicketKey(make([]byte, 10)))
	s, err := openssl.NewSSL(ctx)
	require.NoError(t, err)
	defer s.Close()
	assert.Error(t, s.SetSession([]byte("not a session")))
	assert.Nil(t, s.Session())
}

// A session resumes only on a server with the session ID context it was
// made under, ticket key or not.
func TestSessionIDContext(t *testing.T) {
	p := newPKI(t)
	key := bytes.Repeat([]byte{0x42}, openssl.TicketKeyLen)
	s1, s2, s3 := newTLSServerCtx(t, p, nil), newTLSServerCtx(t, p, nil), newTLSServerCtx(t, p, nil)
	cctx := newTLSClientCtx(t)
	for _, c := range []*openssl.Ctx{s1, s2, s3, cctx} {
		require.NoError(t, c.SetMaxProtoVersion(openssl.VersionTLS12))
	}
	for _, s := range []*openssl.Ctx{s1, s2, s3} {
		require.NoError(t, s.SetTicketKey(key))
	}
	require.NoError(t, s1.SetSessionIDContext([]byte("policy A")))
	require.NoError(t, s2.SetSessionIDContext([]byte("policy A")))
	require.NoError(t, s3.SetSessionIDContext([]byte("policy B")))
	der, _ := resumeOnce(t, s1, cctx, nil)
	_, reused := resumeOnce(t, s2, cctx, der)
	assert.True(t, reused, "the same context resumes")
	_, reused = resumeOnce(t, s3, cctx, der)
	assert.False(t, reused, "another context does not")

	assert.ErrorContains(t, s1.SetSessionIDContext(make([]byte, openssl.SessionIDContextMax+1)), "at most 32")
	require.NoError(t, s1.SetSessionIDContext(make([]byte, openssl.SessionIDContextMax)))
	require.NoError(t, s1.Close())
	assert.ErrorIs(t, s1.SetSessionIDContext([]byte("x")), openssl.ErrClosed)
}
