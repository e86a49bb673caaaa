#!/bin/bash
# Runs bench/jitter-latency.py on a private PulseAudio (tests/pulse-env.sh).
#   bench/jitter-latency.sh pcm:5 pcm:10 opus:8 mp3:15 ...   (MS 0 = default)
set -eu
cd "$(dirname "$0")/.."
. tests/pulse-env.sh
py=python3
if /usr/bin/python3 -c 'import numpy' 2>/dev/null; then py=/usr/bin/python3; fi
"$py" bench/jitter-latency.py "$@"
