#!/usr/bin/env bash
# Make the air-gapped base images for the Dockerfile, with no registry:
#
#   localhost/osd-minbase:<suite>  debootstrap --variant=minbase rootfs
#                                  (apt sources: <suite>, -updates, -security)
#   localhost/osd-base:<suite>     the same plus this host's Go toolchain in
#                                  /usr/local/go (one extra layer on top)
#
# Usage: scripts/docker/mkbase.sh <suite> [<suite>...]   e.g. bookworm
#
# Environment:
#   ENGINE=podman|docker   default: docker if `docker info` works, else podman
#   CACHE_DIR              default /var/cache/osd-docker (rootfs tarballs, debs)
#   MIRROR                 default: the Debian mirror in /etc/apt/sources.list*
#   SECURITY_MIRROR        default: the debian-security mirror found there
#   GOROOT_SRC             default: `go env GOROOT` (the toolchain to copy)
#   FORCE=1                redo the images (FORCE=2 also redo debootstrap)
#   PODMAN_FLAGS           extra global podman flags, e.g. "--storage-driver vfs"
#   HOST_CA_DIR            default /usr/local/share/ca-certificates: *.crt there
#                          are trusted in osd-base too (empty: none)
#
# Idempotent: an existing osd-base image whose label osd.go matches the host's
# Go version is kept; the debootstrapped rootfs is cached as
# $CACHE_DIR/rootfs-<suite>.tar.gz so a rerun needs no network.
set -euo pipefail

die() { echo "mkbase: $*" >&2; exit 1; }
log() { echo "mkbase: $*" >&2; }

[ $# -ge 1 ] || die "usage: $0 <suite> [<suite>...]"

CACHE_DIR=${CACHE_DIR:-/var/cache/osd-docker}

# --- container engine ------------------------------------------------------
if [ -z "${ENGINE:-}" ]; then
	if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
		ENGINE=docker
	elif command -v podman >/dev/null 2>&1; then
		ENGINE=podman
	else
		die "neither a working docker nor podman found"
	fi
fi
# shellcheck disable=SC2206
case $ENGINE in
podman) ENG=(podman ${PODMAN_FLAGS:-}); BUILD_EXTRA=(--isolation chroot) ;;
docker) ENG=(docker); BUILD_EXTRA=() ;;
*) die "ENGINE must be podman or docker, not $ENGINE" ;;
esac

# --- mirror: the one this machine's apt really uses ------------------------
apt_uris() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		case $f in
		*.sources) sed -n 's/^[[:space:]]*URIs:[[:space:]]*//p' "$f" | tr ' ' '\n' ;;
		*) sed -n 's/^[[:space:]]*deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]\+\).*/\2/p' "$f" ;;
		esac
	done
}
if [ -z "${MIRROR:-}" ]; then
	MIRROR=$(apt_uris | grep -E '^https?://.*/debian/?$' | head -n1 || true)
	MIRROR=${MIRROR:-http://deb.debian.org/debian}
fi
MIRROR=${MIRROR%/}
if [ -z "${SECURITY_MIRROR:-}" ]; then
	SECURITY_MIRROR=$(apt_uris | grep -E '^https?://.*/debian-security/?$' | head -n1 || true)
	SECURITY_MIRROR=${SECURITY_MIRROR:-${MIRROR%/debian}/debian-security}
fi
SECURITY_MIRROR=${SECURITY_MIRROR%/}

# --- Go toolchain ------------------------------------------------------------
if [ -z "${GOROOT_SRC:-}" ]; then
	if command -v go >/dev/null 2>&1; then
		GOROOT_SRC=$(go env GOROOT)
	else
		GOROOT_SRC=/usr/local/go
	fi
fi
[ -x "$GOROOT_SRC/bin/go" ] || die "no Go toolchain at $GOROOT_SRC (set GOROOT_SRC)"
GOVERSION=$("$GOROOT_SRC/bin/go" env GOVERSION)

# Local CA certificates of this host (an egress TLS proxy's or a company CA):
# without them `go mod download` inside the build fails with "x509:
# certificate signed by unknown authority" where this host needs them. They
# go to /usr/local/share/ca-certificates/ in osd-base, where the build
# stage's ca-certificates package picks them up. HOST_CA_DIR= (empty) skips.
HOST_CA_DIR=${HOST_CA_DIR-/usr/local/share/ca-certificates}
CA_FILES=()
if [ -n "$HOST_CA_DIR" ] && [ -d "$HOST_CA_DIR" ]; then
	while IFS= read -r -d '' f; do CA_FILES+=("$f"); done < <(find -L "$HOST_CA_DIR" -maxdepth 1 -type f -name '*.crt' -print0 | sort -z)
fi
CA_SUM=none
[ ${#CA_FILES[@]} -eq 0 ] || CA_SUM=$(cat "${CA_FILES[@]}" | sha256sum | cut -c1-16)

image_exists() { "${ENG[@]}" image inspect "$1" >/dev/null 2>&1; }
image_label() { "${ENG[@]}" image inspect --format "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true; }

mkdir -p "$CACHE_DIR/debs"

make_suite() {
	local suite=$1
	local minbase=localhost/osd-minbase:$suite base=localhost/osd-base:$suite
	local tarball=$CACHE_DIR/rootfs-$suite.tar.gz

	if [ "${FORCE:-0}" = 0 ] && image_exists "$base" && image_exists "$minbase" &&
		[ "$(image_label "$base" osd.go)" = "$GOVERSION" ] &&
		[ "$(image_label "$base" osd.ca)" = "$CA_SUM" ]; then
		log "$base exists with $GOVERSION: nothing to do"
		return 0
	fi

	[ "$(id -u)" = 0 ] || die "making $base needs root (debootstrap, image import)"
	command -v debootstrap >/dev/null 2>&1 || die "debootstrap is not installed (apt-get install debootstrap)"
	[ -e "/usr/share/debootstrap/scripts/$suite" ] ||
		die "debootstrap has no script for '$suite'; as root: ln -s sid /usr/share/debootstrap/scripts/$suite"

	# 1. the rootfs tarball (cached)
	if [ "${FORCE:-0}" = 2 ] || [ ! -s "$tarball" ]; then
		local dir
		dir=$(mktemp -d "$CACHE_DIR/rootfs-$suite.XXXXXX")
		log "debootstrap --variant=minbase $suite from $MIRROR"
		# --cache-dir keeps the .debs so a FORCE=2 rerun downloads nothing new.
		debootstrap --variant=minbase --cache-dir="$CACHE_DIR/debs" \
			"$suite" "$dir" "$MIRROR" >"$CACHE_DIR/debootstrap-$suite.log" 2>&1 ||
			{ tail -n 30 "$CACHE_DIR/debootstrap-$suite.log" >&2; rm -rf "$dir"; die "debootstrap $suite failed (log: $CACHE_DIR/debootstrap-$suite.log)"; }
		# apt sources for later `apt-get install` inside builds: release,
		# point updates and security, all from this machine's mirror;
		# sid (unstable) has neither: its own suite is all there is.
		case $suite in
		sid | unstable)
			echo "deb $MIRROR $suite main" >"$dir/etc/apt/sources.list"
			;;
		*)
			cat >"$dir/etc/apt/sources.list" <<SRC
deb $MIRROR $suite main
deb $MIRROR $suite-updates main
deb $SECURITY_MIRROR $suite-security main
SRC
			;;
		esac
		# no recommends, no docs: keep the images small
		cat >"$dir/etc/apt/apt.conf.d/90osd" <<'CONF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
CONF
		# The host's apt relaxes its checks of Release dates where this
		# mirror needs it (a frozen snapshot: sid's Release is valid for a
		# week only, and "expired" stops every apt-get update); so do
		# the images, with the same mirror.
		apt-config dump 2>/dev/null | grep -E '^Acquire::Check-(Valid-Until|Date) "(false|0)";$' \
			>>"$dir/etc/apt/apt.conf.d/90osd" || true
		rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/archives/*.deb \
			"$dir"/var/log/*.log "$dir"/var/log/apt/* "$dir"/tmp/* 2>/dev/null || true
		: >"$dir/etc/resolv.conf" 2>/dev/null || true
		tar --numeric-owner -C "$dir" -czf "$tarball.tmp" .
		mv "$tarball.tmp" "$tarball"
		rm -rf "$dir"
		log "cached $tarball ($(du -h "$tarball" | cut -f1))"
	else
		log "using cached $tarball"
	fi

	# 2. minbase image: the rootfs alone (runtime stage)
	log "importing $minbase"
	local out
	out=$("${ENG[@]}" import \
		--change 'ENV PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		--change 'CMD ["/bin/bash"]' \
		--change "LABEL osd.suite=$suite" \
		"$tarball" "$minbase" 2>&1) || { echo "$out" >&2; die "import of $tarball as $minbase failed"; }

	# 3. base image: minbase + the host's Go toolchain (+ the host's local CA
	# certificates, see HOST_CA_DIR) as one more layer. The context is
	# hard-linked, not copied, where the filesystem allows.
	log "adding $GOVERSION from $GOROOT_SRC${CA_FILES:+ and ${#CA_FILES[@]} local CA cert(s) from $HOST_CA_DIR} -> $base"
	local ctx old_id new_id
	old_id=$("${ENG[@]}" image inspect --format '{{.Id}}' "$base" 2>/dev/null || true)
	ctx=$(mktemp -d "$CACHE_DIR/ctx-$suite.XXXXXX")
	cp -al "$GOROOT_SRC" "$ctx/go" 2>/dev/null || { rm -rf "$ctx/go"; cp -a "$GOROOT_SRC" "$ctx/go"; }
	mkdir -p "$ctx/ca"
	[ ${#CA_FILES[@]} -eq 0 ] || cp -L "${CA_FILES[@]}" "$ctx/ca/"
	printf '%s\n' \
		"FROM $minbase" \
		"COPY go /usr/local/go" \
		"COPY ca/ /usr/local/share/ca-certificates/" \
		"ENV GOTOOLCHAIN=local" \
		"LABEL osd.go=$GOVERSION osd.ca=$CA_SUM osd.suite=$suite" >"$ctx/Dockerfile"
	if ! out=$("${ENG[@]}" build "${BUILD_EXTRA[@]}" -t "$base" -f "$ctx/Dockerfile" "$ctx" 2>&1); then
		echo "$out" >&2
		rm -rf "$ctx"
		die "build of $base failed"
	fi
	rm -rf "$ctx"
	# drop the image this one replaces (fails harmlessly while still in use)
	new_id=$("${ENG[@]}" image inspect --format '{{.Id}}' "$base" 2>/dev/null || true)
	if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then
		"${ENG[@]}" rmi "$old_id" >/dev/null 2>&1 || true
	fi
	log "made $minbase and $base ($GOVERSION)"
}

for s in "$@"; do
	make_suite "$s"
done
