package openssl_test

import (
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl"
	"github.com/openssl-stateless/openssl/internal/testcert"
)

// Over packet BIOs, with no SetMTU at all, OpenSSL asks the BIO
// (BIO_CTRL_DGRAM_QUERY_MTU) and fragments a certificate flight larger than
// the answer: every datagram fits, and the handshake completes.
func TestPacketBIOAnswersQueryMTU(t *testing.T) {
	const mtu = 576
	ca := testcert.NewCA(t, "CA")
	big := ca.Issue(t, "localhost", testcert.Options{Padding: 2500})
	sctx := newDTLSServerCtx(t, true)
	require.NoError(t, sctx.UseCertificatePEM(big.CertPEM))
	require.NoError(t, sctx.UsePrivateKeyPEM(big.KeyPEM))
	server, sbio := newPacketListener(t, sctx)
	require.NoError(t, sbio.SetMTU(mtu))

	cctx, err := openssl.NewCtx(openssl.DTLSClientMethod)
	require.NoError(t, err)
	defer cctx.Close()
	client, err := openssl.NewSSL(cctx)
	require.NoError(t, err)
	defer client.Close()
	cbio, err := openssl.NewPacketBIO(mtu, 1<<16)
	require.NoError(t, err)
	require.NoError(t, client.SetBIO(cbio, cbio))
	serverAP := netip.MustParseAddrPort("192.0.2.1:4433")

	largest, datagrams := 0, 0
	listening := true
	serverStep := func() {
		if listening {
			_, err := server.DTLSv1ListenAddrPort()
			if errors.Is(err, openssl.ErrRetry) {
				return
			}
			require.NoError(t, err)
			listening = false
		}
		if err := server.Accept(); err != nil {
			require.ErrorIs(t, err, openssl.ErrWantRead)
		}
	}
	carry := func(from, to *openssl.BIO, src netip.AddrPort, step func(), measure bool) {
		require.NoError(t, from.DrainDatagrams(func(p []byte) error {
			if measure {
				largest = max(largest, len(p))
				datagrams++
			}
			require.NoError(t, to.PushDatagram(p, src))
			step()
			return nil
		}))
	}
	require.ErrorIs(t, client.Connect(), openssl.ErrWantRead)
	for i := 0; i < 20 && !(client.IsInitFinished() && server.IsInitFinished()); i++ {
		carry(cbio, sbio, clientAP, serverStep, false)
		carry(sbio, cbio, serverAP, func() {
			if err := client.Connect(); err != nil {
				require.ErrorIs(t, err, openssl.ErrWantRead)
			}
		}, true)
	}
	require.True(t, client.IsInitFinished() && server.IsInitFinished(), "handshake completed")
	assert.LessOrEqual(t, largest, mtu, "every server datagram fits the MTU the BIO reported")
	assert.Greater(t, datagrams, 5, "the certificate flight was fragmented")
	assert.Greater(t, server.DTLSDataMTU(), 400)
}

func TestBIOAddrConversions(t *testing.T) {
	for _, in := range []*net.UDPAddr{
		{IP: net.IPv4(192, 0, 2, 1), Port: 4433},
		{IP: net.ParseIP("2001:db8::1"), Port: 65535},
	} {
		a, err := openssl.NewBIOAddr(in)
		require.NoError(t, err)
		assert.Equal(t, in.String(), a.UDPAddr().String())
		require.NoError(t, a.Close())
	}
	a, err := openssl.NewBIOAddr(nil)
	require.NoError(t, err)
	defer a.Close()
	assert.Nil(t, a.UDPAddr(), "a fresh BIO_ADDR is AF_UNSPEC")
	assert.Error(t, a.SetUDPAddr(&net.UDPAddr{}), "no IP is not an address")
}

func TestPacketBIOLimits(t *testing.T) {
	_, err := openssl.NewPacketBIO(1200, 10)
	assert.Error(t, err)
	_, err = openssl.NewPacketBIO(0, 2048)
	assert.Error(t, err)
	b, err := openssl.NewPacketBIO(1200, 1024)
	require.NoError(t, err)
	defer b.Close()
	assert.ErrorContains(t, b.PushDatagram(make([]byte, 1025), clientAP), "does not fit")
	require.NoError(t, b.PushDatagram(make([]byte, 10), clientAP))
	assert.ErrorIs(t, b.PushDatagram(make([]byte, 10), clientAP), openssl.ErrDatagramPending)
	assert.True(t, b.DatagramPending())
	b.DropDatagram()
	assert.False(t, b.DatagramPending())
	m, err := openssl.NewMemBIO()
	require.NoError(t, err)
	defer m.Close()
	assert.Error(t, m.PushDatagram([]byte{1}, clientAP), "only packet BIOs take datagrams")
	_, ok := m.Peer()
	assert.False(t, ok, "a memory BIO has no peer")
}
