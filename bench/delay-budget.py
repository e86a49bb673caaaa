#!/usr/bin/env python3
"""Where the end-to-end delay goes, stage by stage, beside the stock chain.

Usage: delay-budget.py [--seconds 20] [--repeat 2] [--only NAME,...]
                       [--build DIR] [--keep]

On the sample-aligned rig of DESIGN.md (tests/e2e/mixrig.py, a private
PulseAudio), each chain captures ``play`` and plays into ``out`` while
20 ms noise bursts play; the recording gives the end-to-end delay of each
burst (the judge).  Meanwhile, every 0.2 s, it asks the sound server what
it holds of each chain's streams (pactl list source-outputs / sink-inputs,
matched to the chain's processes):

  capture    the sender's record stream: audio captured that its client
             has not read yet (Buffer Latency) plus the source's own
             latency (Source Latency, the monitor of ``play``)
  room       qsound's receiver only: the jitter room its status line shows
             (``buffer M/T ms``, M), the audio waiting in audiojitterbuffer
  playback   the receiver's playback stream: what the server holds of it
             (Buffer Latency) plus the sink's own latency (Sink Latency,
             ``out``)
  rest       the end-to-end delay less those three: the pipelines (chunks
             being filled: the capture period, codec frames), the client
             side of the sink (its ring buffer), TCP and scheduling

Each stage is the median of its samples over the run; the ranges are over
the runs.  Chains (side by side in each round, the order alternating):
  stock-pcm   pulsesrc ! tcpserversink / tcpclientsrc ! pulsesink, tuned
              (DESIGN's stock PCM chain: 10 ms periods, sync=false)
  pcm, opus, mp3
              qsound-launch -m 1 -c CODEC -d play / -m 2 -o out
"""

import argparse
import os
import re
import subprocess
import sys
import threading

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'e2e'))
import mixrig  # noqa: E402

CHAINS = ('stock-pcm', 'pcm', 'opus', 'mp3')
STAGES = ('capture', 'room', 'playback', 'rest')


def chain_for(name, launch):
    if name == 'stock-pcm':
        return mixrig.stock_pcm()
    return mixrig.launcher_pair(launch, name)


def pactl_streams(kind):
    """[(pid, buffer latency us, device latency us)] of every stream of
    ``kind`` ('source-outputs' or 'sink-inputs') the server has now."""
    try:
        text = subprocess.run(['pactl', 'list', kind], capture_output=True,
                              text=True, timeout=5).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    streams = []
    for block in re.split(r'\n(?=(?:Source Output|Sink Input) #)', text):
        pid = re.search(r'application\.process\.id = "(\d+)"', block)
        buf = re.search(r'Buffer Latency: (\d+) usec', block)
        dev = re.search(r'(?:Source|Sink) Latency: (\d+) usec', block)
        if pid and buf and dev:
            streams.append((int(pid.group(1)), int(buf.group(1)),
                            int(dev.group(1))))
    return streams


class Poller(threading.Thread):
    """Samples the server's record and playback streams every 0.2 s."""

    def __init__(self):
        super().__init__(daemon=True)
        self.samples = []       # (kind, pid, buffer us, device us)
        self.halt = threading.Event()

    def run(self):
        while not self.halt.wait(0.2):
            for kind in ('source-outputs', 'sink-inputs'):
                for pid, buf, dev in pactl_streams(kind):
                    self.samples.append((kind, pid, buf, dev))

    def stage_ms(self, kind, pid):
        """Median of buffer + device latency of ``pid``'s streams of
        ``kind``, ms; None if there were none."""
        v = sorted(buf + dev for k, p, buf, dev in self.samples
                   if k == kind and p == pid)
        return v[len(v) // 2] / 1000.0 if v else None


def room_ms(proc):
    """Median jitter room the receiver's status line showed, ms."""
    text = mixrig.qsmeasure.read_log(proc)
    v = sorted(int(m) for m in re.findall(r'buffer (\d+)/\d+ ms', text))
    # the first redraws come before the room has settled
    v = v[len(v) // 4:] if len(v) >= 4 else v
    return float(v[len(v) // 2]) if v else None


def measure(workdir, name, launch, seconds, run, keep):
    poller = Poller()
    poller.start()
    try:
        rec, procs = mixrig.run_rig(workdir, '%s-%d' % (name, run),
                                    chain_for(name, launch), seconds,
                                    settle_s=2.5)
    finally:
        poller.halt.set()
        poller.join()
    po = mixrig.analyse_out(rec, name)
    if not keep:
        os.unlink(rec)
    if not po.delivered or len(procs) < 2:
        return None
    tx, rx = procs[0], procs[-1]
    stages = {
        'capture': poller.stage_ms('source-outputs', tx.pid),
        'room': None if name == 'stock-pcm' else room_ms(rx),
        'playback': poller.stage_ms('sink-inputs', rx.pid),
    }
    e2e = float(sorted(po.lags_ms)[len(po.lags_ms) // 2])
    known = [v for v in stages.values() if v is not None]
    stages['rest'] = e2e - sum(known)
    return e2e, stages, po.delivered, po.sent


def span(values):
    values = [v for v in values if v is not None]
    if not values:
        return '-'
    lo, hi = min(values), max(values)
    return '%.1f' % lo if hi - lo < 0.05 else '%.1f-%.1f' % (lo, hi)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--seconds', type=int, default=20)
    ap.add_argument('--repeat', type=int, default=2)
    ap.add_argument('--only', default='')
    ap.add_argument('--build', default=os.path.join(HERE, '..', 'build'))
    ap.add_argument('--keep', action='store_true',
                    help='keep the recordings and logs (their folder is '
                         'printed at the end)')
    args = ap.parse_args()

    names = [n for n in args.only.split(',') if n] or list(CHAINS)
    unknown = [n for n in names if n not in CHAINS]
    if unknown:
        print('unknown chain %s: choose from %s' % (', '.join(unknown),
                                                    ', '.join(CHAINS)))
        return 2
    build = os.path.abspath(args.build)
    launch = os.path.join(build, 'launcher', 'qsound-launch')
    if not os.access(launch, os.X_OK):
        print('%s is not built: run meson setup build && meson compile -C '
              'build first' % launch)
        return 2
    os.environ['GST_PLUGIN_PATH'] = os.path.join(build, 'plugins', 'qsound')
    os.environ['QSOUND_PIPELINES_DIR'] = os.path.join(HERE, '..',
                                                      'pipelines')
    results = {n: [] for n in names}
    with mixrig.bench_rig('qsound-delay-budget-', args.keep) as workdir:
        if workdir is None:
            print('could not start a private PulseAudio')
            return 1
        print('%d s of 20 ms noise bursts per run, %d run(s) per chain; '
              'ms, the median of each run (range over the runs)'
              % (args.seconds, args.repeat), flush=True)
        for run in range(args.repeat):
            order = names if run % 2 == 0 else list(reversed(names))
            for name in order:
                r = measure(workdir, name, launch, args.seconds, run,
                            args.keep)
                if r is None:
                    print('%s run %d: nothing delivered' % (name, run + 1),
                          flush=True)
                    continue
                e2e, stages, got, sent = r
                results[name].append(r)
                print('%-10s run %d: end to end %.1f ms (%d/%d bursts); %s'
                      % (name, run + 1, e2e, got, sent, ', '.join(
                          '%s %s' % (s, '-' if stages[s] is None else
                                     '%.1f' % stages[s]) for s in STAGES)),
                      flush=True)

    print('\n%-10s %12s %12s %12s %12s %12s'
          % (('chain', 'end to end') + STAGES))
    for name in names:
        rs = results[name]
        if not rs:
            continue
        print('%-10s %12s %12s %12s %12s %12s' % (
            name, span([r[0] for r in rs]),
            *(span([r[1][s] for r in rs]) for s in STAGES)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
