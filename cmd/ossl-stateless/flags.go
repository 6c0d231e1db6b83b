package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/openssl-stateless/openssl"
	"github.com/openssl-stateless/openssl/dtls"
)

// MTU bounds: the dtls package's own.
const (
	minMTU = dtls.MinMTU
	maxMTU = dtls.MaxMTU
)

// common are the flags of both commands.
type common struct {
	cert, key, caFile string
	verifyDepth       int // -verify N; -1 when not given
	cipher            string
	useSRTP           string // -use_srtp, OpenSSL's profile names joined by ':'
	srtp              []dtls.SRTPProtectionProfile
	keymatLabel       string // -keymatexport
	keymatLen         int    // -keymatexportlen
	mtu               int
	dtls12, tls13     bool
	quiet             bool
	timeout           time.Duration
}

type serverOpts struct {
	common
	accept    string
	stateless bool
	mode      string
	backend   string
	idle      time.Duration
	cookieAge time.Duration // -cookie-lifetime
	readers   int           // -readers: dtls.Config.Readers
	// cookieSecret is -cookie-secret, the file the cookie key is read
	// from; "" for a random key of this process's own.
	cookieSecret string
	// requireDepth is -Verify N: a client certificate is required; -1
	// when not given.
	requireDepth int
	iotOpts
}

type clientOpts struct {
	common
	connect    string
	servername string
	insecure   bool
	wait       time.Duration
	stateless  bool // refused: the server decides
	maxFragLen int  // -maxfraglen: RFC 6066's max_fragment_length asked of the server
	iotOpts
}

const serverUsage = `Usage: ossl-stateless server [flags]

Serve DTLS on one UDP port: every new client goes through a stateless
cookie exchange (DTLSv1_listen, a HelloVerifyRequest) before the server keeps
anything for it, and many clients are served at once. With -tls1_3, serve
TLS 1.3 over TCP instead; add -stateless for SSL_stateless's cookie exchange
(a HelloRetryRequest) before the handshake.

Prints "ACCEPT host:port" on stdout once listening, logs one line per
handshake (and per closed connection) on stderr, and on SIGINT or SIGTERM
closes every connection (close_notify), prints "STATS ..." on stdout and
exits 0.

Flags:
  -accept host:port   address to listen on; a bare port means every address
                      (default ":4433"; port 0 picks a free port, printed in
                      the ACCEPT line)
  -cert file          certificate, then its chain, as PEM (default: a throwaway
                      self-signed ECDSA P-256 certificate for localhost,
                      127.0.0.1 and ::1, announced on stderr)
  -key file           private key as PEM (default: read from the -cert file)
  -CAfile file        CA certificates (PEM) that client certificates must chain
                      to; a client certificate is then asked for and verified
                      when one is sent
  -verify depth       ask for a client certificate, as s_server: verified
                      against -CAfile if given; without -CAfile any
                      certificate is accepted and its SHA-256 fingerprint
                      logged (DTLS only). The depth is read and not used.
                      A certificate that fails verification ends the
                      handshake, as with s_server's -verify_return_error
                      (s_server alone logs it and goes on)
  -Verify depth       require a client certificate, likewise
  -verify_return_error accepted for s_server's command lines: verification
                      errors always end the handshake
  -cipher list        OpenSSL cipher string for DTLS (e.g. ECDHE+AESGCM)
  -use_srtp profiles  negotiate DTLS-SRTP with these profiles, OpenSSL's
                      names joined by ':' (SRTP_AES128_CM_SHA1_80,
                      SRTP_AES128_CM_SHA1_32, SRTP_AEAD_AES_128_GCM,
                      SRTP_AEAD_AES_256_GCM); the profile agreed is printed
  -keymatexport label export keying material with this label after each
                      handshake (RFC 5705) and print it on stdout as
                      s_server does
  -keymatexportlen n  how many bytes -keymatexport exports (default 20)
  -mode echo|forward  echo: send every message back (default); forward: relay
                      to -backend and relay its replies back
  -backend host:port  forward mode's backend. DTLS: a plain UDP service, each
                      client's decrypted datagrams are sent from a UDP socket
                      of that client's own, so replies route back to it.
                      -tls1_3: a TCP service, one TCP connection per client
                      (a TLS terminator)
  -mtu bytes          largest datagram written, %d to %d (default 1200; DTLS only)
  -dtls1_2            DTLS 1.2 only. The default offers DTLS 1.0 too, but a
                      1.0 handshake completes only on OpenSSL 1.1.1: OpenSSL
                      3 refuses 1.0's MD5+SHA1 signatures at its default
                      security level (no suitable signature algorithm)
  -tls1_3             TLS 1.3 over TCP instead of DTLS over UDP
  -stateless          with -tls1_3: answer the first ClientHello with a
                      HelloRetryRequest carrying a cookie (SSL_stateless) and
                      handshake only with a client that returns it. DTLS
                      always does its cookie exchange: -stateless changes
                      nothing there
  -timeout duration   handshake timeout (default 10s)
  -idle duration      close a connection idle for this long; 0 never
                      (default 5m)
  -cookie-lifetime d  how long a cookie stays valid: whole seconds, at least
                      1s (default 60s). A cookie carries the second it was
                      issued, so it is refused between the lifetime and a
                      second later
  -cookie-secret file DTLS: key cookies with the bytes of file (32 to 4096
                      bytes, used as they are: raw bytes, or text such as
                      the output of openssl rand -hex 32, newline included),
                      so that servers given the same file accept each
                      other's cookies: several processes or machines behind
                      one UDP load balancer, or on one port (on Linux the
                      socket has SO_REUSEPORT, so servers of the same user
                      can bind the same -accept address). Clocks must agree
                      within 2s. Default: a random key per process
  -readers n          DTLS: serve -accept from n sockets (SO_REUSEPORT), each
                      read by a goroutine of its own, so that new peers and
                      floods are answered on up to n cores (default 1;
                      Linux only)
  -quiet              log failures only
  -psk hex            DTLS: also serve the PSK cipher suites with this key
                      (hex, as openssl s_server -psk)
  -psk_identity id    the PSK identity expected; a client sending another is
                      warned about and served with the key all the same, as
                      by openssl s_server (default "Client_identity")
  -psk_hint hint      the PSK identity hint sent to clients
  -nocert             no certificate: PSK cipher suites only (needs -psk)
  -servername name    DTLS: serve -cert2 to clients asking for name (SNI), the
                      main certificate to the others, as openssl s_server
  -cert2 file         the certificate (and chain, PEM) for -servername
  -key2 file          its private key (default: read from the -cert2 file)
  -alpn list          DTLS: the application protocols served (ALPN), comma
                      separated, in order of preference: the first of them
                      the client offered is chosen; a client offering others
                      gets the no_application_protocol alert
  -keylogfile file    DTLS: append every handshake's secrets to file in the
                      NSS key log format, for Wireshark (default: the file
                      $SSLKEYLOGFILE names, if set)
  -help               print this help

Exit status: 0 on success (including after SIGINT or SIGTERM), 1 on a runtime
error (a missing file, a port in use), 2 on a usage error.
`

const clientUsage = `Usage: ossl-stateless client [flags]

Connect to a DTLS server (or, with -tls1_3, a TLS 1.3 server over TCP), send
stdin line by line (one datagram per line, newline included) and print what
comes back on stdout. Unless -quiet, report on stderr the negotiated
protocol version, cipher, whether a cookie exchange took place (DTLS: a
HelloVerifyRequest; TLS 1.3: a HelloRetryRequest carrying a cookie, seen in
the server's first handshake record) and the certificate verification.

At the end of stdin, wait for outstanding replies: until as many replies as
lines came back (with -tls1_3: as many bytes as were sent), or until none
came for -wait. Then close with close_notify and exit 0.

The server's certificate is always verified, against -CAfile or, without
it, the system's roots, for the -servername (default: the -connect host,
a name or an IP address); -insecure skips verification.

Flags:
  -connect host:port  server address (default "localhost:4433")
  -servername name    name sent in SNI and checked against the server's
                      certificate (default: the -connect host; IP addresses
                      are checked but not sent)
  -CAfile file        CA certificates (PEM) that the server's certificate
                      must chain to (default: the system's roots)
  -verify depth       verify the server's certificate: the default, spelled
                      out as s_client does; conflicts with -insecure. The
                      depth is read and not used
  -verify_return_error accepted for s_client's command lines: a failed
                      verification always ends the handshake
  -cipher list        OpenSSL cipher string for DTLS (e.g. ECDHE+AESGCM)
  -use_srtp profiles  offer DTLS-SRTP with these profiles (see server -help)
  -keymatexport label export keying material with this label after the
                      handshake and print it in s_client's format, on
                      stderr (s_client prints it on stdout, among the
                      session's details; here stdout carries the data)
  -keymatexportlen n  how many bytes -keymatexport exports (default 20)
  -insecure           accept any server certificate (no verification)
  -cert file          client certificate and chain (PEM), for servers that ask
  -key file           its private key (default: read from the -cert file)
  -mtu bytes          largest datagram written, %d to %d (default 1200; DTLS only)
  -maxfraglen bytes   DTLS: ask the server to keep records within 512, 1024,
                      2048 or 4096 bytes (RFC 6066's max_fragment_length, as
                      openssl s_client -maxfraglen); reported on stderr
  -dtls1_2            DTLS 1.2 only. The default offers DTLS 1.0 too, but a
                      1.0 handshake completes only on OpenSSL 1.1.1: OpenSSL
                      3 refuses 1.0's MD5+SHA1 signatures at its default
                      security level (no suitable signature algorithm)
  -tls1_3             TLS 1.3 over TCP instead of DTLS over UDP
  -timeout duration   handshake timeout (default 10s)
  -wait duration      at the end of stdin, how long to wait for another reply
                      (default 1s)
  -quiet              print only the replies: no information on stderr
  -psk hex            DTLS: offer the PSK cipher suites only, with this key
                      (hex, as openssl s_client -psk); the server's
                      certificate is then neither needed nor checked
  -psk_identity id    the PSK identity sent (default "Client_identity")
  -alpn list          DTLS: the application protocols offered (ALPN), comma
                      separated; the one agreed is reported on stderr
  -keylogfile file    DTLS: append the handshake's secrets to file in the NSS
                      key log format, for Wireshark (default: the file
                      $SSLKEYLOGFILE names, if set)
  -sess_out file      DTLS: write the session to file after the handshake, in
                      openssl s_client -sess_out's format
  -sess_in file       DTLS: offer the session in file (from -sess_out, ours or
                      s_client's) to resume it
  -help               print this help

-stateless is a server flag: the server decides whether to ask for a cookie,
and the client answers either way.

Exit status: 0 on success, 1 on a runtime error (an unreachable server, a
failed handshake or verification, a missing file), 2 on a usage error.
`

func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.cert, "cert", "", "")
	fs.StringVar(&c.key, "key", "", "")
	fs.StringVar(&c.caFile, "CAfile", "", "")
	fs.IntVar(&c.verifyDepth, "verify", -1, "")
	fs.BoolVar(new(bool), "verify_return_error", false, "") // what -verify does anyway
	fs.StringVar(&c.cipher, "cipher", "", "")
	fs.StringVar(&c.useSRTP, "use_srtp", "", "")
	fs.StringVar(&c.keymatLabel, "keymatexport", "", "")
	fs.IntVar(&c.keymatLen, "keymatexportlen", 20, "")
	fs.IntVar(&c.mtu, "mtu", 0, "")
	fs.BoolVar(&c.dtls12, "dtls1_2", false, "")
	fs.BoolVar(&c.tls13, "tls1_3", false, "")
	fs.BoolVar(&c.quiet, "quiet", false, "")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Second, "")
}

func serverFlags(o *serverOpts) *flag.FlagSet {
	fs := newFlagSet("server")
	o.register(fs)
	fs.StringVar(&o.accept, "accept", ":4433", "")
	fs.BoolVar(&o.stateless, "stateless", false, "")
	fs.StringVar(&o.mode, "mode", "echo", "")
	fs.StringVar(&o.backend, "backend", "", "")
	fs.DurationVar(&o.idle, "idle", 5*time.Minute, "")
	fs.DurationVar(&o.cookieAge, "cookie-lifetime", 60*time.Second, "")
	fs.IntVar(&o.readers, "readers", 1, "")
	fs.StringVar(&o.cookieSecret, "cookie-secret", "", "")
	fs.IntVar(&o.requireDepth, "Verify", -1, "")
	o.registerPSK(fs, true)
	return fs
}

func clientFlags(o *clientOpts) *flag.FlagSet {
	fs := newFlagSet("client")
	o.register(fs)
	fs.StringVar(&o.connect, "connect", "localhost:4433", "")
	fs.StringVar(&o.servername, "servername", "", "")
	fs.BoolVar(&o.insecure, "insecure", false, "")
	fs.DurationVar(&o.wait, "wait", time.Second, "")
	fs.BoolVar(&o.stateless, "stateless", false, "")
	fs.IntVar(&o.maxFragLen, "maxfraglen", 0, "")
	o.registerPSK(fs, false)
	return fs
}

// parseFlags parses args, printing help on -help.
func parseFlags(fs *flag.FlagSet, args []string, help string, stdout io.Writer) error {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, help)
		return errHelp
	}
	if err != nil {
		return usagef(fs.Name(), "%v", err)
	}
	if fs.NArg() > 0 {
		return usagef(fs.Name(), "unexpected argument %q: every option is a flag", fs.Arg(0))
	}
	return nil
}

// check validates the flags both commands share.
func (c *common) check(cmd string) error {
	if c.dtls12 && c.tls13 {
		return usagef(cmd, "-dtls1_2 and -tls1_3 exclude each other")
	}
	if c.mtu != 0 {
		if c.tls13 {
			return usagef(cmd, "-mtu applies to DTLS only, not to -tls1_3 (TCP)")
		}
		if c.mtu < minMTU || c.mtu > maxMTU {
			return usagef(cmd, "-mtu %d is outside %d to %d", c.mtu, minMTU, maxMTU)
		}
	}
	if c.key != "" && c.cert == "" {
		return usagef(cmd, "-key needs -cert")
	}
	if c.cert != "" && c.key == "" {
		c.key = c.cert // one PEM file holding both, as openssl s_server reads it
	}
	if c.timeout <= 0 {
		return usagef(cmd, "-timeout must be positive, not %v", c.timeout)
	}
	if c.verifyDepth < -1 {
		return usagef(cmd, "-verify takes a depth of 0 or more, not %d", c.verifyDepth)
	}
	if c.tls13 && (c.cipher != "" || c.useSRTP != "") {
		return usagef(cmd, "-cipher and -use_srtp apply to DTLS only, not to -tls1_3")
	}
	if c.useSRTP != "" {
		for _, name := range strings.Split(c.useSRTP, ":") {
			p, err := openssl.ParseSRTPProtectionProfile(name)
			if err != nil {
				return usagef(cmd, "-use_srtp: unknown profile %q (OpenSSL's names: SRTP_AES128_CM_SHA1_80, SRTP_AES128_CM_SHA1_32, SRTP_AEAD_AES_128_GCM, SRTP_AEAD_AES_256_GCM)", name)
			}
			c.srtp = append(c.srtp, p)
		}
	}
	if c.keymatLen < 1 || c.keymatLen > 4096 {
		return usagef(cmd, "-keymatexportlen must be 1 to 4096, not %d", c.keymatLen)
	}
	return nil
}

func parseServer(args []string, stdout io.Writer) (*serverOpts, error) {
	o := &serverOpts{}
	if err := parseFlags(serverFlags(o), args, fmt.Sprintf(serverUsage, minMTU, maxMTU), stdout); err != nil {
		return nil, err
	}
	const cmd = "server"
	if err := o.check(cmd); err != nil {
		return nil, err
	}
	if o.requireDepth < -1 {
		return nil, usagef(cmd, "-Verify takes a depth of 0 or more, not %d", o.requireDepth)
	}
	if o.tls13 && (o.verifyDepth >= 0 || o.requireDepth >= 0) && o.caFile == "" {
		return nil, usagef(cmd, "with -tls1_3, -verify and -Verify need -CAfile: the CA that client certificates must chain to")
	}
	accept, err := checkAddr(cmd, "-accept", o.accept, true)
	if err != nil {
		return nil, err
	}
	o.accept = accept
	switch o.mode {
	case "echo":
		if o.backend != "" {
			return nil, usagef(cmd, "-backend needs -mode forward")
		}
	case "forward":
		if o.backend == "" {
			return nil, usagef(cmd, "-mode forward needs -backend host:port")
		}
		if _, err := checkAddr(cmd, "-backend", o.backend, false); err != nil {
			return nil, err
		}
	default:
		return nil, usagef(cmd, "-mode must be echo or forward, not %q", o.mode)
	}
	if o.idle < 0 {
		return nil, usagef(cmd, "-idle must not be negative, not %v", o.idle)
	}
	if o.cookieAge < time.Second || o.cookieAge%time.Second != 0 {
		return nil, usagef(cmd, "-cookie-lifetime must be whole seconds, at least 1s, not %v", o.cookieAge)
	}
	if o.readers < 1 || o.readers > 64 {
		return nil, usagef(cmd, "-readers must be 1 to 64, not %d", o.readers)
	}
	if o.readers > 1 && o.tls13 {
		return nil, usagef(cmd, "-readers applies to DTLS only, not to -tls1_3")
	}
	if o.cookieSecret != "" && o.tls13 {
		// OpenSSL wraps a TLS 1.3 application cookie in one of its own,
		// keyed per SSL_CTX with no API to set the key: a shared secret
		// would not make those cookies verify on another process.
		return nil, usagef(cmd, "-cookie-secret applies to DTLS only: OpenSSL seals TLS 1.3 cookies with a key of its own per process, so they cannot verify on another server")
	}
	if err := o.checkPSK(cmd, &o.common); err != nil {
		return nil, err
	}
	return o, nil
}

func parseClient(args []string, stdout io.Writer) (*clientOpts, error) {
	o := &clientOpts{}
	if err := parseFlags(clientFlags(o), args, fmt.Sprintf(clientUsage, minMTU, maxMTU), stdout); err != nil {
		return nil, err
	}
	const cmd = "client"
	if o.stateless {
		return nil, usagef(cmd, "-stateless is a server flag: the server decides whether to ask for a cookie, and the client answers either way")
	}
	if err := o.check(cmd); err != nil {
		return nil, err
	}
	if o.insecure && (o.verifyDepth >= 0 || o.caFile != "") {
		return nil, usagef(cmd, "-insecure skips verification: it excludes -verify and -CAfile")
	}
	if _, err := checkAddr(cmd, "-connect", o.connect, false); err != nil {
		return nil, err
	}
	if o.wait <= 0 {
		return nil, usagef(cmd, "-wait must be positive, not %v", o.wait)
	}
	switch {
	case o.maxFragLen != 0 && o.tls13:
		return nil, usagef(cmd, "-maxfraglen applies to DTLS only, not to -tls1_3")
	case o.maxFragLen != 0 && o.maxFragLen != 512 && o.maxFragLen != 1024 && o.maxFragLen != 2048 && o.maxFragLen != 4096:
		return nil, usagef(cmd, "-maxfraglen takes 512, 1024, 2048 or 4096, not %d", o.maxFragLen)
	}
	if err := o.checkPSK(cmd, &o.common); err != nil {
		return nil, err
	}
	return o, nil
}

// checkAddr validates a host:port flag. A listening address may be a bare
// port, and its port may be 0; it is returned in host:port form.
func checkAddr(cmd, name, addr string, listen bool) (string, error) {
	if listen && !strings.Contains(addr, ":") {
		addr = ":" + addr
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", usagef(cmd, "%s %q: want host:port", name, addr)
	}
	if !listen && host == "" {
		return "", usagef(cmd, "%s %q: the host is missing", name, addr)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 || (p == 0 && !listen) {
		return "", usagef(cmd, "%s %q: %q is not a port number", name, addr, port)
	}
	return addr, nil
}

type probeOpts struct {
	connect          string
	dtls12, dtls1    bool
	tls13            bool
	json             bool
	window           time.Duration
	large            int
	replayMax        time.Duration
	timeout          time.Duration
	stateless, quiet bool // refused: not probe flags
}

const probeUsage = `Usage: ossl-stateless probe [flags]

Ask a DTLS server (or, with -tls1_3, a TLS 1.3 server over TCP) whether it
keeps state, or amplifies, for a client that has not proved its address.
The ClientHellos are written by this tool's OpenSSL client; the probe edits
them only to pad one or to flip a cookie bit, and never finishes a
handshake: where the server goes on, a fatal alert ends it.

DTLS: from new local ports it sends
  - a first ClientHello, and one padded to -large bytes: is the answer a
    HelloVerifyRequest (stateless) or the server's certificate flight (it
    keeps state and amplifies)? All datagrams received within -window count
    as the answer (a stateful server retransmits later: those are not
    counted); the amplification factor is their bytes over the ClientHello's;
  - the second ClientHello with the cookie: from the same port (accepted?),
    from another port (is the cookie bound to the source port?), with one
    bit of the cookie flipped (refused?), and again after a delay, bisected
    up to -replay-max (how long is a cookie valid?);
  - without -dtls1_2 or -dtls1, also a DTLS 1.0 first ClientHello.
TLS 1.3 (-tls1_3): is the first answer a HelloRetryRequest with a cookie,
how large, and is the ClientHello returning the cookie accepted?

Prints a table, or with -json the same as JSON, ending with a verdict.

Flags:
  -connect host:port  server address (default "localhost:4433")
  -dtls1_2            send DTLS 1.2 ClientHellos only
  -dtls1              send DTLS 1.0 ClientHellos only
  -tls1_3             probe a TLS 1.3 server over TCP instead
  -json               print the report as JSON
  -window duration    how long answers to one ClientHello are collected
                      (default 300ms); a ClientHello that got nothing is
                      sent once more, as a DTLS client retransmits
  -large bytes        size of the padded ClientHello datagram, 256 to 1400
                      (default 1200)
  -replay-max d       longest delay after which a cookie is replayed; the
                      search takes about twice as long; 0 skips it
                      (default 5s)
  -timeout duration   TCP connect timeout for -tls1_3 (default 5s)
  -help               print this help

Exit status: 0 when a report was printed, 1 on a runtime error (no answer,
an unreachable server), 2 on a usage error.
`

func probeFlags(o *probeOpts) *flag.FlagSet {
	fs := newFlagSet("probe")
	fs.StringVar(&o.connect, "connect", "localhost:4433", "")
	fs.BoolVar(&o.dtls12, "dtls1_2", false, "")
	fs.BoolVar(&o.dtls1, "dtls1", false, "")
	fs.BoolVar(&o.tls13, "tls1_3", false, "")
	fs.BoolVar(&o.json, "json", false, "")
	fs.DurationVar(&o.window, "window", 300*time.Millisecond, "")
	fs.IntVar(&o.large, "large", 1200, "")
	fs.DurationVar(&o.replayMax, "replay-max", 5*time.Second, "")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Second, "")
	fs.BoolVar(&o.stateless, "stateless", false, "")
	return fs
}

func parseProbe(args []string, stdout io.Writer) (*probeOpts, error) {
	o := &probeOpts{}
	if err := parseFlags(probeFlags(o), args, probeUsage, stdout); err != nil {
		return nil, err
	}
	const cmd = "probe"
	if o.stateless {
		return nil, usagef(cmd, "-stateless is a server flag: probe finds out whether the server is stateless")
	}
	n := 0
	for _, b := range []bool{o.dtls12, o.dtls1, o.tls13} {
		if b {
			n++
		}
	}
	if n > 1 {
		return nil, usagef(cmd, "-dtls1_2, -dtls1 and -tls1_3 exclude each other")
	}
	if _, err := checkAddr(cmd, "-connect", o.connect, false); err != nil {
		return nil, err
	}
	if o.window <= 0 {
		return nil, usagef(cmd, "-window must be positive, not %v", o.window)
	}
	if o.large < 256 || o.large > 1400 {
		return nil, usagef(cmd, "-large %d is outside 256 to 1400", o.large)
	}
	if o.replayMax < 0 {
		return nil, usagef(cmd, "-replay-max must not be negative, not %v", o.replayMax)
	}
	if o.timeout <= 0 {
		return nil, usagef(cmd, "-timeout must be positive, not %v", o.timeout)
	}
	return o, nil
}

type floodOpts struct {
	connect     string
	dtls1       bool
	count       int
	duration    time.Duration
	rate        int
	ports       int
	wait        time.Duration
	allowRemote bool
	progress    string // "auto", "on", "off"
}

const floodUsage = `Usage: ossl-stateless flood [flags]

Send first ClientHellos (no cookie) to a DTLS server from a pool of local
UDP ports, at a set rate, for a set count or time, and count what comes
back: a stateless server answers each with one small HelloVerifyRequest and
keeps nothing. The ClientHello is written once by this tool's OpenSSL
client and sent as is.

This is a load tool: it sends to loopback addresses only, unless
-allow-remote is given. Point it only at servers you run or may test.

On a terminal, a progress line (sent, answered, answers/s, bytes out and
in) is kept up to date on stderr; the rate and count are printed first and a
summary at the end ("FLOOD sent=... answered=..." on stdout, then the
same in words). SIGINT or SIGTERM stops early, with the summary.

Flags:
  -connect host:port  server address (default "localhost:4433")
  -count n            ClientHellos to send; 0 means until -duration
                      (default 1000)
  -duration d         stop sending after this long; 0 means no time limit,
                      -count then decides (default 0)
  -rate n             ClientHellos per second (default 1000)
  -ports n            local UDP ports the ClientHellos come from, in turn,
                      1 to 1024 (default 64)
  -dtls1              DTLS 1.0 ClientHellos (default DTLS 1.2)
  -wait duration      after the last ClientHello, how long to wait for
                      answers (default 500ms)
  -progress auto|on|off  the live progress line: auto shows it when stderr
                      is a terminal (default auto)
  -allow-remote       allow a target that is not a loopback address
  -help               print this help

Exit status: 0 when the flood ran (answered or not), 1 on a runtime error,
2 on a usage error (a remote target without -allow-remote included).
`

func floodFlags(o *floodOpts) *flag.FlagSet {
	fs := newFlagSet("flood")
	fs.StringVar(&o.connect, "connect", "localhost:4433", "")
	fs.BoolVar(&o.dtls1, "dtls1", false, "")
	fs.IntVar(&o.count, "count", 1000, "")
	fs.DurationVar(&o.duration, "duration", 0, "")
	fs.IntVar(&o.rate, "rate", 1000, "")
	fs.IntVar(&o.ports, "ports", 64, "")
	fs.DurationVar(&o.wait, "wait", 500*time.Millisecond, "")
	fs.BoolVar(&o.allowRemote, "allow-remote", false, "")
	fs.StringVar(&o.progress, "progress", "auto", "")
	return fs
}

func parseFlood(args []string, stdout io.Writer) (*floodOpts, error) {
	o := &floodOpts{}
	if err := parseFlags(floodFlags(o), args, floodUsage, stdout); err != nil {
		return nil, err
	}
	const cmd = "flood"
	if _, err := checkAddr(cmd, "-connect", o.connect, false); err != nil {
		return nil, err
	}
	switch {
	case o.count < 0:
		return nil, usagef(cmd, "-count must not be negative, not %d", o.count)
	case o.duration < 0:
		return nil, usagef(cmd, "-duration must not be negative, not %v", o.duration)
	case o.count == 0 && o.duration == 0:
		return nil, usagef(cmd, "-count 0 needs a -duration: a flood is always bounded")
	case o.rate <= 0:
		return nil, usagef(cmd, "-rate must be positive, not %d", o.rate)
	case o.ports < 1 || o.ports > 1024:
		return nil, usagef(cmd, "-ports %d is outside 1 to 1024", o.ports)
	case o.wait < 0:
		return nil, usagef(cmd, "-wait must not be negative, not %v", o.wait)
	case o.progress != "auto" && o.progress != "on" && o.progress != "off":
		return nil, usagef(cmd, "-progress must be auto, on or off, not %q", o.progress)
	}
	if !o.allowRemote {
		host, _, _ := net.SplitHostPort(o.connect)
		if ok, why := isLoopback(host); !ok {
			return nil, usagef(cmd, "-connect %s: %s: flood is a load tool and sends only to loopback addresses unless -allow-remote is given", o.connect, why)
		}
	}
	return o, nil
}

// isLoopback reports whether every address host names is a loopback
// address, and if not, why.
func isLoopback(host string) (bool, string) {
	if ip := net.ParseIP(host); ip != nil {
		if ip.IsLoopback() {
			return true, ""
		}
		return false, host + " is not a loopback address"
	}
	ips, err := net.LookupIP(host)
	if err != nil || len(ips) == 0 {
		return false, "cannot tell whether " + host + " is a loopback address"
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return false, host + " resolves to " + ip.String() + ", not a loopback address"
		}
	}
	return true, ""
}
