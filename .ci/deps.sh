#!/bin/sh
# Installs the Debian 12 packages qsound needs, idempotently (as root, or
# as a user through sudo; nothing to do when they are all in).
#   .ci/deps.sh run    what building and running needs
#   .ci/deps.sh test   that plus what the tests, the fuzz target, the Wine tests
#                      (and the Windows zip they run) and the benchmarks need
#   .ci/deps.sh windows what packaging/windows/build.sh needs to cross-build the zip
set -eu
what=${1:-run}

pkgs="meson ninja-build pkg-config gcc libglib2.0-dev libgstreamer1.0-dev
  libgstreamer-plugins-base1.0-dev libpulse-dev gstreamer1.0-tools
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly
  gstreamer1.0-plugins-bad gstreamer1.0-pulseaudio pulseaudio pulseaudio-utils
  libsodium-dev"
windows="mingw-w64 wine wine64 meson ninja-build pkg-config flex bison
  libglib2.0-dev-bin dpkg-dev xz-utils bzip2 zip unzip make python3 autoconf
  automake libtool"
if [ "$what" = windows ]; then
  pkgs="$windows"
fi
if [ "$what" = test ]; then
  # icecast2 and chromium: tests/icecast (a private Icecast; a browser
  # playing its mount)
  pkgs="$pkgs clang libclang-rt-14-dev mingw-w64 wine wine64 python3 python3-numpy procps
    libmp3lame-dev icecast2 chromium $windows"
fi

missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

# as root apt-get itself; as a user through sudo, where there is one
as_root=""
if [ "$(id -u)" != 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "qsound: these Debian packages are missing:$missing" >&2
    echo "qsound: there is no sudo here: run this as root (su -c '$0 $what') to install them." >&2
    exit 1
  fi
  as_root="sudo"
  echo "qsound: installing$missing (through sudo)" >&2
else
  echo "qsound: installing$missing" >&2
fi
# shellcheck disable=SC2086
$as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
# shellcheck disable=SC2086
$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
  --no-install-recommends $missing >/dev/null
