package openssl_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl/internal/record"
)

// The root tests craft the ClientHellos DTLSv1_listen must answer or drop
// with internal/record; these are the short names they use.

// DTLS framing, to cut crafted datagrams short.
const (
	recordHeaderLen    = record.DTLSHeaderLen
	handshakeHeaderLen = record.DTLSHandshakeHeaderLen
	ctAlert            = record.Alert
)

// clientHello describes a crafted first flight: record.ClientHelloDatagram
// (which documents the defaults of zero fields) with a random of its own
// each time.
type clientHello struct {
	cookie        []byte
	recordVersion uint16             // 0: DTLS 1.0 (0xfeff), what clients put in a first flight
	clientVersion uint16             // 0: DTLS 1.2
	epoch         uint16             //
	contentType   record.ContentType // 0: handshake
	msgType       record.HandshakeType
	fragOffset    uint32 // fragment_offset
	fragShort     int    // bytes cut from fragment_length (and the body), keeping length
	messageSeq    uint16 //
	lengthExtra   int    // added to the record length field without adding bytes
}

func (c clientHello) bytes() []byte {
	return record.ClientHelloDatagram{
		Version:        c.clientVersion,
		Cookie:         c.cookie,
		MessageType:    c.msgType,
		MessageSeq:     c.messageSeq,
		FragmentOffset: c.fragOffset,
		Truncate:       c.fragShort,
		RecordType:     c.contentType,
		RecordVersion:  c.recordVersion,
		Epoch:          c.epoch,
		LengthExtra:    c.lengthExtra,
	}.Bytes()
}

// helloVerifyCookie parses a datagram holding a HelloVerifyRequest and
// returns its cookie.
func helloVerifyCookie(dgram []byte) ([]byte, error) {
	h, m, err := record.FirstDTLSHandshake(dgram)
	if err != nil {
		return nil, fmt.Errorf("datagram of %d bytes: %w", len(dgram), err)
	}
	if h.Epoch != 0 || m.Type != record.TypeHelloVerifyRequest || m.IsFragment() {
		return nil, fmt.Errorf("%v (epoch %d, fragment %v), want a whole hello_verify_request", m.Type, h.Epoch, m.IsFragment())
	}
	hv, err := record.ParseHelloVerifyRequest(m.Body)
	if err != nil {
		return nil, fmt.Errorf("hello_verify_request: %w", err)
	}
	return hv.Cookie, nil
}

func TestHelloVerifyCookie(t *testing.T) {
	hvr := func(cookie []byte, trailing ...byte) []byte {
		body := record.HelloVerifyRequest{Version: record.VersionDTLS10, Cookie: cookie}.Append(nil)
		body = append(body, trailing...)
		msg := record.AppendDTLSHandshake(nil, record.TypeHelloVerifyRequest, 0, body)
		return record.AppendDTLSRecord(nil, record.Header{Type: record.Handshake, Version: record.VersionDTLS10}, msg)
	}
	cookie, err := helloVerifyCookie(hvr([]byte("0123456789")))
	require.NoError(t, err)
	assert.Equal(t, "0123456789", string(cookie))

	good := hvr([]byte("c"))
	for name, dgram := range map[string][]byte{
		"empty":            nil,
		"record cut":       good[:len(good)-1],
		"ClientHello":      clientHello{}.bytes(),
		"alert":            clientHello{contentType: ctAlert}.bytes(),
		"cookie overruns":  append(good[:len(good)-2], 9, 'c'),
		"byte after it":    hvr([]byte("c"), 0),
		"epoch 1":          append(append([]byte{}, good[:3]...), append([]byte{0, 1}, good[5:]...)...),
		"fragment (short)": clientHello{msgType: record.TypeHelloVerifyRequest, fragShort: 5}.bytes(),
	} {
		_, err := helloVerifyCookie(dgram)
		assert.Error(t, err, name)
	}
	_, err = helloVerifyCookie(nil)
	assert.True(t, errors.Is(err, record.ErrTruncated))
}
