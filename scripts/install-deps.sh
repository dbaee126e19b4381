#!/usr/bin/env bash
# Installs the Debian packages that building, testing and the demo need.
# Idempotent: packages already installed are skipped, and apt-get update runs
# only when something is missing.
set -euo pipefail

pkgs=(
  build-essential pkg-config
  libvpx-dev libx11-dev libxtst-dev libxext-dev
  xvfb xdotool x11-utils x11-apps zenity
  chromium ffmpeg
  ca-certificates sudo
  passwd login util-linux bsdutils libpam-modules-bin
  python3-aiosmtpd
  # Windows agent: cross-build (mingw, nasm for libvpx) and Wine to run it.
  wine wine64 gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64 nasm dpkg-dev xz-utils
  # packages: build and check the .debs and their systemd units
  fakeroot lintian systemd
)

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#pkgs[@]} system packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done"
