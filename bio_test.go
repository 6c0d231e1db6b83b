package openssl_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl"
	"github.com/openssl-stateless/openssl/internal/testcert"
)

// Over packet BIOs, with no SetMTU at all, OpenSSL asks the BIO
// (BIO_CTRL_DGRAM_QUERY_MTU) and fragments a certificate flight larger than
// the answer: every datagram fits, and the handshake completes.
// bigFlightPair is a listening server SSL with a certificate far larger
// than mtu, and a client SSL, each over a packet BIO of that MTU; step
// runs the server's next step (DTLSv1_listen until a cookie verifies,
// then Accept) on what its BIO holds.
func bigFlightPair(t *testing.T, mtu int) (server *openssl.SSL, sbio *openssl.BIO, client *openssl.SSL, cbio *openssl.BIO, step func()) {
	ca := testcert.NewCA(t, "CA")
	big := ca.Issue(t, "localhost", testcert.Options{Padding: 2500})
	sctx := newDTLSServerCtx(t, true)
	require.NoError(t, sctx.UseCertificatePEM(big.CertPEM))
	require.NoError(t, sctx.UsePrivateKeyPEM(big.KeyPEM))
	server, sbio = newPacketListener(t, sctx)
	require.NoError(t, sbio.SetMTU(mtu))

	cctx, err := openssl.NewCtx(openssl.DTLSClientMethod)
	require.NoError(t, err)
	t.Cleanup(func() { cctx.Close() })
	client, err = openssl.NewSSL(cctx)
	require.NoError(t, err)
	t.Cleanup(func() { client.Close() })
	cbio, err = openssl.NewPacketBIO(mtu, 1<<16)
	require.NoError(t, err)
	require.NoError(t, client.SetBIO(cbio, cbio))

	listening := true
	step = func() {
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
	return server, sbio, client, cbio, step
}

// establishedDTLSPair is bigFlightPair's server and client after a
// completed handshake, carried datagram by datagram between their BIOs; the
// client's address is clientAP.
func establishedDTLSPair(t *testing.T) (server *openssl.SSL, sbio *openssl.BIO, client *openssl.SSL, cbio *openssl.BIO) {
	server, sbio, client, cbio, serverStep := bigFlightPair(t, 1400)
	serverAP := netip.MustParseAddrPort("192.0.2.1:4433")
	carry := func(from, to *openssl.BIO, src netip.AddrPort, step func()) {
		require.NoError(t, from.DrainDatagrams(func(p []byte) error {
			require.NoError(t, to.PushDatagram(p, src))
			step()
			return nil
		}))
	}
	require.ErrorIs(t, client.Connect(), openssl.ErrWantRead)
	for i := 0; i < 20 && !(client.IsInitFinished() && server.IsInitFinished()); i++ {
		carry(cbio, sbio, clientAP, serverStep)
		carry(sbio, cbio, serverAP, func() {
			if err := client.Connect(); err != nil {
				require.ErrorIs(t, err, openssl.ErrWantRead)
			}
		})
	}
	require.True(t, client.IsInitFinished() && server.IsInitFinished(), "handshake completed")
	return server, sbio, client, cbio
}

func TestPacketBIOAnswersQueryMTU(t *testing.T) {
	const mtu = 576
	server, sbio, client, cbio, serverStep := bigFlightPair(t, mtu)
	serverAP := netip.MustParseAddrPort("192.0.2.1:4433")
	largest, datagrams := 0, 0
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

// DrainDatagramBatches hands a fragmented certificate flight over in
// batches of at most len(buf), in order, each batch full but the last;
// the client completes the handshake from them; a failing batch is
// reported and the batches after it are still offered.
func TestDrainDatagramBatches(t *testing.T) {
	server, sbio, client, cbio, serverStep := bigFlightPair(t, 576)
	serverAP := netip.MustParseAddrPort("192.0.2.1:4433")
	var sizes []int // of the server's batches
	buf := make([][]byte, 3)
	require.ErrorIs(t, client.Connect(), openssl.ErrWantRead)
	for i := 0; i < 20 && !(client.IsInitFinished() && server.IsInitFinished()); i++ {
		require.NoError(t, cbio.DrainDatagrams(func(p []byte) error {
			require.NoError(t, sbio.PushDatagram(p, clientAP))
			serverStep()
			return nil
		}))
		var flight [][]byte // copies: the BIO's are gone when the call returns
		pending := sbio.OutputDatagrams()
		require.NoError(t, sbio.DrainDatagramBatches(buf, func(batch [][]byte) error {
			sizes = append(sizes, len(batch))
			for _, p := range batch {
				flight = append(flight, bytes.Clone(p))
			}
			return nil
		}))
		assert.Equal(t, pending, len(flight), "OutputDatagrams counted what the drain handed over")
		assert.Zero(t, sbio.OutputDatagrams())
		for _, p := range flight {
			require.NoError(t, cbio.PushDatagram(p, serverAP))
			if err := client.Connect(); err != nil {
				require.ErrorIs(t, err, openssl.ErrWantRead)
			}
		}
	}
	require.True(t, client.IsInitFinished() && server.IsInitFinished(), "handshake completed from the batched flights")
	require.NotEmpty(t, sizes)
	assert.Contains(t, sizes, 3, "the fragmented certificate flight fills batches: %v", sizes)
	for _, k := range sizes {
		assert.LessOrEqual(t, k, len(buf))
	}
	for _, p := range buf {
		assert.Nil(t, p, "no slice of C memory is left in buf")
	}

	// A failing batch: its error is the result, and the rest still go.
	_, err := server.Write([]byte("one"))
	require.NoError(t, err)
	_, err = server.Write([]byte("two"))
	require.NoError(t, err)
	_, err = server.Write([]byte("three"))
	require.NoError(t, err)
	boom := errors.New("boom")
	calls, offered := 0, 0
	err = sbio.DrainDatagramBatches(buf[:2], func(batch [][]byte) error {
		calls++
		offered += len(batch)
		if calls == 1 {
			return boom
		}
		return nil
	})
	assert.ErrorIs(t, err, boom)
	assert.Equal(t, 2, calls)
	assert.Equal(t, 3, offered)
	assert.False(t, sbio.HasOutput(), "drained")

	// Misuse.
	assert.ErrorContains(t, sbio.DrainDatagramBatches(nil, func([][]byte) error { return nil }), "empty batch buffer")
	assert.ErrorContains(t, sbio.DrainDatagramBatches(buf, nil), "nil send function")
	m, err := openssl.NewMemBIO()
	require.NoError(t, err)
	assert.Error(t, m.DrainDatagramBatches(buf, func([][]byte) error { return nil }), "only packet BIOs hold datagrams")
	require.NoError(t, m.Close())
	assert.ErrorIs(t, m.DrainDatagramBatches(buf, func([][]byte) error { return nil }), openssl.ErrClosed)
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

// A memory BIO is an io.Reader and io.Writer that keeps their contracts:
// io.Copy fills it, and once SetMemEOFReturn(0) marks the end of the
// stream, io.ReadAll and io.Copy drain it and stop at io.EOF, which they
// do not report as an error.
func TestMemBIOReadAllAndCopyUntilEOF(t *testing.T) {
	data := make([]byte, 100_000) // several of BIO_read's internal steps
	for i := range data {
		data[i] = byte(i * 7)
	}
	newFull := func(t *testing.T) *openssl.BIO {
		b, err := openssl.NewMemBIO()
		require.NoError(t, err)
		t.Cleanup(func() { b.Close() })
		n, err := io.Copy(b, bytes.NewReader(data))
		require.NoError(t, err)
		require.EqualValues(t, len(data), n)
		require.Equal(t, len(data), b.Pending())
		require.NoError(t, b.SetMemEOFReturn(0))
		return b
	}

	t.Run("ReadAll", func(t *testing.T) {
		b := newFull(t)
		got, err := io.ReadAll(b)
		require.NoError(t, err)
		assert.Equal(t, data, got)
		n, err := b.Read(make([]byte, 10))
		assert.Equal(t, 0, n)
		assert.Equal(t, io.EOF, err, "io.EOF itself, not wrapped, as io.Reader asks")
	})
	t.Run("Copy", func(t *testing.T) {
		b := newFull(t)
		var dst bytes.Buffer
		n, err := io.Copy(&dst, b)
		require.NoError(t, err)
		assert.EqualValues(t, len(data), n)
		assert.Equal(t, data, dst.Bytes())
	})
	t.Run("iotest", func(t *testing.T) {
		// One byte at a time, then Read at EOF, then Read(nil).
		require.NoError(t, iotest.TestReader(newFull(t), data))
	})
	t.Run("EOFOnEmpty", func(t *testing.T) {
		b, err := openssl.NewMemBIO()
		require.NoError(t, err)
		defer b.Close()
		require.NoError(t, b.SetMemEOFReturn(0))
		n, err := b.Read(make([]byte, 10))
		assert.Equal(t, 0, n)
		assert.Equal(t, io.EOF, err)
	})
}

// An empty memory BIO in its default mode has nothing yet, not nothing
// more: Read says ErrWantRead (never (0, nil), which would make io.Copy
// spin), io.ReadAll returns what there was with ErrWantRead, and bytes
// written afterwards are read normally.
func TestMemBIOEmptyWantsRead(t *testing.T) {
	b, err := openssl.NewMemBIO()
	require.NoError(t, err)
	defer b.Close()
	buf := make([]byte, 16)
	n, err := b.Read(buf)
	assert.Equal(t, 0, n)
	assert.ErrorIs(t, err, openssl.ErrWantRead)

	n, err = b.Write([]byte("hello"))
	require.NoError(t, err)
	require.Equal(t, 5, n)
	got, err := io.ReadAll(b)
	assert.ErrorIs(t, err, openssl.ErrWantRead, "io.ReadAll stops at the retry and reports it")
	assert.Equal(t, "hello", string(got))

	n, err = b.Write([]byte("again"))
	require.NoError(t, err)
	require.Equal(t, 5, n)
	n, err = b.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "again", string(buf[:n]))

	n, err = b.Read(nil)
	assert.Equal(t, 0, n)
	assert.NoError(t, err, "an empty p reads nothing and is no error")
	assert.Error(t, b.SetMemEOFReturn(1), "a positive value would read as a byte count")

	require.NoError(t, b.Close())
	_, err = b.Read(buf)
	assert.ErrorIs(t, err, openssl.ErrClosed)
	_, err = b.Write(buf)
	assert.ErrorIs(t, err, openssl.ErrClosed)
}

// A packet BIO: no datagram yet is ErrWantRead; after SetDatagramEOF it is
// io.EOF.
func TestPacketBIOReadEOF(t *testing.T) {
	b, err := openssl.NewPacketBIO(1200, 2048)
	require.NoError(t, err)
	defer b.Close()
	buf := make([]byte, 2048)
	_, err = b.Read(buf)
	assert.ErrorIs(t, err, openssl.ErrWantRead)
	require.NoError(t, b.PushDatagram([]byte("one"), clientAP))
	n, err := b.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "one", string(buf[:n]))
	b.SetDatagramEOF(true)
	n, err = b.Read(buf)
	assert.Equal(t, 0, n)
	assert.Equal(t, io.EOF, err)
}

// On a datagram BIO over a real UDP socket, an empty datagram (which anyone
// can send) is no end of stream: Read reports ErrWantRead for it and then
// returns the next datagram.
func TestDatagramBIOEmptyDatagramIsNotEOF(t *testing.T) {
	srv, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer srv.Close()
	fd, _ := socketFD(t, srv)
	b, err := openssl.NewDatagramBIO(fd, false)
	require.NoError(t, err)
	defer b.Close()
	buf := make([]byte, 64)
	_, err = b.Read(buf)
	require.ErrorIs(t, err, openssl.ErrWantRead, "a non-blocking socket with nothing to read")

	cli, err := net.DialUDP("udp", nil, srv.LocalAddr().(*net.UDPAddr))
	require.NoError(t, err)
	defer cli.Close()
	_, err = cli.Write(nil)
	require.NoError(t, err)
	_, err = cli.Write([]byte("x"))
	require.NoError(t, err)

	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err := b.Read(buf)
		if n > 0 {
			require.NoError(t, err)
			assert.Equal(t, "x", string(buf[:n]))
			break
		}
		require.ErrorIs(t, err, openssl.ErrWantRead, "the empty datagram, or nothing yet")
		require.True(t, time.Now().Before(deadline), "the datagram never arrived")
		time.Sleep(time.Millisecond)
	}
}

// Write keeps io.Writer's contract on a socket that cannot take more: a
// non-blocking datagram socket whose peer's queue is full makes Write
// return (0, ErrWantWrite), and once the peer reads, Write takes the
// datagram whole again.
func TestDatagramBIOWriteWantsWrite(t *testing.T) {
	fds := socketpair(t, syscall.SOCK_DGRAM)
	b, err := openssl.NewDatagramBIO(fds[0], true)
	require.NoError(t, err)
	defer b.Close()
	// Connected: BIO_write then uses write(2) on the pair, no address.
	require.NoError(t, b.SetConnected(clientAP))

	msg := make([]byte, 1000)
	var werr error
	for i := 0; i < 100_000 && werr == nil; i++ {
		var n int
		n, werr = b.Write(msg)
		if werr == nil {
			require.Equal(t, len(msg), n)
		} else {
			assert.Equal(t, 0, n)
		}
	}
	require.ErrorIs(t, werr, openssl.ErrWantWrite)

	_, err = syscall.Read(fds[1], make([]byte, 2000))
	require.NoError(t, err)
	n, err := b.Write(msg)
	require.NoError(t, err)
	assert.Equal(t, len(msg), n)
}

// socketpair returns a non-blocking, close-on-exec Unix socket pair. The
// caller owns fds[0]; fds[1] is closed when the test ends.
func socketpair(t *testing.T, typ int) [2]int {
	t.Helper()
	syscall.ForkLock.RLock() // no child may inherit the descriptors
	fds, err := syscall.Socketpair(syscall.AF_UNIX, typ, 0)
	if err == nil {
		syscall.CloseOnExec(fds[0])
		syscall.CloseOnExec(fds[1])
	}
	syscall.ForkLock.RUnlock()
	require.NoError(t, err)
	for _, fd := range fds {
		require.NoError(t, syscall.SetNonblock(fd, true))
	}
	t.Cleanup(func() { syscall.Close(fds[1]) })
	return fds
}
