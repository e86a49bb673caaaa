#!/usr/bin/env python3
"""How well a receiver knows its sender's clock (timed heartbeats, 2.1).

Usage: bench/clock-sync.sh [--seconds S] [--repeat N] [--ppm P]

A sender pipeline (audiotestsrc ! framedtcpsink) runs on a clock P ppm
fast (default +1000), a receiver (framedtcpsrc ! fakesink) on the system
clock, both in this process, so the truth is known: the sender's running
time minus the receiver's.  The receiver connects directly, through
tests/jitter/delayproxy.py at 40 +- 10 ms on the way from the sender only
(as the jitter tests use it), and through it both ways.  Every 0.5 s the
receiver's stats are read; printed per link and run: the estimate's error
against the truth after 2 s and over the second half of the run (median
and largest), the rate read (ppm) at the end, and the shortest round trip.

The estimate assumes that the way there takes as long as the way back, as
NTP does: on the one-way proxy it is off by about half the difference.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

import gi

gi.require_version('Gst', '1.0')
from gi.repository import Gst  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROXY = os.path.join(ROOT, 'tests', 'jitter', 'delayproxy.py')


def start_proxy(port, both_ways, wander=False):
    cmd = [sys.executable, PROXY, '--target-port', str(port),
           '--delay-ms', '40', '--jitter-ms', '10']
    if both_ways:
        cmd.append('--both-ways')
    if wander:
        cmd += ['--wander-ms', '500']
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().split()
    if len(line) != 2 or line[0] != 'PORT':
        proc.kill()
        sys.exit('clock-sync: the delaying proxy did not start')
    return proc, int(line[1])


def run(link, seconds, ppm, chunk_ms):
    tx = Gst.parse_launch(
        'audiotestsrc is-live=true samplesperbuffer=%d ! '
        'audio/x-raw,rate=48000,channels=2 ! framedtcpsink name=s port=0'
        % int(48 * chunk_ms))
    fast = Gst.SystemClock(clock_type=Gst.ClockType.MONOTONIC)
    fast.set_calibration(0, 0, int(round(1e9 * (1 + ppm * 1e-6))), 10**9)
    sysclock = Gst.SystemClock.obtain()
    tx.use_clock(fast)
    tx.set_state(Gst.State.PLAYING)
    tx.get_state(5 * Gst.SECOND)
    port = tx.get_by_name('s').get_property('current-port')
    proxy = None
    if link != 'direct':
        proxy, port = start_proxy(port, link != 'proxy one way',
                                  link == 'wandering both ways')
    rx = Gst.parse_launch('framedtcpsrc name=r port=%d ! fakesink sync=false'
                          % port)
    rx.use_clock(sysclock)
    rx.set_state(Gst.State.PLAYING)
    src = rx.get_by_name('r')
    errors, at2, last = [], None, None
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        time.sleep(0.5)
        st = src.get_property('stats')
        ok, synced = st.get_boolean('clock-synced')
        if not ok or not synced:
            continue
        truth = ((fast.get_time() - tx.get_base_time()) -
                 (sysclock.get_time() - rx.get_base_time()))
        err = (st.get_int64('clock-offset')[1] - truth) / 1e6
        t = time.monotonic() - t0
        if at2 is None and t >= 2.0:
            at2 = err
        if t >= seconds / 2:
            errors.append(abs(err))
        last = st
    rx.set_state(Gst.State.NULL)
    tx.set_state(Gst.State.NULL)
    if proxy:
        proxy.kill()
        proxy.wait()
    if last is None or not errors:
        return None
    return (at2, statistics.median(errors), max(errors),
            last.get_double('clock-ppm')[1],
            last.get_uint64('clock-rtt')[1] / 1e6)


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument('--seconds', type=float, default=20.0)
    p.add_argument('--repeat', type=int, default=2)
    p.add_argument('--ppm', type=float, default=1000.0)
    p.add_argument('--chunk-ms', type=float, default=5.0,
                   help="the sender's buffers (ms of audio)")
    args = p.parse_args()
    Gst.init(None)
    if not Gst.ElementFactory.find('framedtcpsrc'):
        sys.exit('clock-sync: framedtcpsrc not found; build first and run '
                 'bench/clock-sync.sh')
    print('sender clock %+.0f ppm, %.0f s a run, %g ms buffers; error of the '
          'offset read, ms (|error| over the second half)'
          % (args.ppm, args.seconds, args.chunk_ms))
    print('%-17s %3s %9s %8s %8s %10s %8s' % ('link', 'run', 'at 2 s',
                                            'median', 'max', 'ppm read',
                                            'rtt ms'))
    for link in ('direct', 'proxy one way', 'proxy both ways',
                 'wandering both ways'):
        for k in range(args.repeat):
            r = run(link, args.seconds, args.ppm, args.chunk_ms)
            if r is None:
                print('%-17s %3d  no estimate' % (link, k + 1))
                continue
            print('%-17s %3d %+9.3f %8.3f %8.3f %+10.1f %8.2f'
                  % ((link, k + 1, r[0] if r[0] is not None else float('nan'))
                     + r[1:]), flush=True)


if __name__ == '__main__':
    main()
