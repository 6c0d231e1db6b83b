package dtls

import (
	"fmt"

	"github.com/openssl-stateless/openssl"
)

// ALPN (issue 12): Config.NextProtos on both sides, chosen by crypto/tls's
// rule.

// negotiateALPN is crypto/tls's server rule: the first of the server's
// protocols the client offered; none when either side has none; and, as
// crypto/tls does for servers configured with "h2" alone, no ALPN (rather
// than the alert) for a client that offered "http/1.1" to such a server.
// It returns the index in clientProtos, -1 for no ALPN, or
// openssl.ErrNoApplicationProtocol.
func negotiateALPN(serverProtos, clientProtos []string) (int, error) {
	if len(serverProtos) == 0 || len(clientProtos) == 0 {
		return -1, nil
	}
	http11fallback := false
	for _, s := range serverProtos {
		for i, c := range clientProtos {
			if s == c {
				return i, nil
			}
			if s == "h2" && c == "http/1.1" {
				http11fallback = true
			}
		}
	}
	if http11fallback {
		return -1, nil
	}
	return 0, fmt.Errorf("dtls: client offered %q, server speaks %q: %w", clientProtos, serverProtos, openssl.ErrNoApplicationProtocol)
}

// validateALPN checks NextProtos as OpenSSL will take them.
func (c *Config) validateALPN() error {
	for _, p := range c.NextProtos {
		if len(p) == 0 || len(p) > 255 {
			return fmt.Errorf("dtls: NextProtos entry %q: 1 to 255 bytes", p)
		}
	}
	return nil
}

// setupALPN installs NextProtos on a new Ctx: the client's offer, or the
// server's choice.
func (c *Config) setupALPN(sslCtx *openssl.Ctx, server bool) error {
	if len(c.NextProtos) == 0 {
		return nil
	}
	protos := append([]string(nil), c.NextProtos...)
	if !server {
		return sslCtx.SetALPNProtos(protos)
	}
	return sslCtx.SetALPNSelectCallback(func(_ *openssl.SSL, offered []string) (int, error) {
		return negotiateALPN(protos, offered)
	})
}
