#!/bin/bash
# Runs bench/clock-sync.py with the plugins just built.  Build first (meson
# setup build && ninja -C build).  Args go to the script.
set -eu
cd "$(dirname "$0")/.."
export GST_PLUGIN_PATH_1_0="$PWD/build/plugins/qsound${GST_PLUGIN_PATH_1_0:+:$GST_PLUGIN_PATH_1_0}"
exec /usr/bin/python3 bench/clock-sync.py "$@"
