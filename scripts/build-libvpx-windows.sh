#!/usr/bin/env bash
# Cross-builds a static libvpx (VP8 only) for 64-bit Windows with mingw-w64,
# from Debian's source package of the same version as the installed
# libvpx-dev, so the Linux and Windows agents encode with one libvpx.
#
# The result is cached outside the clone, keyed by that version:
#   ${PORTHOLE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/porthole}/libvpx-<version>-win64/
#     include/  lib/libvpx.a  lib/pkgconfig/vpx.pc
# and the script prints that directory on stdout (everything else goes to
# stderr), so callers can do PKG_CONFIG_LIBDIR=$(...)/lib/pkgconfig.
#
# A repeat run with the cache present returns at once. The build happens in a
# temporary directory beside the cache and is renamed into place only when
# complete, so a half-finished build never counts; a lock file serialises
# concurrent runs (parallel tests may all ask for it).
set -euo pipefail

log() { echo "libvpx-windows: $*" >&2; }
die() { log "$*"; exit 1; }

# The recipe is part of the cache's identity: change the flags and the next
# run rebuilds instead of reusing a library built differently.
configure_flags=(
  --target=x86_64-win64-gcc
  --enable-static --disable-shared
  --enable-vp8 --disable-vp9
  --enable-realtime-only --enable-pic
  --disable-examples --disable-tools --disable-docs --disable-unit-tests
)
recipe="1 ${configure_flags[*]}"

cache_root=${PORTHOLE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/porthole}

# Same version as the Linux libvpx (make deps installs libvpx-dev).
version=$(dpkg-query -W -f='${source:Version}' libvpx-dev 2>/dev/null) ||
  die "libvpx-dev is not installed (run make deps)"
[ -n "$version" ] || die "libvpx-dev is not installed (run make deps)"
key="libvpx-${version//[^A-Za-z0-9.+-]/_}-win64"
dest="$cache_root/$key"

cached() {
  [ -f "$dest/lib/libvpx.a" ] && [ -f "$dest/lib/pkgconfig/vpx.pc" ] &&
    [ "$(cat "$dest/RECIPE" 2>/dev/null)" = "$recipe" ]
}

if cached; then
  echo "$dest"
  exit 0
fi

for tool in x86_64-w64-mingw32-gcc x86_64-w64-mingw32-g++ nasm dpkg-source flock; do
  command -v "$tool" >/dev/null || die "$tool not found (run make deps)"
done

mkdir -p "$cache_root"
exec 9>"$cache_root/$key.lock"
if ! flock -n 9; then
  log "another build of $key is running; waiting for it"
  flock 9
fi
# The build we waited for may have produced it.
if cached; then
  echo "$dest"
  exit 0
fi

# A build killed outright (no trap) leaves its directory; nobody else can be
# building this key while we hold the lock.
rm -rf "$cache_root/.build-$key."*

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
apt_opts=(-o DPkg::Lock::Timeout=300 -qq)

# has_source tells whether apt knows the source package at this version.
has_source() {
  local src
  src=$(apt-cache showsrc --only-source libvpx 2>/dev/null) || return 1
  grep -qx "Version: $version" <<<"$src"
}

# add_deb_src writes deb-src twins of the Debian binary entries (same
# mirror, suites, components and keyring) into one file of our own.
add_deb_src() {
  local out=/etc/apt/sources.list.d/porthole-deb-src.sources tmp
  tmp=$(mktemp)
  shopt -s nullglob
  for f in /etc/apt/sources.list.d/*.sources; do
    [ "$f" = "$out" ] && continue
    # deb822 stanzas whose Types include deb and whose URIs are Debian's.
    awk 'BEGIN { RS = ""; ORS = "\n\n" }
      /(^|\n)Types:[^\n]*[[:space:]]deb([[:space:]]|$)/ && /(^|\n)URIs:[^\n]*\/debian/ && !/(^|\n)Enabled:[[:space:]]*no/ {
        n = split($0, lines, "\n"); s = ""
        for (i = 1; i <= n; i++) {
          if (lines[i] ~ /^#/) continue
          if (lines[i] ~ /^Types:/) lines[i] = "Types: deb-src"
          s = s lines[i] "\n"
        }
        printf "%s\n", s
      }' "$f" >>"$tmp"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    # one-line entries: deb [opts] URI suite components
    sed -nE 's|^[[:space:]]*deb[[:space:]]+(.*/debian(-security)?/?[[:space:]].*)$|deb-src \1|p' "$f" >>"$tmp.list"
  done
  shopt -u nullglob
  if [ -s "$tmp" ]; then
    $SUDO install -m 0644 "$tmp" "$out"
  elif [ -s "$tmp.list" ]; then
    $SUDO install -m 0644 "$tmp.list" /etc/apt/sources.list.d/porthole-deb-src.list
  else
    rm -f "$tmp" "$tmp.list"
    die "no Debian entries found in /etc/apt to derive a deb-src entry from"
  fi
  rm -f "$tmp" "$tmp.list"
  log "added deb-src entries for the Debian mirror"
}

if ! has_source; then
  if ! grep -rqsE '^[[:space:]]*(deb-src[[:space:]]|Types:.*deb-src)' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    add_deb_src
  fi
  log "apt-get update (to list source packages)"
  $SUDO apt-get "${apt_opts[@]}" update >&2
  has_source || die "apt has no source package libvpx $version (is a deb-src entry for its suite enabled?)"
fi

start=$SECONDS
work=$(mktemp -d "$cache_root/.build-$key.XXXXXX")
trap 'rm -rf "$work"' EXIT
buildlog="$work/build.log"
# quiet runs a step with its output in the build log, shown only on failure.
quiet() {
  if ! "$@" >>"$buildlog" 2>&1; then
    tail -n 60 "$buildlog" >&2
    die "failed: $*"
  fi
}
cd "$work"
log "downloading source libvpx $version"
quiet apt-get "${apt_opts[@]}" source --download-only "libvpx=$version"
dsc=$(ls libvpx_*.dsc)
quiet dpkg-source --no-check -x "$dsc" src

log "configuring and building (about 1-3 minutes)"
cd src
quiet env CROSS=x86_64-w64-mingw32- ./configure --prefix="$dest" "${configure_flags[@]}"
quiet make -j"${PORTHOLE_JOBS:-2}"
quiet make install DESTDIR="$work/stage"

out="$work/out"
mv "$work/stage$dest" "$out"
pc="$out/lib/pkgconfig/vpx.pc"
# Relocatable: the prefix is wherever this .pc file lives. -lpthread is
# mingw's winpthreads, which libvpx's threaded encoder needs; cgo asks
# pkg-config without --static, so it goes into Libs itself.
sed -i -E \
  -e 's|^prefix=.*|prefix=${pcfiledir}/../..|' \
  -e '/^Libs:/ s|$| -lpthread|' "$pc"
grep -q '^Libs:.*-lpthread' "$pc" || die "unexpected vpx.pc: no Libs line"
printf '%s\n' "$recipe" >"$out/RECIPE"
printf '%s\n' "$version" >"$out/VERSION"

rm -rf "$dest"
mv "$out" "$dest"
log "built $key in $((SECONDS - start)) s"
echo "$dest"
