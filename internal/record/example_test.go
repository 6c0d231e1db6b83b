package record_test

import (
	"fmt"

	"github.com/openssl-stateless/openssl/internal/record"
)

// A server looks at a datagram's first handshake message: a first
// ClientHello, and the cookie it echoes.
func ExampleFirstDTLSHandshake() {
	d := record.ClientHelloDatagram{Cookie: []byte("from-the-HVR")}.Bytes()
	h, m, err := record.FirstDTLSHandshake(d)
	if err != nil || h.Epoch != 0 || m.Type != record.TypeClientHello {
		fmt.Println("not a first ClientHello:", err)
		return
	}
	cookie, err := record.ClientHelloCookie(m.Body)
	fmt.Printf("%v in a %v record, cookie %q, %v\n", m.Type, h.Type, cookie, err)
	// Output: ClientHello in a Handshake record, cookie "from-the-HVR", <nil>
}

// A datagram may hold several records; a truncated one ends the iteration
// with an error.
func ExampleDTLSRecords() {
	var d []byte
	d = record.AppendDTLSRecord(d, record.Header{Type: record.ChangeCipherSpec, Version: record.VersionDTLS12}, []byte{1})
	d = record.AppendDTLSRecord(d, record.Header{Type: record.ApplicationData, Version: record.VersionDTLS12, Epoch: 1}, []byte("sealed"))
	d = d[:len(d)-1]
	for r, err := range record.DTLSRecords(d) {
		fmt.Println(r.Type, r.Epoch, len(r.Payload), err)
	}
	// Output:
	// ChangeCipherSpec 0 1 <nil>
	// ApplicationData 1 0 record: truncated
}

// A TLS 1.3 client tells a HelloRetryRequest carrying a cookie from a
// ServerHello.
func ExampleServerHello_IsHelloRetryRequest() {
	exts := record.Extensions(nil).
		Add(record.ExtSupportedVersions, []byte{0x03, 0x04}).
		Add(record.ExtCookie, record.CookieExtension([]byte("stateless")))
	body := record.ServerHello{Version: record.VersionTLS12, Random: record.HelloRetryRequestRandom[:], CipherSuite: 0x1301, Extensions: exts}.Append(nil)
	stream := record.AppendTLSRecord(nil, record.Header{Type: record.Handshake, Version: record.VersionTLS12},
		record.AppendTLSHandshake(nil, record.TypeServerHello, body))

	r, _, err := record.ParseTLSRecord(stream)
	if err != nil || r.Type != record.Handshake {
		return
	}
	m, _, err := record.ParseTLSHandshake(r.Payload)
	if err != nil || m.Type != record.TypeServerHello {
		return
	}
	sh, err := record.ParseServerHello(m.Body)
	if err != nil {
		return
	}
	cookie, ok := sh.Extensions.Cookie()
	fmt.Println(sh.IsHelloRetryRequest(), string(cookie), ok)
	// Output: true stateless true
}
