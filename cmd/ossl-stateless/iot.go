package main

import (
	"crypto/tls"
	"encoding/hex"
	"encoding/pem"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/openssl-stateless/openssl/dtls"
)

// iotOpts are the flags of issue 12, with openssl s_server's and
// s_client's meanings. Pre-shared keys: -psk is the key in hex;
// -psk_identity is the identity a client sends, or the one a server
// expects (default "Client_identity", as in OpenSSL); -psk_hint the
// server's hint; -nocert a server without a certificate. -alpn is a
// comma-separated protocol list.
type iotOpts struct {
	psk         string
	pskIdentity string
	pskHint     string
	nocert      bool
	alpn        string
	keylogfile  string
	sessOut     string
	sessIn      string
	sessCache   *fileSessionCache
	servername  string // server: -servername, with -cert2 and -key2
	cert2, key2 string

	pskKey []byte // -psk decoded
}

// opensslDefaultPSKIdentity is s_client's and s_server's default identity.
const opensslDefaultPSKIdentity = "Client_identity"

func (p *iotOpts) registerPSK(fs *flag.FlagSet, server bool) {
	fs.StringVar(&p.psk, "psk", "", "")
	fs.StringVar(&p.pskIdentity, "psk_identity", opensslDefaultPSKIdentity, "")
	if server {
		fs.StringVar(&p.pskHint, "psk_hint", "", "")
		fs.BoolVar(&p.nocert, "nocert", false, "")
		fs.StringVar(&p.servername, "servername", "", "")
		fs.StringVar(&p.cert2, "cert2", "", "")
		fs.StringVar(&p.key2, "key2", "", "")
	}
	fs.StringVar(&p.alpn, "alpn", "", "")
	fs.StringVar(&p.keylogfile, "keylogfile", "", "")
	if !server {
		fs.StringVar(&p.sessOut, "sess_out", "", "")
		fs.StringVar(&p.sessIn, "sess_in", "", "")
	}
}

// check validates the PSK flags of cmd after the common ones.
func (p *iotOpts) checkPSK(cmd string, c *common) error {
	if err := p.checkALPN(cmd, c); err != nil {
		return err
	}
	if p.keylogfile != "" && c.tls13 {
		return usagef(cmd, "-keylogfile applies to DTLS only, not to -tls1_3")
	}
	if (p.servername != "") != (p.cert2 != "") {
		return usagef(cmd, "-servername and -cert2 go together: the certificate for clients asking for that name")
	}
	if p.key2 != "" && p.cert2 == "" {
		return usagef(cmd, "-key2 needs -cert2")
	}
	if p.servername != "" && c.tls13 {
		return usagef(cmd, "-servername with -cert2 applies to DTLS only, not to -tls1_3")
	}
	if (p.sessOut != "" || p.sessIn != "") && c.tls13 {
		return usagef(cmd, "-sess_out and -sess_in apply to DTLS only, not to -tls1_3")
	}
	if p.psk == "" {
		if p.pskHint != "" {
			return usagef(cmd, "-psk_hint needs -psk")
		}
		if p.nocert {
			return usagef(cmd, "-nocert needs -psk: a DTLS server without a certificate authenticates with a pre-shared key")
		}
		return nil
	}
	if c.tls13 {
		return usagef(cmd, "-psk applies to DTLS only, not to -tls1_3")
	}
	key, err := hex.DecodeString(p.psk)
	if err != nil || len(key) == 0 {
		return usagef(cmd, "-psk must be the key in hex, as for openssl s_server and s_client, not %q", p.psk)
	}
	p.pskKey = key
	if p.nocert && c.cert != "" {
		return usagef(cmd, "-nocert excludes -cert")
	}
	return nil
}

// serverConfig adds the PSK to a server's Config. As openssl s_server does,
// a client sending another identity than -psk_identity is warned about and
// then served with the key all the same.
func (p *iotOpts) serverConfig(cfg *dtls.Config, log *slog.Logger) error {
	cfg.NextProtos = p.protos()
	if err := p.keyLog(cfg); err != nil {
		return err
	}
	if p.cert2 != "" {
		if err := p.secondCertificate(cfg); err != nil {
			return err
		}
	}
	if p.pskKey == nil {
		return nil
	}
	key, want := p.pskKey, p.pskIdentity
	cfg.GetPSK = func(identity string) ([]byte, error) {
		if identity != want {
			log.Warn("PSK warning: client identity not what we expected", "got", identity, "expected", want)
		}
		return key, nil
	}
	cfg.PSKIdentityHint = p.pskHint
	if p.nocert {
		cfg.CertificatePEM, cfg.KeyPEM = nil, nil
	}
	return nil
}

// clientConfig adds the PSK to a client's Config: with it, the client
// offers the PSK cipher suites only (unless -cipher says otherwise).
func (p *iotOpts) clientConfig(cfg *dtls.Config) error {
	cfg.NextProtos = p.protos()
	if err := p.keyLog(cfg); err != nil {
		return err
	}
	if p.pskKey != nil {
		cfg.PSKIdentity, cfg.PSKKey = p.pskIdentity, p.pskKey
	}
	if p.sessIn != "" || p.sessOut != "" {
		fc := &fileSessionCache{out: p.sessOut}
		if p.sessIn != "" {
			b, err := os.ReadFile(p.sessIn)
			if err != nil {
				return fmt.Errorf("-sess_in: %w", err)
			}
			block, _ := pem.Decode(b)
			if block == nil || block.Type != sessionPEMType {
				return fmt.Errorf("-sess_in %s: no %q PEM block", p.sessIn, sessionPEMType)
			}
			fc.in = dtls.NewClientSessionState(block.Bytes)
		}
		cfg.ClientSessionCache = fc
		p.sessCache = fc
	}
	return nil
}

// sessionWritten reports a failure to write -sess_out.
func (p *iotOpts) sessionWritten() error {
	if p.sessCache == nil || p.sessCache.err == nil {
		return nil
	}
	return fmt.Errorf("-sess_out: %w", p.sessCache.err)
}

// sessionPEMType is the PEM type of openssl s_client's -sess_out files.
const sessionPEMType = "SSL SESSION PARAMETERS"

// fileSessionCache is the client's -sess_in and -sess_out: the session
// offered, and the file the new one is written to, in s_client's format.
type fileSessionCache struct {
	in  *dtls.ClientSessionState
	out string
	err error
}

func (f *fileSessionCache) Get(string) (*dtls.ClientSessionState, bool) { return f.in, f.in != nil }

func (f *fileSessionCache) Put(_ string, cs *dtls.ClientSessionState) {
	if f.out == "" || cs == nil {
		return
	}
	b := pem.EncodeToMemory(&pem.Block{Type: sessionPEMType, Bytes: cs.Bytes()})
	f.err = os.WriteFile(f.out, b, 0o600)
}

// keyLog opens -keylogfile or, without it, $SSLKEYLOGFILE, as the openssl
// tools and browsers do, for appending: the file stays open until the
// process exits.
func (p *iotOpts) keyLog(cfg *dtls.Config) error {
	path, what := p.keylogfile, "-keylogfile"
	if path == "" {
		path, what = os.Getenv("SSLKEYLOGFILE"), "SSLKEYLOGFILE"
	}
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, path, err)
	}
	cfg.KeyLogWriter = f
	return nil
}

// pskVerification is the client's line about verification with a PSK.
func pskVerification(cs dtls.ConnectionState) string {
	return fmt.Sprintf("Verification: by pre-shared key (identity %s), no certificate", cs.PSKIdentity)
}

// checkALPN validates -alpn.
func (p *iotOpts) checkALPN(cmd string, c *common) error {
	if p.alpn == "" {
		return nil
	}
	if c.tls13 {
		return usagef(cmd, "-alpn applies to DTLS only, not to -tls1_3")
	}
	for _, proto := range strings.Split(p.alpn, ",") {
		if proto == "" || len(proto) > 255 {
			return usagef(cmd, "-alpn takes a comma-separated list of protocols of 1 to 255 bytes, not %q", p.alpn)
		}
	}
	return nil
}

// protos is -alpn as a list.
func (p *iotOpts) protos() []string {
	if p.alpn == "" {
		return nil
	}
	return strings.Split(p.alpn, ",")
}

// secondCertificate serves -cert2 (and -key2, default: the -cert2 file) to
// clients whose server_name is -servername, as openssl s_server does; the
// others get the main certificate.
func (p *iotOpts) secondCertificate(cfg *dtls.Config) error {
	key2 := p.key2
	if key2 == "" {
		key2 = p.cert2
	}
	creds, err := loadCredentials(&common{cert: p.cert2, key: key2})
	if err != nil {
		return fmt.Errorf("-cert2: %w", err)
	}
	second, err := tls.X509KeyPair(creds.certPEM, creds.keyPEM)
	if err != nil {
		return fmt.Errorf("-cert2 %s: %w", p.cert2, err)
	}
	var main *tls.Certificate
	if len(cfg.CertificatePEM) > 0 {
		m, err := tls.X509KeyPair(cfg.CertificatePEM, cfg.KeyPEM)
		if err != nil {
			return err
		}
		main = &m
	}
	name := p.servername
	cfg.GetCertificate = func(hello *dtls.ClientHelloInfo) (*tls.Certificate, error) {
		if strings.EqualFold(hello.ServerName, name) {
			return &second, nil
		}
		return main, nil
	}
	return nil
}
