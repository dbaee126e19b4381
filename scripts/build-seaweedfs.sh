#!/usr/bin/env bash
# Builds SeaweedFS's `weed` (the S3-compatible server the recording tests
# run) from the Go module proxy into a cache outside the clone, keyed by
# version, once: later runs find it there. Prints the binary's path.
#
#   scripts/build-seaweedfs.sh            # build if missing, print the path
#
# The build takes a long while (a large module); the cache makes it once
# per machine. A lock keeps two concurrent callers from building twice.
set -euo pipefail
version=v0.0.0-20261109003541-7506e5f91cd6
cache=${PORTHOLE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/porthole}/seaweedfs-$version
bin=$cache/weed
mkdir -p "$cache"
exec 9>"$cache.lock"
flock 9
if [ ! -x "$bin" ]; then
	echo "seaweedfs: building weed $version into $cache (once; this takes a while)" >&2
	dir=$(GOFLAGS=-mod=mod go mod download -json "github.com/seaweedfs/seaweedfs@$version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
	# Its go.mod has replace directives, so `go install pkg@version` refuses
	# it: build inside the module instead.
	(cd "$dir" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -o "$bin.tmp" ./weed)
	mv "$bin.tmp" "$bin"
fi
echo "$bin"
