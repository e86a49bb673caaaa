#!/usr/bin/env python3
"""Receivers of one transmitter play in step (issue 13), judged by the sound.

Usage: test_multiroom.py CASE QSOUND_LAUNCH

Each case starts its own private PulseAudio with the rig of DESIGN.md
(tests/e2e/mixrig.py: ``play``, ``out`` and ``out2`` as remap sinks of one
6-channel null sink, recorded as one sample-aligned stream) and plays
distinct 20 ms noise bursts into ``play``.  The transmitter is
tests/multiroom/fastsender.py: ``play`` captured by loopbacksrc, its card
and its pipeline clock (the one its timed heartbeats answer with) both
1000 ppm fast.  Two receivers of it, ``qsound-launch -m 2 -l 150``: one
playing into ``out``, connected directly, the other into ``out2`` through
tests/jitter/delayproxy.py (40 +- 10 ms both ways, the jitter wandering
to a new point every 500 ms).  -l is the end-to-end
delay: a sample played into ``play`` should come out of each receiver's
sink 150 ms later.  Each burst's lag in ``out`` and in ``out2`` is that
moment's end-to-end delay, and, matched by when it was played,
lag(out) - lag(out2) how far apart the two rooms played it
(tests/multiroom/roomrig.py).

Two bounds: WITHIN, each receiver's latency from -l, and STEP, the two
receivers from each other.  The cases hold 15 and 12 ms (15 ms for the
p95 apart, and for any burst of the late joiner): wide, as in 1 of 16 runs
the directly connected receiver played a steady 11 ms later than in the
others (156 ms, not understood yet); without the transmitter's clock the
two played 64 ms apart and 85 ms late.  The same cases with -goal
(sync-goal, late-goal: benchmarks, `meson test --benchmark`) ask the
issue's 5 and 1 ms, not met in every run yet.  Typical runs: 145-148 ms,
the two 0.2-2 ms apart (median).  What keeps them from the goal here:
loopbacksrc captures ``play`` when the sound server renders it, its
latency (about 5 ms here) before the rig records it as played, so a
receiver plays about 145 ms after the rig's ``play``; and the clock read
through the proxy is off by 1-3 ms (bench/clock-sync.sh).  Cases:

  sync   60 s, both receivers started together.  Asserted:
         - for each receiver, over the bursts played from 3 s after the
           later receiver started (its lock-in, where placing the audio
           may cut or fill): every burst delivered (a loss that the
           host's stall explains, tests/e2e/stallwatch.py, is reported
           as the host's, up to a tenth of the bursts, as in
           tests/playout); the median latency within WITHIN of 150, and
           p5 and p95 both within that;
         - over the same bursts, delivered on both: the median of
           lag(out) - lag(out2) within +-STEP, and the p95 of its size at
           most STEP + 3 ms (the goal: STEP).
  late   34 s of signal; the receiver through the proxy (``out2``) joins
         20 s after the first.  Asserted:
         - ``out2`` played no burst more than 0.5 s before it was
           started (the rig: nothing leaks between the channels, and its
           start is placed on the recording about right);
         - the first receiver, from its own 3 s lock-in: every burst
           delivered, the median and p5..p95 within WITHIN of 150, and
           the same over the bursts played after the join (a new
           receiver does not move the first);
         - the late one, for EVERY burst played from 2 s after it was
           started on (at least 20): delivered, its latency within
           WITHIN of 150, and within STEP + 3 ms of the first's, the
           median within STEP (the goal: every burst within STEP).
         Its start is placed on the recording by when the player
         started (roomrig.Session.rec_time; within a few ms).

Each run prints both receivers' summaries (mixrig.Playout.summary), the
pairwise figures, every burst's lags and difference, the receivers' last
status lines and jitter events, and the host's stalls.  Recordings and
logs are kept when a case fails, or always with QSOUND_KEEP=1 in the
environment.

By hand, from a build (`meson test -C build multiroom-sync -v` shows the
env meson gives it):
    GST_PLUGIN_PATH=build/plugins/qsound QSOUND_SOURCE_ROOT=$PWD \\
        QSOUND_BUILD_ROOT=$PWD/build /usr/bin/python3 \\
        tests/multiroom/test_multiroom.py sync build/launcher/qsound-launch

Exit status 77 (skipped by meson) when no PulseAudio can be started.
"""

import os
import sys

import numpy as np

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, '..', 'e2e'))
import mixrig  # noqa: E402
import roomrig  # noqa: E402
import stallwatch  # noqa: E402
from test_e2e import check, failures  # noqa: E402  (one way to report)

SKIP = 77
TARGET_MS = roomrig.TARGET_MS
# the bounds the tests hold (see the module docstring), and the issue's
# goals, which the -goal cases (benchmarks) ask
BOUNDS = {'test': (15.0, 12.0), 'goal': (5.0, 1.0)}
WITHIN_MS = 15.0      # each receiver's latency from -l
STEP_MS = 12.0        # the two receivers from each other
GOAL = False          # judged against the goal
LOCK_S = 3.0          # a receiver's lock-in, not judged
JOIN_LOCK_S = 2.0     # the late receiver's
SYNC_SECONDS = 60
LATE_SECONDS = 34
JOIN_S = 20.0
EARLY_MARGIN_S = 0.5


def launch_env():
    root = os.environ.get('QSOUND_SOURCE_ROOT')
    if root:
        os.environ['QSOUND_PIPELINES_DIR'] = os.path.join(root, 'pipelines')


def show(s, res, watch):
    """What each receiver played, burst by burst, and what the processes
    and the host said."""
    for name in roomrig.OUTPUTS:
        po = res[name]
        print(po.summary(), flush=True)
        print('lags %s: ' % name + ' '.join(
            '%.1f:%.2f' % (t, lag) for t, lag in zip(po.times, po.lags_ms)),
            flush=True)
    print('diff out-out2: ' + ' '.join(
        '%.1f:%+.2f' % (t, a - b) for t, a, b in
        roomrig.pairs(res['out'], res['out2'])), flush=True)
    for name in roomrig.OUTPUTS:
        p = s.procs.get(name)
        if p is None:
            continue
        print('%s started at %.2f s on the recording; last status: %s'
              % (name, s.started_s(name) or 0.0, roomrig.last_status(p)))
        for e in mixrig.jitter_events(p):
            print('%s: %s' % (name, e))
    print(watch.summary(), flush=True)


def check_started(s):
    """The sender, the proxy and both receivers started and ran to the
    end."""
    names = ('tx', 'proxy') + roomrig.OUTPUTS
    missing = [n for n in names if n not in s.procs]
    check(not missing, 'the sender, the proxy and both receivers started '
          '(missing: %s)' % (', '.join(missing) or 'none'))
    died = [n for n in names if n in s.alive and not s.alive[n]]
    check(not died, 'they ran to the end (ended early: %s)'
          % (', '.join(died) or 'none'))
    return not missing


def check_arrived(po, watch, what='every burst'):
    ok, why = watch.judge(po.sent, po.delivered, mixrig.lost_at(po, watch))
    check(po.sent > 0 and ok, '%s: %s arrived or was lost while the host '
          'stalled (%d of %d%s)' % (po.name, what, po.delivered, po.sent,
                                    why))


def check_latency(po, what):
    """The median within WITHIN_MS of -l, and p5..p95 inside that too."""
    if po.delivered < 2:
        check(False, '%s: bursts to judge %s (%d)' % (po.name, what,
                                                      po.delivered))
        return
    med = float(np.median(po.lags_ms))
    p5, p95 = po.percentile(5), po.percentile(95)
    check(abs(med - TARGET_MS) <= WITHIN_MS, '%s: median latency %s within '
          '%.0f ms of %d (%.2f ms over %d bursts)'
          % (po.name, what, WITHIN_MS, TARGET_MS, med, po.delivered))
    check(p5 >= TARGET_MS - WITHIN_MS and p95 <= TARGET_MS + WITHIN_MS,
          '%s: p5..p95 %s within %.0f..%.0f ms (%.2f..%.2f)'
          % (po.name, what, TARGET_MS - WITHIN_MS, TARGET_MS + WITHIN_MS,
             p5, p95))


def analyse(s):
    res = mixrig.analyse(s.rec, roomrig.OUTPUTS)
    s.first_sent_s = res['out'].first_sent_s
    return res


def started_and_analysed(s, watch):
    """The processes started and ran (checked), the recording analysed and
    shown; None if there is nothing to judge."""
    if not check_started(s):
        return None
    res = analyse(s)
    show(s, res, watch)
    if s.first_sent_s is None:
        check(False, 'the rig saw the bursts played')
        return None
    return res


def loose_step():
    """The bound for the p95 and the worst burst apart: STEP, and 3 ms more
    for the tests (the clock read through the proxy moves by a few ms in
    the first seconds)."""
    return STEP_MS if GOAL else STEP_MS + 3.0


def case_sync(workdir, launch):
    watch = stallwatch.Watch()
    s = roomrig.run(workdir, 'sync', launch, SYNC_SECONDS, watch=watch)
    res = started_and_analysed(s, watch)
    if res is None:
        return
    check(res['out'].sent >= 150, 'the rig saw the bursts played (%d)'
          % res['out'].sent)
    t0 = max(s.started_s('out'), s.started_s('out2')) + LOCK_S
    what = 'from %.1f s (lock-in)' % t0
    for name in roomrig.OUTPUTS:
        judged = res[name].since(t0)
        print('judged: ' + judged.summary())
        check_arrived(judged, watch, '%s every burst' % what)
        check_latency(judged, what)
    st = roomrig.PairStats(roomrig.pairs(res['out'], res['out2'], t0))
    print('judged: ' + st.summary(), flush=True)
    if not st.n:
        check(False, 'bursts delivered on both to compare')
        return
    check(abs(st.median) <= STEP_MS, 'the median of lag(out) - lag(out2) %s '
          'within %.0f ms (%+.3f ms over %d bursts)'
          % (what, STEP_MS, st.median, st.n))
    p95_bound = loose_step()
    check(st.abs_p95 <= p95_bound, 'p95 of |lag(out) - lag(out2)| %s at '
          'most %.0f ms (%.3f ms; max %.3f)' % (what, p95_bound, st.abs_p95,
                                               st.abs_max))


def case_late(workdir, launch):
    watch = stallwatch.Watch()
    s = roomrig.run(workdir, 'late', launch, LATE_SECONDS, join_s=JOIN_S,
                    watch=watch)
    res = started_and_analysed(s, watch)
    if res is None:
        return
    first, second = res['out'], res['out2']
    join = s.started_s('out2')
    print('out2 started %.2f s after out; first burst it played came %s'
          % (s.started['out2'] - s.started['out'],
             '%.2f s after it started' % (second.times[0] - join)
             if second.times else 'never'))
    # out2's sound, not the bursts' play times: a burst played just before
    # the join comes out of it 150 ms later.  The margin takes the
    # placement's error (the player's start-up)
    early = [t for t, lag in zip(second.times, second.lags_ms)
             if t + lag / 1000.0 < join - EARLY_MARGIN_S]
    check(not early, 'out2 played no burst before it was started (bursts '
          'played at %s)' % (', '.join('%.1f s' % t for t in early)
                             or 'none'))
    t0 = s.started_s('out') + LOCK_S
    judged = first.since(t0)
    print('judged: ' + judged.summary())
    check_arrived(judged, watch, 'from %.1f s (lock-in) every burst' % t0)
    check_latency(judged, 'from %.1f s (lock-in)' % t0)
    check_latency(first.since(join), 'after out2 joined at %.1f s' % join)
    t1 = join + JOIN_LOCK_S
    late = second.since(t1)
    print('judged: ' + late.summary())
    check(late.sent >= 20, 'bursts played from %.1f s, %.0f s after out2 '
          'joined (%d)' % (t1, JOIN_LOCK_S, late.sent))
    check_arrived(late, watch, 'from %.1f s every burst' % t1)
    off = [(t, lag) for t, lag in zip(late.times, late.lags_ms)
           if abs(lag - TARGET_MS) > WITHIN_MS]
    check(late.delivered and not off, 'out2: every burst from %.1f s within '
          '%.0f ms of %d (outside: %s)' % (
              t1, WITHIN_MS, TARGET_MS, ', '.join(
                  '%.1f s %.2f ms' % x for x in off[:10]) or 'none'))
    matched = roomrig.pairs(first, second, t1)
    st = roomrig.PairStats(matched)
    print('judged: ' + st.summary(), flush=True)
    # its clock reading is young (2 s of exchanges through the proxy):
    # the tests: the median within STEP too (the goal: every burst)
    worst = loose_step()
    apart = [(t, a - b) for t, a, b in matched if abs(a - b) > worst]
    check(st.n and not apart, 'every burst from %.1f s within %.0f ms on '
          'both (%d bursts; apart: %s)' % (
              t1, worst, st.n, ', '.join(
                  '%.1f s %+.2f ms' % x for x in apart[:10]) or 'none'))
    if not GOAL:
        check(st.n and st.abs_median <= STEP_MS, 'the median of |lag(out) '
              '- lag(out2)| from %.1f s at most %.0f ms (%.3f ms)'
              % (t1, STEP_MS, st.abs_median))


CASES = {'sync': case_sync, 'late': case_late}


def main(argv):
    global WITHIN_MS, STEP_MS, GOAL
    case = argv[1] if len(argv) == 3 else ''
    kind = 'test'
    if case.endswith('-goal'):
        case, kind = case[:-len('-goal')], 'goal'
    if case not in CASES:
        print(__doc__)
        return 2
    WITHIN_MS, STEP_MS = BOUNDS[kind]
    GOAL = kind == 'goal'
    print('judged against the %s bounds: each within %.0f ms of -l %d, the '
          'two within %.0f ms of each other' % (kind, WITHIN_MS, TARGET_MS,
                                                 STEP_MS), flush=True)
    launch_env()
    return mixrig.run_case('qsound-multiroom-',
                           lambda workdir: CASES[case](workdir, argv[2]),
                           failures)


if __name__ == '__main__':
    sys.exit(main(sys.argv))
