// Package record parses and builds the framing of TLS and DTLS: record
// headers (RFC 8446 5.1, RFC 6347 4.1), handshake headers (RFC 8446 4,
// RFC 6347 4.2.2), and the hello messages whose fields the cookie exchanges
// are about: ClientHello (with the DTLS cookie field), ServerHello and
// HelloRetryRequest (RFC 8446 4.1.3, with its cookie extension 44), and
// HelloVerifyRequest (RFC 6347 4.2.1).
//
// It is the one place where this module reads attacker-controlled bytes by
// hand; OpenSSL does the real parsing, this package only looks at what it is
// handed to route, count and test datagrams.
//
// Parsing never panics and never allocates: every result holds slices of
// the input (capped, so appending to one cannot overwrite the input), and
// failures are the sentinel errors ErrTruncated and ErrMalformed (and
// ErrNotHandshake), to be tested with errors.Is. Parsers check structure
// only (every length fits what encloses it, nothing trails), not whether a
// version, type or cipher suite is one that any peer would accept.
//
// The Append functions and methods build the same structures, and
// ClientHelloDatagram crafts DTLS first flights, well formed or not, for
// tests and tools; EditDTLSClientHello changes a ClientHello a real client
// wrote (its cookie, its size) and reframes it. Builders write length fields as they are given or as the
// data is long, without checking that they fit; that is how malformed input
// is made.
//
// Nothing in this package keeps state: every function is safe for
// concurrent use.
package record
