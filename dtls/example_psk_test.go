package dtls_test

import (
	"fmt"
	"log"

	"github.com/openssl-stateless/openssl/dtls"
)

// An IoT gateway and a device with a pre-shared key (PSK-AES128-CCM8, the
// suite CoAP mandates): the gateway has no certificate and looks each
// device's key up by the identity it sends. README.md shows this example.
func Example_preSharedKey() {
	keys := map[string][]byte{ // the gateway's device database
		"sensor-17": {0x1f, 0x6c, 0x22, 0x9a, 0x04, 0xe1, 0x7b, 0x38, 0xc5, 0x90, 0x0d, 0x4e, 0xa3, 0x51, 0xb8, 0x2f},
	}
	l, err := dtls.Listen("udp", "127.0.0.1:0", &dtls.Config{
		GetPSK: func(identity string) ([]byte, error) {
			return keys[identity], nil // nil: unknown_psk_identity alert
		},
		PSKIdentityHint: "gateway-1",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 1500)
		n, _ := c.Read(buf)
		device := c.(*dtls.Conn).ConnectionState().PSKIdentity
		_, _ = c.Write(fmt.Appendf(nil, "ack %s: %s", device, buf[:n]))
	}()

	// The device.
	c, err := dtls.Dial("udp", l.Addr().String(), &dtls.Config{
		PSKIdentity: "sensor-17",
		PSKKey:      keys["sensor-17"],
		CipherList:  "PSK-AES128-CCM8:@SECLEVEL=0", // CCM8: level 0 since OpenSSL 3.4
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	_, _ = c.Write([]byte("temp=21.5"))
	buf := make([]byte, 1500)
	n, _ := c.Read(buf)
	fmt.Println(dtls.CipherSuiteOpenSSLName(c.ConnectionState().CipherSuite))
	fmt.Printf("%s\n", buf[:n])
	// Output:
	// PSK-AES128-CCM8
	// ack sensor-17: temp=21.5
}
