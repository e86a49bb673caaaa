# The Windows runtime of qsound: sourced by packaging/windows/build.sh, which
# sets src, here, cache, jobs, host, say, die.  The runtime is cached under
# $cache/runtime-KEY, KEY being the hash of this file (with the source
# revisions below) and of the stub libintl: editing build.sh alone (how the
# zip is made) rebuilds qsound only.  Sets rt, prefix, cross and fresh.
# shellcheck shell=bash

# The Debian 12 source packages the runtime is made of (main pool: the
# security pool's sources are not served by every mirror).
sources="
glib2.0=2.74.6-2+deb12u9
libffi=3.4.4-1
pcre2=10.42-1
zlib=1:1.2.13.dfsg-1
gstreamer1.0=1.22.0-2+deb12u1
gst-plugins-base1.0=1.22.0-3+deb12u6
gst-plugins-good1.0=1.22.0-5+deb12u3
gst-plugins-bad1.0=1.22.0-4+deb12u7
lame=3.100-6
mpg123=1.31.2-1+deb12u1
opus=1.3.1-3
libsodium=1.0.18-1+deb12u1
"

# ------------------------------------------------------------ the cache key
key=$( { echo "$sources"; cat "$here/runtime.sh" "$here/intl/intl.c" "$here/intl/libintl.h"; \
         x86_64-w64-mingw32-gcc --version | head -1; } | sha256sum | cut -c1-16)
rt=$cache/runtime-$key
prefix=$rt/prefix
work=$cache/work-$key
mkdir -p "$prefix" "$work"

# --------------------------------------------------------------- the build
cross=$rt/cross.txt
cat >"$cross" <<EOF
# written by packaging/windows/build.sh
[binaries]
c = '$host-gcc'
cpp = '$host-g++-posix'
ar = '$host-ar'
strip = '$host-strip'
windres = '$host-windres'
pkgconfig = 'pkg-config'

[properties]
pkg_config_libdir = '$prefix/lib/pkgconfig'

[built-in options]
c_args = ['-I$prefix/include']
c_link_args = ['-L$prefix/lib', '-static-libgcc']
cpp_args = ['-I$prefix/include']
cpp_link_args = ['-L$prefix/lib', '-static-libgcc', '-static-libstdc++']

[host_machine]
system = 'windows'
cpu_family = 'x86_64'
cpu = 'x86_64'
endian = 'little'
EOF

export PKG_CONFIG_LIBDIR=$prefix/lib/pkgconfig
unset PKG_CONFIG_PATH
atenv=(CC=$host-gcc CXX=$host-g++-posix AR=$host-ar RANLIB=$host-ranlib
  STRIP=$host-strip "CPPFLAGS=-I$prefix/include"
  "CFLAGS=-O2 -D_FORTIFY_SOURCE=0" "LDFLAGS=-L$prefix/lib -static-libgcc")

# deb-src for the mirror the machine already uses, if none is configured
ensure_deb_src () {
  if apt-get indextargets --format '$(IDENTIFIER)' 2>/dev/null | grep -qx Sources \
     && apt-cache showsrc zlib >/dev/null 2>&1 \
     && apt-cache showsrc zlib | grep -q '^Version:'; then
    return
  fi
  local uri signed
  uri=$(apt-get indextargets --format '$(IDENTIFIER) $(RELEASE) $(REPO_URI)' 2>/dev/null \
        | awk '$1 == "Packages" && $2 == "bookworm" { print $3; exit }')
  [ -n "$uri" ] || die "no Debian 12 (bookworm) mirror is configured in /etc/apt; add one, then run again."
  signed=""
  [ -f /usr/share/keyrings/debian-archive-keyring.gpg ] && \
    signed="Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
  say "adding deb-src for $uri (/etc/apt/sources.list.d/qsound-deb-src.sources)"
  printf 'Types: deb-src\nURIs: %s\nSuites: bookworm\nComponents: main\n%s\n' \
    "${uri%/}" "$signed" >/etc/apt/sources.list.d/qsound-deb-src.sources
  apt-get update -qq
}

# fetch and unpack one source package into $work/src/NAME
fetch () {
  local spec=$1 name=${1%%=*} ver=${1#*=}
  local dsc dir=$work/src/$name
  [ -f "$dir/.unpacked" ] && return
  mkdir -p "$work/dl"
  dsc=$name\_${ver#*:}.dsc
  if [ ! -f "$work/dl/$dsc" ]; then
    ensure_deb_src
    # one at a time: one failure aborts a multi-package apt-get source.
    # A missing upstream signature (.asc, 404 on some mirrors) is not fatal:
    # apt has checked every file it did fetch against the Sources index.
    (cd "$work/dl" && apt-get source -qq --download-only "$spec" 2>&1 \
      | grep -v 'unsandboxed' || true)
    [ -f "$work/dl/$dsc" ] || die "could not fetch the source package $spec; check the mirror (apt-get source $spec)."
  fi
  rm -rf "$dir"; mkdir -p "$work/src"
  (cd "$work/dl" && { dpkg-source -q -x "$dsc" "$dir" >/dev/null 2>&1 \
      || dpkg-source -q -x --no-check "$dsc" "$dir" >/dev/null; }) \
    || die "could not unpack $dsc"
  # patched autotools inputs must not look newer than their outputs
  find "$dir" \( -name aclocal.m4 -o -name configure -o -name Makefile.in \
     -o -name config.h.in -o -name '*.pc.in' \) -exec touch {} +
  touch "$dir/.unpacked"
}

step_time () { echo "$1 $2" >>"$rt/times"; say "$1: $2 s"; }

# run STEP only once per cache key
step () {
  local name=$1; shift
  [ -f "$rt/done-$name" ] && return
  local t0
  t0=$(date +%s)
  say "building $name"
  # in the background, so that set -e holds inside (it does not in a || list)
  ( set -e; "$@" ) >"$work/$name.log" 2>&1 &
  wait $! || { tail -40 "$work/$name.log"; die "$name failed (log: $work/$name.log)"; }
  touch "$rt/done-$name"
  step_time "$name" $(( $(date +%s) - t0 ))
}

mesonbuild () {
  local dir=$1; shift
  rm -rf "$dir/_build"
  meson setup "$dir/_build" "$dir" --cross-file "$cross" --prefix "$prefix" \
    --libdir lib --buildtype release --default-library shared \
    --wrap-mode nodownload "$@"
  meson compile -C "$dir/_build" -j "$jobs"
  meson install -C "$dir/_build" --no-rebuild
}

autobuild () {
  local dir=$1; shift
  cd "$dir"
  env "${atenv[@]}" ./configure --host=$host --prefix="$prefix" \
    --disable-static --enable-shared --disable-dependency-tracking "$@"
  make -j "$jobs"
  make install
}

b_zlib () {
  local d=$work/src/zlib f objs=()
  cd "$d"
  for f in adler32 compress crc32 deflate gzclose gzlib gzread gzwrite infback \
           inffast inflate inftrees trees uncompr zutil; do
    $host-gcc -O2 -DZLIB_DLL -c "$f.c" -o "$f.o"
    objs+=("$f.o")
  done
  $host-gcc -shared -static-libgcc -o zlib1.dll "${objs[@]}" \
    -Wl,--out-implib,libz.dll.a
  mkdir -p "$prefix/bin" "$prefix/lib/pkgconfig" "$prefix/include"
  cp zlib1.dll "$prefix/bin/"
  cp libz.dll.a "$prefix/lib/"
  cp zlib.h zconf.h "$prefix/include/"
  cat >"$prefix/lib/pkgconfig/zlib.pc" <<EOF
prefix=$prefix
libdir=\${prefix}/lib
includedir=\${prefix}/include
Name: zlib
Description: zlib compression library
Version: 1.2.13
Libs: -L\${libdir} -lz
Cflags: -I\${includedir}
EOF
}

b_intl () {
  cd "$work"
  $host-gcc -O2 -c "$here/intl/intl.c" -o intl.o
  $host-ar rcs "$prefix/lib/libintl.a" intl.o
  cp "$here/intl/libintl.h" "$prefix/include/"
}

b_libffi () { autobuild "$work/src/libffi" --disable-docs --disable-multi-os-directory; }
b_pcre2 () { autobuild "$work/src/pcre2" --enable-pcre2-8 --disable-pcre2-16 --disable-pcre2-32; }
b_opus () { autobuild "$work/src/opus" --disable-doc --disable-extra-programs; }
b_mpg123 () {
  autobuild "$work/src/mpg123" --disable-modules --with-audio=dummy \
    --with-default-audio=dummy
}
b_lame () {
  # the symbol list names a function lame 3.100 no longer has
  sed -i '/^lame_init_old$/d' "$work/src/lame/include/libmp3lame.sym"
  autobuild "$work/src/lame" --disable-frontend --disable-gtktest \
    --disable-analyzer-hooks
}
b_libsodium () {
  # Debian's tarball is a git export: no configure yet
  (cd "$work/src/libsodium" && autoreconf -fi)
  autobuild "$work/src/libsodium" --disable-pie
}

b_glib () {
  # Debian's security patch to gio/gunixconnection.c passes a format that is
  # not a literal, which glib's -Werror=format-nonliteral refuses on Windows
  mesonbuild "$work/src/glib2.0" \
    -Dc_args="-I$prefix/include -Wno-error=format-nonliteral" -Dnls=disabled -Dtests=false \
    -Dinstalled_tests=false -Dman=false -Dgtk_doc=false -Dlibmount=disabled \
    -Dselinux=disabled -Dxattr=false -Dlibelf=disabled -Dsysprof=disabled \
    -Dglib_debug=disabled
}

gst_common=(-Dexamples=disabled -Dtests=disabled -Dnls=disabled
  -Ddoc=disabled -Dpackage-origin=https://packages.debian.org)

b_gstreamer () {
  mesonbuild "$work/src/gstreamer1.0" "${gst_common[@]}" -Dtools=enabled \
    -Dintrospection=disabled \
    -Dcheck=enabled -Dbenchmarks=disabled -Dlibunwind=disabled \
    -Dlibdw=disabled -Ddbghelp=disabled -Dbash-completion=disabled \
    -Dpackage-name="GStreamer for qsound (Debian source $(pkgver gstreamer1.0))"
}

b_base () {
  mesonbuild "$work/src/gst-plugins-base1.0" "${gst_common[@]}" \
    -Dauto_features=disabled -Dtools=disabled -Dorc=disabled \
    -Dintrospection=disabled \
    -Daudioconvert=enabled -Daudioresample=enabled -Daudiotestsrc=enabled \
    -Dvolume=enabled -Dopus=enabled -Dplayback=enabled -Dtypefind=enabled \
    -Dapp=enabled -Dpbtypes=enabled \
    -Dpackage-name="GStreamer Base Plugins for qsound (Debian source $(pkgver gst-plugins-base1.0))"
}

b_good () {
  mesonbuild "$work/src/gst-plugins-good1.0" "${gst_common[@]}" \
    -Dauto_features=disabled -Dorc=disabled -Dlame=enabled -Dmpg123=enabled \
    -Dlevel=enabled -Dautodetect=enabled -Daudioparsers=enabled \
    -Ddirectsound=enabled -Dwaveform=enabled \
    -Dpackage-name="GStreamer Good Plugins for qsound (Debian source $(pkgver gst-plugins-good1.0))"
}

b_bad () {
  # gst-libs/d3d11 is built whatever the options say (and needs a C++ thread
  # model Debian's default mingw g++ lacks); qsound needs none of it
  sed -i "s/^subdir('d3d11')$/gstd3d11_dep = dependency('', required : false)/" \
    "$work/src/gst-plugins-bad1.0/gst-libs/gst/meson.build"
  mesonbuild "$work/src/gst-plugins-bad1.0" "${gst_common[@]}" \
    -Dauto_features=disabled -Dorc=disabled -Dwasapi=enabled \
    -Dintrospection=disabled \
    -Dgpl=disabled \
    -Dpackage-name="GStreamer Bad Plugins for qsound (Debian source $(pkgver gst-plugins-bad1.0))"
}

pkgver () { echo "$sources" | awk -F= -v n="$1" '$1 == n { print $2 }'; }

fetch_all () {
  local s
  for s in $sources; do fetch "$s"; done
}

fresh=0
if [ ! -f "$rt/done-all" ]; then
  # a run that failed half-way resumes at the step that failed; the time of
  # every step is kept in $rt/times, and the runtime's build time is their sum
  step sources fetch_all
  step zlib b_zlib
  step intl b_intl
  step libffi b_libffi
  step pcre2 b_pcre2
  step glib b_glib
  step opus b_opus
  step mpg123 b_mpg123
  step lame b_lame
  step libsodium b_libsodium
  step gstreamer b_gstreamer
  step base b_base
  step good b_good
  step bad b_bad
  echo "$sources" | sed '/^$/d' >"$rt/sources"
  awk '{ t += $2 } END { print t }' "$rt/times" >"$rt/runtime-seconds"
  touch "$rt/done-all"
  rm -rf "$work"
  fresh=1
fi

