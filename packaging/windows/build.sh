#!/bin/bash
# The portable Windows zip of qsound, cross-built here from source.
#
#   packaging/windows/build.sh OUTDIR
#
# As root on Debian 12: installs what it needs (.ci/deps.sh windows), adds a
# deb-src entry for the configured Debian mirror when there is none, fetches
# Debian's source packages (the revisions pinned in runtime.sh, one at a time) and
# cross-compiles with mingw-w64 (x86_64-w64-mingw32) a minimal GStreamer 1.22
# runtime: zlib, libffi, pcre2, a stub libintl, glib, GStreamer core and its
# tools, the parts of base/good/bad qsound's pipelines use, lame, mpg123,
# opus and libsodium.  Then it builds qsound against that runtime and writes
# OUTDIR/qsound-windows-x86_64.zip (docs/WINDOWS.md says what it holds).
#
# The runtime is cached under $QSOUND_WINDOWS_CACHE (default
# /var/cache/qsound-windows), keyed by the source revisions and the hash
# of runtime.sh, the script that builds it (with the stub libintl): a later
# run, or one after a change to qsound or to this file, rebuilds qsound only.
# It prints how long the runtime took when it was built and how long this
# run took.  QSOUND_WINDOWS_JOBS sets the parallel jobs (default: the cores).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
[ $# = 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 1; }
mkdir -p "$1"
out=$(cd "$1" && pwd)
cache=${QSOUND_WINDOWS_CACHE:-/var/cache/qsound-windows}
jobs=${QSOUND_WINDOWS_JOBS:-$(nproc)}
host=x86_64-w64-mingw32
t_start=$(date +%s)

say () { echo "windows-build: $*"; }
die () { echo "windows-build: $*" >&2; exit 1; }

# ---------------------------------------------------------------- 1. tools
"$src/.ci/deps.sh" windows

# -------------------------------------------- 2. the runtime (cached)
. "$here/runtime.sh"

# ------------------------------------------------------------- 3. qsound
t_qs=$(date +%s)
qbuild=$out/build-qsound
stage=$out/stage/qsound-windows-x86_64
rm -rf "$qbuild" "$out/stage"
say "building qsound"
meson setup "$qbuild" "$src" --cross-file "$cross" --prefix / --libdir lib \
  --bindir bin --datadir share --buildtype release \
  --wrap-mode nodownload >"$out/qsound-setup.log" 2>&1 \
  || { cat "$out/qsound-setup.log"; die "meson setup of qsound for Windows failed"; }
meson compile -C "$qbuild" -j "$jobs" >"$out/qsound-build.log" 2>&1 \
  || { tail -60 "$out/qsound-build.log"; die "the Windows build of qsound failed"; }
DESTDIR=$stage meson install -C "$qbuild" --no-rebuild >/dev/null
# where the runtime is, for the tests that run qsound's own unit tests from
# $qbuild under Wine against it (tests/windows)
echo "$prefix" >"$out/runtime-prefix"

# -------------------------------------------------------------- 4. the zip
mkdir -p "$stage/bin" "$stage/lib/gstreamer-1.0" "$stage/libexec/gstreamer-1.0"
cp "$prefix"/bin/gst-launch-1.0.exe "$prefix"/bin/gst-inspect-1.0.exe "$stage/bin/"
cp "$prefix"/libexec/gstreamer-1.0/gst-plugin-scanner.exe "$stage/libexec/gstreamer-1.0/"
cp "$prefix"/lib/gstreamer-1.0/*.dll "$stage/lib/gstreamer-1.0/"
# every DLL the programs and plugins import, found in the runtime or in
# mingw-w64's own (libwinpthread-1.dll), copied into bin/
mingwdirs=("$prefix/bin" /usr/$host/lib /usr/lib/gcc/$host/*-posix)
declare -A seen=()
queue=("$stage"/bin/*.exe "$stage"/lib/gstreamer-1.0/*.dll "$stage"/libexec/gstreamer-1.0/*.exe)
while [ ${#queue[@]} -gt 0 ]; do
  f=${queue[0]}; queue=("${queue[@]:1}")
  for dll in $($host-objdump -p "$f" | awk '/DLL Name:/ { print $3 }'); do
    [ -n "${seen[$dll]:-}" ] && continue
    seen[$dll]=1
    for d in "${mingwdirs[@]}"; do
      if [ -f "$d/$dll" ]; then
        cp "$d/$dll" "$stage/bin/"
        queue+=("$stage/bin/$dll")
        break
      fi
    done
  done
done
# libsodium too, imported or not yet (protocol 2's sealed links need it)
cp "$prefix"/bin/libsodium-*.dll "$stage/bin/"
find "$stage" \( -name '*.exe' -o -name '*.dll' \) -exec $host-strip --strip-unneeded {} +
rm -rf "$stage/include" "$stage/lib/pkgconfig"
find "$stage/lib" -name '*.a' -delete
{
  echo "qsound for Windows (x86_64), $(git -C "$src" describe --always --dirty 2>/dev/null || echo unknown)"
  echo
  cat "$here/README-windows.txt"
  echo
  echo "Built from these Debian 12 source packages (apt-get source NAME=VERSION):"
  sed 's/^/  /' "$rt/sources"
} | sed 's/$/\r/' >"$stage/README-windows.txt"
rm -f "$out/qsound-windows-x86_64.zip"
(cd "$out/stage" && zip -q -r -9 "$out/qsound-windows-x86_64.zip" qsound-windows-x86_64)
t_end=$(date +%s)

size=$(stat -c %s "$out/qsound-windows-x86_64.zip")
say "wrote $out/qsound-windows-x86_64.zip ($((size / 1024)) KiB, $(du -sk "$stage" | cut -f1) KiB unpacked)"
say "the runtime took $(cat "$rt/runtime-seconds") s to build$([ $fresh = 1 ] && echo " (this run)" || echo " (cached in $rt)"): $(tr '\n' ' ' <"$rt/times")"
say "qsound took $((t_end - t_qs)) s; this run took $((t_end - t_start)) s in all ($([ $fresh = 1 ] && echo fresh || echo cached))"
