# Multi-stage build and test of github.com/openssl-stateless/openssl against
# the system OpenSSL of one Debian release:
#
#   DEBIAN_SUITE=bullseye  OpenSSL 1.1.1
#   DEBIAN_SUITE=bookworm  OpenSSL 3.0
#   DEBIAN_SUITE=trixie    OpenSSL 3.5
#
# No registry is needed: the base images are made locally from Debian's
# mirror and the host's Go toolchain by scripts/docker/mkbase.sh
# (localhost/osd-base:<suite> = minbase + /usr/local/go,
#  localhost/osd-minbase:<suite> = minbase alone, for the runtime stage).
# Any image with Go in /usr/local/go works as BASE_IMAGE (e.g. golang:1.24-bookworm)
# and any Debian image as RUNTIME_IMAGE (e.g. debian:bookworm-slim).
#
#   scripts/docker-test.sh                 # test target for every suite
#   podman build --isolation chroot --target test --build-arg DEBIAN_SUITE=trixie .
#   podman build --isolation chroot -t ossl-stateless:bookworm .   # runtime image
#
# Plain Dockerfile syntax only (no BuildKit features), so that podman/buildah
# and the classic docker builder take it as well.

ARG DEBIAN_SUITE=bookworm
ARG BASE_IMAGE=localhost/osd-base:${DEBIAN_SUITE}
ARG RUNTIME_IMAGE=localhost/osd-minbase:${DEBIAN_SUITE}

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
RUN osd-apt-install ca-certificates gcc libc6-dev pkg-config libssl-dev \
        openssl gnutls-bin make git
WORKDIR /src
# Modules first, so that this layer stays cached while only the code changes.
# go.sum* : go.sum may not exist yet while the module has no dependencies.
COPY go.mod go.sum* ./
RUN go mod download
COPY . .
# Build the library, then the command-line tool when cmd/ exists: one main
# package becomes /out/bin/ossl-stateless, several keep their own names.
RUN go build ./... \
 && mkdir -p /out/bin \
 && if [ -d cmd ]; then \
        n=$(go list -f '{{if eq .Name "main"}}{{.ImportPath}}{{end}}' ./cmd/... | grep -c . || true); \
        if [ "$n" = 1 ]; then go build -trimpath -o /out/bin/ossl-stateless ./cmd/...; \
        elif [ "$n" -gt 1 ]; then go build -trimpath -o /out/bin/ ./cmd/...; fi; \
    fi \
 && ls -l /out/bin

# ----------------------------------------------------------------- test ----
# The whole suite, interop with the openssl and gnutls-cli/gnutls-serv CLIs
# over loopback included. TEST_RUN_ID (docker-test.sh passes a fresh value)
# keeps a cached layer from standing in for a real run.
FROM build AS test
ARG GO_TEST_FLAGS=-count=1
ARG TEST_RUN_ID=
RUN echo "test run ${TEST_RUN_ID}: $(. /etc/os-release && echo "$PRETTY_NAME"), $(openssl version), $(go version), $(gnutls-cli --version | head -n1)" \
 && go test ${GO_TEST_FLAGS} ./...

# -------------------------------------------------------------- runtime ----
# Small final image: the suite's libssl and openssl CLI, plus the tool when
# cmd/ exists. It is the default target, so `build .` skips the tests.
FROM ${RUNTIME_IMAGE} AS runtime
ENV DEBIAN_FRONTEND=noninteractive
COPY scripts/docker/apt-install.sh /usr/local/sbin/osd-apt-install
RUN osd-apt-install openssl ca-certificates
COPY --from=build /out/bin/ /usr/local/bin/
CMD ["/bin/bash"]
