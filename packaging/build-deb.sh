#!/usr/bin/env bash
# Builds porthole-broker and porthole-agent .deb packages with dpkg-deb.
#
#   packaging/build-deb.sh VERSION BINDIR OUTDIR
#
# BINDIR holds porthole-broker, porthole (the CLI) and porthole-agent,
# built stripped (make packages does that). Writes OUTDIR/porthole-broker_VERSION_ARCH.deb
# and OUTDIR/porthole-agent_VERSION_ARCH.deb and prints their paths.
set -euo pipefail
version=$1 bindir=$2 outdir=$3
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
arch=$(dpkg --print-architecture)
maintainer=${MAINTAINER:-Porthole maintainers <maintainers@porthole.org>}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$outdir"

# script PKG UNIT STATE SYSUSER SECRETS: the maintainer scripts from the
# shared templates.
scripts() {
	local pkg=$1 unit=$2 state=$3 sysuser=$4 secrets=$5 root=$6
	for s in postinst prerm postrm; do
		sed -e "s|@PKG@|$pkg|g" -e "s|@UNIT@|$unit|g" -e "s|@STATE@|$state|g" -e "s|@STATEBASE@|$(basename "$state")|g" \
			-e "s|@SYSUSER@|$sysuser|g" -e "s|@SECRETS@|$secrets|g" "$here/scripts/$s" >"$root/DEBIAN/$s"
		chmod 0755 "$root/DEBIAN/$s"
	done
}

# docs PKG: copyright, changelog and README.
docs() {
	local pkg=$1 root=$2
	local d="$root/usr/share/doc/$pkg"
	install -d -m 0755 "$d"
	install -m 0644 "$here/copyright" "$d/copyright"
	printf '%s (%s) stable; urgency=medium\n\n  * Release %s.\n\n -- %s  %s\n' \
		"$pkg" "$version" "$version" "$maintainer" "$(date -R -d @"${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct 2>/dev/null || date +%s)}")" |
		gzip -9n >"$d/changelog.gz"
	install -m 0644 "$repo/README.md" "$d/README.md"
	install -d -m 0755 "$root/usr/share/lintian/overrides"
	install -m 0644 "$here/$3/lintian-overrides" "$root/usr/share/lintian/overrides/$pkg"
}

# control PKG DEPENDS DESCRIPTION...
control() {
	local pkg=$1 depends=$2 root=$3 short=$4 long=$5
	local size
	size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
	cat >"$root/DEBIAN/control" <<CONTROL
Package: $pkg
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $size
Depends: $depends
Section: net
Priority: optional
Description: $short
$long
CONTROL
	(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\n' | sort | xargs md5sum) >"$root/DEBIAN/md5sums"
	chmod 0644 "$root/DEBIAN/md5sums" "$root/DEBIAN/control"
}

# --- broker ---
b="$work/porthole-broker"
install -d -m 0755 "$b/DEBIAN" "$b/usr/bin" "$b/lib/systemd/system" "$b/usr/lib/sysusers.d" "$b/usr/lib/tmpfiles.d" "$b/etc/porthole"
install -m 0755 "$bindir/porthole-broker" "$bindir/porthole" "$b/usr/bin/"
install -m 0644 "$here/broker/porthole-broker.service" "$b/lib/systemd/system/"
install -m 0644 "$here/broker/sysusers.conf" "$b/usr/lib/sysusers.d/porthole-broker.conf"
install -m 0644 "$here/broker/tmpfiles.conf" "$b/usr/lib/tmpfiles.d/porthole-broker.conf"
install -m 0644 "$here/broker/broker.json" "$b/etc/porthole/broker.json"
install -m 0600 "$here/broker/broker.env" "$b/etc/porthole/broker.env"
printf '/etc/porthole/broker.json\n/etc/porthole/broker.env\n' >"$b/DEBIAN/conffiles"
scripts porthole-broker porthole-broker.service /var/lib/porthole yes /etc/porthole/broker.env "$b"
docs porthole-broker "$b" broker
control porthole-broker "systemd (>= 247)" "$b" "self-hosted remote support and just-in-time access broker" \
" Porthole's server: the portal, the API, the agents' control links, the
 WebRTC relay and session recordings, with a hash-chained audit log.
 Runs as the porthole system user with its state in /var/lib/porthole."
chmod -R go-w "$b"
fakeroot dpkg-deb --build -Zxz "$b" "$outdir/porthole-broker_${version}_${arch}.deb" >/dev/null

# --- agent ---
a="$work/porthole-agent"
install -d -m 0755 "$a/DEBIAN" "$a/usr/bin" "$a/lib/systemd/system" "$a/etc/porthole"
install -m 0755 "$bindir/porthole-agent" "$a/usr/bin/"
install -m 0644 "$here/agent/porthole-agent.service" "$a/lib/systemd/system/"
install -m 0644 "$here/agent/agent.env" "$a/etc/porthole/agent.env"
printf '/etc/porthole/agent.env\n' >"$a/DEBIAN/conffiles"
scripts porthole-agent porthole-agent.service /var/lib/porthole-agent "" "" "$a"
docs porthole-agent "$a" agent
# The shared libraries the cgo binary links (libvpx, X11), as dpkg knows them.
libs=$(cd "$work" && mkdir -p debian && printf 'Source: porthole\n\nPackage: porthole-agent\nArchitecture: any\n' >debian/control &&
	dpkg-shlibdeps -O "$a/usr/bin/porthole-agent" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
control porthole-agent "${libs:-libc6}" "$a" "self-hosted remote support agent" \
" The endpoint side of Porthole: keeps an outbound link to the broker,
 asks the user for consent, shares the screen as VP8 over WebRTC, and
 manages break-glass accounts and temporary admin rights. Runs as root;
 enroll it with \"porthole-agent enroll\" before the service starts."
chmod -R go-w "$a"
fakeroot dpkg-deb --build -Zxz "$a" "$outdir/porthole-agent_${version}_${arch}.deb" >/dev/null

echo "$outdir/porthole-broker_${version}_${arch}.deb"
echo "$outdir/porthole-agent_${version}_${arch}.deb"
