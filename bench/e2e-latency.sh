#!/bin/bash
# Runs bench/e2e-latency.py against a private PulseAudio with the null sinks
# play and out (tests/pulse-env.sh), so the desktop's sound is left alone.
# Build first (meson setup build && ninja -C build).  Args go to the script.
set -eu
cd "$(dirname "$0")/.."
. tests/pulse-env.sh
py=python3
if /usr/bin/python3 -c 'import numpy' 2>/dev/null; then py=/usr/bin/python3; fi
"$py" bench/e2e-latency.py "$@"
