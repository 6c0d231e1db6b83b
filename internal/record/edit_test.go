package record

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEditDTLSClientHello(t *testing.T) {
	in := ClientHelloDatagram{
		Random:     fixedRandom,
		Cookie:     []byte("cookie"),
		MessageSeq: 1,
		Sequence:   7,
		Extensions: Extensions{}.Add(ExtExtendedMasterSecret, nil),
	}.Bytes()
	orig := append([]byte(nil), in...)

	same, err := EditDTLSClientHello(in, func(*ClientHello) {})
	require.NoError(t, err)
	assert.Equal(t, in, same, "an edit that changes nothing rebuilds the same bytes")

	flipped, err := EditDTLSClientHello(in, func(c *ClientHello) {
		c.Cookie = append([]byte(nil), c.Cookie...)
		c.Cookie[0] ^= 1
	})
	require.NoError(t, err)
	assert.Equal(t, orig, in, "the input is not written")
	h, m, err := FirstDTLSHandshake(flipped)
	require.NoError(t, err)
	assert.Equal(t, uint64(7), h.Sequence)
	assert.Equal(t, uint16(1), m.MessageSeq)
	ch, err := ParseDTLSClientHello(m.Body)
	require.NoError(t, err)
	assert.Equal(t, "bookie", string(ch.Cookie))
	assert.Equal(t, fixedRandom, ch.Random)

	moved, err := EditDTLSClientHello(in, func(c *ClientHello) { c.Cookie = make([]byte, 32) })
	require.NoError(t, err)
	assert.Len(t, moved, len(in)+32-6, "lengths follow the new cookie")
	_, m, err = FirstDTLSHandshake(moved)
	require.NoError(t, err)
	ch, err = ParseDTLSClientHello(m.Body)
	require.NoError(t, err)
	assert.Len(t, ch.Cookie, 32)
	_, ok := ch.Extensions.Find(ExtExtendedMasterSecret)
	assert.True(t, ok, "extensions kept")

	for _, name := range []string{"not a ClientHello", "fragment", "epoch 1", "truncated"} {
		var d []byte
		switch name {
		case "not a ClientHello":
			d = ClientHelloDatagram{MessageType: TypeServerHello}.Bytes()
		case "fragment":
			d = ClientHelloDatagram{Truncate: 3}.Bytes()
		case "epoch 1":
			d = ClientHelloDatagram{Epoch: 1}.Bytes()
		case "truncated":
			d = in[:len(in)-1]
		}
		_, err := EditDTLSClientHello(d, func(*ClientHello) { t.Error("edit called for", name) })
		assert.Error(t, err, name)
	}
}

func TestPadTo(t *testing.T) {
	for _, ext := range []Extensions{nil, Extensions{}.Add(ExtExtendedMasterSecret, nil)} {
		in := ClientHelloDatagram{Extensions: ext}.Bytes()
		for _, size := range []int{len(in) + 6, 512, 1200} {
			out, err := EditDTLSClientHello(in, func(c *ClientHello) { assert.True(t, c.PadTo(size)) })
			require.NoError(t, err)
			assert.Len(t, out, size)
			_, m, err := FirstDTLSHandshake(out)
			require.NoError(t, err)
			ch, err := ParseDTLSClientHello(m.Body)
			require.NoError(t, err)
			pad, ok := ch.Extensions.Find(ExtPadding)
			require.True(t, ok)
			assert.Equal(t, make([]byte, len(pad)), pad, "padding is zeros")
		}
		_, err := EditDTLSClientHello(in, func(c *ClientHello) { assert.False(t, c.PadTo(len(in))) })
		require.NoError(t, err)
	}
}
