#!/bin/sh
# Prints a -D flag naming the libssl version (pkg-config) and a checksum of
# include/*.h, for CGO_CFLAGS. Go's build cache keys cgo packages on their
# own directory's files and on CGO_CFLAGS, not on the headers they include
# from elsewhere: without this, an edit of include/shim.h alone, or another
# OpenSSL's headers with the same compiler, reuses stale objects. The macro
# itself is used by nothing.
#   usage: CGO_CFLAGS="-O2 -g $(sh scripts/cgo-key.sh [DIR])"   (DIR: the module root)
dir=${1:-.}
ver=$(pkg-config --modversion libssl 2>/dev/null || echo none)
sum=$(cat "$dir"/include/*.h 2>/dev/null | cksum | cut -d' ' -f1)
echo "-DGOSSL_CACHE_KEY=libssl-$ver-$sum"
