package tests

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
