// Package harness holds what the side-by-side benchmarks share: the one
// PKI every stack loads, the forged ClientHellos, the echo servers and
// clients of each implementation (ours, pion/dtls, bare UDP), a relay that
// reads the negotiated parameters off the wire, and the in-memory
// microbenchmarks of the root package, written against its public API only
// so that internal changes show up without edits here.
package harness

import "fmt"

// errorf is fmt.Errorf with "harness: " in front (see benchtable's).
func errorf(format string, a ...any) error { return fmt.Errorf(errPrefix+format, a...) }

const errPrefix = "harness: "
