"""roomrig: one transmitter, two receivers in step, judged by the sound.

Shared by tests/multiroom/test_multiroom.py and bench/multiroom.py.  The rig
is mixrig's (tests/e2e/mixrig.py, DESIGN.md "A real sound server for
tests"): one recording of ``mix.monitor`` holds what was played into
``play`` and what each receiver played into ``out`` and ``out2``,
sample-aligned.  The chain:

  * the transmitter, tests/multiroom/fastsender.py: ``play`` captured,
    resampled and relabelled so that its card runs --ppm fast, on a
    pipeline clock that runs as fast (the clock its timed heartbeats
    answer with), served by framedtcpsink;
  * receiver 1: ``qsound-launch -m 2 -l MS -o out``, connected directly;
  * receiver 2: ``qsound-launch -m 2 -l MS -o out2``, connected through
    tests/jitter/delayproxy.py (PROXY_ARGS: 40 +- 10 ms both ways, the
    jitter wandering to a new point every 500 ms), at
    once or ``join_s`` after receiver 1.

Each burst is found in ``out`` and ``out2`` on its own (mixrig.analyse);
the two channels' bursts are matched by when they were played into
``play`` (Playout.times: the same burst starts at the same sample in
both), so that each burst played gives lag(out) - lag(out2): how far the
two rooms were apart at that moment (pairs, PairStats).

A process's start (a monotonic time) is placed on the recording by when the
player started: the signal's first burst is LEAD_MS into it.  That holds
once the recorder records: its first samples come about 2 s after it
starts (parecord's too), and what is played into the rig before that
waits for it (a player started 1.2 s before had its first burst at 0.3 s
in the recording), so run() starts nothing before the recording grows.  Checked: a
player started 1.34 s into the recording put its first burst 0.3 s later
within 2 ms.
"""

import os
import re
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'e2e'))
import mixrig  # noqa: E402
import qsmeasure  # noqa: E402

FASTSENDER = os.path.join(HERE, 'fastsender.py')
PROXY = os.path.join(HERE, '..', 'jitter', 'delayproxy.py')
NICE = ['nice', '-n', '-10'] if hasattr(os, 'geteuid') and os.geteuid() == 0 \
    else []
PROXY_ARGS = ['--delay-ms', '40', '--jitter-ms', '10', '--both-ways',
              '--wander-ms', '500']
TARGET_MS = 150
PPM = 1000
OUTPUTS = ('out', 'out2')


def wait_for_re(p, pattern, timeout=20.0):
    """The first match of ``pattern`` in ``p``'s log, waiting up to
    ``timeout`` s; None when it does not come or ``p`` exits."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        m = re.search(pattern, qsmeasure.read_log(p))
        if m:
            return m
        if p.poll() is not None:
            return re.search(pattern, qsmeasure.read_log(p))
        time.sleep(0.05)
    return None


def wait_recording(rec, path, timeout=15.0):
    """Wait until the recorder ``rec`` has written something to ``path``;
    False when it does not within ``timeout`` s, or exits."""
    end = time.monotonic() + timeout
    while time.monotonic() < end and rec.poll() is None:
        if os.path.exists(path) and os.path.getsize(path) > 0:
            return True
        time.sleep(0.02)
    return False


def last_status(p):
    """The last status line of qsound-launch ``p`` (it holds the buffer,
    the correction and the sender's clock as the receiver reads it)."""
    lines = [line for line in qsmeasure.read_log(p).splitlines()
             if ' | buffer ' in line]
    return lines[-1] if lines else '(no status line)'


class Session:
    """One run: the recording, the processes by name (tx, proxy, out,
    out2), when each was started (monotonic s) and when the player started;
    whether each process was still running when the run ended.  Set
    ``first_sent_s`` (a Playout's: when the first burst was played, on the
    recording) to place the starts on the recording (rec_time)."""

    def __init__(self, workdir, name):
        self.workdir = workdir
        self.name = name
        self.rec = os.path.join(workdir, name + '.s16')
        self.procs = {}
        self.started = {}
        self.alive = {}
        self.play_mono = None
        self.first_sent_s = None

    def spawn(self, argv, pname, env=None):
        p = qsmeasure.spawn(argv, os.path.join(
            self.workdir, '%s-%s.log' % (self.name, pname)), env=env)
        self.procs[pname] = p
        self.started[pname] = time.monotonic()
        return p

    def rec_time(self, mono):
        """Monotonic time ``mono`` on the recording's time line (s)."""
        if self.play_mono is None or self.first_sent_s is None:
            return None
        return (self.first_sent_s - qsmeasure.LEAD_MS / 1000.0
                + mono - self.play_mono)

    def started_s(self, pname):
        """When ``pname`` was started, on the recording (s)."""
        if pname not in self.started:
            return None
        return self.rec_time(self.started[pname])


def start_receiver(s, launch, output, port, latency_ms):
    return s.spawn([launch, '-m', '2', '-l', str(latency_ms), '-o', output,
                    '-p', str(port)], output, env=mixrig.rx_env())


def run(workdir, name, launch, seconds, join_s=None, ppm=PPM,
        latency_ms=TARGET_MS, settle_s=1.0, tail_s=1.0, seed=1, watch=None):
    """Record mix.monitor while the fast transmitter, receiver 1 (direct,
    ``out``) and receiver 2 (through the proxy, ``out2``) run and a
    ``seconds`` long burst signal plays into ``play``.  Receiver 2 starts
    with receiver 1, or with ``join_s`` ``join_s`` s after it (while the
    signal plays: ``settle_s`` + ``seconds`` must be longer).  A
    stallwatch.Watch ``watch`` watches the host meanwhile.  Returns a
    Session; a process that could not start is missing from its procs."""
    sig = os.path.join(workdir, 'bursts-%d-%d.wav' % (seed, seconds))
    if not os.path.exists(sig):
        mixrig.make_bursts(sig, seconds, seed=seed)
    s = Session(workdir, name)
    if watch is not None:
        watch.start(os.path.join(workdir, name + '-stallwatch.log'))
    rec = s.spawn(mixrig.recorder_argv(s.rec), 'rec')
    player = None
    try:
        # the recorder (gst-launch-1.0) takes about 2 s to start here, and
        # what is played into the rig before it records waits for it: a
        # start placed by the player's time would be that much off
        if not wait_recording(rec, s.rec):
            return s
        tx = s.spawn([sys.executable, FASTSENDER, '--ppm', '%g' % ppm,
                      '--device', 'play'], 'tx', env=mixrig.tx_env())
        m = wait_for_re(tx, r'PORT (\d+)')
        if m is None:
            return s
        # the proxy is the network: ahead of the endpoints on the CPU, so
        # that what it adds is the link's delay, not its own lateness (a
        # Python thread waiting for the busy cores delays the dense way,
        # the media, more than the sparse way back, which clock sync takes
        # for an offset)
        proxy = s.spawn(NICE + [sys.executable, PROXY, '--target-port',
                                m.group(1)] + PROXY_ARGS, 'proxy')
        pm = wait_for_re(proxy, r'PORT (\d+)')
        if pm is None:
            return s
        start_receiver(s, launch, 'out', int(m.group(1)), latency_ms)
        if join_s is None:
            start_receiver(s, launch, 'out2', int(pm.group(1)), latency_ms)
        time.sleep(settle_s)
        if watch is not None:
            watch.play_start = time.monotonic()
        s.play_mono = time.monotonic()
        player = subprocess.Popen(mixrig.play_argv(sig),
                                  stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        if join_s is not None:
            time.sleep(max(0.0, s.started['out'] + join_s - time.monotonic()))
            start_receiver(s, launch, 'out2', int(pm.group(1)), latency_ms)
        player.wait(timeout=seconds + 30)
        player = None
        time.sleep(tail_s)
    finally:
        if player is not None:
            player.kill()
            player.wait()
        for pname in ('out2', 'out', 'proxy', 'tx'):
            p = s.procs.get(pname)
            if p is not None:
                s.alive[pname] = p.poll() is None
                if pname == 'proxy':
                    p.terminate()
                    p.wait()
                else:
                    qsmeasure.stop(p)
        qsmeasure.stop(rec)
        if watch is not None:
            watch.stop()
    return s


# --------------------------------------------------------------- analysis --

def pairs(a, b, t0=None, t1=None):
    """The bursts delivered on both Playouts ``a`` and ``b`` (matched by
    when they were played), played from ``t0`` to ``t1`` s on the
    recording: [(time s, lag a ms, lag b ms)]."""
    lag_b = {int(round(t * mixrig.RATE)): lag
             for t, lag in zip(b.times, b.lags_ms)}
    out = []
    for t, lag in zip(a.times, a.lags_ms):
        if (t0 is not None and t < t0) or (t1 is not None and t >= t1):
            continue
        k = int(round(t * mixrig.RATE))
        if k in lag_b:
            out.append((t, lag, lag_b[k]))
    return out


class PairStats:
    """lag(a) - lag(b) over matched bursts: the median of the difference
    and the median, p95 and largest of its size (ms)."""

    def __init__(self, matched):
        self.n = len(matched)
        d = np.array([la - lb for _, la, lb in matched])
        self.diffs = d
        if self.n:
            self.median = float(np.median(d))
            self.abs_median = float(np.median(np.abs(d)))
            self.abs_p95 = float(np.percentile(np.abs(d), 95))
            self.abs_max = float(np.max(np.abs(d)))
        else:
            self.median = self.abs_median = None
            self.abs_p95 = self.abs_max = None

    def summary(self, a='out', b='out2'):
        if not self.n:
            return 'lag(%s) - lag(%s): no burst delivered on both' % (a, b)
        return ('lag(%s) - lag(%s) over %d bursts: median %+.3f ms; |diff| '
                'median %.3f, p95 %.3f, max %.3f ms'
                % (a, b, self.n, self.median, self.abs_median, self.abs_p95,
                   self.abs_max))


def analyse_long(path, outputs=OUTPUTS, chunk_s=60, before_s=0.5,
                 after_s=1.5):
    """mixrig.analyse over a long recording a ``chunk_s`` piece at a time
    (the whole of 10 minutes would take 1.4 GB as float).  Each piece is
    copied out with ``before_s`` before it (a burst that straddles its
    start is found whole) and ``after_s`` after it (the lags, up to 1 s),
    and keeps the bursts that start within it.  Returns {output: Playout}
    like mixrig.analyse, without the band response."""
    raw = np.memmap(path, dtype='<i2', mode='r')
    frames = len(raw) // 6
    raw = raw[:frames * 6].reshape(-1, 6)
    rate = mixrig.RATE
    result = {name: mixrig.Playout(name) for name in outputs}
    piece = path + '.piece.s16'
    try:
        for start in range(0, frames, chunk_s * rate):
            a = max(0, start - int(before_s * rate))
            b = min(frames, start + int((chunk_s + after_s) * rate))
            np.asarray(raw[a:b]).tofile(piece)
            t_lo, t_hi = start / rate, (start + chunk_s * rate) / rate
            off = a / rate
            for name, po in mixrig.analyse(piece, outputs).items():
                whole = result[name]
                for t, lag in zip(po.times, po.lags_ms):
                    if t_lo <= t + off < t_hi:
                        whole.times.append(t + off)
                        whole.lags_ms.append(lag)
                whole.lost_s += [t + off for t in po.lost_s
                                 if t_lo <= t + off < t_hi]
                if whole.first_sent_s is None and po.first_sent_s is not None \
                        and t_lo <= po.first_sent_s + off < t_hi:
                    whole.first_sent_s = po.first_sent_s + off
    finally:
        if os.path.exists(piece):
            os.unlink(piece)
    for po in result.values():
        po.sent = po.delivered + len(po.lost_s)
    return result
