#!/usr/bin/env python3
"""Playout steadiness and transparency, judged by the sound a real sink plays.

Usage: playout-bench.py [--seconds 60] [--repeat 1] [--only NAME,...] [--keep]
                        [--long MINUTES] [--busy N] [--build DIR]

On a private PulseAudio with the rig of DESIGN.md (tests/e2e/mixrig.py:
``play``, ``out`` and ``out2`` remap sinks of one 6-channel null sink,
recorded as one sample-aligned stream), distinct 20 ms noise bursts are
played into ``play`` while a chain captures it and plays into ``out``.
Each burst is found on its own in the recording; its lag is that moment's
latency.  Per chain it prints: bursts delivered, the median latency, the
p5..p95 spread, the slope (ms/s), steps of 3 ms or more between bursts (and
how many of them came while the host stalled this machine, as
tests/stallwatch sees it), the receiver's re-locks and underruns (its own
log), the host's stalls of 15 ms or more and its steal (the share of CPU
time it took), and for PCM the power received over played per band (0.00 dB
is transparent).

Chains, side by side in one run:
  stock-pcm   the control: pulsesrc ! tcpserversink / tcpclientsrc ! pulsesink,
              tuned small buffers, sync=false, no jitter buffer
  pcm, opus, mp3
              qsound-launch -m 1 -c CODEC -d play / -m 2 -o out
  raw-1000, raw+0, raw+1000
              a framedtcpsink sender whose sound card runs that many ppm
              off (play.monitor resampled and relabelled 48000), received
              by qsound-launch -m 2

--busy N keeps N processes spinning on the CPU throughout (2 keeps both
cores of this machine busy: issue 12's "with both cores busy").

--long MINUTES runs raw-1000 and raw+1000 for that long and prints each
minute's median latency and how far the last minute is from the first.

It also prints the CPU cost of audiojitterbuffer's resampler, on its own
(build/bench/resampler-cost): GstAudioResampler as the element steers it
at 0 and +-1000 ppm beside stock audioresample's configuration, with the
signal to noise-and-distortion of each.
"""

import argparse
import contextlib
import os
import subprocess
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'e2e'))
import mixrig  # noqa: E402
import stallwatch  # noqa: E402

CHAINS = ('stock-pcm', 'pcm', 'opus', 'mp3', 'raw-1000', 'raw+0', 'raw+1000')


def chain_for(name, launch):
    if name == 'stock-pcm':
        return mixrig.stock_pcm()
    if name.startswith('raw'):
        return mixrig.raw_sender(launch, int(name[3:]))
    return mixrig.launcher_pair(launch, name)


def receiver_events(procs):
    events = mixrig.jitter_events(procs[-1]) if procs else []
    return (sum(e.startswith('re-lock') for e in events),
            sum(e.startswith('underrun') for e in events))


def measure(workdir, name, launch, seconds, run, keep=False):
    watch = stallwatch.Watch()
    rec, procs = mixrig.run_rig(workdir, '%s-%d' % (name, run),
                                chain_for(name, launch), seconds,
                                settle_s=2.5, watch=watch)
    po = mixrig.analyse_out(rec, name)
    relocks, underruns = receiver_events(procs) if name != 'stock-pcm' \
        else (None, None)
    if not keep:
        os.unlink(rec)
    return po, relocks, underruns, watch


def host_text(watch):
    if not watch.available:
        return '-'
    return '%d/%.0f%%' % (len(watch.stalls), watch.steal_pct or 0.0)


def fmt_row(name, po, relocks, underruns, watch):
    if not po.delivered:
        return '%-10s nothing delivered of %d bursts' % (name, po.sent)
    bands = ''
    if name in ('stock-pcm', 'pcm') or name.startswith('raw'):
        bands = ' '.join('%+.2f' % (b if b is not None else -99)
                         for b in po.band_db)
    ev = '-' if relocks is None else '%d/%d' % (relocks, underruns)
    steps = '%d(%d)' % (len(po.jumps()), mixrig.host_steps(po, watch))
    return ('%-10s %3d/%-3d %7.2f %6.2f..%-6.2f %6.2f %+7.3f %7s %6s %8s  %s'
            % (name, po.delivered, po.sent, float(
                sorted(po.lags_ms)[len(po.lags_ms) // 2]), po.percentile(5),
               po.percentile(95), po.spread_ms or 0.0,
               po.slope_ms_per_s or 0.0, steps, ev, host_text(watch), bands))


def resampler_cost(build, seconds=20):
    """The resampler on its own (build/bench/resampler-cost): CPU per second
    of stereo 48 kHz audio and signal to noise-and-distortion, as
    audiojitterbuffer steers it and as stock audioresample runs it."""
    print()
    sys.stdout.flush()
    subprocess.run([os.path.join(build, 'bench', 'resampler-cost'),
                    str(seconds)], check=True)


def long_run(workdir, launch, minutes):
    print('\n%d-minute runs, median latency at each minute (ms):' % minutes)
    for name in ('raw-1000', 'raw+1000'):
        watch = stallwatch.Watch()
        rec, procs = mixrig.run_rig(workdir, name + '-long',
                                    chain_for(name, launch), minutes * 60,
                                    settle_s=2.5, watch=watch)
        po = mixrig.analyse_out(rec, name)
        relocks, underruns = receiver_events(procs)
        os.unlink(rec)
        mins = [po.window(60 * m, 60 * (m + 1)) for m in range(minutes)]
        print('  %-9s %s' % (name, ' '.join('%.2f' % v if v is not None else
                                            '-' for v in mins)))
        if mins and mins[0] is not None and mins[-1] is not None:
            print('  %-9s minute %d vs minute 1: %+.2f ms; %d/%d bursts, '
                  'spread %.2f ms, re-locks %d, underruns %d, steps %d (%d '
                  'while the host stalled); %s'
                  % ('', minutes, mins[-1] - mins[0], po.delivered, po.sent,
                     po.spread_ms or 0.0, relocks, underruns,
                     len(po.jumps()), mixrig.host_steps(po, watch),
                     watch.summary()))


@contextlib.contextmanager
def busy(n):
    """``n`` processes spinning on the CPU at normal priority while the
    block runs."""
    spin = [subprocess.Popen([sys.executable, '-c', 'while True: pass'])
            for _ in range(n)]
    try:
        yield
    finally:
        for p in spin:
            p.kill()
            p.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--seconds', type=int, default=60)
    ap.add_argument('--repeat', type=int, default=1)
    ap.add_argument('--only', default='')
    ap.add_argument('--long', type=int, default=0, metavar='MINUTES')
    ap.add_argument('--build', default=os.path.join(HERE, '..', 'build'))
    ap.add_argument('--no-cpu', action='store_true')
    ap.add_argument('--keep', action='store_true',
                    help='keep the recordings and logs (their folder is '
                         'printed at the end)')
    ap.add_argument('--busy', type=int, default=0, metavar='N',
                    help='keep N processes spinning on the CPU throughout '
                         '(2: both cores of this machine busy)')
    args = ap.parse_args()

    launch = mixrig.bench_env(args.build)
    names = [n for n in args.only.split(',') if n] or list(CHAINS)
    with mixrig.bench_rig('qsound-playout-bench-', args.keep) as workdir, \
            busy(args.busy):
        if workdir is None:
            print('could not start a private PulseAudio')
            return 1
        if not args.no_cpu:
            resampler_cost(os.path.abspath(args.build))
        if args.long:
            long_run(workdir, launch, args.long)
        else:
            print('\n%d s of 20 ms noise bursts per run, %d run(s) per chain; '
                  'latency in ms; steps: >= 3 ms between bursts (while the '
                  'host stalled); re-locks/underruns from the receiver; '
                  'host: its stalls >= 15 ms/steal; response: received/'
                  'played per band 0-1/1-4/4-8/8-12/12-16/16-20 kHz, dB%s'
                  % (args.seconds, args.repeat, '; %d processes spinning on '
                     'the CPU throughout' % args.busy if args.busy else ''))
            print('%-10s %-7s %7s %-14s %6s %7s %7s %6s %8s  %s'
                  % ('chain', 'bursts', 'median', 'p5..p95', 'spread',
                     'slope', 'steps', 'relock', 'host', 'response'))
            for run in range(args.repeat):
                for name in names:
                    row = measure(workdir, name, launch, args.seconds, run,
                                  args.keep)
                    print(fmt_row(name, *row), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
