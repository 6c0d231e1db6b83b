package tests

// Session resumption (issue 12) with openssl s_client -sess_out / -sess_in
// against a dtls.Listener:
//
//	go test -run 'Resum' ./tests/

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl/dtls"
)

func TestResumptionWithOpenSSLClient(t *testing.T) {
	opensslBin(t)
	p := newPKI(t)
	l, err := dtls.Listen("udp", "127.0.0.1:0", p.serverConfig())
	require.NoError(t, err)
	defer l.Close()
	resumed := make(chan bool, 2)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			resumed <- c.(*dtls.Conn).ConnectionState().DidResume
			c.Close()
		}
	}()
	sess := filepath.Join(t.TempDir(), "sess.pem")
	first := startPeer(t, "s_client", "-dtls1_2", "-connect", l.Addr().String(), "-CAfile", p.CAFile,
		"-sess_out", sess, "-nocommands")
	first.WaitFor("New, TLSv1.2")
	_ = first.CloseStdin()
	_ = first.Wait()
	assert.False(t, <-resumed)
	second := startPeer(t, "s_client", "-dtls1_2", "-connect", l.Addr().String(), "-CAfile", p.CAFile,
		"-sess_in", sess, "-nocommands")
	second.WaitFor("Reused, TLSv1.2")
	_ = second.CloseStdin()
	assert.True(t, <-resumed, "the Listener reports the resumption")
	st := l.Stats()
	assert.GreaterOrEqual(t, st.CookiesVerified, uint64(2), "the resuming client passed the cookie exchange too")
}
