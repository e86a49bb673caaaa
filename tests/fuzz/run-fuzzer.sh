#!/bin/sh
# Runs the fuzz target for a bounded time on a copy of the seed corpus, in the
# build dir.  Exits non-zero on any crash, sanitizer report, leak or timeout
# (libFuzzer's own exit status).  The input that failed is left in
# WORKDIR/artifacts/; reproduce with: FUZZER WORKDIR/artifacts/crash-...
#   run-fuzzer.sh FUZZER SEED_CORPUS_DIR WORKDIR [SECONDS] [DICT]
# QSOUND_FUZZ_SECONDS overrides SECONDS.
set -eu
fuzzer=$1
seeds=$2
work=$3
secs=${QSOUND_FUZZ_SECONDS:-${4:-60}}
dict=${5:-}

rm -rf "$work"
mkdir -p "$work/corpus" "$work/artifacts"
cp "$seeds"/* "$work/corpus/"
set -- -max_total_time="$secs" -rss_limit_mb=1024 -timeout=10 -max_len=8192 \
  -print_final_stats=1 -artifact_prefix="$work/artifacts/"
[ -n "$dict" ] && set -- "$@" -dict="$dict"
echo "fuzz-proto: fuzzing for $secs s on a copy of $seeds in $work/corpus"
# libFuzzer reports failures with status 77 by default, which meson would
# take for "skipped": turn every failure into 1.
status=0
"$fuzzer" "$@" "$work/corpus" || status=$?
if [ "$status" != 0 ]; then
  echo "fuzz-proto: FAILED (libFuzzer status $status); failing input(s):" >&2
  ls -l "$work/artifacts" >&2
  exit 1
fi
