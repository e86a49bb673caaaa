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
# the Windows zip the tests/windows cases run under Wine (the runtime is
# cached in /var/cache/qsound-windows: only the first run builds it, ~8 min
# on 2 cores); QSOUND_WINDOWS=0 leaves it out (those cases then skip)
if [ "${QSOUND_WINDOWS:-1}" != 0 ]; then
  packaging/windows/build.sh "$builddir/windows"
fi
. tests/pulse-env.sh
meson test -C "$builddir" --print-errorlogs --num-processes 2 "$@"
