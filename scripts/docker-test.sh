#!/usr/bin/env bash
# Build the Dockerfile's `test` target (go test -count=1 ./..., interop
# included) once per Debian suite, i.e. once per OpenSSL version:
#   bullseye = 1.1.1, bookworm = 3.0, trixie = 3.5, sid = 3.6,
#   experimental = 4.0 (a sid image with libssl-dev and openssl, hence
#   libssl4, from Debian experimental: apt-get -t experimental),
# then the `fresh` target: README's `make demo` and `make test` on a minbase
# Debian with Go and make only, which must install the rest themselves.
# Prints one PASS/FAIL line per suite; exits non-zero if any failed.
#
# Environment:
#   SUITES="bullseye bookworm trixie sid experimental"   in this order
#   FRESH=bookworm          suite(s) for the fresh target; FRESH=0 or empty skips
#   ENGINE=podman|docker    default: docker if `docker info` works, else podman
#   CACHE_DIR=/var/cache/osd-docker     base-image tarballs and Go caches
#   GO_MOD_CACHE=$CACHE_DIR/go/mod      podman: volume at /root/go/pkg/mod
#   GO_BUILD_CACHE=$CACHE_DIR/go/build  podman: volume at /root/.cache/go-build
#   GO_TEST_FLAGS="-count=1 -timeout 5m"  flags for go test inside the image
#   GOPROXY                             passed on as a build arg when set
#   LOG_DIR=${TMPDIR:-/tmp}/osd-docker-test   one build log per suite
#   PODMAN_FLAGS                        extra global podman flags, e.g.
#                                       "--storage-driver vfs" if overlay fails
# Base images (localhost/osd-base:<suite>) are made by scripts/docker/mkbase.sh
# when missing; that needs root and Debian's mirror, nothing else.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 2
ROOT=$(pwd)
SUITES=${SUITES:-bullseye bookworm trixie sid experimental}
FRESH=${FRESH-bookworm}
case $FRESH in 0 | no | false) FRESH= ;; 1 | yes | true) FRESH=bookworm ;; esac
CACHE_DIR=${CACHE_DIR:-/var/cache/osd-docker}
GO_MOD_CACHE=${GO_MOD_CACHE:-$CACHE_DIR/go/mod}
GO_BUILD_CACHE=${GO_BUILD_CACHE:-$CACHE_DIR/go/build}
# -timeout: a hung test costs 5 minutes per suite, not go test's default 10
# per package (CI has 90 minutes for everything).
GO_TEST_FLAGS=${GO_TEST_FLAGS:--count=1 -timeout 5m}
LOG_DIR=${LOG_DIR:-${TMPDIR:-/tmp}/osd-docker-test}
export CACHE_DIR

if [ -z "${ENGINE:-}" ]; then
	if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
		ENGINE=docker
	elif command -v podman >/dev/null 2>&1; then
		ENGINE=podman
	else
		echo "docker-test: no working docker and no podman" >&2
		exit 2
	fi
fi
export ENGINE

BUILD=()
case $ENGINE in
podman)
	# --isolation chroot: the default OCI isolation cannot start a container
	# on hosts like these (crun: "cgroups in hybrid mode not supported").
	# The volumes share Go's module and build caches across suites and runs;
	# they are mounted for RUN steps only and never end up in a layer.
	mkdir -p "$GO_MOD_CACHE" "$GO_BUILD_CACHE"
	# shellcheck disable=SC2206
	BUILD=(podman ${PODMAN_FLAGS:-} build --isolation chroot
		--volume "$GO_MOD_CACHE:/root/go/pkg/mod"
		--volume "$GO_BUILD_CACHE:/root/.cache/go-build")
	;;
docker)
	# Best effort: no volumes in `docker build`; modules are cached by the
	# `go mod download` layer, the Go build cache is not shared.
	BUILD=(docker build)
	if docker buildx version >/dev/null 2>&1; then
		BUILD+=(--progress=plain)
	fi
	;;
*)
	echo "docker-test: ENGINE must be podman or docker" >&2
	exit 2
	;;
esac
[ -n "${GOPROXY:-}" ] && BUILD+=(--build-arg "GOPROXY=$GOPROXY")

mkdir -p "$LOG_DIR"
run_id=$(date +%Y%m%dT%H%M%S)-$$
failed=()
results=()
t_all=$SECONDS

# run_one LABEL TARGET DEBIAN_SUITE [OPENSSL_SUITE]: one image build, one
# PASS/FAIL line.
run_one() {
	local label=$1 target=$2 base=$3 ossl=${4:-} log=$LOG_DIR/$1.log t0 t1 status ver line
	t0=$SECONDS
	echo "docker-test: $label: base image ($base)" >&2
	if ! bash "$ROOT/scripts/docker/mkbase.sh" "$base" >"$log" 2>&1; then
		cat "$log" >&2
		results+=("FAIL $label (base image; log $log)")
		failed+=("$label")
		return
	fi
	t1=$SECONDS
	echo "docker-test: $label: build --target $target (log $log)" >&2
	if "${BUILD[@]}" --target "$target" \
		--build-arg "DEBIAN_SUITE=$base" \
		--build-arg "OPENSSL_SUITE=$ossl" \
		--build-arg "GO_TEST_FLAGS=$GO_TEST_FLAGS" \
		--build-arg "TEST_RUN_ID=$run_id" \
		-t "localhost/ossl-stateless-$target:$label" \
		-f "$ROOT/Dockerfile" "$ROOT" >>"$log" 2>&1; then
		status=PASS
	else
		status=FAIL
		failed+=("$label")
		echo "---- $label: last 60 lines of $log ----" >&2
		tail -n 60 "$log" >&2
		echo "----" >&2
	fi
	if [ "$target" = test ]; then
		ver=$(grep -m1 "^test run $run_id:" "$log" | grep -o "OpenSSL [0-9][^ ,]*" | head -n1)
		ver=${ver:-OpenSSL ?}
	else
		ver="make demo, make test"
	fi
	line="$status $label ($ver) base $((t1 - t0))s, build+test $((SECONDS - t1))s"
	results+=("$line")
	echo "$line"
}

for suite in $SUITES; do
	case $suite in
	# OpenSSL 4.0: Debian has it in experimental only, which is not a
	# release: it is always used over sid, for the packages asked for.
	experimental) run_one "$suite" test sid experimental ;;
	*) run_one "$suite" test "$suite" ;;
	esac
done
for suite in $FRESH; do
	run_one "fresh-$suite" fresh "$suite"
done

echo "docker-test: ${#results[@]} suite(s) in $((SECONDS - t_all))s; logs in $LOG_DIR" >&2
for r in "${results[@]}"; do echo "docker-test: $r" >&2; done
if [ ${#failed[@]} -gt 0 ]; then
	echo "docker-test: FAILED: ${failed[*]}" >&2
	exit 1
fi
