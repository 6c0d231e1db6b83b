package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// Bounds of a -cookie-secret file. 32 bytes is as much as the random
// secret a server makes for itself without the flag (and HMAC-SHA256's
// output): sharing a secret must not make it weaker. The upper bound catches a wrong path
// (a device such as /dev/urandom would otherwise be read forever, a log
// file would be taken as a key) rather than limiting anyone.
const (
	minCookieSecret = 32
	maxCookieSecret = 4096
)

// loadCookieSecret reads -cookie-secret: the file's bytes, all of them and
// as they are, are the secret. No decoding (hex, base64, a trailing
// newline stripped) is applied, so that every instance given a copy of the
// same file derives the same keys whatever wrote it.
func loadCookieSecret(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, secretFileError(path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxCookieSecret+1))
	if err != nil {
		return nil, secretFileError(path, err)
	}
	switch {
	case len(b) > maxCookieSecret:
		return nil, fmt.Errorf("-cookie-secret %s: more than %d bytes: not a secret file (want %d to %d bytes, e.g. from head -c 32 /dev/urandom)",
			path, maxCookieSecret, minCookieSecret, maxCookieSecret)
	case len(b) < minCookieSecret:
		return nil, fmt.Errorf("-cookie-secret %s: %d bytes, too short: a secret needs at least %d (e.g. head -c 32 /dev/urandom > %s)",
			path, len(b), minCookieSecret, path)
	}
	return b, nil
}

// secretFileError names the flag and the file and keeps the cause short,
// as readFlagFile does.
func secretFileError(path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("-cookie-secret %s: %w", path, err)
}
