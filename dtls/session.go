package dtls

import (
	"container/list"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/openssl-stateless/openssl"
)

// Session resumption (issue 12): a client session cache in crypto/tls's
// shape, and session ticket keys several Listeners can share.

// ClientSessionState is a session a client may resume: opaque, and as
// secret as a key (it holds the session's master secret). As crypto/tls's,
// it also holds the server's certificates and the chains they were
// verified to, which a connection that resumes it reports in its
// ConnectionState (a resumed handshake sends no certificate).
type ClientSessionState struct {
	session        []byte
	peerCerts      []*x509.Certificate
	verifiedChains [][]*x509.Certificate
	// unverified: saved by a connection whose Config had
	// InsecureSkipVerify, which verified no chain. A Config that verifies
	// does not resume it (crypto/tls's rule), or a cache shared by both
	// would let it skip the verification it asks for.
	unverified bool
}

// NewClientSessionState returns the session whose OpenSSL encoding (DER,
// i2d_SSL_SESSION(3): what `openssl s_client -sess_out` writes inside its
// PEM block) is der. The encoding holds the server's leaf certificate but
// neither its chain nor the chains it was verified to: a connection that
// resumes it reports the leaf alone in PeerCertificates, and no
// VerifiedChains.
func NewClientSessionState(der []byte) *ClientSessionState {
	return &ClientSessionState{session: append([]byte(nil), der...)}
}

// Bytes returns the session's OpenSSL encoding (DER), for
// NewClientSessionState or `openssl s_client -sess_in` (PEM type "SSL
// SESSION PARAMETERS").
func (cs *ClientSessionState) Bytes() []byte {
	if cs == nil {
		return nil
	}
	return append([]byte(nil), cs.session...)
}

// ClientSessionCache keeps sessions for clients to resume, keyed by server,
// as crypto/tls's interface of the same name. Implementations must be safe
// for concurrent use.
type ClientSessionCache interface {
	// Get returns the session for sessionKey, if any.
	Get(sessionKey string) (session *ClientSessionState, ok bool)
	// Put stores cs under sessionKey; a nil cs removes the entry.
	Put(sessionKey string, cs *ClientSessionState)
}

// NewLRUClientSessionCache returns a ClientSessionCache of at most capacity
// sessions (64 when capacity < 1), the least recently used evicted first.
func NewLRUClientSessionCache(capacity int) ClientSessionCache {
	if capacity < 1 {
		capacity = 64
	}
	return &lruSessionCache{m: make(map[string]*list.Element), q: list.New(), capacity: capacity}
}

type lruSessionCache struct {
	mu       sync.Mutex
	m        map[string]*list.Element
	q        *list.List
	capacity int
}

type lruEntry struct {
	key string
	cs  *ClientSessionState
}

func (c *lruSessionCache) Get(key string) (*ClientSessionState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[key]; ok {
		c.q.MoveToFront(e)
		return e.Value.(*lruEntry).cs, true
	}
	return nil, false
}

func (c *lruSessionCache) Put(key string, cs *ClientSessionState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[key]; ok {
		if cs == nil {
			c.q.Remove(e)
			delete(c.m, key)
			return
		}
		e.Value.(*lruEntry).cs = cs
		c.q.MoveToFront(e)
		return
	}
	if cs == nil {
		return
	}
	if c.q.Len() >= c.capacity {
		old := c.q.Back()
		c.q.Remove(old)
		delete(c.m, old.Value.(*lruEntry).key)
	}
	c.m[key] = c.q.PushFront(&lruEntry{key, cs})
}

// sessionKey names the server a client session belongs to: the name it
// was verified for and its address; and the maximum fragment length asked
// for, which a session keeps and a server refuses to resume under another
// (an illegal_parameter or missing_extension alert).
func sessionKey(serverName string, raddr net.Addr, maxFrag int) string {
	if maxFrag != 0 {
		return fmt.Sprintf("%s %s mfl=%d", serverName, raddr, maxFrag)
	}
	return serverName + " " + raddr.String()
}

// forgetOffered drops the session a client offered from the cache when
// its handshake failed, as crypto/tls does (RFC 5077, 3.2): a session the
// server refuses with an alert would fail every later Dial too.
func (c *Conn) forgetOffered() {
	if c.offered != nil && c.cfg.ClientSessionCache != nil && c.sessionKey != "" {
		if cs, ok := c.cfg.ClientSessionCache.Get(c.sessionKey); ok && cs == c.offered {
			c.cfg.ClientSessionCache.Put(c.sessionKey, nil)
		}
	}
	c.offered = nil
}

// offerSession offers the cached session for key on a new client SSL, and
// returns it (nil when none was offered). A session OpenSSL does not take
// is dropped from the cache.
func (c *Config) offerSession(ssl *openssl.SSL, key string) *ClientSessionState {
	if c.ClientSessionCache == nil {
		return nil
	}
	cs, ok := c.ClientSessionCache.Get(key)
	if !ok || cs == nil || len(cs.session) == 0 {
		return nil
	}
	if cs.unverified && !c.InsecureSkipVerify {
		// Not dropped: the Config that saved it may still resume it. A
		// full handshake here saves a verified session in its place.
		return nil
	}
	if len(cs.peerCerts) > 0 && time.Now().After(cs.peerCerts[0].NotAfter) {
		// As crypto/tls: a session whose server certificate has expired
		// is not offered; the full handshake checks the current one.
		c.ClientSessionCache.Put(key, nil)
		return nil
	}
	if ssl.SetSession(cs.session) != nil {
		c.ClientSessionCache.Put(key, nil)
		return nil
	}
	return cs
}

// restorePeer gives a resumed connection the peer's certificates, which
// its handshake did not carry, as crypto/tls does: a client those of the
// session it offered, with the chains they were verified to; else
// (a session made from its encoding, or a server resuming a client's
// ticket) the leaf OpenSSL keeps in the session. A server that verifies
// client certificates checks that leaf again: one that verifies alone
// against ClientCAs gives VerifiedChains (the ticket holds no
// intermediates), and one that has expired ends the handshake. The
// ticket callback (setupSessionContext) refuses those first, in the
// handshake; this is the check for any other way a session resumes.
// Called under c.mu, before the verifiers run.
func (c *Conn) restorePeer() error {
	if len(c.peerCerts) > 0 || !c.ssl.SessionReused() {
		return nil
	}
	if cs := c.offered; cs != nil && len(cs.peerCerts) > 0 {
		c.peerCerts, c.verifiedChains = cs.peerCerts, cs.verifiedChains
		return nil
	}
	certs, err := c.ssl.PeerCertificates()
	if err != nil {
		return err
	}
	c.peerCerts = certs
	if c.srv == nil || len(certs) == 0 || (c.cfg.ClientAuth != tls.VerifyClientCertIfGiven && c.cfg.ClientAuth != tls.RequireAndVerifyClientCert) {
		return nil
	}
	if now := time.Now(); now.After(certs[0].NotAfter) || now.Before(certs[0].NotBefore) {
		return fmt.Errorf("dtls: the resumed session's client certificate is outside its validity (%v to %v)", certs[0].NotBefore, certs[0].NotAfter)
	}
	if chains, err := c.verified.verify(certs[:1], c.cfg.ClientCAs, "", x509.ExtKeyUsageClientAuth); err == nil {
		c.verifiedChains = chains
	}
	return nil
}

// saveSession keeps a client's session after its handshake. Called under
// c.mu.
func (c *Conn) saveSession() {
	if c.srv != nil || c.cfg.ClientSessionCache == nil || c.sessionKey == "" {
		return
	}
	if der := c.ssl.Session(); der != nil {
		c.cfg.ClientSessionCache.Put(c.sessionKey, &ClientSessionState{
			session: der, peerCerts: c.peerCerts, verifiedChains: c.verifiedChains,
			unverified: c.cfg.InsecureSkipVerify && len(c.verifiedChains) == 0,
		})
	}
}

// ticketKey derives OpenSSL's 80-byte ticket key (name, HMAC key, AES key)
// from a 32-byte key, as crypto/tls derives its own from the same input.
func ticketKey(k [32]byte) []byte {
	a := sha512.Sum512(append([]byte("dtls ticket key 1 "), k[:]...))
	b := sha512.Sum512(append([]byte("dtls ticket key 2 "), k[:]...))
	return append(a[:48:48], b[:32]...)
}

// setupTickets installs SessionTicketKeys on a server Ctx.
func (c *Config) setupTickets(sslCtx *openssl.Ctx, server bool) error {
	if !server || len(c.SessionTicketKeys) == 0 {
		return nil
	}
	return sslCtx.SetTicketKey(ticketKey(c.SessionTicketKeys[0]))
}

// setupSessionContext binds a server Ctx's sessions to its client
// certificate policy (SSL_CTX_set_session_id_context): a session made
// under one ClientAuth does not resume under another, as crypto/tls does
// not resume a session without client certificates once they are
// required. Without a context OpenSSL refuses every resumption, with an
// internal_error alert, on a server that verifies client certificates.
// Listeners that share SessionTicketKeys should share their ClientAuth and
// ClientCAs.
func (c *Config) setupSessionContext(sslCtx *openssl.Ctx, server bool) error {
	if !server {
		return nil
	}
	sid := sha256.Sum256(fmt.Appendf(nil, "dtls session context 1 client auth %d", c.ClientAuth))
	if err := sslCtx.SetSessionIDContext(sid[:]); err != nil {
		return err
	}
	if c.ClientAuth == tls.NoClientCert {
		return nil
	}
	// A ticket whose client certificate has expired gets a full handshake,
	// which verifies the certificate again and refuses it with an alert,
	// as crypto/tls refuses to resume it.
	return sslCtx.ResumeOnlyValidPeers()
}

// SetSessionTicketKeys replaces the key that encrypts the Listener's
// session tickets, as crypto/tls's Config.SetSessionTicketKeys does,
// while it runs: keys[0] encrypts and decrypts from now on. Tickets made
// under an earlier key are no longer accepted: those clients get a full
// handshake (OpenSSL's key list holds one key). Give Listeners that share
// clients the same keys.
func (l *Listener) SetSessionTicketKeys(keys [][32]byte) error {
	if len(keys) == 0 {
		return errors.New("dtls: SetSessionTicketKeys: no key")
	}
	return l.sslCtx.SetTicketKey(ticketKey(keys[0]))
}
