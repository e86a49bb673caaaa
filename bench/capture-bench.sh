#!/bin/bash
# Capture benchmark: loopbacksrc next to stock pulsesrc on the monitor of the
# same sink, idle and with every core busy.  Prints, per source and load:
#   share   audio delivered / audio played (sample offsets: a source that
#           drops audio skips offsets; loopbacksrc's filled silence excluded)
#   wall    audio delivered / wall time (should be ~1.000 too)
#   disc    DISCONT buffers after the first
#   cpu     CPU ms of the whole process per second of audio (capture only,
#           and with audioconvert ! lamemp3enc as the busy consumer)
# Usage (from anywhere): bench/capture-bench.sh [SECONDS per run, default 20]
# Needs a PulseAudio with a sink `play`; starts a private one if none answers.
set -eu
cd "$(dirname "$0")/.."
secs=${1:-20}
builddir=${QSOUND_BUILDDIR:-build}
[ -f "$builddir/build.ninja" ] || meson setup "$builddir" >/dev/null
ninja -C "$builddir" >/dev/null
if ! pactl info >/dev/null 2>&1 || ! pactl list short sinks | grep -q '^[0-9]*\splay\s'; then
  export XDG_RUNTIME_DIR=$(mktemp -d)
  . tests/pulse-env.sh
fi
export GST_PLUGIN_PATH_1_0="$PWD/$builddir/plugins/qsound"
export GST_REGISTRY_1_0="$PWD/$builddir/bench/registry.bin"
bench="$builddir/bench/capture-bench"
rate=48000

player=""
busy_pids=""
start_load () {
  for _ in $(seq "$(nproc)"); do
    sh -c 'while :; do :; done' &
    busy_pids="$busy_pids $!"
  done
}
stop_load () {
  [ -n "$busy_pids" ] || return 0
  # shellcheck disable=SC2086
  kill $busy_pids 2>/dev/null || true
  # shellcheck disable=SC2086
  wait $busy_pids 2>/dev/null || true
  busy_pids=""
}
cleanup () {
  stop_load
  [ -z "$player" ] || kill "$player" 2>/dev/null || true
}
trap cleanup EXIT

# something to capture for the whole run
gst-launch-1.0 -q audiotestsrc is-live=true wave=pink-noise volume=0.3 \
  ! audio/x-raw,rate=$rate,channels=2 ! pulsesink device=play >/dev/null 2>&1 &
player=$!
sleep 1

field () { sed -n "s/.*\b$1=\([0-9]*\).*/\1/p" <<<"$2"; }

run () {  # run SOURCE TAIL [STALL_MS] -> prints "share wall disc cpu_per_s"
  local out frames span silence disc cpu wall r
  out=$("$bench" "$secs" "$1" "$2" ${3:+"$3"}) || { echo "fail fail fail fail"; return; }
  frames=$(field frames "$out"); span=$(field span "$out")
  silence=$(field silence "$out"); disc=$(field disconts "$out")
  cpu=$(field cpu_ms "$out"); wall=$(field wall_ms "$out"); r=$(field rate "$out")
  awk -v f="$frames" -v s="$span" -v z="$silence" -v d="$disc" -v c="$cpu" \
      -v w="$wall" -v r="$r" 'BEGIN {
        printf "%.4f %.4f %d %.1f\n", (f - z) / s, f / (w * r / 1000.0), d,
          c / (f / r) }'
}

# both sources at the sink's native format, so neither side resamples
native="audio/x-raw,rate=$rate,channels=2"
stall=500
printf '%s, %s s per run, %s cores; stalls: the streaming thread stops %s ms every 2 s\n\n' \
  "$(date -u +%FT%TZ)" "$secs" "$(nproc)" "$stall"
printf '%-29s %-11s | %-24s | %-24s\n' "" "" "capture only" "capture ! lamemp3enc"
printf '%-29s %-11s | %6s %6s %4s %5s | %6s %6s %4s %5s\n' source condition share wall disc \
  cpu share wall disc cpu
printf -- '-%.0s' $(seq 96); echo
for cond in idle busy busy+stalls; do
  case $cond in idle) st="" ;; *) start_load; st="" ;; esac
  [ $cond = busy+stalls ] && st=$stall
  for src in "loopbacksrc device=play" "pulsesrc device=play.monitor"; do
    read -r s1 w1 d1 c1 < <(run "$src" "$native ! fakesink sync=false" $st)
    read -r s2 w2 d2 c2 < <(run "$src" "$native ! audioconvert ! lamemp3enc ! fakesink sync=false" $st)
    printf '%-29s %-11s | %6s %6s %4s %5s | %6s %6s %4s %5s\n' "$src" $cond \
      "$s1" "$w1" "$d1" "$c1" "$s2" "$w2" "$d2" "$c2"
  done
  stop_load
done
echo
echo "share = audio delivered / audio played, from sample offsets (1.0000 = nothing dropped)"
echo "wall  = audio delivered / wall time (below 1 at the end of a stalled run: audio still queued)"
echo "disc  = DISCONT buffers after the first; cpu = process CPU ms per second of audio"
