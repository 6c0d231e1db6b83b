// Command benchtable is what make bench runs: it plays every role of the
// comparison in processes of its own and prints one table.
//
// Without a role it is the driver: it writes the PKI and the forged
// ClientHellos, then for several rounds runs each pair of measurements
// back to back (the order flipped every round), each server in a process
// of its own whose CPU time (getrusage) and resident memory it asks for,
// each client in another, the C programs of bench/c, and prints, per row,
// the medians, the per-round ratio with its range, and the goal.
//
// Roles (re-executions of this binary): server, client, micro, prep.
//
//	benchtable [-rounds 5] [-quick] [-out DIR] [-cbin DIR]
package main

import (
	"fmt"
	"os"
)

func main() {
	var err error
	role := ""
	if len(os.Args) > 1 && os.Args[1] != "" && os.Args[1][0] != '-' {
		role = os.Args[1]
	}
	switch role {
	case "":
		err = drive(os.Args[1:])
	case "server":
		err = serve(os.Args[2:])
	case "client":
		err = client(os.Args[2:])
	case "micro":
		err = micro(os.Args[2:])
	case "prep":
		err = prep(os.Args[2:])
	default:
		err = errorf("unknown role %q", role)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// errorf is fmt.Errorf with the command's name in front. The project's
// lint wants library errors to start with "openssl:" or "dtls:"; this is a
// command, whose errors name it instead.
func errorf(format string, a ...any) error { return fmt.Errorf(errPrefix+format, a...) }

const errPrefix = "benchtable: "
