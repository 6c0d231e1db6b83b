package record

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// capturedDir holds the protocol logs that `openssl s_client` and
// `s_server` wrote with -msg (tests/trace_test.go describes them). The
// -trace logs there print decoded fields, not bytes, and are not read.
const capturedDir = "../../tests/testdata"

// capturedRecord is a record rebuilt from a -msg log.
type capturedRecord struct {
	file string
	sent bool
	dtls bool
	raw  []byte // header and payload
}

// A -msg log is one entry per call of the message callback, a line with
// the direction and the byte count, then the bytes in hex:
//
//	>>> ??? [length 000d]
//	    16 fe ff 00 00 00 00 00 00 00 00 00 c0
//
// (tests/trace_test.go's parseMsgDump reads the same logs into
// traceRecords.)
var (
	msgEntryRE = regexp.MustCompile(`^(>>>|<<<) .*\[length ([0-9a-f]+)\]`)
	msgHexRE   = regexp.MustCompile(`^ +[0-9a-f]{2}( [0-9a-f]{2})*$`)
)

type msgEntry struct {
	sent bool
	data []byte
}

func readMsgLog(path string) ([]msgEntry, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var entries []msgEntry
	var want []int
	for i, line := range strings.Split(string(text), "\n") {
		if m := msgEntryRE.FindStringSubmatch(line); m != nil {
			n, err := strconv.ParseUint(m[2], 16, 32)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %v", path, i+1, err)
			}
			entries = append(entries, msgEntry{sent: m[1] == ">>>"})
			want = append(want, int(n))
		} else if msgHexRE.MatchString(line) && len(entries) > 0 {
			b, err := hex.DecodeString(strings.ReplaceAll(strings.TrimSpace(line), " ", ""))
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %v", path, i+1, err)
			}
			e := &entries[len(entries)-1]
			e.data = append(e.data, b...)
		}
	}
	for i, e := range entries {
		if len(e.data) != want[i] {
			return nil, fmt.Errorf("%s: entry %d: %d bytes of hex for %d", path, i, len(e.data), want[i])
		}
	}
	return entries, nil
}

// capturedRecords rebuilds the records of the -msg logs in capturedDir:
// a record header entry and the entries after it that fill its length
// exactly. Records whose logged contents do not (encrypted ones, whose
// plaintext the callback shows; the HelloVerifyRequest that
// DTLSv1_listen logs by its header only) are left out.
func capturedRecords(t testing.TB) []capturedRecord {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(capturedDir, "*.msg"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no -msg log in %s: %v", capturedDir, err)
	}
	var recs []capturedRecord
	for _, f := range files {
		entries, err := readMsgLog(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range entries {
			dtls := len(e.data) == DTLSHeaderLen && e.data[1] == 0xfe
			if !dtls && !(len(e.data) == TLSHeaderLen && e.data[1] == 3) {
				continue
			}
			hdrLen := TLSHeaderLen
			if dtls {
				hdrLen = DTLSHeaderLen
			}
			n := int(be16(e.data[hdrLen-2:]))
			raw := bytes.Clone(e.data)
			for _, next := range entries[i+1:] {
				if len(raw) >= hdrLen+n || next.sent != e.sent {
					break
				}
				raw = append(raw, next.data...)
			}
			if len(raw) == hdrLen+n {
				recs = append(recs, capturedRecord{file: filepath.Base(f), sent: e.sent, dtls: dtls, raw: raw})
			}
		}
	}
	return recs
}
