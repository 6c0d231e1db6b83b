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
	verify            bool
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
}

type clientOpts struct {
	common
	connect    string
	servername string
	insecure   bool
	wait       time.Duration
	stateless  bool // refused: the server decides
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
  -verify             require a client certificate that verifies against
                      -CAfile (needs -CAfile)
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
  -quiet              log failures only
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
  -verify             verify the server's certificate: the default, spelled
                      out; conflicts with -insecure
  -insecure           accept any server certificate (no verification)
  -cert file          client certificate and chain (PEM), for servers that ask
  -key file           its private key (default: read from the -cert file)
  -mtu bytes          largest datagram written, %d to %d (default 1200; DTLS only)
  -dtls1_2            DTLS 1.2 only. The default offers DTLS 1.0 too, but a
                      1.0 handshake completes only on OpenSSL 1.1.1: OpenSSL
                      3 refuses 1.0's MD5+SHA1 signatures at its default
                      security level (no suitable signature algorithm)
  -tls1_3             TLS 1.3 over TCP instead of DTLS over UDP
  -timeout duration   handshake timeout (default 10s)
  -wait duration      at the end of stdin, how long to wait for another reply
                      (default 1s)
  -quiet              print only the replies: no information on stderr
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
	fs.BoolVar(&c.verify, "verify", false, "")
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
	return fs
}

// parseFlags parses args, printing help on -help.
func parseFlags(fs *flag.FlagSet, args []string, help string, stdout io.Writer) error {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(stdout, help, minMTU, maxMTU)
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
	return nil
}

func parseServer(args []string, stdout io.Writer) (*serverOpts, error) {
	o := &serverOpts{}
	if err := parseFlags(serverFlags(o), args, serverUsage, stdout); err != nil {
		return nil, err
	}
	const cmd = "server"
	if err := o.check(cmd); err != nil {
		return nil, err
	}
	if o.verify && o.caFile == "" {
		return nil, usagef(cmd, "-verify needs -CAfile: the CA that client certificates must chain to")
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
	return o, nil
}

func parseClient(args []string, stdout io.Writer) (*clientOpts, error) {
	o := &clientOpts{}
	if err := parseFlags(clientFlags(o), args, clientUsage, stdout); err != nil {
		return nil, err
	}
	const cmd = "client"
	if o.stateless {
		return nil, usagef(cmd, "-stateless is a server flag: the server decides whether to ask for a cookie, and the client answers either way")
	}
	if err := o.check(cmd); err != nil {
		return nil, err
	}
	if o.insecure && (o.verify || o.caFile != "") {
		return nil, usagef(cmd, "-insecure skips verification: it excludes -verify and -CAfile")
	}
	if _, err := checkAddr(cmd, "-connect", o.connect, false); err != nil {
		return nil, err
	}
	if o.wait <= 0 {
		return nil, usagef(cmd, "-wait must be positive, not %v", o.wait)
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
