# Targets: demo, build, test, race, lint, leaks, bench, docker-test.
GO ?= go
PKGS ?= ./...
TESTFLAGS ?= -count=1 -shuffle=on

.PHONY: demo build test race lint leaks bench docker-test clean

# Builds cmd/ossl-stateless and runs it end to end on 127.0.0.1: a DTLS echo
# server, a client through the cookie exchange, SIGINT, the server's stats.
demo:
	GO=$(GO) bash cmd/ossl-stateless/demo.sh

build:
	$(GO) build $(PKGS)

# The test command README.md gives and .ci/run calls.
test:
	$(GO) test $(TESTFLAGS) $(PKGS)

race:
	$(GO) test -race $(TESTFLAGS) $(PKGS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	bash scripts/lint.sh

# AddressSanitizer over Go and C (LeakSanitizer included): any leak of an
# OpenSSL object fails the run. Needs clang's runtime (libclang-rt-14-dev).
leaks:
	CC=clang CGO_CFLAGS="-O1 -g -fsanitize=address -fno-omit-frame-pointer" \
	CGO_LDFLAGS="-fsanitize=address" ASAN_OPTIONS=detect_leaks=1 \
	$(GO) test -asan -count=1 $(PKGS)

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count=6 $(PKGS)

docker-test:
	bash scripts/docker-test.sh

clean:
	$(GO) clean -testcache
