package dtls_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl"
	"github.com/openssl-stateless/openssl/dtls"
)

func TestALPN(t *testing.T) {
	p := newPKI(t)
	for _, tc := range []struct {
		name           string
		server, client []string
		want           string
		alert          bool
	}{
		{name: "server preference", server: []string{"coap", "h2"}, client: []string{"h2", "coap"}, want: "coap"},
		{name: "one in common", server: []string{"lwm2m", "coap"}, client: []string{"mqtt", "coap"}, want: "coap"},
		{name: "server without ALPN", client: []string{"coap"}},
		{name: "client without ALPN", server: []string{"coap"}},
		{name: "h2 server, http/1.1 client", server: []string{"h2"}, client: []string{"http/1.1"}},
		{name: "no overlap", server: []string{"coap"}, client: []string{"mqtt"}, alert: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			scfg := p.serverConfig()
			scfg.NextProtos = tc.server
			l := listen(t, scfg)
			serveEcho(t, l)
			ccfg := p.clientConfig()
			ccfg.NextProtos = tc.client
			c, err := dtls.Dial("udp", l.Addr().String(), ccfg)
			if tc.alert {
				require.Error(t, err)
				var alert openssl.AlertError
				require.True(t, errors.As(err, &alert), "%v", err)
				assert.Equal(t, openssl.AlertNoApplicationProtocol, alert)
				return
			}
			require.NoError(t, err)
			defer c.Close()
			assert.Equal(t, tc.want, c.ConnectionState().NegotiatedProtocol)
			roundTrip(t, c, []byte("x"))
		})
	}
}

func TestALPNServerState(t *testing.T) {
	p := newPKI(t)
	scfg := p.serverConfig()
	scfg.NextProtos = []string{"coap"}
	l := listen(t, scfg)
	got := make(chan string, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		got <- c.(*dtls.Conn).ConnectionState().NegotiatedProtocol
		_, _ = c.Read(make([]byte, 10))
	}()
	ccfg := p.clientConfig()
	ccfg.NextProtos = []string{"coap"}
	c, err := dtls.Dial("udp", l.Addr().String(), ccfg)
	require.NoError(t, err)
	defer c.Close()
	assert.Equal(t, "coap", <-got)
}

func TestALPNValidation(t *testing.T) {
	_, err := dtls.Dial("udp", "127.0.0.1:9", &dtls.Config{NextProtos: []string{""}})
	assert.ErrorContains(t, err, "NextProtos")
}
