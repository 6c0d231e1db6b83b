package dtls_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl/dtls"
)

// TestReadShortBuffer reads a record into a buffer too short for it: Read
// returns the head with io.ErrShortBuffer and drops the tail, so the next
// record still arrives whole (boundaries hold, as for a UDP socket, but
// the truncation is not silent).
func TestReadShortBuffer(t *testing.T) {
	p := newPKI(t)
	l := listen(t, p.serverConfig())
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	client, err := dtls.Dial("udp", l.Addr().String(), p.clientConfig())
	require.NoError(t, err)
	defer client.Close()
	var server net.Conn
	select {
	case server = <-accepted:
	case <-time.After(10 * time.Second):
		t.Fatal("no connection accepted")
	}
	defer server.Close()
	require.NoError(t, server.SetReadDeadline(time.Now().Add(10*time.Second)))

	long := bytes.Repeat([]byte("0123456789"), 100) // 1000 bytes; 3000+ is past the 1024-byte drain scratch
	longer := bytes.Repeat([]byte("abcdefghij"), client.MaxPayload()/10)
	second := []byte("the next record, whole")
	for _, first := range [][]byte{long, longer} {
		_, err = client.Write(first)
		require.NoError(t, err)
		_, err = client.Write(second)
		require.NoError(t, err)

		short := make([]byte, 100)
		n, err := server.Read(short)
		require.ErrorIs(t, err, io.ErrShortBuffer)
		assert.Contains(t, err.Error(), "record of")
		assert.Equal(t, 100, n, "the head of the record")
		assert.Equal(t, first[:100], short[:n])

		buf := make([]byte, 2048)
		n, err = server.Read(buf)
		require.NoError(t, err)
		assert.Equal(t, second, buf[:n], "the tail of the long record was dropped, not returned as a record")
	}

	// A buffer exactly the record's size is not short.
	exact := []byte("exactly this")
	_, err = client.Write(exact)
	require.NoError(t, err)
	buf := make([]byte, len(exact))
	n, err := server.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, exact, buf[:n])
}

// TestReadDeadlineError checks the error of an expired read deadline: a
// *net.OpError whose Timeout is true and which is os.ErrDeadlineExceeded,
// as package net reports one.
func TestReadDeadlineError(t *testing.T) {
	p := newPKI(t)
	l := listen(t, p.serverConfig())
	serveEcho(t, l)
	c, err := dtls.Dial("udp", l.Addr().String(), p.clientConfig())
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(50*time.Millisecond)))
	_, err = c.Read(make([]byte, 64))
	require.Error(t, err)
	var ne net.Error
	require.True(t, errors.As(err, &ne), "%T is a net.Error", err)
	assert.True(t, ne.Timeout())
	assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
	var oe *net.OpError
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, "read", oe.Op)
}
