package record

import (
	"bytes"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/openssl-stateless/openssl/internal/fuzzcorpus"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite the fuzz seed corpora in testdata/fuzz from "+capturedDir+" and the builders")

// Seed files whose names start with these prefixes are this file's;
// others (crashers the fuzzer found, kept as regression seeds) are left
// alone.
const (
	capturedPrefix = "captured-"
	builtPrefix    = "built-"
)

// TestSeedCorpora checks that testdata/fuzz holds the seeds that
// seedCorpora derives; with -update-seeds it writes them.
func TestSeedCorpora(t *testing.T) {
	for target, seeds := range seedCorpora(t) {
		dir := filepath.Join("testdata", "fuzz", target)
		if *updateSeeds {
			old, _ := filepath.Glob(filepath.Join(dir, "*"))
			for _, f := range old {
				if b := filepath.Base(f); strings.HasPrefix(b, capturedPrefix) || strings.HasPrefix(b, builtPrefix) {
					if err := os.Remove(f); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for name, in := range seeds {
			path := filepath.Join(dir, name)
			want := fuzzcorpus.Bytes(in)
			if *updateSeeds {
				if err := os.WriteFile(path, want, 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s is missing or stale: go test ./internal/record -run TestSeedCorpora -update-seeds", path)
			}
		}
	}
}

// seedCorpora returns the seeds of each fuzz target, by file name: the
// records, flights, streams and hello bodies of the captured handshakes,
// and what the builders make, the crafted first flights of the root
// package's DTLSv1_listen tests among them.
func seedCorpora(t *testing.T) map[string]map[string][]byte {
	corpora := map[string]map[string][]byte{
		"FuzzParseDatagram":  {},
		"FuzzParseTLSStream": {},
		"FuzzClientHello":    {},
		"FuzzServerHello":    {},
	}
	seen := map[string]bool{}
	add := func(target, name string, in []byte) {
		key := target + "\x00" + string(in)
		if seen[key] {
			return // the same bytes logged by both peers
		}
		seen[key] = true
		corpora[target][name] = in
	}

	// Captured: each record, each run of records one peer sent in a row
	// (a flight, or a stream's start), each hello message's body.
	recs := capturedRecords(t)
	for i, c := range recs {
		name := fmt.Sprintf("%s%s-%02d", capturedPrefix, strings.TrimSuffix(c.file, ".msg"), i)
		target, hdrLen, hsHdrLen := "FuzzParseTLSStream", TLSHeaderLen, TLSHandshakeHeaderLen
		if c.dtls {
			target, hdrLen, hsHdrLen = "FuzzParseDatagram", DTLSHeaderLen, DTLSHandshakeHeaderLen
		}
		add(target, name, c.raw)
		if i+1 < len(recs) && (i == 0 || recs[i-1].file != c.file || recs[i-1].sent != c.sent) {
			var run []byte
			for _, next := range recs[i:] {
				if next.file != c.file || next.sent != c.sent {
					break
				}
				run = append(run, next.raw...)
			}
			if len(run) > len(c.raw) {
				add(target, name+"-run", run)
			}
		}
		if ContentType(c.raw[0]) != Handshake || len(c.raw) < hdrLen+hsHdrLen {
			continue
		}
		body := c.raw[hdrLen+hsHdrLen:]
		switch HandshakeType(c.raw[hdrLen]) {
		case TypeClientHello:
			add("FuzzClientHello", name, body)
		case TypeServerHello, TypeHelloVerifyRequest:
			add("FuzzServerHello", name, body)
		}
	}

	// Built: the first flights that the root package's tests craft for
	// DTLSv1_listen (listen_test.go), with a fixed random.
	cookie := bytes.Repeat([]byte{0xc0}, 20)
	// Map order must not choose which name a duplicate gets.
	flights := map[string]ClientHelloDatagram{
		"first":                {},
		"cookie":               {Cookie: cookie},
		"dtls12-record":        {Cookie: cookie, RecordVersion: VersionDTLS12},
		"truncated-fragment":   {Cookie: cookie, Truncate: 10},
		"fragment-offset":      {Cookie: cookie, FragmentOffset: 5},
		"message-seq":          {Cookie: cookie, MessageSeq: 3},
		"length-extra":         {LengthExtra: 40},
		"alert":                {RecordType: Alert},
		"server-hello-type":    {MessageType: TypeServerHello},
		"epoch-1":              {Epoch: 1},
		"tls-record-version":   {RecordVersion: VersionTLS12},
		"sequence":             {Sequence: 0xffff_ffff_ffff},
		"extensions":           {Cookie: cookie, Extensions: tls13Extensions([]byte("hrr"))},
		"empty-extensions":     {Extensions: Extensions{}},
		"session-id-and-suite": {SessionID: bytes.Repeat([]byte{1}, 32), CipherSuites: NewCipherSuites(0x00ff)},
	}
	for _, name := range slices.Sorted(maps.Keys(flights)) {
		c := flights[name]
		c.Random = fixedRandom
		d := c.Bytes()
		add("FuzzParseDatagram", builtPrefix+name, d)
		if c.Truncate == 0 && c.FragmentOffset == 0 && c.LengthExtra == 0 {
			add("FuzzClientHello", builtPrefix+name, d[DTLSHeaderLen+DTLSHandshakeHeaderLen:])
		}
	}
	whole := ClientHelloDatagram{Random: fixedRandom, Cookie: cookie}.Bytes()
	for _, n := range []int{DTLSHeaderLen - 3, DTLSHeaderLen, DTLSHeaderLen + DTLSHandshakeHeaderLen + 20} {
		add("FuzzParseDatagram", fmt.Sprintf("%scut-%d", builtPrefix, n), whole[:n])
	}
	hvr := AppendDTLSRecord(nil, Header{Type: Handshake, Version: VersionDTLS10},
		AppendDTLSHandshake(nil, TypeHelloVerifyRequest, 0, HelloVerifyRequest{Version: VersionDTLS10, Cookie: cookie}.Append(nil)))
	add("FuzzParseDatagram", builtPrefix+"hello-verify-request", hvr)
	ccs := AppendDTLSRecord(nil, Header{Type: ChangeCipherSpec, Version: VersionDTLS12}, []byte{1})
	data := AppendDTLSRecord(nil, Header{Type: ApplicationData, Version: VersionDTLS12, Epoch: 1, Sequence: 1}, []byte("encrypted"))
	add("FuzzParseDatagram", builtPrefix+"three-records", bytes.Join([][]byte{hvr, ccs, data}, nil))

	// Built: TLS 1.3 hellos, the HelloRetryRequests the CLI's sniffer
	// reads among them.
	tlsCH := ClientHello{Version: VersionTLS12, Random: fixedRandom, SessionID: fixedRandom,
		CipherSuites: NewCipherSuites(0x1301, 0x1302, 0x1303), CompressionMethods: []byte{0}, Extensions: tls13Extensions(nil)}
	add("FuzzClientHello", builtPrefix+"tls13", tlsCH.AppendTLS(nil))
	tlsCH.Extensions = tls13Extensions([]byte("cookie from the HelloRetryRequest"))
	add("FuzzClientHello", builtPrefix+"tls13-cookie", tlsCH.AppendTLS(nil))
	versions := Extensions(nil).Add(ExtSupportedVersions, []byte{0x03, 0x04})
	hellos := map[string]ServerHello{
		"hrr-cookie":   {Version: VersionTLS12, Random: HelloRetryRequestRandom[:], SessionID: fixedRandom, CipherSuite: 0x1302, Extensions: versions.Add(ExtCookie, CookieExtension([]byte("abcde"))).Add(ExtKeyShare, []byte{0, 0x1d})},
		"hrr-keyshare": {Version: VersionTLS12, Random: HelloRetryRequestRandom[:], SessionID: fixedRandom, CipherSuite: 0x1302, Extensions: versions.Add(ExtKeyShare, []byte{0, 0x1d})},
		"dtls12":       {Version: VersionDTLS12, Random: fixedRandom, CipherSuite: 0xc02b},
	}
	for _, name := range slices.Sorted(maps.Keys(hellos)) {
		sh := hellos[name]
		body := sh.Append(nil)
		add("FuzzServerHello", builtPrefix+name, body)
		rec := AppendTLSRecord(nil, Header{Type: Handshake, Version: VersionTLS12}, AppendTLSHandshake(nil, TypeServerHello, body))
		rec = AppendTLSRecord(rec, Header{Type: ChangeCipherSpec, Version: VersionTLS12}, []byte{1})
		add("FuzzParseTLSStream", builtPrefix+name, rec)
	}
	add("FuzzServerHello", builtPrefix+"hello-verify-request", HelloVerifyRequest{Version: VersionDTLS10, Cookie: cookie}.Append(nil))
	add("FuzzParseTLSStream", builtPrefix+"alert", AppendTLSRecord(nil, Header{Type: Alert, Version: VersionTLS12}, []byte{2, 40}))
	// A ClientHello split over two records.
	msg := AppendTLSHandshake(nil, TypeClientHello, tlsCH.AppendTLS(nil))
	split := AppendTLSRecord(nil, Header{Type: Handshake, Version: VersionTLS10}, msg[:50])
	add("FuzzParseTLSStream", builtPrefix+"split-client-hello", AppendTLSRecord(split, Header{Type: Handshake, Version: VersionTLS10}, msg[50:]))

	for target, seeds := range corpora {
		t.Logf("%s: %d seeds", target, len(seeds))
	}
	return corpora
}

// tls13Extensions are a TLS 1.3 ClientHello's extensions, with the cookie
// extension when cookie is not nil.
func tls13Extensions(cookie []byte) Extensions {
	e := Extensions(nil).
		Add(ExtServerName, []byte{0, 12, 0, 0, 9, 'l', 'o', 'c', 'a', 'l', 'h', 'o', 's', 't'}).
		Add(ExtSupportedGroups, []byte{0, 4, 0, 0x1d, 0, 0x17}).
		Add(ExtSignatureAlgorithms, []byte{0, 4, 0x04, 0x03, 0x08, 0x04}).
		Add(ExtSupportedVersions, []byte{2, 0x03, 0x04}).
		Add(ExtPSKKeyExchangeModes, []byte{1, 1}).
		Add(ExtKeyShare, append([]byte{0, 36, 0, 0x1d, 0, 32}, bytes.Repeat([]byte{0x77}, 32)...))
	if cookie != nil {
		e = e.Add(ExtCookie, CookieExtension(cookie))
	}
	return e
}
