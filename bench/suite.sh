#!/usr/bin/env bash
# make bench against the OpenSSL of another Debian suite, on this machine:
# the working tree runs bench/run.sh inside a debootstrapped chroot of that
# suite (its libssl, its openssl, its gcc), with this host's Go toolchain
# and module cache bound in. pion and the C references run in the same
# chroot, so every ratio compares stacks over one OpenSSL on one machine.
#
#   bench/suite.sh SUITE     (root; Debian's mirror the first time)
#
# SUITE: bookworm (OpenSSL 3.0), trixie (3.5), sid (3.6), experimental
# (4.0: sid with libssl-dev and openssl from experimental). Not bullseye:
# the C references need OpenSSL 3.0 (EVP_MAC). run.sh's environment passes
# through: STEPS, ROUNDS, BENCH_QUICK. The table is printed; everything
# run.sh writes lands in bench/out-SUITE/ (owned by the user sudo ran as).
#
#   CACHE_DIR=/var/cache/osd-bench   where the chroots are kept
#   MIRROR                           default: this host's Debian mirror
#   GO                               default: go (sudo's PATH may lack it)
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 SUITE" >&2; exit 2; }
suite=$1
case $suite in
bookworm | trixie | sid | experimental) ;;
*) echo "suite.sh: SUITE is bookworm, trixie, sid or experimental" >&2; exit 2 ;;
esac
[ "$(id -u)" -eq 0 ] || { echo "suite.sh: needs root (debootstrap, chroot, mount)" >&2; exit 2; }
go=${GO:-go}
cd "$(dirname "$0")/.."
src=$(pwd)
cache=${CACHE_DIR:-/var/cache/osd-bench}
root=$cache/root-$suite
base=$suite
[ "$suite" = experimental ] && base=sid
mirror=${MIRROR:-$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p; s/^deb  *\(http[^ ]*\) .*/\1/p' \
	/etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null | grep -v security | head -1 || true)}
mirror=${mirror:-http://deb.debian.org/debian}
pkgs=libssl-dev,openssl,pkg-config,gcc,libc6-dev,ca-certificates

# A chroot is ready once its last set-up step wrote the stamp; one that a
# failed or killed set-up left behind is made again, after making sure no
# mount of a killed run is still inside it (rm would reach the host).
if [ ! -e "$root/.suite-ready" ]; then
	if [ -d "$root" ] && findmnt -R -n -o TARGET "$root" | grep -q .; then
		echo "suite.sh: mounts left under $root; unmount them first" >&2
		exit 1
	fi
	command -v debootstrap >/dev/null || apt-get install -y debootstrap
	rm -rf --one-file-system "$root"
	mkdir -p "$cache"
	debootstrap --variant=minbase --include="$pkgs" "$base" "$root" "$mirror"
	if [ "$suite" = experimental ]; then
		# The host's apt relaxes its checks of Release dates where this
		# mirror needs it (a frozen snapshot's Release "expires"); the
		# chroot's apt, on the same mirror, does the same.
		apt-config dump 2>/dev/null | grep -E '^Acquire::Check-(Valid-Until|Date) "(false|0)";$' \
			>"$root/etc/apt/apt.conf.d/90osd-bench" || true
		echo "deb $mirror experimental main" >"$root/etc/apt/sources.list.d/experimental.list"
		chroot "$root" apt-get update -qq
		chroot "$root" env DEBIAN_FRONTEND=noninteractive \
			apt-get install -y --no-install-recommends -t experimental libssl-dev openssl
		chroot "$root" openssl version | grep -q '^OpenSSL 4\.' ||
			{ echo "suite.sh: experimental gave no OpenSSL 4" >&2; exit 1; }
	fi
	touch "$root/.suite-ready"
fi

goroot=$("$go" env GOROOT)
modcache=$("$go" env GOMODCACHE)
mounts=()
bind() { # host-dir chroot-dir
	mkdir -p "$root$2"
	mount --bind "$1" "$root$2"
	mounts=("$root$2" "${mounts[@]}")
}
cleanup() {
	for m in "${mounts[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" || true; done
}
trap cleanup EXIT
mkdir -p "$root/proc"
mount -t proc proc "$root/proc"
mounts=("$root/proc")
bind /dev /dev
bind "$goroot" /usr/local/go
bind "$modcache" /root/go/pkg/mod

# A copy of the working tree, without git's metadata and old outputs, so
# that what is measured is what is checked out here, committed or not.
rm -rf "$root/work/src"
mkdir -p "$root/work/src"
tar -C "$src" --exclude=./.git --exclude='./bench/out*' -cf - . | tar -C "$root/work/src" -xf -

# Go reaches the module proxy (benchstat) through whatever CAs this host
# trusts; the chroot's own store is Debian's alone.
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/host-ca.crt"

echo "suite.sh: $suite: $(chroot "$root" openssl version)"
chroot "$root" env PATH=/usr/local/go/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
	GOFLAGS=-buildvcs=false GOTOOLCHAIN=local SSL_CERT_FILE=/etc/ssl/host-ca.crt \
	${STEPS:+"STEPS=$STEPS"} ${ROUNDS:+"ROUNDS=$ROUNDS"} ${BENCH_QUICK:+"BENCH_QUICK=$BENCH_QUICK"} \
	bash -c 'cd /work/src/bench && bash run.sh'
rm -rf "bench/out-$suite"
cp -r "$root/work/src/bench/out" "bench/out-$suite"
if [ -n "${SUDO_UID:-}" ]; then
	chown -R "$SUDO_UID:${SUDO_GID:-$SUDO_UID}" "bench/out-$suite"
fi
echo "suite.sh: output in bench/out-$suite"
