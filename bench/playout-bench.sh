#!/bin/bash
# Runs bench/playout-bench.py (it starts its own private PulseAudio with the
# rig of DESIGN.md).  Build first (meson setup build && meson compile -C build).
# Args go to the script, e.g. --seconds 60 --repeat 3, or --long 10.
set -eu
cd "$(dirname "$0")/.."
py=python3
if /usr/bin/python3 -c 'import numpy' 2>/dev/null; then py=/usr/bin/python3; fi
exec "$py" bench/playout-bench.py "$@"
