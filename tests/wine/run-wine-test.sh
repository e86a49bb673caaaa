#!/bin/bash
# The WASAPI capture backend under Wine over the test PulseAudio server.
#
#   tests/wine/run-wine-test.sh [WORKDIR]
#
# Cross-builds tests/wine (mingw-w64, -Dwasapi-test-only=true) into
# WORKDIR/cross, makes a private Wine prefix in WORKDIR/prefix (64-bit only),
# points Pulse's default source at play.monitor, plays a 1 kHz tone at
# amplitude 0.5 into the sink `play` and runs wasapi-capture-test.exe, which
# must get a clear error for loopback (Wine refuses it) and capture the tone
# through the same backend on Wine's default capture endpoint.
# Needs the private PulseAudio of tests/pulse-env.sh (tests/run.sh starts it).
# Exit status: 0 pass, 1 fail, 77 skip (a tool is missing).
set -u

src=${QSOUND_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
work=${1:-${QSOUND_BUILD_ROOT:-$src/build}/tests/wine}
mkdir -p "$work"
work=$(cd "$work" && pwd)
freq=1000
amplitude=0.5

skip () { echo "wine-wasapi: SKIP: $*"; exit 77; }
fail () { echo "wine-wasapi: FAIL: $*"; exit 1; }

command -v x86_64-w64-mingw32-gcc >/dev/null || skip "x86_64-w64-mingw32-gcc is missing (apt-get install mingw-w64)"
# Debian's `wine` wrapper wants wine32; wine64 alone is enough here.
wine=""
for w in /usr/lib/wine/wine64 "$(command -v wine64 || true)"; do
  if [ -n "$w" ] && [ -x "$w" ]; then wine=$w; break; fi
done
[ -n "$wine" ] || skip "wine64 is missing (apt-get install wine64)"
wineserver=""
for w in /usr/lib/wine/wineserver64 /usr/lib/wine/wineserver "$(command -v wineserver || true)"; do
  if [ -n "$w" ] && [ -x "$w" ]; then wineserver=$w; break; fi
done
command -v pactl >/dev/null || skip "pactl is missing (apt-get install pulseaudio-utils)"
pactl info >/dev/null 2>&1 || skip "no PulseAudio server; run through tests/run.sh (it starts one)"
pactl list short sinks | grep -q "^[0-9]*[[:space:]]play[[:space:]]" \
  || skip "the PulseAudio server has no sink named play (see tests/pulse-env.sh)"

# 1. the cross build
cross=$work/cross
if [ ! -f "$cross/build.ninja" ]; then
  meson setup --cross-file "$src/tests/wine/x86_64-w64-mingw32.txt" \
    -Dwasapi-test-only=true "$cross" "$src" >"$work/cross-setup.log" 2>&1 \
    || { cat "$work/cross-setup.log"; fail "meson setup of the mingw-w64 cross build failed"; }
fi
ninja -C "$cross" >"$work/cross-build.log" 2>&1 \
  || { cat "$work/cross-build.log"; fail "the mingw-w64 cross build failed"; }
exe=$cross/tests/wine/wasapi-capture-test.exe
[ -f "$exe" ] || fail "$exe was not built"

# 2. a private, quiet, 64-bit Wine prefix (no Mono/Gecko prompts)
export WINEPREFIX=$work/prefix
export WINEARCH=win64
export WINEDEBUG=-all
export WINEDLLOVERRIDES="mscoree,mshtml="
export WINELOADER=$wine
export WINESERVER=$wineserver
unset DISPLAY WAYLAND_DISPLAY
tone_pid=""
old_source=$(pactl get-default-source 2>/dev/null || true)
old_sink=$(pactl get-default-sink 2>/dev/null || true)
watch_pid=""
cleanup () {
  [ -n "$watch_pid" ] && kill "$watch_pid" 2>/dev/null
  [ -n "$tone_pid" ] && kill "$tone_pid" 2>/dev/null && wait "$tone_pid" 2>/dev/null
  # stops this prefix's wineserver (and only it)
  "$wineserver" -k 2>/dev/null
  [ -n "$old_source" ] && pactl set-default-source "$old_source" 2>/dev/null
  [ -n "$old_sink" ] && pactl set-default-sink "$old_sink" 2>/dev/null
}
trap cleanup EXIT
if [ ! -f "$WINEPREFIX/system.reg" ]; then
  echo "wine-wasapi: creating the Wine prefix $WINEPREFIX (takes a minute the first time)"
  timeout 400 "$wine" wineboot -i >"$work/wineboot.log" 2>&1
  "$wineserver" -w
  [ -f "$WINEPREFIX/system.reg" ] || { cat "$work/wineboot.log"; fail "wineboot could not create the prefix"; }
fi

# 3. no audio driver at all (an empty driver list): clear errors, no crash;
#    then PulseAudio only (no fallback to ALSA or OSS)
"$wine" reg add 'HKCU\Software\Wine\Drivers' /v Audio /d "" /f >/dev/null 2>&1 \
  || fail "could not clear Wine's audio driver list"
timeout 120 "$wine" "$exe" --expect-no-device
rc=$?
[ $rc = 0 ] || fail "wasapi-capture-test.exe --expect-no-device exited with status $rc"
"$wine" reg add 'HKCU\Software\Wine\Drivers' /v Audio /d pulse /f >/dev/null 2>&1 \
  || fail "could not make Wine use PulseAudio"

# 4. Wine's default capture endpoint is Pulse's default source: the monitor
#    of `play`, where the tone goes
pactl set-default-sink play || fail "pactl set-default-sink play failed"
pactl set-default-source play.monitor || fail "pactl set-default-source play.monitor failed"
gst-launch-1.0 -q audiotestsrc freq=$freq volume=$amplitude is-live=true \
  ! audio/x-raw,format=F32LE,rate=48000,channels=2 \
  ! pulsesink device=play >"$work/tone.log" 2>&1 &
tone_pid=$!
i=0
until pactl list short sink-inputs | grep -q .; do
  i=$((i + 1))
  [ $i -gt 100 ] && { cat "$work/tone.log"; fail "the tone did not start playing into play"; }
  kill -0 "$tone_pid" 2>/dev/null || { cat "$work/tone.log"; fail "gst-launch-1.0 (the tone) exited"; }
  sleep 0.1
done

# 5. the test program; meanwhile watch for its silent render stream (the one
#    that keeps loopback packets flowing) playing, uncorked, into Pulse
rm -f "$work/render-seen"
(
  while :; do
    pactl list sink-inputs 2>/dev/null | awk '
      /^Sink Input #/ { corked = "" }
      /Corked: no/ { corked = "no" }
      /application.name = "wasapi-capture-test.exe"/ { if (corked == "no") seen = 1 }
      END { exit !seen }' && touch "$work/render-seen"
    sleep 0.2
  done
) &
watch_pid=$!
# (module-null-sink's monitors are described "Monitor of Null Output")
timeout 180 "$wine" "$exe" --seconds 3 --freq $freq --amplitude $amplitude \
  --by-name "Monitor of Null Output"
rc=$?
kill "$watch_pid" 2>/dev/null
wait "$watch_pid" 2>/dev/null
if [ $rc = 0 ] && [ ! -f "$work/render-seen" ]; then
  fail "the backend's silent render stream never played into PulseAudio"
fi
case $rc in
  0) echo "wine-wasapi: PASS (the silent render stream played)" ;;
  124) fail "wasapi-capture-test.exe did not finish within 180 s" ;;
  *) fail "wasapi-capture-test.exe exited with status $rc" ;;
esac
