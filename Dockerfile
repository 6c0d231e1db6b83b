# Multi-stage build and test of github.com/openssl-stateless/openssl against
# the system OpenSSL of one Debian release:
#
#   DEBIAN_SUITE=bullseye  OpenSSL 1.1.1
#   DEBIAN_SUITE=bookworm  OpenSSL 3.0
#   DEBIAN_SUITE=trixie    OpenSSL 3.5
#   DEBIAN_SUITE=sid       OpenSSL 3.6 (Debian unstable)
#   DEBIAN_SUITE=sid OPENSSL_SUITE=experimental
#                          OpenSSL 4.0: sid, with libssl-dev and openssl (and
#                          so libssl4) from Debian experimental (apt-get -t)
#
# No registry is needed: the base images are made locally from Debian's
# mirror and the host's Go toolchain by scripts/docker/mkbase.sh
# (localhost/osd-base:<suite> = minbase + /usr/local/go,
#  localhost/osd-minbase:<suite> = minbase alone, for the runtime stage).
# Any image with Go in /usr/local/go works as BASE_IMAGE (e.g. golang:1.24-bookworm)
# and any Debian image as RUNTIME_IMAGE (e.g. debian:bookworm-slim).
#
#   scripts/docker-test.sh                 # test target for every suite, then fresh
#   podman build --isolation chroot --target test --build-arg DEBIAN_SUITE=trixie .
#   podman build --isolation chroot --target test --build-arg DEBIAN_SUITE=sid \
#       --build-arg OPENSSL_SUITE=experimental .
#   podman build --isolation chroot --target fresh .   # README's two commands
#   podman build --isolation chroot -t ossl-stateless:bookworm .   # runtime image
#
# Plain Dockerfile syntax only (no BuildKit features), so that podman/buildah
# and the classic docker builder take it as well.

ARG DEBIAN_SUITE=bookworm
ARG BASE_IMAGE=localhost/osd-base:${DEBIAN_SUITE}
ARG RUNTIME_IMAGE=localhost/osd-minbase:${DEBIAN_SUITE}
# Empty, or a Debian suite from the same mirror whose libssl-dev and openssl
# replace the release's own (installed with apt-get -t, i.e. pinned for
# those packages and what they need): experimental over sid is OpenSSL 4.0.
ARG OPENSSL_SUITE=

# ---------------------------------------------------------------- build ----
FROM ${BASE_IMAGE} AS build
ENV PATH=/usr/local/go/bin:/root/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    GOTOOLCHAIN=local \
    CGO_ENABLED=1 \
    DEBIAN_FRONTEND=noninteractive
# Unset unless given (--build-arg GOPROXY=off with a pre-filled module cache
# volume builds with no network at all).
ARG GOPROXY
# apt-install.sh: update, install, clean; retries, and falls back to the
# release suite's version of a package the mirror answers 404 for.
COPY scripts/docker/apt-install.sh /usr/local/sbin/osd-apt-install
ARG OPENSSL_SUITE
RUN osd-apt-install ca-certificates gcc libc6-dev pkg-config libssl-dev \
        openssl gnutls-bin make git \
 && if [ -n "$OPENSSL_SUITE" ]; then \
        osd-apt-install --from "$OPENSSL_SUITE" libssl-dev openssl; \
    fi
WORKDIR /src
# Modules first, so that this layer stays cached while only the code changes.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Build the library, then the command-line tool, /out/bin/ossl-stateless.
# Go's build cache does not hash headers outside the package directory
# (OpenSSL's, include/shim.h): with the cache volume shared, sid's OpenSSL
# 3.6 objects would be reused against 4.0's headers (same gcc, same flags),
# or an old shim.h's. scripts/cgo-key.sh puts the libssl version and a
# checksum of include/ into CGO_CFLAGS, which Go does hash.
# -Werror=deprecated-declarations: a call this suite's OpenSSL deprecates
# (make nodeprecated checks only the host's headers) fails the build here.
RUN export CGO_CFLAGS="-O2 -g $(sh scripts/cgo-key.sh)" \
 && CGO_CFLAGS="$CGO_CFLAGS -Werror=deprecated-declarations" go build ./... \
 && mkdir -p /out/bin \
 && go build -trimpath -o /out/bin/ossl-stateless ./cmd/ossl-stateless \
 && ls -l /out/bin

# ----------------------------------------------------------------- test ----
# The whole suite, interop with the openssl and gnutls-cli/gnutls-serv CLIs
# over loopback included. TEST_RUN_ID (docker-test.sh passes a fresh value)
# keeps a cached layer from standing in for a real run.
FROM build AS test
ARG OPENSSL_SUITE
ARG GO_TEST_FLAGS=-count=1
ARG TEST_RUN_ID=
RUN export CGO_CFLAGS="-O2 -g $(sh scripts/cgo-key.sh)" \
 && echo "test run ${TEST_RUN_ID}: $(. /etc/os-release && echo "$PRETTY_NAME")${OPENSSL_SUITE:+ + $OPENSSL_SUITE's openssl}, $(openssl version), $(go version), $(gcc --version | head -n1), $(gnutls-cli --version | head -n1)" \
 && go test ${GO_TEST_FLAGS} ./...

# -------------------------------------------------------------- runtime ----
# Small final image: the suite's libssl and openssl CLI, plus the tool. It is
# the default target, so `build .` skips the tests.
FROM ${RUNTIME_IMAGE} AS runtime
ENV DEBIAN_FRONTEND=noninteractive
ARG OPENSSL_SUITE
COPY scripts/docker/apt-install.sh /usr/local/sbin/osd-apt-install
RUN osd-apt-install openssl ca-certificates \
 && if [ -n "$OPENSSL_SUITE" ]; then osd-apt-install --from "$OPENSSL_SUITE" openssl; fi
COPY --from=build /out/bin/ /usr/local/bin/
CMD ["/bin/bash"]

# ---------------------------------------------------------------- fresh ----
# README's quick start on a fresh machine: a minbase Debian with Go and
# nothing else (BASE_IMAGE: no gcc, pkg-config, libssl-dev, openssl CLI or
# gnutls-bin; not even make, the one package installed here by hand), then
# exactly `make demo` and `make test`, which install what they need
# themselves (scripts/deps.sh: apt-get, as root on Debian). Build it with
# --target fresh; scripts/docker-test.sh does (FRESH=bookworm by default).
FROM ${BASE_IMAGE} AS fresh
ENV PATH=/usr/local/go/bin:/root/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    GOTOOLCHAIN=local
ARG GOPROXY
ARG TEST_RUN_ID=
COPY scripts/docker/apt-install.sh /usr/local/sbin/osd-apt-install
RUN osd-apt-install make
WORKDIR /src
COPY . .
RUN echo "fresh run ${TEST_RUN_ID}: $(. /etc/os-release && echo "$PRETTY_NAME"), $(go version); absent:" \
        $(for c in gcc cc pkg-config openssl gnutls-cli clang; do command -v $c >/dev/null || printf '%s ' $c; done) \
        $(dpkg -s libssl-dev >/dev/null 2>&1 || echo libssl-dev) \
 && make demo \
 && make test
