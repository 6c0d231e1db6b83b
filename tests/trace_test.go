package tests

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl/internal/record"
	"github.com/openssl-stateless/openssl/internal/testpeer"
)

// traceRecord is one record of a protocol log that `openssl s_client` or
// `s_server` wrote with -msgfile: -trace (SSL_trace(3)) or, where the tool has
// no -trace, -msg (see traceFlag).
type traceRecord struct {
	sent        bool               // "Sent Record", else "Received Record"
	contentType record.ContentType // "Content Type = Handshake (22)": the number
	length      int                // the record's length field: its payload, without the header
	messages    []traceMessage
}

// traceMessage is one handshake message of a traced record.
type traceMessage struct {
	name      string // "ClientHello", "HelloVerifyRequest", "ServerHello", ...
	cookie    string // the DTLS cookie field in hex ("" when empty or absent)
	cookieExt bool   // carries the TLS 1.3 cookie extension
}

// traceEnv forces the fallback of traceFlag: TESTS_OPENSSL_TRACE=msg makes
// the tests run the peers with -msg even where -trace exists, to exercise
// parseMsgDump against a live peer.
const traceEnv = "TESTS_OPENSSL_TRACE"

var traceFlagOnce struct {
	sync.Once
	flag string
	why  string
}

// traceFlag returns the option that makes `openssl s_client` and `s_server`
// log every record and handshake message to -msgfile, for parseTrace:
// "-trace" where the tool has it, else "-msg". It asks the tool once per run.
//
// Version difference: -trace exists only in an OpenSSL built with
// enable-ssl-trace. Debian's 3.0 (bookworm) and 3.5 (trixie) are; Debian's
// 1.1.1 (bullseye, 1.1.1w) is not, and its s_client and s_server reject
// the option ("Option unknown option -trace"). -msg is always there: it
// prints the same message callback's data (SSL_CTX_set_msg_callback(3)),
// every record header and handshake message in hex, which parseMsgDump
// decodes into the same traceRecords, so the tests' assertions on the
// records hold on every version.
func traceFlag(t *testing.T) string {
	t.Helper()
	bin := opensslBin(t)
	traceFlagOnce.Do(func() {
		if v := os.Getenv(traceEnv); v == "msg" {
			traceFlagOnce.flag, traceFlagOnce.why = "-msg", traceEnv+"=msg"
			return
		}
		traceFlagOnce.flag, traceFlagOnce.why = "-trace", "s_client and s_server have -trace"
		for _, cmd := range []string{"s_client", "s_server"} {
			ctx, cancel := context.WithTimeout(context.Background(), testpeer.Timeout)
			// -help exits with status 0 on 3.x and 1 on 1.1.1, and
			// writes to stdout or stderr depending on the version:
			// only the text counts.
			out, _ := exec.CommandContext(ctx, bin, cmd, "-help").CombinedOutput()
			cancel()
			if !helpTraceRE.Match(out) {
				traceFlagOnce.flag, traceFlagOnce.why = "-msg", cmd+" -help lists no -trace (OpenSSL built without enable-ssl-trace)"
				return
			}
		}
	})
	t.Logf("peer protocol log: %s (%s)", traceFlagOnce.flag, traceFlagOnce.why)
	return traceFlagOnce.flag
}

// helpTraceRE finds the -trace option in `openssl s_client -help`:
// " -trace                     Show trace output of protocol messages".
var helpTraceRE = regexp.MustCompile(`(?m)^\s*-trace\s`)

var (
	// Version difference: OpenSSL 3.0 starts each record with "Sent Record"
	// / "Received Record", 3.5 with "Sent TLS Record" / "Received TLS
	// Record" (for DTLS records as well); both are accepted (the series
	// between were not checked). The lines below are the same in 3.0 and
	// 3.5, for every record and message these tests look at.
	traceRecordRE      = regexp.MustCompile(`^(Sent|Received) (TLS )?Record$`)
	traceContentTypeRE = regexp.MustCompile(`^  Content Type = \w+ \((\d+)\)`)
	traceLengthRE      = regexp.MustCompile(`^  Length = (\d+)`)
	traceMessageRE     = regexp.MustCompile(`^    (\w+), Length=\d+`)
	traceCookieRE      = regexp.MustCompile(`^      cookie \(len=\d+\): ([0-9A-F]*)`)
)

// parseTrace reads the records of a peer's -msgfile, written with -trace
// or -msg (told apart by their first line).
func parseTrace(t *testing.T, path string) []traceRecord {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err, "reading the peer's trace")
	text := string(data)
	var recs []traceRecord
	if strings.HasPrefix(text, ">>> ") || strings.HasPrefix(text, "<<< ") {
		recs, err = parseMsgDump(text)
		require.NoError(t, err, "parsing the peer's -msg output")
	} else {
		recs = parseSSLTrace(text)
	}
	if len(recs) == 0 && strings.TrimSpace(text) != "" {
		// A format this parser does not know (as 3.5's "Sent TLS Record"
		// was): fail here rather than on a missing record later.
		head := strings.SplitN(text, "\n", 8)
		t.Fatalf("no record found in %s, an unknown format? It begins:\n%s", path, strings.Join(head[:len(head)-1], "\n"))
	}
	return recs
}

// parseSSLTrace reads the records of an SSL_trace log (-trace).
func parseSSLTrace(text string) []traceRecord {
	var recs []traceRecord
	for _, line := range strings.Split(text, "\n") {
		if m := traceRecordRE.FindStringSubmatch(line); m != nil {
			recs = append(recs, traceRecord{sent: m[1] == "Sent"})
			continue
		}
		if len(recs) == 0 {
			continue
		}
		r := &recs[len(recs)-1]
		if m := traceContentTypeRE.FindStringSubmatch(line); m != nil {
			ct, _ := strconv.ParseUint(m[1], 10, 8)
			r.contentType = record.ContentType(ct)
		} else if m := traceLengthRE.FindStringSubmatch(line); m != nil {
			r.length, _ = strconv.Atoi(m[1])
		} else if m := traceMessageRE.FindStringSubmatch(line); m != nil {
			r.messages = append(r.messages, traceMessage{name: m[1]})
		} else if len(r.messages) > 0 {
			msg := &r.messages[len(r.messages)-1]
			if m := traceCookieRE.FindStringSubmatch(line); m != nil {
				msg.cookie = m[1]
			} else if strings.Contains(line, "extension_type=cookie") {
				msg.cookieExt = true
			}
		}
	}
	return recs
}

// A -msg log is one entry per call of the message callback: a line with
// the direction and the byte count, then the bytes in hex, 16 a line:
//
//	>>> ??? [length 000d]                                         (1.1.1)
//	    16 fe ff 00 00 00 00 00 00 00 00 00 c0
//	<<< TLS 1.3, Handshake [length 00d2], ClientHello             (1.1.1)
//	>>> DTLS 1.0, RecordHeader [length 000d]                      (3.x)
//	<<< Not TLS data or unknown version (version=65277, content_type=22) [length 00c0]
//
// Version difference: the labels differ (1.1.1 names no DTLS 1.2 entry and
// no record header, "???"; 3.x names some), the hex does not, so only the
// hex is read: a record header (5 bytes for TLS, 13 for DTLS) opens a
// record, a handshake message that follows is one message of it, exactly
// where SSL_trace prints "Sent Record" and the message's name.
var (
	msgEntryRE = regexp.MustCompile(`^(>>>|<<<) .*\[length ([0-9a-f]+)\]`)
	msgHexRE   = regexp.MustCompile(`^ +[0-9a-f]{2}( [0-9a-f]{2})*$`)
)

// parseMsgDump reads the records of a -msg log.
func parseMsgDump(text string) ([]traceRecord, error) {
	type entry struct {
		sent bool
		want int
		data []byte
	}
	var entries []entry
	for i, line := range strings.Split(text, "\n") {
		if m := msgEntryRE.FindStringSubmatch(line); m != nil {
			n, err := strconv.ParseUint(m[2], 16, 32)
			if err != nil {
				return nil, fmt.Errorf("line %d: %q: %v", i+1, line, err)
			}
			entries = append(entries, entry{sent: m[1] == ">>>", want: int(n)})
		} else if msgHexRE.MatchString(line) && len(entries) > 0 {
			b, err := hex.DecodeString(strings.ReplaceAll(strings.TrimSpace(line), " ", ""))
			if err != nil {
				return nil, fmt.Errorf("line %d: %q: %v", i+1, line, err)
			}
			e := &entries[len(entries)-1]
			e.data = append(e.data, b...)
		}
	}
	var recs []traceRecord
	var dtls bool                // the current record is a DTLS record
	var inner record.ContentType // its TLS 1.3 inner content type, 0 until seen
	for i, e := range entries {
		if len(e.data) != e.want {
			return nil, fmt.Errorf("entry %d: %d bytes of hex for [length %04x]", i, len(e.data), e.want)
		}
		b := e.data
		if h, ok := msgRecordHeader(b); ok {
			recs = append(recs, traceRecord{
				sent:        e.sent,
				contentType: h.Type,
				length:      int(h.Length),
			})
			dtls, inner = len(b) == record.DTLSHeaderLen, 0
			continue
		}
		if len(recs) == 0 {
			continue
		}
		r := &recs[len(recs)-1]
		if r.contentType == record.ApplicationData && !dtls && inner == 0 && len(b) == 1 {
			// TLS 1.3: the real type of an encrypted record.
			inner = record.ContentType(b[0])
			continue
		}
		if r.contentType != record.Handshake && inner != record.Handshake {
			continue // ChangeCipherSpec, Alert...: no message to name
		}
		if m, ok := decodeHandshake(b, dtls); ok {
			r.messages = append(r.messages, m)
		}
	}
	return recs, nil
}

// msgRecordHeader reads b, one entry of a -msg log, as a record header
// (content type, version, (DTLS: epoch and sequence number,) length) and
// reports whether it is one: 5 bytes with a TLS version or 13 with a DTLS
// one, of a content type SSL_trace names. A handshake message of 5 or 13
// bytes starting with 20-24 has 0 as its second byte (the high byte of a
// small length), not 3 or 0xfe.
func msgRecordHeader(b []byte) (record.Header, bool) {
	var h record.Header
	var err error
	var major uint16
	switch len(b) {
	case record.TLSHeaderLen:
		h, err = record.ParseTLSHeader(b)
		major = record.VersionTLS12 >> 8
	case record.DTLSHeaderLen:
		h, err = record.ParseDTLSHeader(b)
		major = record.VersionDTLS12 >> 8
	default:
		return h, false
	}
	return h, err == nil && h.Version>>8 == major && h.Type >= record.ChangeCipherSpec && h.Type <= record.Heartbeat
}

// decodeHandshake decodes one handshake message as the message callback
// passes it: whole, with its 4-byte header, 12 bytes for DTLS. Of the body
// it reads what traceMessage holds: the cookie of a DTLS ClientHello or
// HelloVerifyRequest, the cookie extension of a ClientHello or ServerHello
// (TLS 1.3's HelloRetryRequest is a ServerHello). A message that does not
// parse counts by its name only.
func decodeHandshake(b []byte, dtls bool) (traceMessage, bool) {
	var m record.Message
	var err error
	if dtls {
		m, _, err = record.ParseDTLSHandshake(b)
	} else {
		m, _, err = record.ParseTLSHandshake(b)
	}
	if err != nil {
		return traceMessage{}, false
	}
	tm := traceMessage{name: m.Type.String()}
	cookieHex := func(c []byte) string { return strings.ToUpper(hex.EncodeToString(c)) }
	switch m.Type {
	case record.TypeClientHello:
		var ch record.ClientHello
		if dtls {
			ch, err = record.ParseDTLSClientHello(m.Body)
		} else {
			ch, err = record.ParseTLSClientHello(m.Body)
		}
		if err == nil {
			tm.cookie = cookieHex(ch.Cookie)
			_, tm.cookieExt = ch.Extensions.Find(record.ExtCookie)
		}
	case record.TypeServerHello:
		if sh, err := record.ParseServerHello(m.Body); err == nil {
			_, tm.cookieExt = sh.Extensions.Find(record.ExtCookie)
		}
	case record.TypeHelloVerifyRequest:
		if hv, err := record.ParseHelloVerifyRequest(m.Body); err == nil {
			tm.cookie = cookieHex(hv.Cookie)
		}
	}
	return tm, true
}

// String renders a record in one line, for logs: "> Handshake[ClientHello]".
func (r traceRecord) String() string {
	var b strings.Builder
	if r.sent {
		b.WriteString("> ")
	} else {
		b.WriteString("< ")
	}
	b.WriteString(r.contentType.String())
	if len(r.messages) > 0 {
		b.WriteString("[")
		for i, m := range r.messages {
			if i > 0 {
				b.WriteString(" ")
			}
			b.WriteString(m.name)
			if m.cookie != "" || m.cookieExt {
				b.WriteString("+cookie")
			}
		}
		b.WriteString("]")
	}
	return b.String()
}

// firstRecords returns the first n records (all if fewer).
func firstRecords(recs []traceRecord, n int) []traceRecord {
	if len(recs) > n {
		return recs[:n]
	}
	return recs
}

// receivedRecords renders the first n records the tracing peer received.
func receivedRecords(recs []traceRecord, n int) []string {
	var out []string
	for _, r := range recs {
		if !r.sent && len(out) < n {
			out = append(out, r.String())
		}
	}
	return out
}

// TestParseTrace checks parseTrace on protocol logs that the openssl tool
// of each OpenSSL series in the Docker matrix wrote (testdata/, from
// s_server and s_client talking to each other over loopback), so that a
// host with one series still tests the parser on the others' formats:
// 1.1.1's -msg (Debian's 1.1.1 has no -trace), 3.0's -msg and -trace, and
// 3.5's -trace ("Sent TLS Record").
func TestParseTrace(t *testing.T) {
	for _, tc := range []struct {
		file string
		want []string // the first records
		// The first record's length field, and the HelloVerifyRequest's
		// cookie that the next ClientHello echoes ("" when none).
		firstLength int
		cookie      string
	}{
		{
			file: "openssl-1.1.1w-dtls-s_client.msg",
			want: []string{"> Handshake[ClientHello]", "< Handshake[HelloVerifyRequest+cookie]",
				"> Handshake[ClientHello+cookie]", "< Handshake[ServerHello]", "< Handshake[Certificate]",
				"< Handshake[ServerKeyExchange]", "< Handshake[ServerHelloDone]", "> Handshake[ClientKeyExchange]",
				"> ChangeCipherSpec", "> Handshake[Finished]", "< Handshake[NewSessionTicket]",
				"< ChangeCipherSpec", "< Handshake[Finished]", "> ApplicationData", "< ApplicationData"},
			firstLength: 192,
			cookie:      "B189FAE928210A40F6401A9134E5FF88310A7327",
		},
		{
			// 1.1.1 and 3.0 log the ClientHello that DTLSv1_listen accepts
			// twice in one record; the HelloVerifyRequest only by its header.
			file: "openssl-1.1.1w-dtls-s_server-listen.msg",
			want: []string{"< Handshake[ClientHello]", "> Handshake",
				"< Handshake[ClientHello+cookie ClientHello+cookie]", "> Handshake[ServerHello]"},
			firstLength: 192,
		},
		{
			file: "openssl-1.1.1w-tls13-middlebox-s_client.msg",
			want: []string{"> Handshake[ClientHello]", "< Handshake[ServerHello+cookie]",
				"> ChangeCipherSpec", "> Handshake[ClientHello+cookie]", "< ChangeCipherSpec"},
			firstLength: 210,
		},
		{
			file:        "openssl-1.1.1w-tls13-middlebox-s_server-stateless.msg",
			want:        []string{"< Handshake[ClientHello]", "> Handshake[ServerHello+cookie]", "> ChangeCipherSpec", "< ChangeCipherSpec"},
			firstLength: 210,
		},
		{
			file: "openssl-3.0.22-dtls-s_client.msg",
			want: []string{"> Handshake[ClientHello]", "< Handshake[HelloVerifyRequest+cookie]",
				"> Handshake[ClientHello+cookie]", "< Handshake[ServerHello]"},
			firstLength: 192,
			cookie:      "FC0C2E1D5C8E96DAF0A1264680B3A66B4BE3E97F",
		},
		{
			file: "openssl-3.0.22-dtls-s_server-listen.trace",
			want: []string{"< Handshake[ClientHello]", "> Handshake",
				"< Handshake[ClientHello+cookie ClientHello+cookie]", "> Handshake[ServerHello]"},
			firstLength: 192,
		},
		{
			// 3.5 logs the accepted ClientHello's whole record twice.
			file: "openssl-3.5.9-dtls-s_server-listen.trace",
			want: []string{"< Handshake[ClientHello]", "> Handshake",
				"< Handshake[ClientHello+cookie]", "< Handshake[ClientHello+cookie]", "> Handshake[ServerHello]"},
			firstLength: 195,
		},
		{
			file: "openssl-3.5.9-tls13-middlebox-s_client.trace",
			want: []string{"> Handshake[ClientHello]", "< Handshake[ServerHello+cookie]",
				"> ChangeCipherSpec", "> Handshake[ClientHello+cookie]", "< ChangeCipherSpec", "> Alert"},
			firstLength: 1455,
		},
	} {
		t.Run(tc.file, func(t *testing.T) {
			recs := parseTrace(t, filepath.Join("testdata", tc.file))
			require.GreaterOrEqual(t, len(recs), len(tc.want), "records: %v", recs)
			got := make([]string, len(tc.want))
			for i := range tc.want {
				got[i] = recs[i].String()
			}
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.firstLength, recs[0].length, "the first record's length")
			if tc.cookie != "" {
				assert.Equal(t, tc.cookie, recs[1].messages[0].cookie, "the HelloVerifyRequest's cookie")
				assert.Equal(t, tc.cookie, recs[2].messages[0].cookie, "echoed by the second ClientHello")
			}
		})
	}
}

// TestParseMsgDumpRejectsTruncatedHex checks that an entry whose hex falls
// short of its [length] is an error, not a silently shorter record.
func TestParseMsgDumpRejectsTruncatedHex(t *testing.T) {
	_, err := parseMsgDump(">>> ??? [length 000d]\n    16 fe ff 00 00 00 00 00\n")
	assert.Error(t, err)
	recs, err := parseMsgDump(">>> ??? [length 0005]\n    16 03 01 00 d2\n")
	require.NoError(t, err)
	assert.Equal(t, "[> Handshake]", fmt.Sprint(recs))
	assert.Equal(t, 0xd2, recs[0].length)
}
