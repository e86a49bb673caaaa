#!/usr/bin/env python3
"""Transmitter CPU: qsound-launch -m 1 beside the stock chain, per codec.

Usage: bench/tx-cpu.sh [--seconds 20] [--repeat 3] [--codecs mp3,opus,pcm]

Pink noise plays into the null sink ``play`` all along (a continuous
signal: an encoder's cost depends on what it encodes).  Per codec, one
after the other and in alternating order each round:

  stock   gst-launch-1.0 pulsesrc device=play.monitor buffer-time=20000
          latency-time=10000 ! audioconvert ! audio/x-raw,rate=48000,
          channels=2 ! ENCODER ! tcpserversink sync=false
          (ENCODER: the very elements and settings qsound-launch uses)
  qsound  qsound-launch -m 1 -c CODEC -d play -p 0

each with one client reading the stream (tcpclientsrc ! fakesink, or
framedtcpsrc ! fakesink), so that the transmitter sends.  After 3 s of
warm-up the transmitter process's user+system CPU time (/proc/PID/stat,
all its threads) is read over SECONDS: milliseconds of CPU per second of
audio.  Prints each run, then per codec the range over the rounds and
qsound / stock (the goal of issue 12: at most 1.0x).
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
sys.path.insert(0, os.path.join(ROOT, 'tests', 'e2e'))
import qsmeasure as q  # noqa: E402

TICK = os.sysconf('SC_CLK_TCK')
WARMUP_S = 3.0
# the encoders qsound-launch uses (launcher/qsl-modes.c), from --print
PRINT_ENCODER = re.compile(r'! (audio/x-raw,[^!]*(?:! (?:lamemp3enc|opusenc)'
                           r'[^!]*)?)! framedtcpsink')


def cpu_s(pid):
    """User + system CPU seconds of process ``pid`` so far (all threads)."""
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def encoder_of(launch, codec):
    r = subprocess.run([launch, '-m', '1', '-c', codec, '--print'],
                       capture_output=True, text=True, check=True)
    m = PRINT_ENCODER.search(r.stdout)
    if not m:
        raise SystemExit('tx-cpu: cannot find the encoder in: ' + r.stdout)
    return m.group(1).strip()


def measure(tx_argv, client_argv, workdir, name, seconds, port=None):
    """Start the transmitter, its client, and return CPU ms per second."""
    tx = q.spawn(tx_argv, os.path.join(workdir, name + '-tx.log'))
    try:
        if port is None:
            port = q.port_from_log(tx)
            if port is None:
                raise SystemExit('tx-cpu: %s did not start: %s'
                                 % (name, q.read_log(tx)[-500:]))
        else:
            time.sleep(0.5)
        rx = q.spawn([a.replace('@PORT@', str(port)) for a in client_argv],
                     os.path.join(workdir, name + '-rx.log'))
        try:
            time.sleep(WARMUP_S)
            if tx.poll() is not None or rx.poll() is not None:
                raise SystemExit('tx-cpu: %s stopped: %s' % (
                    name, q.read_log(tx)[-500:] + q.read_log(rx)[-500:]))
            c0, t0 = cpu_s(tx.pid), time.monotonic()
            time.sleep(seconds)
            c1, t1 = cpu_s(tx.pid), time.monotonic()
        finally:
            q.stop(rx)
    finally:
        q.stop(tx)
    return 1000.0 * (c1 - c0) / (t1 - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--seconds', type=float, default=20.0)
    ap.add_argument('--repeat', type=int, default=3)
    ap.add_argument('--codecs', default='mp3,opus,pcm')
    ap.add_argument('--launch', default=os.path.join(
        ROOT, 'build', 'launcher', 'qsound-launch'))
    args = ap.parse_args()
    codecs = args.codecs.split(',')
    workdir = tempfile.mkdtemp(prefix='qsound-tx-cpu-')
    gst = q.gst_launch()
    noise = q.spawn([gst, '-q', 'audiotestsrc', 'wave=pink-noise',
                     'volume=0.3', 'is-live=true', '!',
                     'audio/x-raw,rate=48000,channels=2', '!', 'pulsesink',
                     'device=play'], os.path.join(workdir, 'noise.log'))
    results = {(c, k): [] for c in codecs for k in ('stock', 'qsound')}
    try:
        time.sleep(1.0)
        print('tx-cpu: %d x %.0f s per chain, CPU ms per second of audio '
              '(transmitter process, all threads)' % (args.repeat,
                                                      args.seconds))
        for r in range(args.repeat):
            for codec in codecs:
                enc = encoder_of(args.launch, codec)
                port = q.free_port()
                stock = ([gst, '-q', 'pulsesrc', 'device=play.monitor',
                          'buffer-time=20000', 'latency-time=10000', '!',
                          'audioconvert', '!'] + enc.split()
                         + ['!', 'tcpserversink', 'host=127.0.0.1',
                            'port=%d' % port, 'sync=false'],
                         [gst, '-q', 'tcpclientsrc', 'host=127.0.0.1',
                          'port=@PORT@', '!', 'fakesink'], port)
                ours = ([args.launch, '-m', '1', '-c', codec, '-d', 'play',
                         '-p', '0'],
                        [gst, '-q', 'framedtcpsrc', 'mode=client',
                         'host=127.0.0.1', 'port=@PORT@', '!', 'fakesink'],
                        None)
                order = [('stock', stock), ('qsound', ours)]
                if r % 2:
                    order.reverse()
                for kind, (tx, rx, p) in order:
                    ms = measure(tx, rx, workdir, '%s-%s-%d' % (codec, kind,
                                                                  r),
                                 args.seconds, port=p)
                    results[(codec, kind)].append(ms)
                    print('  round %d %-5s %-6s %6.1f ms/s' % (r + 1, codec,
                                                               kind, ms),
                          flush=True)
    finally:
        q.stop(noise)
    print('\n    codec   stock ms/s        qsound ms/s       qsound/stock '
          '(median)')
    for codec in codecs:
        s, o = results[(codec, 'stock')], results[(codec, 'qsound')]
        ratio = (sorted(o)[len(o) // 2] / sorted(s)[len(s) // 2]
                 if s and sorted(s)[len(s) // 2] > 0 else float('nan'))
        print('    %-6s %6.1f..%-6.1f    %6.1f..%-6.1f    %.2fx%s'
              % (codec, min(s), max(s), min(o), max(o), ratio,
                 '' if round(ratio, 2) <= 1.0 else '  (goal <= 1.0x)'))
    return 0


if __name__ == '__main__':
    sys.exit(main())
