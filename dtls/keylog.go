package dtls

import (
	"sync"

	"github.com/openssl-stateless/openssl"
)

// Key logging (issue 12): Config.KeyLogWriter, as in crypto/tls.

// keyLogMu serialises the writes of every connection, as crypto/tls's
// writerMutex does: one Writer is usually shared by all of them.
var keyLogMu sync.Mutex

// setupKeyLog installs KeyLogWriter on a new Ctx. A failed write is
// ignored: OpenSSL's key log callback cannot fail a handshake.
func (c *Config) setupKeyLog(sslCtx *openssl.Ctx) error {
	w := c.KeyLogWriter
	if w == nil {
		return nil
	}
	return sslCtx.SetKeylogCallback(func(_ *openssl.SSL, line string) {
		defer func() { _ = recover() }() // a Writer's panic must not end a Listener
		b := make([]byte, 0, len(line)+1)
		b = append(append(b, line...), '\n')
		keyLogMu.Lock()
		defer keyLogMu.Unlock()
		_, _ = w.Write(b)
	})
}
