package dtls

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"time"
	"weak"

	"github.com/openssl-stateless/openssl"
)

// Protocol versions for Config.MinVersion and Config.MaxVersion.
const (
	VersionDTLS10 = uint16(openssl.VersionDTLS10)
	VersionDTLS12 = uint16(openssl.VersionDTLS12)
)

// SRTPProtectionProfile is an SRTP protection profile's id (RFC 5764,
// 4.1.2), for Config.SRTPProtectionProfiles.
type SRTPProtectionProfile = openssl.SRTPProtectionProfile

// The SRTP protection profiles OpenSSL negotiates, by their IANA names.
const (
	SRTP_AES128_CM_HMAC_SHA1_80 = openssl.SRTP_AES128_CM_HMAC_SHA1_80
	SRTP_AES128_CM_HMAC_SHA1_32 = openssl.SRTP_AES128_CM_HMAC_SHA1_32
	SRTP_AEAD_AES_128_GCM       = openssl.SRTP_AEAD_AES_128_GCM
	SRTP_AEAD_AES_256_GCM       = openssl.SRTP_AEAD_AES_256_GCM
)

// Defaults.
const (
	// DefaultMTU is the largest datagram written when Config.MTU is zero: it
	// fits the IPv6 minimum link MTU (1280) with room for tunnels.
	DefaultMTU = 1200
	// DefaultHandshakeTimeout bounds a handshake when Config.HandshakeTimeout
	// is zero.
	DefaultHandshakeTimeout = 10 * time.Second
	// DefaultAcceptBacklog is the accept queue's size when
	// Config.AcceptBacklog is zero.
	DefaultAcceptBacklog = 128
	// MinMTU and MaxMTU bound Config.MTU.
	MinMTU = 256
	MaxMTU = 16384
	// DefaultMaxConns bounds a Listener's connections when Config.MaxConns
	// is zero: about 0.5 GiB of OpenSSL and queue memory at the worst.
	DefaultMaxConns = 4096
	// DefaultMaxConnsPerHost bounds one source host's connections when
	// Config.MaxConnsPerHost is zero: room for a NAT, not for a monopoly.
	DefaultMaxConnsPerHost = 256
	// DefaultMaxHandshakesPerHost bounds one source host's handshakes in
	// progress when Config.MaxHandshakesPerHost is zero: an eighth of the
	// default accept backlog.
	DefaultMaxHandshakesPerHost = 16
)

// Config configures a Listener or a client Conn. Its fields follow
// crypto/tls where they can. A Config may be reused, and should be: clients
// dialled with the same Config share one OpenSSL context. Do not change it
// after passing it to Listen, NewListener, Dial or Client; Clone it.
type Config struct {
	// Certificates are the server's (or a client's) certificate chains and
	// keys. A client uses the first; a server with several picks, per
	// handshake, the first whose leaf is valid for the name the client
	// asked for (SNI), and the first when none is, as crypto/tls does.
	Certificates []tls.Certificate
	// CertificatePEM and KeyPEM give the certificate (leaf first, then the
	// chain) and key as PEM, when Certificates is empty.
	CertificatePEM, KeyPEM []byte
	// CertFile and KeyFile name PEM files, when neither of the above is set.
	CertFile, KeyFile string

	// RootCAs verify the server's certificate; nil means the system roots.
	RootCAs *x509.CertPool
	// ServerName is the name sent in the server_name extension and checked
	// against the server's certificate. Dial takes it from the address when
	// it is empty.
	ServerName string
	// InsecureSkipVerify makes a client accept any server certificate
	// chain and host name, as in crypto/tls: then VerifyPeerCertificate or
	// VerifyConnection must check the peer (a WebRTC peer's certificate
	// fingerprint from signalling, say), or anyone in the path can be it.
	InsecureSkipVerify bool

	// ClientAuth is the server's policy for client certificates, with
	// crypto/tls's values and meanings: NoClientCert, RequestClientCert
	// and RequireAnyClientCert (a certificate is asked for, or required,
	// and not verified: for fingerprint authentication through
	// VerifyPeerCertificate), VerifyClientCertIfGiven and
	// RequireAndVerifyClientCert (verified against ClientCAs).
	ClientAuth tls.ClientAuthType
	ClientCAs  *x509.CertPool

	// VerifyPeerCertificate, if not nil, is called after the normal
	// certificate verification with the peer's certificates (DER, leaf
	// first) and the chains verification built (none when it was skipped),
	// as in crypto/tls. It runs inside the handshake: an error refuses the
	// peer with a fatal alert, and the handshake fails with it. On a
	// server that did not ask for a certificate it is not called.
	VerifyPeerCertificate func(rawCerts [][]byte, verifiedChains [][]*x509.Certificate) error
	// VerifyConnection, if not nil, is called once per handshake, after
	// certificate verification and VerifyPeerCertificate, with the
	// connection's state, as in crypto/tls. An error ends the handshake.
	// It runs inside the handshake (a fatal alert to the peer) when the
	// peer sent certificates; on a server whose client sent none it runs
	// once the handshake has completed, and a refusal then closes the
	// connection with close_notify.
	VerifyConnection func(ConnectionState) error

	// SRTPProtectionProfiles, if not empty, negotiates DTLS-SRTP (RFC
	// 5764): a client offers these profiles, in this order; a server picks
	// the first of the client's it also has. With no profile in common the
	// handshake completes without SRTP (ConnectionState's
	// SRTPProtectionProfile is 0): refuse that in VerifyConnection if it
	// will not do. The SRTP keys come from ExportKeyingMaterial with the
	// label "EXTRACTOR-dtls_srtp".
	SRTPProtectionProfiles []SRTPProtectionProfile

	// MinVersion and MaxVersion bound the DTLS version (VersionDTLS10,
	// VersionDTLS12); zero means OpenSSL's default.
	MinVersion, MaxVersion uint16
	// CipherList is an OpenSSL cipher string, e.g. "ECDHE+AESGCM".
	CipherList string

	// CookieSigner makes and checks the HelloVerifyRequest cookies. nil
	// means a signer with a random secret, made per Listener. Give servers
	// that share an address (or a load balancer) one signer with a shared
	// secret.
	CookieSigner *openssl.CookieSigner

	// MTU is the largest datagram (UDP payload) written, on both sides;
	// DefaultMTU when zero.
	MTU int
	// MaxFragmentLength, on a client, asks the server to keep every record
	// within this many bytes of data (RFC 6066's max_fragment_length,
	// which constrained devices send): 512, 1024, 2048 or 4096; zero asks
	// nothing. A server that agrees (a Listener does) keeps to it in both
	// directions, and MaxPayload says so on both sides. A Listener keeps
	// to whatever its clients ask; on a server Config it must be zero.
	MaxFragmentLength int
	// HandshakeTimeout bounds each handshake; DefaultHandshakeTimeout when
	// zero.
	HandshakeTimeout time.Duration
	// AcceptBacklog bounds handshakes in progress plus connections waiting
	// for Accept; beyond it new handshakes are refused.
	AcceptBacklog int
	// MaxConns bounds the connections a Listener holds, handshakes in
	// progress included; DefaultMaxConns when zero, no bound when
	// negative. A client whose cookie verifies beyond it is refused (its
	// handshake times out), as beyond AcceptBacklog.
	MaxConns int
	// MaxConnsPerHost and MaxHandshakesPerHost bound the same per source
	// host (an IPv4 address, or an IPv6 /64), so that one host cannot take
	// every slot of MaxConns or AcceptBacklog: DefaultMaxConnsPerHost and
	// DefaultMaxHandshakesPerHost when zero, no bound when negative. A
	// reconnect that replaces a connection is not refused for MaxConns or
	// MaxConnsPerHost (it is for the handshake bounds).
	MaxConnsPerHost, MaxHandshakesPerHost int
	// IdleTimeout closes a connection that has neither read nor written
	// application data for that long (handshakes and datagrams that do
	// not decrypt do not count); zero means no idle timeout. Read and
	// Write then fail with an error wrapping net.ErrClosed.
	IdleTimeout time.Duration
	// SharedSocket makes a Listener serve every connection through its
	// one socket, whose read loop hands each datagram to its connection.
	// Without it, on Linux, each connection past its cookie exchange gets
	// a UDP socket of its own, bound beside the Listener's with
	// SO_REUSEPORT and connected to the peer: the kernel delivers the
	// peer's datagrams there and the goroutine in Read receives them
	// itself, as from a plain connected UDP socket. That costs a file
	// descriptor per connection (a connection that cannot have one shares
	// the Listener's socket), lets other sockets of the same user join
	// the port's SO_REUSEPORT group, and needs the Listener's socket to
	// have SO_REUSEPORT set: Listen sets it; a socket given to NewListener
	// without it is shared. Other systems always share.
	SharedSocket bool
	// Readers is how many sockets Listen opens on its address, each read
	// by a goroutine of its own with a listening SSL of its own, so that
	// answering new peers (a flood of forged ClientHellos among them) and
	// routing shared-socket datagrams use that many cores. The sockets
	// are bound with SO_REUSEPORT, and the kernel spreads datagrams over
	// them by a hash of their source and destination. They share one
	// CookieSigner, so a cookie sent through one verifies on any other,
	// and one connection table, so a peer whose datagrams the kernel
	// moves to another socket of the group (when the group changes) keeps
	// its connection. Zero or one means one socket; a few, up to the
	// cores the server may use, is what helps. Linux only: Listen refuses
	// it elsewhere, and NewListener, which reads the one socket it is
	// given, always. The connections' own sockets (see SharedSocket) join
	// the same group and take only their peers' datagrams; as there, other
	// sockets of the same user may join the group too.
	Readers int

	// RetransmitTimeout is the first handshake retransmission timeout;
	// later ones double up to 60s. Zero keeps OpenSSL's one second.
	RetransmitTimeout time.Duration

	// Logger receives one line per handshake and per refusal; nil discards.
	Logger *slog.Logger

	// ---- IoT (issue 12): pre-shared keys. ----

	// GetPSK, on a server, returns the pre-shared key for the identity a
	// client sent, for the DTLS 1.2 PSK cipher suites (PSK-AES128-CCM8,
	// which CoAP mandates, and ECDHE-PSK among them). A nil key refuses the
	// identity with the unknown_psk_identity alert; an error fails the
	// handshake the same way. A server with GetPSK needs no certificate;
	// without CipherList it offers the PSK suites, and OpenSSL's default
	// ones too when it has a certificate. A client whose key differs gets
	// a bad_record_mac alert at its Finished.
	GetPSK func(identity string) ([]byte, error)
	// PSKIdentityHint is the hint a PSK server sends its clients ("" for
	// none).
	PSKIdentityHint string
	// PSKIdentity and PSKKey are a client's identity and pre-shared key.
	// With them (or GetClientPSK) and no CipherList, a client offers the
	// PSK suites only, and a server that authenticates with the key needs
	// no certificate.
	PSKIdentity string
	PSKKey      []byte
	// GetClientPSK, on a client, chooses the identity and key from the
	// server's hint ("" when it sent none), in place of PSKIdentity and
	// PSKKey.
	GetClientPSK func(hint string) (identity string, key []byte, err error)

	// NextProtos are the application protocols (ALPN) in order of
	// preference: a client offers them; a server picks the first of its
	// own that the client offered, as crypto/tls does, and refuses a
	// client that offered others with the no_application_protocol alert.
	// ConnectionState.NegotiatedProtocol says what was agreed.
	NextProtos []string

	// KeyLogWriter receives the secrets of every handshake in the NSS key
	// log format (one "CLIENT_RANDOM <client random> <master secret>" line
	// per DTLS 1.2 handshake), which Wireshark and tshark decrypt captures
	// with. Anyone holding it can decrypt the connections: for debugging
	// only. Writes are serialised across connections; a failed write is
	// ignored.
	KeyLogWriter io.Writer

	// GetCertificate, on a server, returns the certificate for a
	// ClientHello, as in crypto/tls: called for every handshake, it is the
	// way to rotate a certificate on a live Listener (return the new one
	// from then on; established connections are not affected). A nil
	// certificate falls back to Certificates; an error (or a panic) fails
	// the handshake with an internal_error alert, or unrecognized_name
	// when it wraps openssl.AlertUnrecognizedName. A server with
	// GetCertificate needs no other certificate.
	GetCertificate func(*ClientHelloInfo) (*tls.Certificate, error)

	// ClientSessionCache, on a client, keeps sessions to resume: a later
	// Dial to the same server name and address offers the cached session
	// (after the cookie exchange, which a Listener always asks for), and
	// ConnectionState.DidResume says whether the server took it. nil
	// resumes nothing.
	ClientSessionCache ClientSessionCache
	// SessionTicketKeys, on a server, encrypt its session tickets:
	// SessionTicketKeys[0] is used. Listeners given the same keys resume
	// each other's sessions (the scale-out story of a shared CookieSigner);
	// without it each Listener has a random key of its own. Rotate with
	// Listener.SetSessionTicketKeys.
	SessionTicketKeys [][32]byte
}

// Clone returns a shallow copy of c.
func (c *Config) Clone() *Config {
	if c == nil {
		return nil
	}
	n := *c
	n.Certificates = append([]tls.Certificate(nil), c.Certificates...)
	n.SRTPProtectionProfiles = append([]SRTPProtectionProfile(nil), c.SRTPProtectionProfiles...)
	n.NextProtos = append([]string(nil), c.NextProtos...)
	return &n
}

func (c *Config) mtu() int {
	if c.MTU == 0 {
		return DefaultMTU
	}
	return c.MTU
}

func (c *Config) handshakeTimeout() time.Duration {
	if c.HandshakeTimeout <= 0 {
		return DefaultHandshakeTimeout
	}
	return c.HandshakeTimeout
}

func (c *Config) readers() int { return max(1, c.Readers) }

func (c *Config) backlog() int {
	if c.AcceptBacklog <= 0 {
		return DefaultAcceptBacklog
	}
	return c.AcceptBacklog
}

// limit returns v, def when v is zero, and no bound (-1) when v is
// negative.
func limit(v, def int) int {
	switch {
	case v == 0:
		return def
	case v < 0:
		return -1
	}
	return v
}

func (c *Config) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

// validate reports the first thing wrong with c, for the given role.
func (c *Config) validate(server bool) error {
	if c == nil {
		return errors.New("dtls: nil Config")
	}
	if m := c.mtu(); m < MinMTU || m > MaxMTU {
		return fmt.Errorf("dtls: MTU %d outside [%d, %d]", m, MinMTU, MaxMTU)
	}
	for _, v := range []uint16{c.MinVersion, c.MaxVersion} {
		if v != 0 && v != VersionDTLS10 && v != VersionDTLS12 {
			return fmt.Errorf("dtls: version %#04x is not a DTLS version", v)
		}
	}
	if c.MinVersion != 0 && c.MaxVersion != 0 && c.MinVersion < c.MaxVersion {
		// DTLS numbers versions downwards: 1.2 (0xfefd) < 1.0 (0xfeff).
		return fmt.Errorf("dtls: MinVersion %#04x is above MaxVersion %#04x", c.MinVersion, c.MaxVersion)
	}
	if c.RetransmitTimeout != 0 && (c.RetransmitTimeout < time.Millisecond || c.RetransmitTimeout > time.Minute) {
		return fmt.Errorf("dtls: RetransmitTimeout %v outside [1ms, 1m]", c.RetransmitTimeout)
	}
	if c.Readers < 0 {
		return fmt.Errorf("dtls: negative Readers %d", c.Readers)
	}
	switch {
	case c.MaxFragmentLength != 0 && server:
		return errors.New("dtls: MaxFragmentLength is a client's request; a Listener keeps to what its clients ask")
	case c.MaxFragmentLength != 0 && c.MaxFragmentLength != 512 && c.MaxFragmentLength != 1024 && c.MaxFragmentLength != 2048 && c.MaxFragmentLength != 4096:
		return fmt.Errorf("dtls: MaxFragmentLength %d is not 512, 1024, 2048 or 4096", c.MaxFragmentLength)
	}
	if c.IdleTimeout < 0 {
		return fmt.Errorf("dtls: negative IdleTimeout %v", c.IdleTimeout)
	}
	if c.ClientAuth < tls.NoClientCert || c.ClientAuth > tls.RequireAndVerifyClientCert {
		return fmt.Errorf("dtls: unknown ClientAuth %d", c.ClientAuth)
	}
	for _, p := range c.SRTPProtectionProfiles {
		if _, err := openssl.ParseSRTPProtectionProfile(p.String()); err != nil {
			return fmt.Errorf("dtls: SRTP protection profile %v is not one OpenSSL negotiates", p)
		}
	}
	hasCert := len(c.Certificates) > 0 || len(c.CertificatePEM) > 0 || c.CertFile != ""
	hasKey := len(c.Certificates) > 0 || len(c.KeyPEM) > 0 || c.KeyFile != ""
	if hasCert != hasKey {
		return errors.New("dtls: a certificate needs its key (and a key its certificate)")
	}
	if server && !hasCert && !c.pskServer() && c.GetCertificate == nil {
		return errors.New("dtls: a server needs a certificate: set Certificates, CertificatePEM/KeyPEM or CertFile/KeyFile (or GetPSK)")
	}
	if err := c.validateALPN(); err != nil {
		return err
	}
	return c.validatePSK()
}

// certificatePEM returns the certificate chain and key as PEM from
// whichever field holds them.
func (c *Config) certificatePEM() (certPEM, keyPEM []byte, err error) {
	switch {
	case len(c.Certificates) > 0:
		return tlsCertPEM(&c.Certificates[0], "Certificates[0]")
	case len(c.CertificatePEM) > 0:
		return c.CertificatePEM, c.KeyPEM, nil
	case c.CertFile != "":
		if certPEM, err = os.ReadFile(c.CertFile); err != nil {
			return nil, nil, fmt.Errorf("dtls: certificate: %w", err)
		}
		if keyPEM, err = os.ReadFile(c.KeyFile); err != nil {
			return nil, nil, fmt.Errorf("dtls: private key: %w", err)
		}
		return certPEM, keyPEM, nil
	}
	return nil, nil, nil
}

// newCtx builds the OpenSSL context for a role from the Config.
func (c *Config) newCtx(server bool) (*openssl.Ctx, error) {
	method := openssl.DTLSClientMethod
	if server {
		method = openssl.DTLSServerMethod
	}
	sslCtx, err := openssl.NewCtx(method)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*openssl.Ctx, error) {
		sslCtx.Close()
		return nil, err
	}
	certPEM, keyPEM, err := c.certificatePEM()
	if err != nil {
		return fail(err)
	}
	if certPEM != nil {
		if err := sslCtx.UseCertificatePEM(certPEM); err != nil {
			return fail(fmt.Errorf("dtls: certificate: %w", err))
		}
		if err := sslCtx.UsePrivateKeyPEM(keyPEM); err != nil {
			return fail(fmt.Errorf("dtls: private key: %w", err))
		}
	}
	if c.MinVersion != 0 {
		if err := sslCtx.SetMinProtoVersion(openssl.Version(c.MinVersion)); err != nil {
			return fail(err)
		}
	}
	if c.MaxVersion != 0 {
		if err := sslCtx.SetMaxProtoVersion(openssl.Version(c.MaxVersion)); err != nil {
			return fail(err)
		}
	}
	if c.CipherList != "" {
		if err := sslCtx.SetCipherList(c.CipherList); err != nil {
			return fail(fmt.Errorf("dtls: cipher list %q: %w", c.CipherList, err))
		}
	}
	if list := c.pskCiphers(server, certPEM != nil); list != "" {
		if err := sslCtx.SetCipherList(list); err != nil {
			return fail(fmt.Errorf("dtls: PSK cipher list: %w", err))
		}
	}
	if err := c.setupPSK(sslCtx, server); err != nil {
		return fail(err)
	}
	if err := c.setupALPN(sslCtx, server); err != nil {
		return fail(err)
	}
	if err := c.setupKeyLog(sslCtx); err != nil {
		return fail(err)
	}
	if err := c.setupCertificates(sslCtx, server); err != nil {
		return fail(err)
	}
	if err := c.setupTickets(sslCtx, server); err != nil {
		return fail(err)
	}
	if err := c.setupSessionContext(sslCtx, server); err != nil {
		return fail(err)
	}
	// Renegotiation would run the verify callback again mid-connection, and
	// could change the peer's identity: refuse it on both sides. With
	// encrypt-then-MAC, OpenSSL ends a DTLS connection on one CBC record
	// whose MAC fails (openssl#24972), so anyone who knows a peer's address
	// could end it with one forged datagram; MAC-then-encrypt records that
	// fail are dropped, as RFC 6347 asks, and OpenSSL's CBC decryption
	// runs in constant time. AEAD suites, the default, are not affected.
	sslCtx.SetOptions(openssl.OpNoQueryMTU | openssl.OpNoRenegotiation | openssl.OpNoEncryptThenMAC)
	// No record we write is longer than a datagram (Write refuses more
	// than MaxPayload, and OpenSSL fragments handshake messages to the
	// MTU), so OpenSSL's write buffer, sized from this, need not hold a
	// 16 KiB record: about 1.7 KiB at the default MTU instead of 17 KiB,
	// taken and freed around every wait of a server connection.
	if err := sslCtx.SetMaxSendFragment(min(max(c.mtu(), 512), 16384)); err != nil {
		return fail(err)
	}
	if c.MaxFragmentLength != 0 {
		if err := sslCtx.SetMaxFragmentLength(c.MaxFragmentLength); err != nil {
			return fail(err)
		}
	}
	if len(c.SRTPProtectionProfiles) > 0 {
		if err := sslCtx.SetSRTPProtectionProfiles(c.SRTPProtectionProfiles...); err != nil {
			return fail(fmt.Errorf("dtls: SRTP: %w", err))
		}
	}
	// Certificates are verified in Go (verify.go), inside the handshake: a
	// refused peer gets a fatal alert. A client always runs the callback,
	// for VerifyPeerCertificate and VerifyConnection even when
	// InsecureSkipVerify skips the chain.
	mode := openssl.VerifyPeer
	if server {
		switch c.ClientAuth {
		case tls.NoClientCert:
			mode = openssl.VerifyNone
		case tls.RequireAnyClientCert, tls.RequireAndVerifyClientCert:
			mode |= openssl.VerifyFailIfNoPeerCert
		}
	}
	if err := sslCtx.SetVerify(mode, -1); err != nil {
		return fail(err)
	}
	if mode != openssl.VerifyNone {
		// The connection, and from it its Config, comes through the SSL:
		// the Ctx is cached under a weak key to the Config, which the
		// callback must not keep alive.
		if err := sslCtx.SetCertVerifyCallback(verifyCallback); err != nil {
			return fail(err)
		}
	}
	return sslCtx, nil
}

// clientCtxs holds one client Ctx per Config, with the Config's verified
// server chains (verifycache.go): building an SSL_CTX (loading
// certificates, parsing the cipher list) costs about a tenth of a client
// handshake, and every Dial with the same Config would repeat it. Keys are
// weak, so a Config's Ctx is freed once the Config is unreachable.
var clientCtxs sync.Map // weak.Pointer[Config] -> *clientCtx

type clientCtx struct {
	sslCtx   *openssl.Ctx
	verified *verifyCache
}

func (c *Config) clientCtx() (*clientCtx, error) {
	key := weak.Make(c)
	if v, ok := clientCtxs.Load(key); ok {
		return v.(*clientCtx), nil
	}
	sslCtx, err := c.newCtx(false)
	if err != nil {
		return nil, err
	}
	cc := &clientCtx{sslCtx: sslCtx, verified: newVerifyCache()}
	if v, loaded := clientCtxs.LoadOrStore(key, cc); loaded {
		sslCtx.Close()
		return v.(*clientCtx), nil
	}
	runtime.AddCleanup(c, func(key weak.Pointer[Config]) {
		if v, ok := clientCtxs.LoadAndDelete(key); ok {
			// SSL objects still alive hold their own reference to it.
			v.(*clientCtx).sslCtx.Close()
		}
	}, key)
	return cc, nil
}
