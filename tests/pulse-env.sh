# Sourced: starts a private PulseAudio with the null sinks the tests use
# (play, out) and exports XDG_RUNTIME_DIR/PULSE_SERVER for it.  Stops it on exit.
# Runs as root without hardware; see DESIGN "A real sound server for tests".
qsound_pulse_dir=$(mktemp -d /tmp/qsound-pulse.XXXXXX)
export XDG_RUNTIME_DIR="$qsound_pulse_dir"
export PULSE_RUNTIME_PATH="$qsound_pulse_dir/pulse"
unset PULSE_SERVER
pulseaudio -n --daemonize=yes --exit-idle-time=-1 --disallow-exit \
  --log-target=file:"$qsound_pulse_dir/pulse.log" \
  -L module-native-protocol-unix \
  -L "module-null-sink sink_name=play rate=48000" \
  -L "module-null-sink sink_name=out rate=48000" \
  -L "module-always-sink" 2>/dev/null || true
i=0
until pactl info >/dev/null 2>&1; do
  i=$((i + 1))
  if [ $i -gt 50 ]; then
    echo "qsound: could not start a private PulseAudio server (log: $qsound_pulse_dir/pulse.log)" >&2
    break
  fi
  sleep 0.1
done
pactl set-default-sink play >/dev/null 2>&1 || true
qsound_pulse_stop () {
  pulseaudio --kill 2>/dev/null || true
}
trap qsound_pulse_stop EXIT
