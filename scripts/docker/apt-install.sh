#!/bin/bash
# apt-get install for the Dockerfile's stages: update, install without
# recommends, clean the lists. Retries, and where the mirror answers 404 for
# a .deb that its index lists (seen here: bullseye-security's gnutls-bin
# 3.7.1-5+deb11u10), takes that package from the release suite instead
# (pkg/<suite>) and says so, rather than failing the whole image.
#
#   osd-apt-install PKG...                   from the image's own suites
#   osd-apt-install --from SUITE PKG...      adds SUITE (same mirror, main) to
#                                            the sources and installs with
#                                            apt-get -t SUITE: e.g. OpenSSL 4.0
#                                            from experimental over sid
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
# The image's release suite and mirror: the first deb line mkbase.sh wrote
# (not VERSION_CODENAME: sid's os-release names the testing codename).
read -r _ mirror suite _ < <(grep -m1 '^deb ' /etc/apt/sources.list) ||
	{ echo "apt-install: no deb line in /etc/apt/sources.list" >&2; exit 1; }
target=()
if [ "${1:-}" = --from ]; then
	from=${2:?--from needs a suite}
	shift 2
	echo "deb $mirror $from main" >"/etc/apt/sources.list.d/osd-$from.list"
	target=(-t "$from")
	suite=$from
fi
args=("$@")
apt-get update -qq
for try in 1 2 3 4; do
	if apt-get install -y --no-install-recommends -o Acquire::Retries=3 "${target[@]}" "${args[@]}" 2>&1 | tee /tmp/apt-install.log; then
		rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb /tmp/apt-install.log
		exit 0
	fi
	# E: Failed to fetch http://.../pool/.../NAME_VERSION_ARCH.deb  404  Not Found
	missing=$(sed -n 's|^E: Failed to fetch .*/\([^/_]*\)_[^/]*\.deb .*404.*|\1|p' /tmp/apt-install.log | sort -u)
	[ -n "$missing" ] || { echo "apt-install: failed (try $try)" >&2; [ "$try" -lt 2 ] && continue; exit 1; }
	for m in $missing; do
		echo "apt-install: WARNING: $m is 404 on the mirror; taking $m/$suite instead" >&2
		new=() found=0
		for a in "${args[@]}"; do
			if [ "${a%%[/=]*}" = "$m" ]; then new+=("$m/$suite"); found=1; else new+=("$a"); fi
		done
		[ $found = 1 ] || new+=("$m/$suite")
		args=("${new[@]}")
	done
done
exit 1
