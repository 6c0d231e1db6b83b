package openssl_test

import (
	"crypto/tls"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl"
)

// The keying material a StreamConn exports equals what crypto/tls exports
// on the other end, for TLS 1.3 and for TLS 1.2 with the extended master
// secret, with and without a context; and an empty context is not a nil
// one.
func TestStreamConnExportKeyingMaterialMatchesCryptoTLS(t *testing.T) {
	for _, v := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		t.Run(tls.VersionName(v), func(t *testing.T) {
			p := newPKI(t)
			ctx := newTLSServerCtx(t, p, newSigner(t, nil))
			cc, sc := tcpPair(t)
			client := goTLSClient(cc, p, v)
			type ekm struct {
				none, empty, ctx []byte
				err              error
			}
			got := make(chan ekm, 1)
			go func() {
				var e ekm
				if e.err = client.Handshake(); e.err == nil {
					cs := client.ConnectionState()
					e.none, _ = cs.ExportKeyingMaterial("EXPERIMENTAL-test", nil, 32)
					e.empty, _ = cs.ExportKeyingMaterial("EXPERIMENTAL-test", []byte{}, 32)
					e.ctx, e.err = cs.ExportKeyingMaterial("EXPERIMENTAL-test", []byte("context"), 32)
				}
				got <- e
				buf := make([]byte, 1)
				_, _ = client.Read(buf) // until the server closes
			}()
			srv, err := openssl.NewServerConn(sc, ctx)
			require.NoError(t, err)
			defer srv.Close()
			_, err = srv.ExportKeyingMaterial("EXPERIMENTAL-test", nil, 32)
			assert.Error(t, err, "no keying material before the handshake")
			require.NoError(t, srv.Handshake())
			want := <-got
			require.NoError(t, want.err)

			none, err := srv.ExportKeyingMaterial("EXPERIMENTAL-test", nil, 32)
			require.NoError(t, err)
			empty, err := srv.ExportKeyingMaterial("EXPERIMENTAL-test", []byte{}, 32)
			require.NoError(t, err)
			withCtx, err := srv.ExportKeyingMaterial("EXPERIMENTAL-test", []byte("context"), 32)
			require.NoError(t, err)
			assert.Equal(t, want.none, none)
			assert.Equal(t, want.ctx, withCtx)
			if v == tls.VersionTLS12 {
				// RFC 5705 tells a nil context from an empty one; TLS 1.3's
				// exporter hashes the context, so there they are the same.
				assert.Equal(t, want.empty, empty)
				assert.NotEqual(t, none, empty)
			}
			assert.NotEqual(t, none, withCtx)

			_, err = srv.ExportKeyingMaterial("master secret", nil, 32)
			assert.ErrorContains(t, err, "reserved")
			_, err = srv.ExportKeyingMaterial("EXPERIMENTAL-test", nil, -1)
			assert.Error(t, err)
			// A length no exporter gives is refused, not allocated (a
			// panic in make before).
			_, err = srv.ExportKeyingMaterial("EXPERIMENTAL-test", nil, 1<<62)
			assert.ErrorContains(t, err, "more than 65535 bytes")
			most, err := srv.ExportKeyingMaterial("EXPERIMENTAL-test", nil, 1<<16-1)
			if v == tls.VersionTLS12 {
				require.NoError(t, err)
				assert.Len(t, most, 1<<16-1)
			}
			require.NoError(t, srv.Close())
			_, err = srv.ExportKeyingMaterial("EXPERIMENTAL-test", nil, 32)
			assert.Error(t, err, "no keying material after Close")
		})
	}
}

func TestCipherSuiteNames(t *testing.T) {
	for _, s := range tls.CipherSuites() {
		assert.Equal(t, s.Name, openssl.CipherSuiteName(s.ID), "crypto/tls's name for %#04x", s.ID)
	}
	assert.Equal(t, "ECDHE-ECDSA-AES128-GCM-SHA256", openssl.CipherSuiteOpenSSLName(tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256))
	assert.Equal(t, "PSK-AES128-CCM8", openssl.CipherSuiteOpenSSLName(0xC0A8))
	if openssl.VersionNumber() >= 0x30000000 {
		// 1.1.1 has IANA names only when built with enable-ssl-trace.
		assert.Equal(t, "TLS_PSK_WITH_AES_128_CCM_8", openssl.CipherSuiteName(0xC0A8), "a suite crypto/tls does not have")
	}
	assert.Equal(t, "0xFFEE", openssl.CipherSuiteName(0xFFEE))
	assert.Empty(t, openssl.CipherSuiteOpenSSLName(0xFFEE))
}

func TestSRTPProtectionProfiles(t *testing.T) {
	for _, name := range []string{"SRTP_AES128_CM_SHA1_80", "SRTP_AES128_CM_HMAC_SHA1_80"} {
		p, err := openssl.ParseSRTPProtectionProfile(name)
		require.NoError(t, err)
		assert.Equal(t, openssl.SRTP_AES128_CM_HMAC_SHA1_80, p)
	}
	_, err := openssl.ParseSRTPProtectionProfile("SRTP_NOPE")
	assert.Error(t, err)
	ctx, err := openssl.NewCtx(openssl.DTLSServerMethod)
	require.NoError(t, err)
	defer ctx.Close()
	assert.NoError(t, ctx.SetSRTPProtectionProfiles(openssl.SRTP_AEAD_AES_128_GCM, openssl.SRTP_AES128_CM_HMAC_SHA1_80))
	assert.Error(t, ctx.SetSRTPProtectionProfiles(0x0099))
	assert.Error(t, ctx.SetSRTPProtectionProfiles())
}
