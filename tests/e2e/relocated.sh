#!/bin/bash
# A relocated install runs from where it is: installs the build into a
# temporary folder, moves that folder, and runs its qsound-launch with no
# QSOUND_PIPELINES_DIR and no GStreamer plugin path set.  It must find its
# pipelines (--print for every mode) and its plugin (a mode 1 server that
# listens, then ends cleanly at SIGINT).
# Usage: relocated.sh BUILD_ROOT.  Exit status: 0 pass, 1 fail.
set -u
build=$1
work=$(mktemp -d /tmp/qsound-relocated.XXXXXX)
server=""
cleanup () {
  [ -n "$server" ] && kill "$server" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
fail () { echo "relocated: FAIL: $*"; exit 1; }

meson install -C "$build" --no-rebuild --destdir "$work/stage" >"$work/install.log" 2>&1 \
  || { cat "$work/install.log"; fail "meson install into a temporary folder failed"; }
launch=$(find "$work/stage" -type f -name qsound-launch)
[ -n "$launch" ] || fail "the install holds no qsound-launch"
# the prefix the install went to, moved somewhere else
prefix=$(dirname "$(dirname "$launch")")
mv "$prefix" "$work/moved" || fail "could not move $prefix"
launch=$work/moved/bin/qsound-launch
unset QSOUND_PIPELINES_DIR GST_PLUGIN_PATH GST_PLUGIN_PATH_1_0
export GST_REGISTRY_1_0=$work/registry.bin

for m in 1 2 3 4; do
  out=$("$launch" -m $m --print 2>&1) || fail "qsound-launch -m $m --print: $out"
  case $m in
    1|4) echo "$out" | grep -q "^loopbacksrc " || fail "-m $m --print: $out" ;;
    2|3) echo "$out" | grep -q "^framedtcpsrc " || fail "-m $m --print: $out" ;;
  esac
done
echo "ok    --print finds the pipelines of every mode"

"$launch" -m 1 -p 0 -c pcm >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do
  grep -q "listening on 127.0.0.1:" "$work/server.log" && break
  kill -0 $server 2>/dev/null || break
  sleep 0.1
done
grep -q "listening on 127.0.0.1:" "$work/server.log" \
  || { cat "$work/server.log"; fail "the relocated mode 1 server did not listen (its plugin not found?)"; }
echo "ok    the relocated launcher loads its plugin and listens"
kill -INT $server
wait $server
rc=$?
server=""
[ $rc = 0 ] || { cat "$work/server.log"; fail "after SIGINT it exited with status $rc, not 0"; }
echo "ok    SIGINT ends it with status 0"
echo "relocated: PASS"
