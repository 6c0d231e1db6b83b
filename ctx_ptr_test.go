package openssl_test

import (
	"crypto/tls"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl"
)

func TestCtxPointerRoundTrip(t *testing.T) {
	ctx, err := openssl.NewCtx(openssl.TLSServerMethod)
	require.NoError(t, err)
	p := ctx.Pointer()
	require.NotNil(t, p)
	again, err := openssl.NewCtxFromPointer(p)
	require.NoError(t, err)
	assert.Equal(t, openssl.TLSServerMethod, again.Method())
	assert.Equal(t, p, again.Pointer())
	require.NoError(t, ctx.Close())
	assert.Nil(t, ctx.Pointer(), "a closed Ctx lends nothing")
	require.NoError(t, again.Close())
}

// The ownership rule: the adopting Ctx holds its own reference. The C
// side's SSL_CTX outlives the Ctx's Close, and the Ctx works after the C
// side freed its reference; the SSL_CTX is freed when both are done.
func TestNewCtxFromPointerOwnership(t *testing.T) {
	p := openssl.RawSSLCtx(openssl.TLSServerMethod)
	require.NotNil(t, p)
	const mark = 0x5eed
	require.True(t, openssl.RawSSLCtxMark(p, mark))
	ctx, err := openssl.NewCtxFromPointer(p)
	require.NoError(t, err)
	assert.Equal(t, openssl.TLSServerMethod, ctx.Method())

	openssl.RawSSLCtxFree(p) // the C code is done with it
	assert.NotEqual(t, uintptr(mark), openssl.FreedMark(), "still alive: the Ctx holds a reference")

	// The adopted Ctx serves a handshake.
	pk := newPKI(t)
	require.NoError(t, ctx.UseCertificatePEM(pk.server.CertPEM))
	require.NoError(t, ctx.UsePrivateKeyPEM(pk.server.KeyPEM))
	cc, sc := tcpPair(t)
	serveTLS(sc, ctx)
	client := goTLSClient(cc, pk, tls.VersionTLS13)
	require.NoError(t, client.Handshake())
	client.Close()

	require.NoError(t, ctx.Close())
	assert.Eventually(t, func() bool { return openssl.FreedMark() == mark }, 10*time.Second, 10*time.Millisecond,
		"freed once both references are gone (the server SSL may hold one a moment longer)")
}

func TestNewCtxFromPointerRefusals(t *testing.T) {
	_, err := openssl.NewCtxFromPointer(nil)
	assert.Error(t, err)
}
