#!/bin/bash
# Runs bench/icecast.py against a private PulseAudio with the null sinks play
# and out (tests/pulse-env.sh), so the desktop's sound is left alone.
# Build first (meson setup build && ninja -C build).  Args go to the script.
set -eu
cd "$(dirname "$0")/.."
. tests/pulse-env.sh
export GST_PLUGIN_PATH_1_0="$PWD/build/plugins/qsound${GST_PLUGIN_PATH_1_0:+:$GST_PLUGIN_PATH_1_0}"
py=python3
if /usr/bin/python3 -c 'import numpy' 2>/dev/null; then py=/usr/bin/python3; fi
"$py" bench/icecast.py "$@"
