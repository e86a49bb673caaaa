#!/bin/bash
# The test command: installs what the tests need, builds, starts a private
# PulseAudio with null sinks, runs the whole suite.  Usage: tests/run.sh [meson test args]
set -eu
cd "$(dirname "$0")/.."
.ci/deps.sh test
builddir=${QSOUND_BUILDDIR:-build}
if [ -f "$builddir/build.ninja" ]; then
  meson setup --reconfigure "$builddir" -Dfuzz=true >/dev/null
else
  meson setup "$builddir" -Dfuzz=true >/dev/null
fi
meson compile -C "$builddir"
. tests/pulse-env.sh
meson test -C "$builddir" --print-errorlogs --num-processes 2 "$@"
