#!/bin/sh
# Builds the libFuzzer target with clang, whatever compiler meson uses.
#   build-fuzzer.sh CLANG OUTPUT -I<dir>... SOURCES...
set -eu
cc=$1
out=$2
shift 2
# shellcheck disable=SC2046
exec "$cc" -g -O1 -fno-omit-frame-pointer \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -DPARSER_MIN_ALLOC=32 -DPARSER_KEEP_ALLOC=512 \
  "$@" $(pkg-config --cflags --libs glib-2.0 libsodium) -o "$out"
