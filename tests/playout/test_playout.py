#!/usr/bin/env python3
"""Steady, transparent playout, judged by the sound a real sink plays.

Usage: test_playout.py CASE QSOUND_LAUNCH

Each case starts its own private PulseAudio with the rig of DESIGN.md
(tests/e2e/mixrig.py: ``play`` and ``out`` as remap sinks of one 6-channel
null sink, recorded as one sample-aligned stream), plays distinct 20 ms
noise bursts into ``play`` and runs a qsound-launch pair (-m 1 -c pcm
capturing ``play``, -m 2 playing into ``out``).  Cases:

  steady        20 s: every burst arrives (or was lost while the host
                stalled, as in transparent), the per-burst latency stays
                within 4 ms (p5..p95), and the receiver never re-locks or
                runs dry (issue 16's goal)
  steady-steps  the same run, and no step of 3 ms or more between bursts.
                Not met in every run yet: 1 run of 53 on 2026-12-05 had
                one step between the first and the second burst (+7.2 ms)
                and none after, its spread 1.35 ms; the day before 3 of 15
                failed, two of them with one such step (3.2 and 3.3 ms,
                spread 1.15 and 2.56).  A benchmark, `meson test -C build
                --benchmark playout-steady-steps`
  stalls        30 s through the project's delaying proxy
                (tests/jitter/delayproxy.py: 20+-10 ms, and everything held
                70 ms every 3 s), the receiver with no -l (its room adapts
                from the pcm default of 8 ms): the room grows, the receiver
                re-locks once at most (at the first stall), and from 12 s
                on every burst arrives.  With the room fixed at 8 ms
                (audiojitterbuffer adaptive=false, what -l did before
                it meant the end-to-end delay) it fails: no growth, a
                backlog cut at every stall
  stalls-steady the same run, and from 12 s on at most one step of 3 ms or
                more between bursts, and that one up (a stall longer than
                any before: the room takes it in), and the latency within
                8 ms (p5..p95) on each side of it.  Not met in every run
                yet (CI saw a third growth after 12 s, and a saw-tooth of
                +6-8 ms steps steered out at 0.7 ms/s with no growth): a
                benchmark, `meson test -C build --benchmark
                playout-stalls-steady`
  drift         30 s from a raw sender whose card runs 1000 ppm fast
                (tests/e2e/mixrig.py raw_sender) into -m 2: every burst
                arrives (or was lost while the host stalled), and the
                status line's measured drift is +1000 ppm within 100 (250
                when the host stalled the run), the correction shown apart
  transparent   10 s: every burst arrives, and each burst's power as
                received over its power as played is within 0.2 dB in
                every band up to 20 kHz.  A burst lost while the host
                stalled this machine (tests/e2e/stallwatch.py) is reported
                as the host's, not failed, up to a tenth of them.

Recordings and logs are kept when a case fails, or always with
QSOUND_KEEP=1 in the environment.

Exit status 77 (skipped by meson) when no PulseAudio can be started.
"""

import os
import re
import sys
import time

import numpy as np

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'e2e'))
import mixrig  # noqa: E402
import stallwatch  # noqa: E402
from test_e2e import check, failures  # noqa: E402  (one way to report)

SKIP = 77


def launch_env():
    root = os.environ.get('QSOUND_SOURCE_ROOT')
    if root:
        os.environ['QSOUND_PIPELINES_DIR'] = os.path.join(root, 'pipelines')


def show(po, watch):
    """What a run played, burst by burst, and what the host did."""
    print(po.summary(), flush=True)
    print('lags: ' + ' '.join('%.1f:%.2f' % (t, lag) for t, lag in
                              zip(po.times, po.lags_ms)), flush=True)
    print(watch.summary(), flush=True)


def pair(workdir, launch, seconds):
    watch = stallwatch.Watch()
    rec, procs = mixrig.run_rig(workdir, 'pcm', mixrig.launcher_pair(
        launch, 'pcm'), seconds, settle_s=2.5, watch=watch)
    po = mixrig.analyse(rec, ('out',))['out']
    show(po, watch)
    return po, procs, watch


def check_arrived(po, watch):
    """Every burst arrived, or the host stalled when it was lost (and no
    more than a tenth of them were lost)."""
    ok, why = watch.judge(po.sent, po.delivered,
                          mixrig.lost_at(po, watch))
    check(po.sent > 0 and ok, 'every burst arrived or was lost while the '
          'host stalled (%d of %d%s)' % (po.delivered, po.sent, why))


def case_steady(workdir, launch, steps=False):
    po, procs, watch = pair(workdir, launch, 20)
    events = mixrig.jitter_events(procs[-1]) if len(procs) > 1 else []
    for e in events:
        print('receiver: ' + e)
    check(po.sent >= 40, 'the rig saw the bursts played (%d)' % po.sent)
    check_arrived(po, watch)
    if po.delivered >= 2:
        check(po.spread_ms <= 4.0, 'per-burst latency p5..p95 within 4 ms '
              '(%.2f ms)' % po.spread_ms)
        if steps:
            check(not po.jumps(), 'no step of 3 ms or more between bursts '
                  '(%s)' % ', '.join('%+.1f' % j for j in po.jumps()))
    check(not events, 'the receiver never re-locked or ran dry (%d)'
          % len(events))


PROXY = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..',
                     'jitter', 'delayproxy.py')
JUDGED_FROM_S = 12.0
# a link that holds everything 70 ms every 3 s, beside 20+-10 ms of jitter
PROXY_ARGS = ['--delay-ms', '20', '--jitter-ms', '10', '--stall-every', '3',
              '--stall-ms', '70']


def proxied_pair(launch, proxy_args):
    """qsound-launch -m 1 -c pcm, and -m 2 reaching it through the delaying
    proxy."""
    def start(spawn):
        tx = spawn([launch, '-m', '1', '-c', 'pcm', '-d', 'play', '-p', '0'],
                   'tx', env=mixrig.tx_env())
        port = mixrig.qsmeasure.port_from_log(tx)
        if port is None:
            return [tx]
        proxy = spawn([sys.executable, PROXY, '--target-port', str(port)]
                      + list(proxy_args), 'proxy')
        pport = None
        end = time.monotonic() + 10
        while pport is None and time.monotonic() < end:
            m = re.search(r'PORT (\d+)',
                          mixrig.qsmeasure.read_log(proxy))
            pport = int(m.group(1)) if m else None
            time.sleep(0.05)
        if pport is None:
            return [tx, proxy]
        rx = spawn([launch, '-m', '2', '-o', 'out', '-p', str(pport)], 'rx',
                   env=mixrig.rx_env())
        return [tx, proxy, rx]
    return start


def case_stalls(workdir, launch, steady=False):
    watch = stallwatch.Watch()
    rec, procs = mixrig.run_rig(workdir, 'stalls', proxied_pair(
        launch, PROXY_ARGS), 30, settle_s=2.5,
        watch=watch)
    po = mixrig.analyse(rec, ('out',))['out']
    show(po, watch)
    check(len(procs) == 3, 'the sender, the proxy and the receiver started')
    if len(procs) < 3:
        return
    log = mixrig.qsmeasure.read_log(procs[-1])
    events = mixrig.jitter_events(procs[-1])
    for e in events:
        print('receiver: ' + e)
    grown = re.findall(r'room grown from [\d.]+ to [\d.]+ ms[^\n]*', log)
    for g in grown:
        print('receiver: ' + g)
    check(po.sent >= 60, 'the rig saw the bursts played (%d)' % po.sent)
    check(grown, 'the room grew from 8 ms for the stalling link')
    # the first stall may come before the room has grown (in settling, or
    # its backlog a window late): one cut, a real fault; none after that
    check(len(events) <= 1, 'the receiver re-locked or ran dry once at most '
          '(%d)' % len(events))
    if po.first_sent_s is None:
        return
    late = po.since(po.first_sent_s + JUDGED_FROM_S)
    check(late.delivered >= 30 and not late.lost_s, 'from %.0f s on every '
          'burst arrived (%d arrived, lost at %s)' % (
              JUDGED_FROM_S, late.delivered,
              ', '.join('%.1f' % t for t in late.lost_s) or 'none'))
    if not steady:
        return
    # a stall longer than any before may still come after 12 s: the room
    # takes it in with one step up (never a cut: a step down), and then
    # holds.  Each stretch between steps is judged on its own.
    steps = [(i, lag - late.lags_ms[i - 1])
             for i, lag in enumerate(late.lags_ms)
             if i and abs(lag - late.lags_ms[i - 1]) >= 3.0]
    check(len(steps) <= 1 and all(d > 0 for _, d in steps),
          'from %.0f s on at most one step of 3 ms or more, and up: a room '
          'grown for a longer stall (%s)' % (
              JUDGED_FROM_S, ', '.join('%+.1f' % d for _, d in steps)
              or 'none'))
    cut = steps[0][0] if len(steps) == 1 else len(late.lags_ms)
    for part in (late.lags_ms[:cut], late.lags_ms[cut:]):
        if len(part) >= 2:
            spread = (float(np.percentile(part, 95))
                      - float(np.percentile(part, 5)))
            check(spread <= 8.0, 'from %.0f s on the per-burst latency '
                  'stays within 8 ms between steps (p5..p95 %.2f ms over '
                  '%d bursts)' % (JUDGED_FROM_S, spread, len(part)))


def case_transparent(workdir, launch):
    po, _, watch = pair(workdir, launch, 10)
    check_arrived(po, watch)
    if po.band_db:
        for (lo, hi), db in zip(mixrig.BANDS_KHZ, po.band_db):
            check(db is not None and abs(db) <= 0.2, '%d-%d kHz: %+.2f dB '
                  '(within 0.2)' % (lo, hi, db if db is not None else -99))


def case_drift(workdir, launch):
    """A sender whose sound card runs 1000 ppm fast (mixrig.raw_sender:
    the capture resampled and relabelled) into qsound-launch -m 2 on the
    real sink: every burst arrives, and the receiver's status line tells
    the clocks' difference it measured, +1000 ppm, apart from its
    correction."""
    watch = stallwatch.Watch()
    rec, procs = mixrig.run_rig(workdir, 'drift', mixrig.raw_sender(
        launch, 1000), 30, settle_s=2.5, watch=watch)
    po = mixrig.analyse(rec, ('out',))['out']
    show(po, watch)
    check(len(procs) == 2, 'the sender and the receiver started')
    if len(procs) < 2:
        return
    check_arrived(po, watch)
    lines = [line for line in mixrig.qsmeasure.read_log(procs[-1])
             .splitlines() if ' | buffer ' in line]
    print('receiver: ' + (lines[-1] if lines else '(no status line)'))
    m = re.search(r'drift ([+-]\d+) ppm \(correcting ([+-]\d+)\)',
                  lines[-1] if lines else '')
    check(m is not None, 'the status line tells the measured drift and '
          'the correction apart')
    if m:
        drift, corr = int(m.group(1)), int(m.group(2))
        # the sink timing it: when the host stalls the receiver, the sink
        # runs dry for a few ms at a time (less than the element sees as a
        # step), which reads as the sender running faster
        calm = (len(watch.stalls) <= 2 and (watch.steal_pct is None
                                            or watch.steal_pct < 5.0))
        within = 100 if calm else 250
        check(abs(drift - 1000) <= within, 'the drift it measured is the '
              "sender's +1000 ppm, within %d (%+d ppm%s)" % (
                  within, drift, '' if calm else '; the host stalled'))
        # the correction is the controller's at that moment: after the
        # room grew it plays slower to fill it (CI: -658 ppm), which is
        # what telling the two apart is for
        print('receiver: correcting %+d ppm' % corr)


def main(argv):
    cases = {'steady': case_steady,
             'steady-steps': lambda w, la: case_steady(w, la, steps=True),
             'stalls': case_stalls,
             'stalls-steady': lambda w, la: case_stalls(w, la, steady=True),
             'transparent': case_transparent,
             'drift': case_drift}
    if len(argv) != 3 or argv[1] not in cases:
        print(__doc__)
        return 2
    launch_env()
    case = cases[argv[1]]
    return mixrig.run_case('qsound-playout-',
                           lambda workdir: case(workdir, argv[2]), failures)


if __name__ == '__main__':
    sys.exit(main(sys.argv))
