#!/usr/bin/env python3
"""Receivers in step (issue 13): two receivers of one transmitter, minute by
minute, judged by the sound a real sink plays.

Usage: multiroom.py [--seconds 600] [--repeat 1] [--latency 150]
                    [--ppm 1000] [--control-seconds 30] [--keep]
                    [--build DIR]

The setup of tests/multiroom's `sync` case (tests/multiroom/roomrig.py), on
a private PulseAudio with the rig of DESIGN.md (tests/e2e/mixrig.py:
``play``, ``out`` and ``out2`` remap sinks of one 6-channel null sink,
recorded as one sample-aligned stream): distinct 20 ms noise bursts are
played into ``play``; the transmitter (tests/multiroom/fastsender.py)
captures it with its card and its pipeline clock --ppm fast; receiver 1,
``qsound-launch -m 2 -l LATENCY -o out``, connects directly, receiver 2
(``-o out2``) through tests/jitter/delayproxy.py at 40 +- 10 ms both ways
(the jitter wandering to a new point every 500 ms).
Each burst's lag in ``out`` and ``out2`` is that moment's end-to-end delay
on each receiver; matched by when the burst was played, lag(out) -
lag(out2) is how far apart the two played it.

After each run (the recording is analysed a minute at a time) it prints,
for each minute of the signal (the bursts played in it, from 3 s after
the receivers started: their lock-in):
  bursts      delivered on out / on out2 / of those played
  out-out2    the median of lag(out) - lag(out2), ms
  |d| p50 p95 the median and p95 of its size, ms (goal: a median of 0.2 ms
              or less, what Snapcast claims for its clients)
  out-L out2-L each receiver's median latency minus --latency, ms
and then the whole run's figures, the steps of 3 ms or more, each
receiver's re-locks and underruns (its log) and its last status line, and
the host's stalls (tests/stallwatch).

First, the control (--control-seconds, 30 by default; 0 skips it): one
stock pipeline, pulsesrc device=play.monitor ! tee, each branch into a
pulsesink (out, out2) with the same small buffers and sync=false.  Its
two sinks play each burst at one constant distance, set when the two
streams started (0.15-0.71 ms in three runs on 2026-12-05): what two sinks
fed the same samples at once do here, and the rig's resolution (a sample,
0.02 ms).
"""

import argparse
import os
import sys

import numpy as np

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'multiroom'))
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'e2e'))
import mixrig  # noqa: E402
import roomrig  # noqa: E402
import stallwatch  # noqa: E402

LOCK_S = 3.0
GOAL_MS = 0.2


def fmt(v, spec='%+.2f'):
    return spec % v if v is not None else '-'


def minute_row(label, res, t0, t1, target):
    out, out2 = res['out'].since(t0), res['out2'].since(t0)
    n_out = sum(1 for t in out.times if t < t1)
    n_out2 = sum(1 for t in out2.times if t < t1)
    sent = n_out + sum(1 for t in out.lost_s if t < t1)
    st = roomrig.PairStats(roomrig.pairs(res['out'], res['out2'], t0, t1))
    w1, w2 = res['out'].window(t0, t1), res['out2'].window(t0, t1)
    return ('%-7s %-14s %9s %6s %6s %8s %8s'
            % (label, '%d/%d/%d' % (n_out, n_out2, sent),
               fmt(st.median, '%+.3f'),
               fmt(st.abs_median, '%.3f'), fmt(st.abs_p95, '%.3f'),
               fmt(w1 - target if w1 is not None else None),
               fmt(w2 - target if w2 is not None else None)), st)


def events(p):
    ev = mixrig.jitter_events(p) if p is not None else []
    return (sum(e.startswith('re-lock') for e in ev),
            sum(e.startswith('underrun') for e in ev))


def measure(workdir, launch, args, run):
    watch = stallwatch.Watch()
    s = roomrig.run(workdir, 'multiroom-%d' % run, launch, args.seconds,
                    ppm=args.ppm, latency_ms=args.latency, watch=watch)
    missing = [n for n in ('tx', 'proxy', 'out', 'out2') if n not in s.procs]
    if missing:
        print('run %d: did not start: %s (logs in %s)'
              % (run + 1, ', '.join(missing), workdir))
        return
    res = roomrig.analyse_long(s.rec)
    if not args.keep:
        os.unlink(s.rec)
    s.first_sent_s = res['out'].first_sent_s
    if s.first_sent_s is None:
        print('run %d: no burst found in the recording' % (run + 1))
        return
    lock = max(s.started_s('out'), s.started_s('out2')) + LOCK_S
    print('\nrun %d: %d s, receivers -l %d, sender %+g ppm; minutes of the '
          'signal from %.1f s (bursts from %.1f s, after the lock-in)'
          % (run + 1, args.seconds, args.latency, args.ppm, s.first_sent_s,
             lock))
    print('%-7s %-14s %9s %6s %6s %8s %8s' % ('minute', 'bursts', 'out-out2',
                                            '|d|p50', '|d|p95', 'out-L',
                                            'out2-L'))
    start = s.first_sent_s
    minutes = int(np.ceil(args.seconds / 60.0))
    medians = []
    for m in range(minutes):
        t0, t1 = start + 60 * m, start + 60 * (m + 1)
        row, st = minute_row(str(m + 1), res, max(t0, lock), t1,
                             args.latency)
        print(row, flush=True)
        if st.n:
            medians.append(st.abs_median)
    row, st = minute_row('all', res, lock, float('inf'), args.latency)
    print(row)
    if st.n:
        print('goal: median |lag(out) - lag(out2)| <= %.1f ms: %s (%.3f ms '
              'over the run; minutes %.3f..%.3f)'
              % (GOAL_MS, 'met' if st.abs_median <= GOAL_MS else 'NOT met',
                 st.abs_median, min(medians), max(medians)))
    for name in roomrig.OUTPUTS:
        po = res[name].since(lock)
        relocks, underruns = events(s.procs.get(name))
        print('%s: %d/%d bursts, steps >= 3 ms %d (%d while the host '
              'stalled), re-locks %d, underruns %d, slope %+.4f ms/s'
              % (name, po.delivered, po.sent, len(po.jumps()),
                 mixrig.host_steps(po, watch), relocks, underruns,
                 po.slope_ms_per_s or 0.0))
        print('%s: %s' % (name, roomrig.last_status(s.procs[name])))
    print(watch.summary(), flush=True)


CONTROL = ('pulsesrc device=play.monitor buffer-time=20000 '
           'latency-time=10000 ! audio/x-raw,format=S16LE,rate=48000,'
           'channels=2 ! tee name=t '
           't. ! queue ! pulsesink device=out buffer-time=30000 '
           'latency-time=10000 sync=false '
           't. ! queue ! pulsesink device=out2 buffer-time=30000 '
           'latency-time=10000 sync=false')


def control(workdir, seconds, keep):
    """The control: one pipeline playing play.monitor into out and out2."""
    rec, _ = mixrig.run_rig(workdir, 'control', mixrig.gst_chain(
        [('tee', CONTROL)]), seconds)
    res = mixrig.analyse(rec, roomrig.OUTPUTS)
    if not keep:
        os.unlink(rec)
    st = roomrig.PairStats(roomrig.pairs(res['out'], res['out2']))
    print('control, %d s: one pipeline, pulsesrc ! tee into two pulsesinks '
          '(out, out2)' % seconds)
    for name in roomrig.OUTPUTS:
        print('  ' + res[name].summary())
    print('  ' + st.summary(), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--seconds', type=int, default=600)
    ap.add_argument('--repeat', type=int, default=1)
    ap.add_argument('--latency', type=int, default=roomrig.TARGET_MS,
                    metavar='MS', help="the receivers' -l")
    ap.add_argument('--ppm', type=float, default=roomrig.PPM,
                    help="how fast the sender's card and clock run")
    ap.add_argument('--control-seconds', type=int, default=30,
                    metavar='S', help='the stock control run (0: none)')
    ap.add_argument('--build', default=os.path.join(HERE, '..', 'build'))
    ap.add_argument('--keep', action='store_true',
                    help='keep the recordings and logs (their folder is '
                         'printed at the end)')
    args = ap.parse_args()

    launch = mixrig.bench_env(args.build)
    with mixrig.bench_rig('qsound-multiroom-bench-', args.keep) as workdir:
        if workdir is None:
            print('could not start a private PulseAudio')
            return 1
        if args.control_seconds:
            control(workdir, args.control_seconds, args.keep)
        for run in range(args.repeat):
            measure(workdir, launch, args, run)
    return 0


if __name__ == '__main__':
    sys.exit(main())
