#!/bin/bash
# Runs bench/multiroom.py (it starts its own private PulseAudio with the rig
# of DESIGN.md).  Build first (meson setup build && meson compile -C build).
# Args go to the script, e.g. --seconds 600 --repeat 2, or --build DIR.
set -eu
cd "$(dirname "$0")/.."
py=python3
if /usr/bin/python3 -c 'import numpy' 2>/dev/null; then py=/usr/bin/python3; fi
exec "$py" bench/multiroom.py "$@"
