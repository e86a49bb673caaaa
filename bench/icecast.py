#!/usr/bin/env python3
"""Publishing to Icecast (issue 14): the transmitter's CPU with 0 and with
100 listeners, and the end-to-end delay through Icecast.

Usage: bench/icecast.sh [--seconds 15] [--repeat 3] [--codecs mp3,opus]
                        [--listeners 100] [--delay-runs 2]

A private icecast2 on 127.0.0.1 (tests/icecast/icecastrig.py: a free port,
burst-on-connect off), never the system's.

CPU: pink noise plays into ``play`` all along; qsound-launch -m 1 -c CODEC
-d play --icecast captures it, with one framed receiver (framedtcpsrc !
fakesink) and Icecast's listeners, in rounds that alternate 0 and N
listeners (plain HTTP readers in this process), and without --icecast
for comparison.  After 3 s of warm-up the
transmitter's user+system CPU time (/proc/PID/stat, all its threads) is
read over SECONDS: ms of CPU per second of audio; Icecast's own beside it.
The transmitter's should stay flat: Icecast carries the listeners.

Delay: the rig of tests/e2e (noise bursts played into play, both monitors
recorded): the transmitter publishing, a GStreamer listener of the mount
(souphttpsrc ! parser ! decoder ! pulsesink device=out sync=false, the
sink's default 200 ms buffer), the delay of every burst from play to out;
the framed receiver (-m 2) of the same transmitter measured in the same
run for comparison.
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
sys.path.insert(0, os.path.join(ROOT, 'tests', 'e2e'))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'icecast'))
import icecastrig as ir  # noqa: E402
import qsmeasure as q  # noqa: E402

TICK = os.sysconf('SC_CLK_TCK')
WARMUP_S = 3.0


def cpu_s(pid):
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


class Listeners:
    """N HTTP listeners of a mount, each reading until stopped."""

    def __init__(self, url, n):
        self.stop_flag = threading.Event()
        self.bytes = [0] * n
        self.threads = [threading.Thread(target=self.run, args=(url, i),
                                         daemon=True) for i in range(n)]
        for t in self.threads:
            t.start()

    def run(self, url, i):
        import http.client
        from urllib.parse import urlparse
        u = urlparse(url)
        try:
            c = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
            c.request('GET', u.path)
            sock = c.sock
            r = c.getresponse()
            sock.settimeout(1.0)
            while not self.stop_flag.is_set():
                try:
                    chunk = r.read1(65536)
                except OSError:
                    continue
                if not chunk:
                    break
                self.bytes[i] += len(chunk)
            c.close()
        except OSError:
            pass

    def stop(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join(5)


def cpu_round(launch, ice, codec, n, seconds, workdir, name):
    """n None: the transmitter without --icecast."""
    # a mount of its own: the last round's may still be listed
    mount = '/%s.%s' % (name, 'ogg' if codec == 'opus' else 'mp3')
    publish = ['--icecast', ice.source_url(mount)] if n is not None else []
    tx = q.spawn([launch, '-m', '1', '-c', codec, '-d', 'play', '-p', '0']
                 + publish, os.path.join(workdir, name + '-tx.log'))
    lis = None
    rx = None
    try:
        port = q.port_from_log(tx)
        if port is None or (publish and ice.wait_mount(mount, 20) is None):
            raise SystemExit('icecast bench: %s did not publish: %s'
                             % (name, q.read_log(tx)[-800:]))
        rx = q.spawn([q.gst_launch(), '-q', 'framedtcpsrc', 'mode=client',
                      'host=127.0.0.1', 'port=%d' % port, '!', 'fakesink'],
                     os.path.join(workdir, name + '-rx.log'))
        if n:
            lis = Listeners(ice.url(mount), n)
        time.sleep(WARMUP_S)
        counted = int((ice.source(mount) or {}).get('listeners', 0) or 0)
        c0, i0, t0 = cpu_s(tx.pid), cpu_s(ice.proc.pid), time.monotonic()
        b0 = sum(lis.bytes) if lis else 0
        time.sleep(seconds)
        c1, i1, t1 = cpu_s(tx.pid), cpu_s(ice.proc.pid), time.monotonic()
        b1 = sum(lis.bytes) if lis else 0
    finally:
        if lis:
            lis.stop()
        if rx:
            q.stop(rx)
        q.stop(tx)
    dt = t1 - t0
    return (1000.0 * (c1 - c0) / dt, 1000.0 * (i1 - i0) / dt, counted,
            (b1 - b0) * 8 / 1000.0 / dt)


def delay_run(launch, ice, rig, codec, name):
    mount = '/%s.%s' % (name, 'ogg' if codec == 'opus' else 'mp3')
    parse = ('oggdemux ! opusdec' if codec == 'opus'
             else 'mpegaudioparse ! mpg123audiodec')

    def start(rig):
        tx = rig.spawn([launch, '-m', '1', '-c', codec, '-d', 'play', '-p',
                        '0', '--icecast', ice.source_url(mount)], name + '-tx')
        if ice.wait_mount(mount, 20) is None:
            return [tx]
        desc = ('souphttpsrc location=%s iradio-mode=false ! %s ! '
                'audioconvert ! audioresample ! pulsesink device=out '
                'sync=false' % (ice.url(mount), parse))
        return [tx, rig.spawn([q.gst_launch(), '-q'] + desc.split(),
                              name + '-listener')]
    return rig.measure(name, start, settle_s=3.0, tail_s=3.0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--seconds', type=float, default=15.0)
    ap.add_argument('--repeat', type=int, default=3)
    ap.add_argument('--codecs', default='mp3,opus')
    ap.add_argument('--listeners', type=int, default=100)
    ap.add_argument('--delay-runs', type=int, default=2)
    ap.add_argument('--launch', default=os.path.join(
        ROOT, 'build', 'launcher', 'qsound-launch'))
    args = ap.parse_args()
    codecs = args.codecs.split(',')
    workdir = tempfile.mkdtemp(prefix='qsound-icecast-bench-')
    ice = ir.Icecast()
    try:
        return run(args, codecs, workdir, ice)
    finally:
        ice.close()
        shutil.rmtree(workdir, ignore_errors=True)


def run(args, codecs, workdir, ice):
    gst = q.gst_launch()
    print('icecast bench: Icecast on 127.0.0.1:%d, burst-on-connect off'
          % ice.port)

    noise = q.spawn([gst, '-q', 'audiotestsrc', 'wave=pink-noise',
                     'volume=0.3', 'is-live=true', '!',
                     'audio/x-raw,rate=48000,channels=2', '!', 'pulsesink',
                     'device=play'], os.path.join(workdir, 'noise.log'))
    cases = [None, 0, args.listeners]
    cpu = {(c, n): [] for c in codecs for n in cases}
    try:
        time.sleep(1.0)
        print('\nTransmitter CPU, %d x %.0f s per case, ms of CPU per second '
              '(all its threads); Icecast\'s beside it' % (args.repeat,
                                                          args.seconds))
        for r in range(args.repeat):
            for codec in codecs:
                order = list(cases)
                if r % 2:
                    order.reverse()
                for n in order:
                    tx_ms, ice_ms, counted, kbps = cpu_round(
                        args.launch, ice, codec, n, args.seconds, workdir,
                        '%s-%s-%d' % (codec, 'off' if n is None else n, r))
                    cpu[(codec, n)].append(tx_ms)
                    what = ('without --icecast' if n is None
                            else '%3d listeners' % n)
                    print('  round %d %-5s %-17s (Icecast counts %3d, %6.0f '
                          'kbit/s to them): transmitter %5.1f ms/s, icecast '
                          '%5.1f ms/s' % (r + 1, codec, what, counted, kbps,
                                          tx_ms, ice_ms), flush=True)
    finally:
        q.stop(noise)

    def rng(v):
        return '%5.1f-%5.1f (med %5.1f)' % (min(v), max(v),
                                           statistics.median(v))
    print('\n    codec   without --icecast      0 listeners            '
          '%d listeners          %d/0 (medians)' % (args.listeners,
                                                    args.listeners))
    for codec in codecs:
        o, a, b = (cpu[(codec, None)], cpu[(codec, 0)],
                   cpu[(codec, args.listeners)])
        print('    %-5s   %s   %s   %s   %.2fx' % (
            codec, rng(o), rng(a), rng(b),
            statistics.median(b) / statistics.median(a)))

    print('\nEnd-to-end delay through Icecast (the sound played to the sound '
          'out of a listener), %d run(s) per codec' % args.delay_runs)
    rig = q.Rig(workdir=os.path.join(workdir, 'rig'))
    try:
        for codec in codecs:
            for k in range(args.delay_runs):
                res = delay_run(args.launch, ice, rig, codec,
                                'delay-%s-%d' % (codec, k))
                print('  %-5s through Icecast: %s' % (codec, res), flush=True)
            res = rig.measure('framed-%s' % codec, q.qsound_pair(
                args.launch, 1, codec), ready=q.both_connected)
            print('  %-5s framed -m 2, same machine: %s' % (codec, res),
                  flush=True)
    finally:
        rig.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
