#!/bin/bash
# apt-get install for the Dockerfile's stages: update, install without
# recommends, clean the lists. Retries, and where the mirror answers 404 for
# a .deb that its index lists (seen here: bullseye-security's gnutls-bin
# 3.7.1-5+deb11u10), takes that package from the release suite instead
# (pkg/<codename>) and says so, rather than failing the whole image.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
. /etc/os-release
suite=${VERSION_CODENAME:?no VERSION_CODENAME in /etc/os-release}
args=("$@")
apt-get update -qq
for try in 1 2 3 4; do
	if apt-get install -y --no-install-recommends -o Acquire::Retries=3 "${args[@]}" 2>&1 | tee /tmp/apt-install.log; then
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
