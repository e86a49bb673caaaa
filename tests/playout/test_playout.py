#!/usr/bin/env python3
"""Steady, transparent playout, judged by the sound a real sink plays.

Usage: test_playout.py CASE QSOUND_LAUNCH

Each case starts its own private PulseAudio with the rig of DESIGN.md
(tests/e2e/mixrig.py: ``play`` and ``out`` as remap sinks of one 6-channel
null sink, recorded as one sample-aligned stream), plays distinct 20 ms
noise bursts into ``play`` and runs a qsound-launch pair (-m 1 -c pcm
capturing ``play``, -m 2 playing into ``out``).  Cases:

  steady        20 s: every burst arrives, the per-burst latency stays
                within 4 ms (p5..p95) with no step of 3 ms or more, and the
                receiver never re-locks or runs dry
  transparent   10 s: every burst arrives, and each burst's power as
                received over its power as played is within 0.2 dB in
                every band up to 20 kHz.  A burst lost while the host
                stalled this machine (tests/e2e/stallwatch.py) is reported
                as the host's, not failed, up to a tenth of them.

Exit status 77 (skipped by meson) when no PulseAudio can be started.
"""

import os
import sys
import tempfile
import shutil

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


def pair(workdir, launch, seconds):
    watch = stallwatch.Watch()
    rec, procs = mixrig.run_rig(workdir, 'pcm', mixrig.launcher_pair(
        launch, 'pcm'), seconds, settle_s=2.5, watch=watch)
    po = mixrig.analyse(rec, ('out',))['out']
    print(po.summary(), flush=True)
    print('lags: ' + ' '.join('%.1f:%.2f' % (t, lag) for t, lag in
                              zip(po.times, po.lags_ms)), flush=True)
    print(watch.summary(), flush=True)
    return po, procs, watch


def check_arrived(po, watch):
    """Every burst arrived, or the host stalled when it was lost (and no
    more than a tenth of them were lost)."""
    ok, why = watch.judge(po.sent, po.delivered,
                          mixrig.lost_at(po, watch))
    check(po.sent > 0 and ok, 'every burst arrived or was lost while the '
          'host stalled (%d of %d%s)' % (po.delivered, po.sent, why))


def case_steady(workdir, launch):
    po, procs, _ = pair(workdir, launch, 20)
    events = mixrig.jitter_events(procs[-1]) if len(procs) > 1 else []
    for e in events:
        print('receiver: ' + e)
    check(po.sent >= 40, 'the rig saw the bursts played (%d)' % po.sent)
    check(po.delivered == po.sent, 'every burst arrived (%d of %d)'
          % (po.delivered, po.sent))
    if po.delivered >= 2:
        check(po.spread_ms <= 4.0, 'per-burst latency p5..p95 within 4 ms '
              '(%.2f ms)' % po.spread_ms)
        check(not po.jumps(), 'no step of 3 ms or more between bursts (%s)'
              % ', '.join('%+.1f' % j for j in po.jumps()))
    check(not events, 'the receiver never re-locked or ran dry (%d)'
          % len(events))


def case_transparent(workdir, launch):
    po, _, watch = pair(workdir, launch, 10)
    check_arrived(po, watch)
    if po.band_db:
        for (lo, hi), db in zip(mixrig.BANDS_KHZ, po.band_db):
            check(db is not None and abs(db) <= 0.2, '%d-%d kHz: %+.2f dB '
                  '(within 0.2)' % (lo, hi, db if db is not None else -99))


def main(argv):
    if len(argv) != 3 or argv[1] not in ('steady', 'transparent'):
        print(__doc__)
        return 2
    launch_env()
    workdir = tempfile.mkdtemp(prefix='qsound-playout-')
    server = mixrig.MixServer(workdir)
    try:
        if not server.start():
            print('SKIP: could not start a private PulseAudio')
            return SKIP
        {'steady': case_steady, 'transparent': case_transparent}[argv[1]](
            workdir, argv[2])
    finally:
        server.stop()
        if not failures:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print('recordings and logs kept in ' + workdir)
    print('%d passed, %d failed' % (0 if failures else 1, len(failures)))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
