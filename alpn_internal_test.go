package openssl

import (
	"bytes"
	"testing"
)

func FuzzParseALPN(f *testing.F) {
	f.Add([]byte("\x02h2\x08http/1.1"))
	f.Add([]byte("\x00"))
	f.Add([]byte("\x05coap"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		protos, err := parseALPN(b)
		if err != nil {
			return
		}
		again, err := appendALPN(nil, protos)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("%q parsed as %q, encoded back as %q (%v)", b, protos, again, err)
		}
	})
}

func TestParseALPN(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		ok   bool
	}{
		{"\x02h2\x08http/1.1", []string{"h2", "http/1.1"}, true},
		{"", nil, true},
		{"\x00", nil, false},
		{"\x03ab", nil, false},
		{"\x02h2\x00", nil, false},
	} {
		got, err := parseALPN([]byte(tc.in))
		if (err == nil) != tc.ok || len(got) != len(tc.want) {
			t.Errorf("parseALPN(%q) = %q, %v", tc.in, got, err)
		}
	}
	if _, err := appendALPN(nil, []string{""}); err == nil {
		t.Error("empty protocol accepted")
	}
}
