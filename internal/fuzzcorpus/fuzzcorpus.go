// Package fuzzcorpus reads and writes seed files in Go's fuzzing corpus
// format ("go test fuzz v1", then one value per line) for the fuzz targets
// whose input is one []byte, so that every package seeds its targets from
// the same captured data in the same way.
package fuzzcorpus

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const header = "go test fuzz v1\n"

// Bytes returns the corpus file of a single []byte input.
func Bytes(in []byte) []byte {
	return []byte(header + "[]byte(" + strconv.Quote(string(in)) + ")\n")
}

// Read returns the inputs of a directory of one-[]byte corpus files, by
// file name. It fails the test on a directory that is empty or missing,
// or on a file of another shape.
func Read(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("%s: no corpus files", dir)
	}
	seeds := make(map[string][]byte, len(files))
	for _, path := range files {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		lit, ok := strings.CutPrefix(string(b), header+"[]byte(")
		lit, ok2 := strings.CutSuffix(lit, ")\n")
		if !ok || !ok2 {
			t.Fatalf("%s: not a corpus file of one []byte", path)
		}
		in, err := strconv.Unquote(lit)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		seeds[filepath.Base(path)] = []byte(in)
	}
	return seeds
}
