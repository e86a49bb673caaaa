#!/bin/bash
# Soak benchmark: a private PulseAudio with null sinks, then bench/soak.py.
#   bench/soak.sh [--minutes 30] [--recv-every 120] [--send-every 300]
#                 [--codec mp3|opus|pcm] [--latency-ms N] [--launcher auto|none|PATH]
# Build first (meson setup build && meson compile -C build).
set -eu
cd "$(dirname "$0")/.."
export QSOUND_BUILD_ROOT=${QSOUND_BUILDDIR:-$PWD/build}
export GST_PLUGIN_PATH_1_0="$QSOUND_BUILD_ROOT/plugins/qsound"
export GST_PLUGIN_PATH="$GST_PLUGIN_PATH_1_0"
. tests/pulse-env.sh
export QSOUND_SOAK_LOGDIR="$qsound_pulse_dir"
python3 bench/soak.py --build "$QSOUND_BUILD_ROOT" "$@"
