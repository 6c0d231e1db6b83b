package tests

import (
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl/dtls"
	"github.com/openssl-stateless/openssl/internal/testpeer"
)

// echoLog is what the echo handler saw on one connection.
type echoLog struct {
	remote   string
	state    dtls.ConnectionState
	received []string // each record read, in order
	endErr   error    // the Read error that ended the loop
}

// echoServer accepts connections on a Listener and echoes each record
// back as one record, remembering what it saw.
type echoServer struct {
	mu      sync.Mutex
	conns   []net.Conn
	closing bool          // cleanup began: close what Accept returns
	ended   chan *echoLog // one per connection, when its loop ends
	done    chan struct{} // the accept loop and every handler returned
}

// serveEcho starts a Listener on 127.0.0.1 with p's server certificate,
// and its accept loop. The Listener and every connection are closed, and
// all handlers waited for, in t.Cleanup.
func serveEcho(t *testing.T, p *pki) (*dtls.Listener, *echoServer) {
	t.Helper()
	l, err := dtls.Listen("udp", "127.0.0.1:0", p.serverConfig())
	require.NoError(t, err)
	s := &echoServer{ended: make(chan *echoLog, 64), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		var wg sync.WaitGroup
		defer wg.Wait()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			e := &echoLog{remote: c.RemoteAddr().String(), state: c.(*dtls.Conn).ConnectionState()}
			s.mu.Lock()
			if s.closing {
				s.mu.Unlock()
				c.Close()
				continue
			}
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				s.echo(c, e)
			}()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		s.mu.Lock()
		s.closing = true
		for _, c := range s.conns {
			_ = c.Close()
		}
		s.mu.Unlock()
		select {
		case <-s.done:
		case <-time.After(testpeer.Timeout):
			t.Errorf("echo server did not stop within %v", testpeer.Timeout)
		}
	})
	return l, s
}

// echo echoes c's records until a Read or Write fails, noting them in e,
// then sends e on s.ended.
func (s *echoServer) echo(c net.Conn, e *echoLog) {
	buf := make([]byte, 1<<16)
	for {
		n, err := c.Read(buf)
		if err != nil {
			s.mu.Lock()
			e.endErr = err
			s.mu.Unlock()
			s.ended <- e
			return
		}
		s.mu.Lock()
		e.received = append(e.received, string(buf[:n]))
		s.mu.Unlock()
		if _, err := c.Write(buf[:n]); err != nil {
			s.mu.Lock()
			e.endErr = fmt.Errorf("echo write: %w", err)
			s.mu.Unlock()
			s.ended <- e
			return
		}
	}
}

// waitEnded waits for n connections' handlers to end and returns what they
// saw.
func (s *echoServer) waitEnded(t *testing.T, n int) []*echoLog {
	t.Helper()
	timer := time.NewTimer(testpeer.Timeout)
	defer timer.Stop()
	var got []*echoLog
	for len(got) < n {
		select {
		case e := <-s.ended:
			got = append(got, e)
		case <-timer.C:
			t.Fatalf("only %d of %d echo handlers ended within %v", len(got), n, testpeer.Timeout)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*echoLog, len(got))
	for i, e := range got {
		c := *e
		c.received = append([]string(nil), e.received...)
		out[i] = &c
	}
	return out
}

// endAll gives every peer end of file on its stdin, on which it sends
// close_notify and exits: it checks that each exits with status 0 and that
// each connection's handler, on DTLS 1.2, read the close_notify as io.EOF.
// It returns what the handlers saw, and every record they received.
func (s *echoServer) endAll(t *testing.T, procs []*testpeer.Proc) (ended []*echoLog, received []string) {
	t.Helper()
	for _, pr := range procs {
		require.NoError(t, pr.CloseStdin())
	}
	for _, pr := range procs {
		assert.NoError(t, pr.Wait(), "%s exit status", pr.Name)
	}
	ended = s.waitEnded(t, len(procs))
	for _, e := range ended {
		assert.ErrorIs(t, e.endErr, io.EOF, "connection from %s ends with the peer's close_notify", e.remote)
		assert.Equal(t, dtls.VersionDTLS12, e.state.Version)
		received = append(received, e.received...)
	}
	return ended, received
}

// acceptStates accepts l's connections until the test ends, sends the
// ConnectionState of each on the channel, and echoes every record it
// reads; the test's cleanup closes l and every connection.
func acceptStates(t *testing.T, l *dtls.Listener) <-chan dtls.ConnectionState {
	t.Helper()
	states := make(chan dtls.ConnectionState, 8)
	done := make(chan struct{})
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go func() {
				defer c.Close()
				dc := c.(*dtls.Conn)
				if dc.Handshake() != nil {
					return
				}
				states <- dc.ConnectionState()
				buf := make([]byte, 2048)
				for {
					_ = c.SetReadDeadline(time.Now().Add(testpeer.Timeout))
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					if _, err := c.Write(buf[:n]); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return states
}
