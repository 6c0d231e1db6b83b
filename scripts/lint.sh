#!/usr/bin/env bash
# The project's own lint, beyond gofmt and go vet: rules from STYLE.md that a
# machine can check.
set -euo pipefail
cd "$(dirname "$0")/.."
fail=0

# Only the root package may import "C".
bad=$(git ls-files -z '*.go' | grep -z '/' | grep -zv '^internal/' | xargs -0 -r grep -l '^import "C"' || true)
if [ -n "$bad" ]; then echo "lint: import \"C\" outside the root package: $bad"; fail=1; fi

# cgo preambles include only shim.h (and libc headers needed for C.free).
while IFS= read -r f; do
  f=${f#./}
  inc=$(awk '/^\/\*/{p=1} p&&/#include/{print} /^\*\//{p=0}' "$f" | grep -v -E '"shim.h"|<stdlib.h>|<stddef.h>|<stdint.h>' || true)
  if [ -n "$inc" ]; then echo "lint: $f includes more than shim.h: $inc"; fail=1; fi
done < <(grep -l '^import "C"' -- ./*.go)

# Errors built with errors.New(fmt.Sprintf(...)) should be fmt.Errorf.
if git grep -n 'errors.New(fmt.Sprintf' -- '*.go' >/dev/null; then
  git grep -n 'errors.New(fmt.Sprintf' -- '*.go'; fail=1
fi

# Error strings start with the package prefix.
if git grep -nE '(errors\.New|fmt\.Errorf)\("[^"o%d]' -- '*.go' ':!*_test.go' ':!internal/' ':!cmd/' | grep -v '"openssl:' | grep -v '"dtls:'; then
  echo "lint: error messages must start with openssl: or dtls:"; fail=1
fi

# Every exported identifier of the root package has a doc comment.
missing=$(for f in $(git ls-files '*.go' | grep -v _test.go | grep -v '/'); do
  awk 'prev !~ /^\/\// && /^func (\(([a-z][A-Za-z0-9]* )?\*?[A-Z][^)]*\) )?[A-Z]/ {print FILENAME": "$0} {prev=$0}' "$f"
done)
if [ -n "$missing" ]; then echo "lint: exported functions without doc comments:"; echo "$missing"; fail=1; fi

# Shell scripts: shellcheck, where it is installed (.ci/run installs it).
if command -v shellcheck >/dev/null 2>&1; then
  git ls-files -z '*.sh' .ci/run | xargs -0 -r shellcheck || fail=1
fi

exit $fail
