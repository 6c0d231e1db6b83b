//go:build linux

package dtls_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl/dtls"
)

// At an MTU of 576 both sides' certificate flights are several datagrams.
// On a connection's own socket (the server's, and Dial's) such a flight
// goes out in one sendmmsg; on the shared socket one datagram at a time.
// Either way the handshake completes and data flows (the shared socket's
// Dial side still batches).
func TestFlightInOneSendmmsg(t *testing.T) {
	for _, shared := range []bool{false, true} {
		name := "own socket"
		if shared {
			name = "shared socket"
		}
		t.Run(name, func(t *testing.T) {
			p := newPKI(t)
			scfg := p.mutualServerConfig()
			scfg.MTU = 576
			scfg.SharedSocket = shared
			l := listen(t, scfg)
			ccfg := p.certClientConfig(p.client)
			ccfg.MTU = 576
			c, err := dtls.Dial("udp", l.Addr().String(), ccfg)
			require.NoError(t, err)
			defer c.Close()
			sc := acceptOne(t, l).(*dtls.Conn)
			defer sc.Close()
			exchange(t, c, sc, []byte("after a batched flight"))

			if !shared {
				require.True(t, dtls.OwnSocket(sc))
				assert.GreaterOrEqual(t, dtls.FlightsBatched(sc), 1, "the server's certificate flight went in one sendmmsg")
			}
			assert.GreaterOrEqual(t, dtls.FlightsBatched(c), 1, "the client's certificate flight went in one sendmmsg")
		})
	}
}
