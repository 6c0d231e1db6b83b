#!/usr/bin/env bash
# What a make target needs besides Go and make, checked before it runs:
#
#   scripts/deps.sh build|demo|test|race|leaks ...
#
#   build, demo, race: a C compiler with libc headers (cgo), pkg-config,
#                      OpenSSL's headers and libraries (pkg-config libssl
#                      libcrypto), the openssl CLI; CA certificates when Go
#                      modules still have to be downloaded
#   test:              the same plus gnutls-cli and gnutls-serv (interop)
#   leaks:             the same plus clang and its AddressSanitizer runtime
#
# Quiet when everything is there. When something is missing: as root on
# Debian or Ubuntu (with apt-get), installs it with `apt-get update &&
# apt-get install -y --no-install-recommends ...` and says so; otherwise
# names the exact command to run (or, elsewhere, what is missing) and exits 1.
#
# Environment: GO (default go), CC (default: go env CC, i.e. gcc),
# SKIP_DEPS=1 (check nothing), DEPS_NO_INSTALL=1 (never install, only say).
set -uo pipefail

[ "${SKIP_DEPS:-0}" = 1 ] && exit 0
cd "$(dirname "$0")/.." || exit 1

GO=${GO:-go}
want_test=0 want_leaks=0
for t in "$@"; do
	case $t in
	build | demo | race | bench) ;;
	test) want_test=1 ;;
	leaks) want_test=1 want_leaks=1 ;;
	*) echo "deps: unknown target $t (build, demo, test, race, leaks, bench)" >&2; exit 2 ;;
	esac
done

is_debian() {
	[ -r /etc/os-release ] || return 1
	local ids
	# ID and ID_LIKE, quotes dropped: "debian", "ubuntu debian", ...
	ids=$(sed -n 's/^\(ID\|ID_LIKE\)=//p' /etc/os-release | tr -d "\"'" | tr '\n' ' ')
	case " $ids " in *" debian "* | *" ubuntu "*) ;; *) return 1 ;; esac
	command -v apt-get >/dev/null 2>&1
}

# clang's major version as apt would install it, and the package that holds
# its AddressSanitizer runtime (libclang-rt-N-dev since LLVM 14,
# libclang-common-N-dev before).
asan_pkg() {
	local v
	if command -v clang >/dev/null 2>&1; then
		v=$(clang -dumpversion 2>/dev/null | cut -d. -f1)
	else
		v=$(apt-cache policy clang 2>/dev/null | sed -n 's/^ *Candidate: \([0-9]*:\)\{0,1\}\([0-9][0-9]*\).*/\2/p')
	fi
	if [ -n "$v" ] && apt-cache show "libclang-rt-$v-dev" >/dev/null 2>&1; then
		echo "libclang-rt-$v-dev"
	elif [ -n "$v" ]; then
		echo "libclang-common-$v-dev"
	else
		echo "libclang-rt-dev"
	fi
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/deps.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
printf 'int main(void) { return 0; }\n' >"$tmp/t.c"

missing=() # "what is missing|Debian package"
need() { missing+=("$1|$2"); }

# shellcheck disable=SC2086 # $cc: CC may carry flags
check() {
	missing=()
	if ! command -v "$GO" >/dev/null 2>&1; then
		echo "deps: $GO not found: install Go 1.24 or later (https://go.dev/dl/) and put it in PATH" >&2
		exit 1
	fi
	local cc
	cc=${CC:-$("$GO" env CC 2>/dev/null)}
	cc=${cc:-gcc}
	if ! command -v "${cc%% *}" >/dev/null 2>&1; then
		need "a C compiler for cgo ($cc)" gcc
		need "the C library's headers" libc6-dev
	elif ! $cc -o "$tmp/t" "$tmp/t.c" >/dev/null 2>&1; then
		need "the C library's headers ($cc cannot build a C program)" libc6-dev
	fi
	if ! command -v pkg-config >/dev/null 2>&1; then
		need "pkg-config" pkg-config
		need "OpenSSL's headers and libraries (pkg-config libssl libcrypto)" libssl-dev
	elif ! pkg-config --exists libssl libcrypto; then
		need "OpenSSL's headers and libraries (pkg-config libssl libcrypto)" libssl-dev
	fi
	command -v openssl >/dev/null 2>&1 || need "the openssl command-line tool" openssl
	# Modules to download from proxy.golang.org need a CA bundle.
	if ! GOPROXY=off "$GO" mod download >/dev/null 2>&1 &&
		[ -z "${SSL_CERT_FILE:-}${SSL_CERT_DIR:-}" ]; then
		local f found=0
		for f in /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt \
			/etc/ssl/ca-bundle.pem /etc/pki/tls/cacert.pem \
			/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem /etc/ssl/cert.pem; do
			[ -s "$f" ] && found=1 && break
		done
		[ $found = 1 ] || need "CA certificates (to download Go modules)" ca-certificates
	fi
	if [ $want_test = 1 ]; then
		if ! command -v gnutls-cli >/dev/null 2>&1 || ! command -v gnutls-serv >/dev/null 2>&1; then
			need "gnutls-cli and gnutls-serv (GnuTLS interop tests)" gnutls-bin
		fi
	fi
	if [ $want_leaks = 1 ]; then
		if ! command -v clang >/dev/null 2>&1; then
			need "clang (make leaks builds with CC=clang)" clang
			need "clang's AddressSanitizer runtime" "$(asan_pkg)"
		elif ! clang -fsanitize=address -o "$tmp/t" "$tmp/t.c" >/dev/null 2>&1; then
			need "clang's AddressSanitizer runtime (clang -fsanitize=address cannot link)" "$(asan_pkg)"
		fi
	fi
}

# pkgs: the Debian packages of what is missing, each once.
pkgs() {
	local m seen=" "
	for m in "${missing[@]}"; do
		case $seen in *" ${m#*|} "*) continue ;; esac
		seen="$seen${m#*|} "
		printf '%s ' "${m#*|}"
	done
}

check
[ ${#missing[@]} -eq 0 ] && exit 0

list=$(pkgs)
list=${list% }
if is_debian && [ "$(id -u)" = 0 ] && [ "${DEPS_NO_INSTALL:-0}" != 1 ]; then
	echo "deps: installing what make $* needs: $list" >&2
	export DEBIAN_FRONTEND=noninteractive
	# shellcheck disable=SC2086 # one word per package
	if ! { apt-get update -qq && apt-get install -y --no-install-recommends $list; } >"$tmp/apt.log" 2>&1; then
		cat "$tmp/apt.log" >&2
		echo "deps: apt-get install failed" >&2
		exit 1
	fi
	grep -E '^(E|W):' "$tmp/apt.log" >&2 || true
	check
	if [ ${#missing[@]} -eq 0 ]; then
		echo "deps: installed $list" >&2
		exit 0
	fi
	echo "deps: still missing after apt-get install:" >&2
	for m in "${missing[@]}"; do echo "  - ${m%|*}" >&2; done
	exit 1
fi

echo "deps: make $* needs what is not installed here:" >&2
for m in "${missing[@]}"; do echo "  - ${m%|*}" >&2; done
if is_debian; then
	if [ "$(id -u)" = 0 ]; then
		echo "Run: apt-get update && apt-get install -y --no-install-recommends $list" >&2
	else
		echo "Run: sudo apt-get update && sudo apt-get install -y --no-install-recommends $list" >&2
	fi
else
	echo "Install them with this system's package manager (the Debian packages are: $list)," >&2
	echo "or set SKIP_DEPS=1 to build anyway." >&2
fi
exit 1
