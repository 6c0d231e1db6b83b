package record

import (
	"bytes"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fixedRandom makes built messages reproducible.
var fixedRandom = bytes.Repeat([]byte{0x5a}, RandomLen)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	require.NoError(t, err)
	return b
}

func TestParseDTLSHeader(t *testing.T) {
	b := unhex(t, "16 fefd 0001 0000 0102 0304 0007")
	h, err := ParseDTLSHeader(b)
	require.NoError(t, err)
	assert.Equal(t, Header{Type: Handshake, Version: VersionDTLS12, Epoch: 1, Sequence: 0x0000_0102_0304, Length: 7}, h)
	assert.Equal(t, b, h.AppendDTLS(nil))

	h.Sequence = 0xffff_ffff_ffff_ffff
	assert.Equal(t, unhex(t, "16 fefd 0001 ffff ffff ffff 0007"), h.AppendDTLS(nil), "sequence taken modulo 2^48")

	for n := range DTLSHeaderLen {
		_, err := ParseDTLSHeader(b[:n])
		assert.ErrorIs(t, err, ErrTruncated, "%d bytes", n)
	}
}

func TestParseTLSHeader(t *testing.T) {
	b := unhex(t, "15 0303 0002")
	h, err := ParseTLSHeader(b)
	require.NoError(t, err)
	assert.Equal(t, Header{Type: Alert, Version: VersionTLS12, Length: 2}, h)
	assert.Equal(t, b, h.AppendTLS(nil))
	_, err = ParseTLSHeader(b[:4])
	assert.ErrorIs(t, err, ErrTruncated)
}

func TestParseRecord(t *testing.T) {
	dtls := AppendDTLSRecord(nil, Header{Type: Alert, Version: VersionDTLS12}, []byte{2, 40})
	tls := AppendTLSRecord(nil, Header{Type: Alert, Version: VersionTLS12}, []byte{2, 40})
	for _, tc := range []struct {
		name      string
		parse     func([]byte) (Record, []byte, error)
		in        []byte
		want      Record
		wantRest  []byte
		wantError error
	}{
		{"DTLS", ParseDTLSRecord, dtls, Record{Header{Type: Alert, Version: VersionDTLS12, Length: 2}, []byte{2, 40}}, []byte{}, nil},
		{"DTLS, then more", ParseDTLSRecord, append(slices.Clone(dtls), 9, 9), Record{Header{Type: Alert, Version: VersionDTLS12, Length: 2}, []byte{2, 40}}, []byte{9, 9}, nil},
		{"DTLS, payload cut", ParseDTLSRecord, dtls[:len(dtls)-1], Record{Header: Header{Type: Alert, Version: VersionDTLS12, Length: 2}}, dtls[:len(dtls)-1], ErrTruncated},
		{"DTLS, header cut", ParseDTLSRecord, dtls[:5], Record{}, dtls[:5], ErrTruncated},
		{"TLS", ParseTLSRecord, tls, Record{Header{Type: Alert, Version: VersionTLS12, Length: 2}, []byte{2, 40}}, []byte{}, nil},
		{"TLS, payload cut", ParseTLSRecord, tls[:6], Record{Header: Header{Type: Alert, Version: VersionTLS12, Length: 2}}, tls[:6], ErrTruncated},
		{"TLS, empty", ParseTLSRecord, nil, Record{}, nil, ErrTruncated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, rest, err := tc.parse(tc.in)
			assert.ErrorIs(t, err, tc.wantError)
			if tc.wantError == nil {
				assert.NoError(t, err)
			}
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.wantRest, rest)
		})
	}
}

func TestParseRecordCapsPayload(t *testing.T) {
	in := AppendDTLSRecord(nil, Header{Type: ApplicationData}, []byte("ab"))
	in = append(in, "next"...)
	r, _, err := ParseDTLSRecord(in)
	require.NoError(t, err)
	_ = append(r.Payload, 'X')
	assert.Equal(t, "next", string(in[len(in)-4:]), "appending to a payload must not overwrite what follows")
}

func TestDTLSRecords(t *testing.T) {
	ccs := AppendDTLSRecord(nil, Header{Type: ChangeCipherSpec, Version: VersionDTLS12}, []byte{1})
	fin := AppendDTLSRecord(nil, Header{Type: Handshake, Version: VersionDTLS12, Epoch: 1, Sequence: 0}, bytes.Repeat([]byte{7}, 40))
	data := AppendDTLSRecord(nil, Header{Type: ApplicationData, Version: VersionDTLS12, Epoch: 1, Sequence: 1}, []byte("hi"))
	flight := slices.Concat(ccs, fin, data)

	type item struct {
		typ ContentType
		n   int
		err error
	}
	collect := func(d []byte) []item {
		var got []item
		for r, err := range DTLSRecords(d) {
			got = append(got, item{r.Type, len(r.Payload), err})
		}
		return got
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want []item
	}{
		{"empty", nil, nil},
		{"one", ccs, []item{{ChangeCipherSpec, 1, nil}}},
		{"three", flight, []item{{ChangeCipherSpec, 1, nil}, {Handshake, 40, nil}, {ApplicationData, 2, nil}}},
		{"last cut", flight[:len(flight)-1], []item{{ChangeCipherSpec, 1, nil}, {Handshake, 40, nil}, {ApplicationData, 0, ErrTruncated}}},
		{"trailing bytes", append(slices.Clone(ccs), 23, 0xfe), []item{{ChangeCipherSpec, 1, nil}, {0, 0, ErrTruncated}}},
		{"length overrun", AppendDTLSRecord(nil, Header{Type: Handshake}, nil)[:DTLSHeaderLen-2], []item{{0, 0, ErrTruncated}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, collect(tc.in))
		})
	}

	t.Run("break", func(t *testing.T) {
		n := 0
		for range DTLSRecords(flight) {
			n++
			break
		}
		assert.Equal(t, 1, n)
	})
}

func TestParseHandshake(t *testing.T) {
	body := []byte("0123456789")
	whole := AppendDTLSHandshake(nil, TypeCertificate, 4, body)
	frag := HandshakeHeader{Type: TypeCertificate, Length: 10, MessageSeq: 4, FragmentOffset: 6, FragmentLength: 4}.AppendDTLS(nil)
	frag = append(frag, body[6:]...)
	outside := HandshakeHeader{Type: TypeCertificate, Length: 10, FragmentOffset: 8, FragmentLength: 4}.AppendDTLS(nil)
	outside = append(outside, body[6:]...)
	tls := AppendTLSHandshake(nil, TypeFinished, body)

	for _, tc := range []struct {
		name      string
		parse     func([]byte) (Message, []byte, error)
		in        []byte
		want      HandshakeHeader
		wantBody  []byte
		wantFrag  bool
		wantError error
	}{
		{"DTLS whole", ParseDTLSHandshake, whole, HandshakeHeader{TypeCertificate, 10, 4, 0, 10}, body, false, nil},
		{"DTLS fragment", ParseDTLSHandshake, frag, HandshakeHeader{TypeCertificate, 10, 4, 6, 4}, body[6:], true, nil},
		{"DTLS fragment outside the message", ParseDTLSHandshake, outside, HandshakeHeader{TypeCertificate, 10, 0, 8, 4}, nil, true, ErrMalformed},
		{"DTLS body cut", ParseDTLSHandshake, whole[:len(whole)-1], HandshakeHeader{TypeCertificate, 10, 4, 0, 10}, nil, false, ErrTruncated},
		{"DTLS header cut", ParseDTLSHandshake, whole[:11], HandshakeHeader{}, nil, false, ErrTruncated},
		{"TLS", ParseTLSHandshake, tls, HandshakeHeader{TypeFinished, 10, 0, 0, 10}, body, false, nil},
		{"TLS body cut", ParseTLSHandshake, tls[:8], HandshakeHeader{TypeFinished, 10, 0, 0, 10}, nil, false, ErrTruncated},
		{"TLS header cut", ParseTLSHandshake, tls[:3], HandshakeHeader{}, nil, false, ErrTruncated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, _, err := tc.parse(tc.in)
			if tc.wantError == nil {
				require.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, tc.wantError)
			}
			assert.Equal(t, tc.want, m.HandshakeHeader)
			assert.Equal(t, tc.wantBody, m.Body)
			assert.Equal(t, tc.wantFrag, m.IsFragment())
		})
	}

	t.Run("two in a record", func(t *testing.T) {
		p := AppendDTLSHandshake(AppendDTLSHandshake(nil, TypeServerHello, 1, []byte("sh")), TypeServerHelloDone, 2, nil)
		m, rest, err := ParseDTLSHandshake(p)
		require.NoError(t, err)
		assert.Equal(t, TypeServerHello, m.Type)
		m, rest, err = ParseDTLSHandshake(rest)
		require.NoError(t, err)
		assert.Equal(t, TypeServerHelloDone, m.Type)
		assert.Empty(t, rest)
	})
}

func TestFirstDTLSHandshake(t *testing.T) {
	hvr := AppendDTLSRecord(nil, Header{Type: Handshake, Version: VersionDTLS10},
		AppendDTLSHandshake(nil, TypeHelloVerifyRequest, 0, HelloVerifyRequest{Version: VersionDTLS10, Cookie: []byte("c")}.Append(nil)))
	alert := AppendDTLSRecord(nil, Header{Type: Alert, Version: VersionDTLS12}, []byte{2, 40})
	for _, tc := range []struct {
		name      string
		in        []byte
		wantType  HandshakeType
		wantEpoch uint16
		wantError error
	}{
		{"HelloVerifyRequest", hvr, TypeHelloVerifyRequest, 0, nil},
		{"HelloVerifyRequest and more", append(slices.Clone(hvr), alert...), TypeHelloVerifyRequest, 0, nil},
		{"ClientHello", ClientHelloDatagram{Random: fixedRandom}.Bytes(), TypeClientHello, 0, nil},
		{"ClientHello, epoch 2", ClientHelloDatagram{Random: fixedRandom, Epoch: 2}.Bytes(), TypeClientHello, 2, nil},
		{"alert", alert, 0, 0, ErrNotHandshake},
		{"record cut", hvr[:len(hvr)-1], 0, 0, ErrTruncated},
		{"record too short for a handshake header", AppendDTLSRecord(nil, Header{Type: Handshake}, []byte{1, 0, 0}), 0, 0, ErrTruncated},
		{"fragment outside its message", ClientHelloDatagram{FragmentOffset: 3}.Bytes(), TypeClientHello, 0, ErrMalformed},
		{"empty", nil, 0, 0, ErrTruncated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, m, err := FirstDTLSHandshake(tc.in)
			if tc.wantError == nil {
				require.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, tc.wantError)
			}
			assert.Equal(t, tc.wantType, m.Type)
			assert.Equal(t, tc.wantEpoch, h.Epoch)
		})
	}
}

func TestClientHello(t *testing.T) {
	exts := Extensions(nil).
		Add(ExtSupportedVersions, []byte{2, 0x03, 0x04}).
		Add(ExtKeyShare, []byte{0, 6, 0, 0x1d, 0, 2, 0xaa, 0xbb}).
		Add(ExtCookie, CookieExtension([]byte("hrr-cookie")))
	full := ClientHello{
		Version:            VersionTLS12,
		Random:             fixedRandom,
		SessionID:          bytes.Repeat([]byte{1}, 32),
		CipherSuites:       NewCipherSuites(0x1301, 0x1302),
		CompressionMethods: []byte{0},
		Extensions:         exts,
	}
	dtls := full
	dtls.Version, dtls.Cookie, dtls.SessionID = VersionDTLS12, []byte("dtls-cookie"), []byte{}
	noExt := dtls
	noExt.Extensions = nil
	emptyExt := noExt
	emptyExt.Extensions = Extensions{}

	t.Run("TLS round trip", func(t *testing.T) {
		b := full.AppendTLS(nil)
		got, err := ParseTLSClientHello(b)
		require.NoError(t, err)
		assert.Equal(t, full, got)
		assert.Equal(t, b, got.AppendTLS(nil))
		assert.Equal(t, []uint16{0x1301, 0x1302}, slices.Collect(got.CipherSuites.All()))
		assert.Equal(t, 2, got.CipherSuites.Len())
		var types []ExtensionType
		for e := range got.Extensions.All() {
			types = append(types, e.Type)
		}
		assert.Equal(t, []ExtensionType{ExtSupportedVersions, ExtKeyShare, ExtCookie}, types)
		ks, ok := got.Extensions.Find(ExtKeyShare)
		assert.True(t, ok)
		assert.Equal(t, []byte{0, 6, 0, 0x1d, 0, 2, 0xaa, 0xbb}, ks)
		_, ok = got.Extensions.Find(ExtServerName)
		assert.False(t, ok)
		c, ok := got.Extensions.Cookie()
		assert.True(t, ok)
		assert.Equal(t, "hrr-cookie", string(c))
	})
	for _, tc := range []struct {
		name string
		in   ClientHello
	}{{"DTLS", dtls}, {"DTLS without extensions", noExt}, {"DTLS with an empty extensions block", emptyExt}} {
		t.Run(tc.name+" round trip", func(t *testing.T) {
			b := tc.in.AppendDTLS(nil)
			got, err := ParseDTLSClientHello(b)
			require.NoError(t, err)
			assert.Equal(t, tc.in, got)
			assert.Equal(t, b, got.AppendDTLS(nil))
			cookie, err := ClientHelloCookie(b)
			require.NoError(t, err)
			assert.Equal(t, "dtls-cookie", string(cookie))
		})
	}

	good := dtls.AppendDTLS(nil)
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"short random", good[:20]},
		{"session id overruns", slices.Concat(good[:34], []byte{200})},
		{"odd cipher suite list", ClientHello{Random: fixedRandom, CipherSuites: CipherSuites{0x13}, CompressionMethods: []byte{0}}.AppendDTLS(nil)},
		{"extensions block overruns", good[:len(good)-1]},
		{"byte after the extensions", append(slices.Clone(good), 0)},
		{"extension overruns the block", ClientHello{Random: fixedRandom, CompressionMethods: []byte{0}, Extensions: Extensions{0, 44, 0, 9, 1}}.AppendDTLS(nil)},
		{"lone byte where extensions go", append(noExt.AppendDTLS(nil), 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseDTLSClientHello(tc.in)
			assert.ErrorIs(t, err, ErrMalformed)
		})
	}

	t.Run("cookie of a first fragment", func(t *testing.T) {
		cookie, err := ClientHelloCookie(good[:2+32+1+1+len("dtls-cookie")])
		require.NoError(t, err)
		assert.Equal(t, "dtls-cookie", string(cookie))
		_, err = ClientHelloCookie(good[:2+32+1+1+3])
		assert.ErrorIs(t, err, ErrMalformed)
	})
}

func TestServerHello(t *testing.T) {
	versions := Extensions(nil).Add(ExtSupportedVersions, []byte{0x03, 0x04})
	for _, tc := range []struct {
		name       string
		in         ServerHello
		wantHRR    bool
		wantCookie string
	}{
		{"HelloRetryRequest with a cookie", ServerHello{Version: VersionTLS12, Random: HelloRetryRequestRandom[:], SessionID: fixedRandom, CipherSuite: 0x1302,
			Extensions: versions.Add(ExtCookie, CookieExtension([]byte("abcde"))).Add(ExtKeyShare, []byte{0, 0x1d})}, true, "abcde"},
		{"HelloRetryRequest without a cookie", ServerHello{Version: VersionTLS12, Random: HelloRetryRequestRandom[:], CipherSuite: 0x1302,
			Extensions: versions.Add(ExtKeyShare, []byte{0, 0x1d})}, true, ""},
		{"HelloRetryRequest with an empty cookie", ServerHello{Version: VersionTLS12, Random: HelloRetryRequestRandom[:],
			Extensions: versions.Add(ExtCookie, CookieExtension(nil))}, true, ""},
		{"ServerHello", ServerHello{Version: VersionTLS12, Random: fixedRandom, CipherSuite: 0x1301, Extensions: versions}, false, ""},
		{"DTLS 1.2 ServerHello without extensions", ServerHello{Version: VersionDTLS12, Random: fixedRandom, CipherSuite: 0xc02b}, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.in.Append(nil)
			got, err := ParseServerHello(b)
			require.NoError(t, err)
			want := tc.in
			if want.SessionID == nil {
				want.SessionID = []byte{} // an empty vector parses as empty, not nil
			}
			assert.Equal(t, want, got)
			assert.Equal(t, b, got.Append(nil))
			assert.Equal(t, tc.wantHRR, got.IsHelloRetryRequest())
			c, ok := got.Extensions.Cookie()
			assert.Equal(t, tc.wantCookie != "", ok)
			assert.Equal(t, tc.wantCookie, string(c))
		})
	}
	good := ServerHello{Version: VersionTLS12, Random: fixedRandom, Extensions: versions}.Append(nil)
	for n := range len(good) - 1 {
		if n == 2+32+1+2+1 {
			continue // a ServerHello without extensions
		}
		_, err := ParseServerHello(good[:n])
		assert.ErrorIs(t, err, ErrMalformed, "%d bytes", n)
	}
	assert.False(t, ServerHello{Random: HelloRetryRequestRandom[:31]}.IsHelloRetryRequest())
}

func TestHelloVerifyRequest(t *testing.T) {
	in := HelloVerifyRequest{Version: VersionDTLS10, Cookie: []byte("0123456789abcdefghij")}
	b := in.Append(nil)
	got, err := ParseHelloVerifyRequest(b)
	require.NoError(t, err)
	assert.Equal(t, in, got)
	for _, bad := range [][]byte{nil, b[:1], b[:2], b[:len(b)-1], append(slices.Clone(b), 0)} {
		_, err := ParseHelloVerifyRequest(bad)
		assert.ErrorIs(t, err, ErrMalformed, "% x", bad)
	}
}

func TestNames(t *testing.T) {
	assert.Equal(t, "Handshake", Handshake.String())
	assert.Equal(t, "ChangeCipherSpec", ChangeCipherSpec.String())
	assert.Equal(t, "ContentType(99)", ContentType(99).String())
	assert.Equal(t, "HelloVerifyRequest", TypeHelloVerifyRequest.String())
	assert.Equal(t, "HandshakeType(99)", HandshakeType(99).String())
}

// TestClientHelloDatagram checks that each knob of ClientHelloDatagram
// shows in what the parsers read back.
func TestClientHelloDatagram(t *testing.T) {
	parse := func(t *testing.T, d []byte) (Header, Message) {
		t.Helper()
		h, m, err := FirstDTLSHandshake(d)
		require.NoError(t, err)
		return h, m
	}
	t.Run("zero value", func(t *testing.T) {
		d := ClientHelloDatagram{}.Bytes()
		h, m := parse(t, d)
		assert.Equal(t, Header{Type: Handshake, Version: VersionDTLS10, Length: uint16(len(d) - DTLSHeaderLen)}, h)
		assert.Equal(t, TypeClientHello, m.Type)
		assert.False(t, m.IsFragment())
		ch, err := ParseDTLSClientHello(m.Body)
		require.NoError(t, err)
		assert.Equal(t, VersionDTLS12, ch.Version)
		assert.Len(t, ch.Random, RandomLen)
		assert.Empty(t, ch.Cookie)
		assert.Equal(t, []uint16{0xc02b, 0xc02f, 0xc02c, 0xc030, 0x009c}, slices.Collect(ch.CipherSuites.All()))
		assert.Equal(t, []byte{0}, ch.CompressionMethods)
		assert.Nil(t, ch.Extensions)
		assert.NotEqual(t, ch.Random, parseHello(t, ClientHelloDatagram{}.Bytes()).Random, "a fresh random each time")
	})
	t.Run("message fields", func(t *testing.T) {
		exts := Extensions(nil).Add(ExtCookie, CookieExtension([]byte("x")))
		c := ClientHelloDatagram{Version: VersionDTLS10, Random: fixedRandom, SessionID: []byte("sid"), Cookie: []byte("cookie"),
			CipherSuites: NewCipherSuites(0xc0ff), Extensions: exts}
		ch := parseHello(t, c.Bytes())
		assert.Equal(t, ClientHello{Version: VersionDTLS10, Random: fixedRandom, SessionID: []byte("sid"), Cookie: []byte("cookie"),
			CipherSuites: NewCipherSuites(0xc0ff), CompressionMethods: []byte{0}, Extensions: exts}, ch)
		assert.Equal(t, c.Bytes(), c.Bytes(), "reproducible with a fixed Random")
	})
	t.Run("header fields", func(t *testing.T) {
		d := ClientHelloDatagram{Random: fixedRandom, MessageType: TypeServerHello, MessageSeq: 3, RecordType: Alert,
			RecordVersion: VersionDTLS12, Epoch: 2, Sequence: 9}.Bytes()
		r, _, err := ParseDTLSRecord(d)
		require.NoError(t, err)
		assert.Equal(t, Header{Type: Alert, Version: VersionDTLS12, Epoch: 2, Sequence: 9, Length: uint16(len(d) - DTLSHeaderLen)}, r.Header)
		m, _, err := ParseDTLSHandshake(r.Payload)
		require.NoError(t, err)
		assert.Equal(t, TypeServerHello, m.Type)
		assert.Equal(t, uint16(3), m.MessageSeq)
	})
	t.Run("truncated fragment", func(t *testing.T) {
		whole := ClientHelloDatagram{Random: fixedRandom, Cookie: []byte("c")}.Bytes()
		d := ClientHelloDatagram{Random: fixedRandom, Cookie: []byte("c"), Truncate: 10}.Bytes()
		assert.Len(t, d, len(whole)-10)
		_, m := parse(t, d)
		assert.True(t, m.IsFragment())
		assert.Equal(t, m.Length-10, m.FragmentLength)
		cookie, err := ClientHelloCookie(m.Body)
		require.NoError(t, err)
		assert.Equal(t, "c", string(cookie))
		assert.NotPanics(t, func() { ClientHelloDatagram{Truncate: 1 << 20}.Bytes() })
	})
	t.Run("fragment offset", func(t *testing.T) {
		_, m, err := FirstDTLSHandshake(ClientHelloDatagram{FragmentOffset: 5}.Bytes())
		assert.ErrorIs(t, err, ErrMalformed, "offset 5 with the whole body overruns the message")
		assert.Equal(t, uint32(5), m.FragmentOffset)
	})
	t.Run("length extra", func(t *testing.T) {
		d := ClientHelloDatagram{LengthExtra: 40}.Bytes()
		h, err := ParseDTLSHeader(d)
		require.NoError(t, err)
		assert.Equal(t, len(d)-DTLSHeaderLen+40, int(h.Length))
		_, _, err = FirstDTLSHandshake(d)
		assert.ErrorIs(t, err, ErrTruncated)
	})
}

func parseHello(t *testing.T, d []byte) ClientHello {
	t.Helper()
	_, m, err := FirstDTLSHandshake(d)
	require.NoError(t, err)
	ch, err := ParseDTLSClientHello(m.Body)
	require.NoError(t, err)
	return ch
}

// TestCaptured parses the records that OpenSSL 1.1.1 and 3.0 peers
// exchanged (tests/testdata/*.msg): every one, and the cookies of the
// exchanges in them.
func TestCaptured(t *testing.T) {
	recs := capturedRecords(t)
	require.NotEmpty(t, recs)
	cookies := map[string][]string{} // file: HelloVerifyRequest, ClientHello cookies in order
	hrr := map[string]bool{}         // file: a HelloRetryRequest with a cookie seen
	for _, c := range recs {
		var r Record
		var rest []byte
		var err error
		if c.dtls {
			r, rest, err = ParseDTLSRecord(c.raw)
		} else {
			r, rest, err = ParseTLSRecord(c.raw)
		}
		require.NoError(t, err, "%s: % x", c.file, c.raw)
		require.Empty(t, rest)
		if r.Type != Handshake {
			continue
		}
		var m Message
		if c.dtls {
			m, _, err = ParseDTLSHandshake(r.Payload)
		} else {
			m, _, err = ParseTLSHandshake(r.Payload)
		}
		require.NoError(t, err, c.file)
		switch m.Type {
		case TypeClientHello:
			var ch ClientHello
			if c.dtls {
				ch, err = ParseDTLSClientHello(m.Body)
				cookies[c.file] = append(cookies[c.file], strings.ToUpper(hex.EncodeToString(ch.Cookie)))
			} else {
				ch, err = ParseTLSClientHello(m.Body)
			}
			require.NoError(t, err, c.file)
			assert.Positive(t, ch.CipherSuites.Len())
			_, ok := ch.Extensions.Find(ExtSignatureAlgorithms)
			assert.True(t, ok, "%s: a ClientHello has signature_algorithms", c.file)
		case TypeHelloVerifyRequest:
			hv, err := ParseHelloVerifyRequest(m.Body)
			require.NoError(t, err, c.file)
			cookies[c.file] = append(cookies[c.file], strings.ToUpper(hex.EncodeToString(hv.Cookie)))
		case TypeServerHello:
			sh, err := ParseServerHello(m.Body)
			require.NoError(t, err, c.file)
			if _, ok := sh.Extensions.Cookie(); ok && sh.IsHelloRetryRequest() {
				hrr[c.file] = true
			}
		}
	}
	// tests/trace_test.go's TestParseTrace reads the same cookies from
	// the logs' text.
	assert.Equal(t, []string{"", "B189FAE928210A40F6401A9134E5FF88310A7327", "B189FAE928210A40F6401A9134E5FF88310A7327"},
		cookies["openssl-1.1.1w-dtls-s_client.msg"])
	assert.Equal(t, []string{"", "FC0C2E1D5C8E96DAF0A1264680B3A66B4BE3E97F", "FC0C2E1D5C8E96DAF0A1264680B3A66B4BE3E97F"},
		cookies["openssl-3.0.22-dtls-s_client.msg"])
	assert.True(t, hrr["openssl-1.1.1w-tls13-middlebox-s_client.msg"], "the HelloRetryRequest carries a cookie")
	assert.True(t, hrr["openssl-1.1.1w-tls13-middlebox-s_server-stateless.msg"], "the HelloRetryRequest carries a cookie")
}

// TestZeroAllocations checks that parsing a datagram down to a ClientHello's
// extensions allocates nothing.
func TestZeroAllocations(t *testing.T) {
	exts := Extensions(nil).Add(ExtSupportedGroups, []byte{0, 2, 0, 0x1d}).Add(ExtCookie, CookieExtension([]byte("c")))
	d := ClientHelloDatagram{Random: fixedRandom, Cookie: []byte("cookie"), Extensions: exts}.Bytes()
	d = append(d, AppendDTLSRecord(nil, Header{Type: ApplicationData, Epoch: 1}, []byte("x"))...)
	var sink int
	allocs := testing.AllocsPerRun(100, func() {
		for r, err := range DTLSRecords(d) {
			if err != nil {
				panic(err)
			}
			sink += int(r.Type)
		}
		_, m, err := FirstDTLSHandshake(d)
		if err != nil {
			panic(err)
		}
		ch, err := ParseDTLSClientHello(m.Body)
		if err != nil {
			panic(err)
		}
		for s := range ch.CipherSuites.All() {
			sink += int(s)
		}
		for e := range ch.Extensions.All() {
			sink += len(e.Data)
		}
		c, _ := ch.Extensions.Cookie()
		cookie, _ := ClientHelloCookie(m.Body)
		sink += len(c) + len(cookie)
		sh, _ := ParseServerHello(m.Body)
		if sh.IsHelloRetryRequest() {
			sink++
		}
		_, err = ParseDTLSClientHello(m.Body[:10])
		if !errors.Is(err, ErrMalformed) {
			panic(err)
		}
	})
	assert.Zero(t, allocs)
	_ = sink
}
