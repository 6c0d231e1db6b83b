# Targets: demo, build, test, race, test-gc, checkptr, cgocheck, lint, leaks,
# bench, fuzz, docker-test, deps, clean.
#
# demo, build, test and the other Go targets first run scripts/deps.sh, which
# checks for what they need besides Go and make (gcc, pkg-config, libssl-dev,
# the openssl CLI; gnutls-bin for the tests; clang for leaks): it installs
# what is missing with apt-get when run as root on Debian or Ubuntu, and
# otherwise names the command to run. SKIP_DEPS=1 skips the check.
GO ?= go
PKGS ?= ./...
TESTFLAGS ?= -count=1 -shuffle=on
DEPS = GO=$(GO) bash scripts/deps.sh

# Go's build cache keys a cgo package on its own directory's files and on
# CGO_CFLAGS, not on the headers it includes from elsewhere: an edit of
# include/shim.h alone, or an upgrade of OpenSSL's headers, would reuse stale
# objects. scripts/cgo-key.sh adds the libssl version and a checksum of
# include/*.h to CGO_CFLAGS as an unused macro.
CGO_KEY := $(shell sh scripts/cgo-key.sh)
CGO_CFLAGS ?= -O2 -g
export CGO_CFLAGS := $(CGO_CFLAGS) $(CGO_KEY)

.PHONY: demo build test race test-gc checkptr cgocheck nodeprecated lint leaks bench fuzz soak docker-test deps clean

# Builds cmd/ossl-stateless and runs it end to end on 127.0.0.1: a DTLS echo
# server, a client through the cookie exchange, SIGINT, the server's stats.
demo:
	@$(DEPS) demo
	GO=$(GO) bash cmd/ossl-stateless/demo.sh

build:
	@$(DEPS) build
	$(GO) build $(PKGS)

# The test command README.md gives and .ci/run calls: the whole suite in a
# random order, interop with the openssl and GnuTLS CLIs included.
test:
	@$(DEPS) test
	$(GO) test $(TESTFLAGS) $(PKGS)

race:
	@$(DEPS) test
	$(GO) test -race $(TESTFLAGS) $(PKGS)

# The suite three times in one process per package: repeated runs let the
# garbage collector reach the runtime.AddCleanup paths (C objects freed by
# the safety net rather than by Close) and show order-dependent state.
test-gc:
	@$(DEPS) test
	$(GO) test -count=3 -shuffle=on $(PKGS)

# The runtime's pointer checks on every unsafe.Pointer conversion, in every
# package including the standard library's (-race turns them on too, but not
# in the rest of the build).
checkptr:
	@$(DEPS) test
	$(GO) test -gcflags=all=-d=checkptr $(TESTFLAGS) $(PKGS)

# cgo's full pointer-passing checks: every store of a Go pointer into C
# memory is checked (a runtime built with GOEXPERIMENT=cgocheck2, hence its
# own build cache entries; the first run rebuilds the standard library).
cgocheck:
	@$(DEPS) test
	GOEXPERIMENT=cgocheck2 $(GO) test $(TESTFLAGS) $(PKGS)

# A build with OpenSSL's deprecated API hidden, so that no deprecated call
# creeps in (docs/OPENSSL4.md: 4.0 removed many). 3.x headers only: 1.1.1
# does not know API level 30000. A call the headers no longer declare is
# then an error, not C89's implicit declaration.
nodeprecated:
	@$(DEPS) test
	CGO_CFLAGS="-O2 -DOPENSSL_API_COMPAT=30000 -DOPENSSL_NO_DEPRECATED -Werror=implicit-function-declaration $(CGO_KEY)" $(GO) build $(PKGS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	bash scripts/lint.sh

# AddressSanitizer over Go and C (LeakSanitizer included): any leak of an
# OpenSSL object fails the run. Needs clang's runtime (libclang-rt-14-dev).
leaks:
	@$(DEPS) leaks
	CC=clang CGO_CFLAGS="-O1 -g -fsanitize=address -fno-omit-frame-pointer $(CGO_KEY)" \
	CGO_LDFLAGS="-fsanitize=address" ASAN_OPTIONS=detect_leaks=1 \
	$(GO) test -asan -count=1 $(PKGS)

# One table: ours against C over the same OpenSSL (bench/c), pion/dtls and
# a bare Go UDP echo, every pair interleaved over several rounds, each server
# in its own process (bench/run.sh; method and last results in
# docs/BENCHMARKS.md). About 6 minutes; BENCH_QUICK=1 for about one,
# ROUNDS=n for n rounds. Output in bench/out/ (ignored by git). The module's
# own benchmarks: go test -run '^$$' -bench . -benchmem ./...
bench:
	@$(DEPS) test
	GO=$(GO) bash bench/run.sh

# Every fuzz target of every package (as go test -list finds them), one
# after another, for FUZZTIME each. An input that fails is written by Go to
# testdata/fuzz/<target>/ in its package, and from then on runs as a seed
# in every go test: commit it with the fix, as a regression test.
# FUZZMINIMIZETIME bounds the minimizing of each new input (Go's default is
# 60s): dtls's FuzzListener sees coverage that depends on timing, and with
# the default spent most of a minute minimizing (8,000 inputs run instead of
# 470,000). Go before 1.27 may fail a target with a bare "context deadline
# exceeded" when FUZZTIME runs out (golang/go#75804): with no failing input
# written, that is reported and the next target runs.
FUZZTIME ?= 60s
FUZZMINIMIZETIME ?= 5s
fuzz:
	@$(DEPS) test
	@set -e; log=$$(mktemp); trap 'rm -f "$$log" "$$log.rc"' EXIT; \
	pkgs=$$($(GO) list $(PKGS)); for pkg in $$pkgs; do \
		list=$$($(GO) test -list '^Fuzz' $$pkg); \
		for target in $$(echo "$$list" | grep '^Fuzz' || true); do \
			echo "$(GO) test -run '^$$' -fuzz '^$$target\$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) $$pkg"; \
			{ $(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) $$pkg 2>&1 && echo 0 >"$$log.rc" || echo $$? >"$$log.rc"; } | tee "$$log"; \
			rc=$$(cat "$$log.rc"); \
			if [ "$$rc" != 0 ]; then \
				if grep -q '^    context deadline exceeded$$' "$$log" && ! grep -q 'Failing input written' "$$log"; then \
					echo "$$target: stopped by Go's fuzztime race (golang/go#75804), no failing input"; \
				else exit "$$rc"; fi; \
			fi; \
		done; \
	done

# 20,000 handshakes (SOAK_HANDSHAKES to change), then heap, goroutines,
# descriptors and resident memory back to their baseline (dtls/soak_test.go).
soak:
	@$(DEPS) test
	$(GO) test -tags soak -run '^TestSoak$$' -count=1 -v -timeout 20m ./dtls

# The OpenSSL version matrix (1.1.1, 3.0, 3.5, 3.6, 4.0) and the fresh-machine
# check, in containers: see scripts/docker-test.sh.
docker-test:
	bash scripts/docker-test.sh

# What every target needs, for all of them at once.
deps:
	@$(DEPS) leaks

clean:
	$(GO) clean -testcache
