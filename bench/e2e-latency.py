#!/usr/bin/env python3
"""End-to-end latency and delivery of qsound next to stock GStreamer chains.

Plays seeded noise bursts into the PulseAudio null sink ``play``, runs each
chain (capturing ``play``, playing into ``out``), records both monitors in
one pipeline and cross-correlates them (tests/e2e/qsmeasure.py, shared with
the end-to-end tests).  Prints one table.

Run it through bench/e2e-latency.sh (starts a private PulseAudio with the
null sinks), or directly when one is running:

    bench/e2e-latency.sh [--build DIR] [--repeat N] [--only NAME,...]
"""

import argparse
import os
import re
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.dont_write_bytecode = True     # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(ROOT, 'tests', 'e2e'))
import qsmeasure as q  # noqa: E402

GOALS = {'qsound mp3': 80.0, 'qsound opus': 35.0, 'qsound pcm': 30.0}


def elements_are_real():
    want = {'framedtcpsink': 'current-port', 'framedtcpsrc': 'stats',
            'loopbacksrc': 'backend'}
    for name, prop in want.items():
        r = subprocess.run(['gst-inspect-1.0', name], capture_output=True,
                           text=True)
        if r.returncode != 0 or prop not in r.stdout:
            return False
    return True


def chains(launch, env):
    """(name, description, chain starter factory, ready) in table order."""
    rows = [
        ('floor', 'pulse monitor straight into pulse sink, 10 ms buffers',
         lambda: q.gst_chain(q.stock_floor()), None),
        ('stock mp3', 'pulsesrc ! lamemp3enc ! tcpserversink / tcpclientsrc '
         '! mpegaudioparse ! mpg123audiodec ! pulsesink, defaults',
         lambda: q.gst_chain(q.stock_mp3_default(q.free_port())), None),
        ('stock mp3 tuned', 'the same, buffers tuned small, sync=false',
         lambda: q.gst_chain(q.stock_mp3_tuned(q.free_port())), None),
        ('stock pcm tuned', 'raw PCM over tcpserversink, tuned',
         lambda: q.gst_chain(q.stock_pcm_tuned(q.free_port())), None),
    ]
    for codec in ('mp3', 'opus', 'pcm'):
        rows.append(('qsound %s' % codec,
                     'qsound-launch -m 1 -c %s -d play / -m 2 -o out' % codec,
                     (lambda c=codec: q.qsound_pair(launch, 1, c, env=env)),
                     q.both_connected))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--build', default=os.path.join(ROOT, 'build'),
                    help='meson build directory (default: build)')
    ap.add_argument('--repeat', type=int, default=1,
                    help='measure each chain N times (default 1)')
    ap.add_argument('--only', default='',
                    help='comma-separated row names, e.g. "floor,qsound opus"')
    ap.add_argument('--keep', action='store_true',
                    help='keep the recordings and logs (path printed)')
    args = ap.parse_args()

    plugin_dir = os.path.join(args.build, 'plugins', 'qsound')
    launch = os.path.join(args.build, 'launcher', 'qsound-launch')
    env = dict(os.environ)
    env['GST_PLUGIN_PATH_1_0'] = plugin_dir + (
        ':' + env['GST_PLUGIN_PATH_1_0'] if env.get('GST_PLUGIN_PATH_1_0')
        else '')
    env['QSOUND_PIPELINES_DIR'] = os.path.join(ROOT, 'pipelines')
    os.environ.update(env)          # the stock chains and the recorder too

    r = subprocess.run(['pactl', 'list', 'short', 'sinks'],
                       capture_output=True, text=True)
    if r.returncode != 0 or '\tplay\t' not in r.stdout \
            or '\tout\t' not in r.stdout:
        print('no PulseAudio with the null sinks play and out; run '
              'bench/e2e-latency.sh', file=sys.stderr)
        return 2
    real = elements_are_real() and os.path.exists(launch)

    only = [s.strip() for s in args.only.split(',') if s.strip()]
    rig = q.Rig(keep=args.keep)
    print('%d noise bursts of %d ms at random intervals (seed %d), %d run(s) '
          'per chain' % (rig.bursts, rig.burst_ms, rig.seed, args.repeat))
    print()
    head = '%-17s %8s %13s %11s %6s %8s  %s' % (
        'chain', 'latency', 'spread', 'delivered', 'intact', 'goal', 'what')
    print(head)
    print('-' * len(head))
    try:
        for name, what, make, ready in chains(launch, env):
            if only and name not in only:
                continue
            if name.startswith('qsound') and not real:
                print('%-17s %8s %13s %11s %6s %8s  %s' % (
                    name, 'n/a', '', '', '', '', 'qsound elements not built '
                    'yet (placeholders)'))
                continue
            lats, spreads, delivered, sent, intact = [], [], 0, 0, 0
            notes = []
            for i in range(args.repeat):
                res = rig.measure('%s-%d' % (name.replace(' ', '-'), i),
                                  make(), ready=ready)
                if res.latency_ms is not None:
                    lats.append(res.latency_ms)
                    if res.latency_min_ms is not None:
                        spreads.append((res.latency_min_ms,
                                        res.latency_max_ms))
                delivered += res.delivered
                intact += res.intact
                sent += res.sent
                if res.note:
                    notes.append(res.note)
                for w in res.warnings:
                    w = re.sub(r'127\.0\.0\.1:\d+', '127.0.0.1:PORT', w)
                    if w not in notes:
                        notes.append(w)
            lat = ('%.0f ms' % statistics.median(lats)) if lats else 'n/a'
            spread = ('%.0f..%.0f ms' % (min(s[0] for s in spreads),
                                        max(s[1] for s in spreads))
                      if spreads else '')
            share = ('%d/%d %3.0f%%' % (delivered, sent,
                                        100.0 * delivered / sent)
                     if sent else 'n/a')
            goal = ''
            if name in GOALS:
                ok = lats and statistics.median(lats) <= GOALS[name] \
                    and delivered == sent
                goal = '%s%.0f' % ('ok <=' if ok else 'NO <=', GOALS[name])
            print('%-17s %8s %13s %11s %6s %8s  %s%s' % (
                name, lat, spread, share, intact if sent else '', goal, what,
                (' [' + '; '.join(notes) + ']') if notes else ''),
                flush=True)
    finally:
        if args.keep:
            print('\nrecordings and logs kept in %s' % rig.dir)
        rig.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
