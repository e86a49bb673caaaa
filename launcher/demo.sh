#!/bin/bash
# qsound demo: installs what it needs, builds, and streams this machine's
# sound to itself with qsound-launch (mode 1 transmits, mode 2 receives over
# 127.0.0.1), showing the receiver's live status line.
#
#   launcher/demo.sh [SECONDS] [mp3|opus|pcm]      (default 10 s, mp3)
#
# As root or as a user: missing Debian packages are installed as root, or
# through sudo for a user (.ci/deps.sh run).
# With a desktop sound server reachable (run it as your user), a ticking
# tone plays into a temporary
# null sink "qsound_demo"; qsound captures that sink and you hear the ticks
# through qsound on your default output.  Without one (root, no sound card),
# it starts a private PulseAudio with the null sinks play and out
# (tests/pulse-env.sh), streams play -> out, and prints the receiver's
# figures.  Capturing the output you also play into would feed back, so the
# demo never does that.
set -eu
cd "$(dirname "$0")/.."
seconds=${1:-10}
codec=${2:-mp3}

.ci/deps.sh run
builddir=${QSOUND_BUILDDIR:-build}
if [ ! -f "$builddir/build.ninja" ]; then
  meson setup "$builddir" >/dev/null
fi
meson compile -C "$builddir" >/dev/null

export GST_PLUGIN_PATH="$PWD/$builddir/plugins/qsound${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
export QSOUND_PIPELINES_DIR="$PWD/pipelines"
launch="$PWD/$builddir/launcher/qsound-launch"
work=$(mktemp -d /tmp/qsound-demo.XXXXXX)

pids=()
module=""
cleanup () {
  for pid in "${pids[@]}"; do
    kill -INT "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [ -n "$module" ]; then
    pactl unload-module "$module" 2>/dev/null || true
  fi
  rm -rf "$work"
}

if [ -z "${QSOUND_DEMO_PRIVATE:-}" ] && pactl info >/dev/null 2>&1; then
  module=$(pactl load-module module-null-sink sink_name=qsound_demo \
    rate=48000 sink_properties=device.description=qsound-demo)
  capture=qsound_demo
  output_args=()
  echo "qsound demo: you should hear ticks through qsound on your default output."
else
  . tests/pulse-env.sh            # private server, stopped on exit
  capture=play
  output_args=(-o out)
  echo "qsound demo: no desktop sound server; streaming the private null sink" \
    "play to out."
fi
trap 'cleanup; type qsound_pulse_stop >/dev/null 2>&1 && qsound_pulse_stop; true' EXIT

# something to hear: ticks, into the sink qsound captures
gst-launch-1.0 -q audiotestsrc wave=ticks is-live=true volume=0.5 \
  ! audio/x-raw,rate=48000,channels=2 ! pulsesink device="$capture" \
  >"$work/tone.log" 2>&1 &
pids+=($!)

# the transmitter (mode 1), on a port the system picks
"$launch" -m 1 -p 0 -c "$codec" -d "$capture" 2>"$work/server.log" &
pids+=($!)
port=""
for _ in $(seq 100); do
  port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' \
    "$work/server.log" | head -n1)
  [ -n "$port" ] && [ "$port" != 0 ] && break
  sleep 0.1
done
if [ -z "$port" ]; then
  echo "qsound demo: the transmitter did not start:" >&2
  cat "$work/server.log" >&2
  exit 2
fi
echo "qsound demo: transmitter (qsound-launch -m 1 -c $codec -d $capture) listens on 127.0.0.1:$port"
echo "qsound demo: receiver: qsound-launch -m 2 -p $port ${output_args[*]} for $seconds s"

# the receiver (mode 2) in the foreground: its status line on this terminal
status=0
timeout -s INT -k 5 "$seconds" "$launch" -m 2 -p "$port" "${output_args[@]}" \
  || status=$?
echo
if [ "$status" = 0 ] || [ "$status" = 124 ]; then
  echo "qsound demo: done."
else
  echo "qsound demo: the receiver exited with status $status." >&2
  exit "$status"
fi
