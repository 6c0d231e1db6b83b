// Command ossl-stateless is a DTLS (and TLS 1.3) server and client in the
// spirit of `openssl s_server` and `openssl s_client`, built on this
// module's OpenSSL binding: the server answers every new client with a
// stateless cookie exchange (DTLSv1_listen(3) for DTLS, SSL_stateless(3)
// for TLS 1.3 with -stateless) before it keeps anything for it. Its probe
// and flood commands audit any DTLS server for the same property: does it
// keep state, or amplify, for a client that has not proved its address?
//
//	ossl-stateless server [-accept host:port] [-cert f -key f] [-mode echo|forward -backend host:port] ...
//	ossl-stateless client [-connect host:port] [-CAfile f | -insecure] ...
//	ossl-stateless probe [-connect host:port] [-json] [-tls1_3] ...
//	ossl-stateless flood [-connect host:port] [-count n] [-rate n] [-ports n] ...
//
// Run `ossl-stateless <command> -help` for each command's flags. Errors are one line on stderr starting with "ossl-stateless:";
// the exit status is 0 on success, 1 for a runtime failure (files, network,
// handshake) and 2 for a usage error.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

const prog = "ossl-stateless"

// Exit statuses.
const (
	exitOK      = 0
	exitRuntime = 1
	exitUsage   = 2
)

const topUsage = `Usage: ossl-stateless <command> [flags]

A DTLS server and client on OpenSSL, with a stateless cookie exchange, and
tools to audit other servers' cookie exchanges.

Commands:
  server   serve DTLS on one UDP port (or, with -tls1_3, TLS 1.3 over TCP),
           echoing or forwarding to a plain UDP backend
  client   connect, send stdin line by line, print what comes back
  probe    ask a DTLS (or TLS 1.3) server whether it keeps state or
           amplifies for a client that has not proved its address: its
           answer to a first ClientHello, the amplification factor, and
           what its cookie is bound to and how long it lives
  flood    send many first ClientHellos from many local ports at a set
           rate and count the answers (a load tool: loopback only unless
           -allow-remote)

Run 'ossl-stateless <command> -help' for a command's flags.

Exit status: 0 on success, 1 on a runtime error (files, network,
handshake), 2 on a usage error.
`

// usageError is a mistake on the command line: exit status 2.
type usageError struct {
	cmd string // "server", "client" or "" for the top level
	msg string
}

func (e *usageError) Error() string {
	if e.cmd == "" {
		return e.msg + " (see '" + prog + " -help')"
	}
	return e.cmd + ": " + e.msg + " (see '" + prog + " " + e.cmd + " -help')"
}

func usagef(cmd, format string, args ...any) error {
	return &usageError{cmd: cmd, msg: fmt.Sprintf(format, args...)}
}

// errHelp reports that help was printed: exit status 0.
var errHelp = errors.New("help printed")

func main() {
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, sig))
}

// run runs the command line args and returns the exit status. Signals
// arrive on sig.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer, sig <-chan os.Signal) (code int) {
	defer func() {
		// Never a stack trace: a bug is reported in one line.
		if v := recover(); v != nil {
			fmt.Fprintf(stderr, "%s: internal error: %v\n", prog, v)
			code = exitRuntime
		}
	}()
	err := dispatch(args, stdin, stdout, stderr, sig)
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, errHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "%s: %s\n", prog, oneLine(err.Error()))
		return exitUsage
	default:
		fmt.Fprintf(stderr, "%s: %s\n", prog, oneLine(err.Error()))
		return exitRuntime
	}
}

func dispatch(args []string, stdin io.Reader, stdout, stderr io.Writer, sig <-chan os.Signal) error {
	if len(args) == 0 {
		return usagef("", "no command given: want 'server', 'client', 'probe' or 'flood'")
	}
	switch args[0] {
	case "server":
		o, err := parseServer(args[1:], stdout)
		if err != nil {
			return err
		}
		return runServer(o, stdout, stderr, sig)
	case "client":
		o, err := parseClient(args[1:], stdout)
		if err != nil {
			return err
		}
		return runClient(o, stdin, stdout, stderr, sig)
	case "probe":
		o, err := parseProbe(args[1:], stdout)
		if err != nil {
			return err
		}
		return runProbe(o, stdout, sig)
	case "flood":
		o, err := parseFlood(args[1:], stdout)
		if err != nil {
			return err
		}
		return runFlood(o, stdout, stderr, sig)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, topUsage)
		return errHelp
	}
	return usagef("", "unknown command %q: want 'server', 'client', 'probe' or 'flood'", args[0])
}

// oneLine joins the lines of a message, so that every error is one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}
