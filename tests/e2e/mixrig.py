"""mixrig: judge a live audio chain by the sound a real sink plays.

The rig of DESIGN.md ("A real sound server for tests"): a private PulseAudio
whose sinks ``play``, ``out`` and ``out2`` are remap sinks onto the channel
pairs of ONE 6-channel null sink ``mix`` (tests/pulse-env.sh starts it).  One
recording of ``mix.monitor`` then holds what was played into ``play`` and
what each receiver played into ``out`` and ``out2``, sample-aligned by
construction: nothing has to be estimated to line them up.

The signal is a train of distinct 20 ms white-noise bursts at random
intervals (never periodic, full band).  Each burst is found on its own in a
received channel by normalised cross-correlation around the lag of the burst
before it, so a slope (the receiver plays fast or slow), a jump (a re-lock)
and the spread all show.  Comparing each burst's power spectrum as played and
as received, band by band, shows what the path does to the sound (0.00 dB is
transparent).

Used by the tests in tests/e2e and tests/jitter and by bench/playout-bench.
Run as a program it analyses a recording:

    python3 mixrig.py analyse REC.s16 [out|out2 ...]
"""

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import wave

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qsmeasure  # noqa: E402  (process helpers)

RATE = 48000
# channel pairs of mix.monitor (channel-mask 0xc33: FL FR RL RR SL SR)
CHANNELS = {'play': 0, 'out': 2, 'out2': 4}
BANDS_KHZ = ((0, 1), (1, 4), (4, 8), (8, 12), (12, 16), (16, 20))
MIX_CAPS = ('audio/x-raw,format=S16LE,rate=48000,channels=6,'
            'channel-mask=(bitmask)0xc33')


# ----------------------------------------------------------------- signal --

def make_bursts(path, seconds, seed=1, burst_ms=20, gap_ms=(150, 450),
                lead_ms=qsmeasure.LEAD_MS, rms=0.2):
    """Write a stereo S16LE 48 kHz WAV of distinct ``burst_ms`` white-noise
    bursts (2 ms fades) at seeded random intervals, ``seconds`` long.
    Returns the number of bursts."""
    rng = np.random.default_rng(seed)
    total = int(RATE * seconds)
    sig = np.zeros(total)
    blen = RATE * burst_ms // 1000
    fade = RATE * 2 // 1000
    ramp = np.ones(blen)
    ramp[:fade] = np.linspace(0.0, 1.0, fade)
    ramp[-fade:] = np.linspace(1.0, 0.0, fade)
    pos = RATE * lead_ms // 1000
    n = 0
    while pos + blen < total - RATE // 10:
        sig[pos:pos + blen] = np.clip(rng.normal(0.0, rms, blen), -0.9,
                                      0.9) * ramp
        n += 1
        pos += blen + int(rng.integers(RATE * gap_ms[0] // 1000,
                                       RATE * gap_ms[1] // 1000))
    pcm = (sig * 32767).astype('<i2')
    with wave.open(path, 'wb') as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(np.repeat(pcm[:, None], 2, axis=1).tobytes())
    return n


# ----------------------------------------------------------- sound server --

MIX_MODULES = [
    'module-native-protocol-unix',
    'module-null-sink sink_name=mix rate=48000 channels=6 channel_map='
    'front-left,front-right,rear-left,rear-right,side-left,side-right',
]
for _name, _pair in (('play', 'front'), ('out', 'rear'), ('out2', 'side')):
    MIX_MODULES.append(
        'module-remap-sink sink_name=%s master=mix channels=2 '
        'master_channel_map=%s-left,%s-right '
        'channel_map=front-left,front-right remix=no' % (_name, _pair, _pair))


class MixServer:
    """A private PulseAudio with the rig's sinks (``play``, ``out`` and
    ``out2`` on the channel pairs of ``mix``), remixing off, default sink
    ``play``.  start() points this process's environment (so every child)
    at it; stop() kills it and restores the environment."""

    def __init__(self, workdir):
        self.dir = os.path.join(workdir, 'pulse')
        self.saved = {}

    def start(self, timeout=10.0):
        os.makedirs(os.path.join(self.dir, 'config', 'pulse'), exist_ok=True)
        with open(os.path.join(self.dir, 'config', 'pulse', 'daemon.conf'),
                  'w') as f:
            f.write('enable-remixing = no\n')
        env = {'XDG_RUNTIME_DIR': self.dir,
               'PULSE_RUNTIME_PATH': os.path.join(self.dir, 'runtime'),
               'XDG_CONFIG_HOME': os.path.join(self.dir, 'config')}
        for k, v in env.items():
            self.saved[k] = os.environ.get(k)
            os.environ[k] = v
        self.saved['PULSE_SERVER'] = os.environ.pop('PULSE_SERVER', None)
        argv = ['pulseaudio', '-n', '--daemonize=yes', '--exit-idle-time=-1',
                '--disallow-exit',
                '--log-target=file:' + os.path.join(self.dir, 'pulse.log')]
        for m in MIX_MODULES:
            argv += ['-L', m]
        subprocess.run(argv, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if subprocess.run(['pactl', 'info'], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL).returncode == 0:
                subprocess.run(['pactl', 'set-default-sink', 'play'],
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
                return True
            time.sleep(0.1)
        return False

    def stop(self):
        subprocess.run(['pulseaudio', '--kill'], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        for k, v in self.saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_case(prefix, case, failures):
    """A test's case on a MixServer of its own in a fresh folder:
    ``case(workdir)``, reporting through ``failures`` (the test's list,
    tests/e2e/test_e2e.py).  The folder is kept, and said, when something
    failed or QSOUND_KEEP is set.  Returns the exit status: 77 (skipped)
    when PulseAudio does not start."""
    workdir = tempfile.mkdtemp(prefix=prefix)
    server = MixServer(workdir)
    try:
        if not server.start():
            print('SKIP: could not start a private PulseAudio')
            return 77
        case(workdir)
    finally:
        server.stop()
        if not failures and not os.environ.get('QSOUND_KEEP'):
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print('recordings and logs kept in ' + workdir)
    print('%d passed, %d failed' % (0 if failures else 1, len(failures)))
    return 1 if failures else 0


def bench_env(build):
    """Points this process and its children at the build in ``build``: the
    plugin, tests/stallwatch and the launcher's pipelines (from the source
    tree).  Returns the launcher's path."""
    build = os.path.abspath(build)
    os.environ['GST_PLUGIN_PATH'] = os.path.join(build, 'plugins', 'qsound')
    os.environ['QSOUND_BUILD_ROOT'] = build     # tests/stallwatch
    os.environ['QSOUND_PIPELINES_DIR'] = os.path.join(
        os.path.dirname(os.path.abspath(__file__)), '..', '..', 'pipelines')
    return os.path.join(build, 'launcher', 'qsound-launch')


@contextlib.contextmanager
def bench_rig(prefix, keep=False):
    """For a benchmark: a fresh folder with a MixServer started in it.
    Yields the folder, or None if PulseAudio did not start (the folder is
    then left, with its log).  Afterwards stops the server and removes the
    folder, or with ``keep`` says where it is."""
    workdir = tempfile.mkdtemp(prefix=prefix)
    server = MixServer(workdir)
    if not server.start():
        yield None
        return
    try:
        yield workdir
    finally:
        server.stop()
        if keep:
            print('recordings and logs kept in %s' % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


# ----------------------------------------------------------------- chains --
#
# Each is a callable(spawn) -> [processes], for run_rig.  The sender
# captures ``play``; the receiver plays into ``out``.

def debug_env(var):
    """This environment with GST_DEBUG taken from ``var`` if that is set:
    qsmeasure.spawn otherwise has a process log its jitter buffer's events
    (audiojitterbuffer:4) and its sink's underflows (pulse:2)."""
    env = dict(os.environ)
    if var in env:
        env['GST_DEBUG'] = env[var]
    return env


def rx_env():
    """The receiver's environment: RXDEBUG=SPEC logs more."""
    return debug_env('RXDEBUG')


def tx_env():
    """The sender's environment: TXDEBUG=SPEC (e.g.
    loopbacksrc:6,framedtcpsink:6 logs each chunk and frame with the
    monotonic time, to set beside the receiver's arrivals)."""
    return debug_env('TXDEBUG')


def jitter_events(p):
    """What the receiver ``p``'s jitter buffer logged of its re-locks and
    underruns (the text after "<jitter> "), in order."""
    return [line.split('<jitter> ', 1)[-1]
            for line in qsmeasure.read_log(p).splitlines()
            if re.search(r'<jitter> (re-lock|underrun)', line)]


def launcher_pair(launch, codec, rx_args=()):
    """qsound-launch -m 1 (capturing play) and -m 2 (playing into out)."""
    def start(spawn):
        tx = spawn([launch, '-m', '1', '-c', codec, '-d', 'play', '-p', '0'],
                   'tx', env=tx_env())
        port = qsmeasure.port_from_log(tx)
        if port is None:
            return [tx]
        rx = spawn([launch, '-m', '2', '-o', 'out', '-p', str(port)]
                   + list(rx_args), 'rx',
                   env=rx_env())
        return [tx, rx]
    return start


def raw_sender(launch, ppm):
    """A framedtcpsink sender whose sound card runs ``ppm`` fast (negative:
    slow): play.monitor resampled to 48000 * (1 + ppm/1e6) samples a second
    and labelled 48000, timestamps counting samples, as a card with that
    clock error makes them; the launcher's receiver (-m 2).

    The audio goes in 1 ms chunks.  A real fast card sends each chunk a
    little early on our clock; this one captures on the same sound server
    as the receiver plays, every 5 ms of its time, so a chunk's end comes
    out only at the next 5 ms capture after it.  With 5 ms chunks that
    rounding made a saw-tooth of 5 ms every 5 s in the arrivals against
    their timestamps, which the receiver's drift readout took up (CI:
    +875 ppm for +1000); with 1 ms chunks it is under 1 ms."""
    rate = int(round(RATE * (1 + ppm * 1e-6)))
    port = qsmeasure.free_port()

    def start(spawn):
        desc = ('loopbacksrc device=play ! audioconvert ! audioresample ! '
                'audio/x-raw,format=S16LE,channels=2,rate=%d ! capssetter '
                'replace=false caps=audio/x-raw,rate=48000 ! audiobuffersplit '
                'output-buffer-duration=1/1000 alignment-threshold=3600000000000 '
                '! framedtcpsink port=%d '
                'sync=false' % (rate, port))
        tx = spawn([qsmeasure.gst_launch(), '-q'] + desc.split(), 'tx',
                   env=tx_env())
        time.sleep(0.5)
        rx = spawn([launch, '-m', '2', '-o', 'out', '-p', str(port)], 'rx',
                   env=rx_env())
        return [tx, rx]
    return start


def stock_pcm():
    """The control: raw PCM over tcpserversink into pulsesink, no jitter
    buffer, no drift correction (DESIGN's tuned stock chain)."""
    return gst_chain(qsmeasure.stock_pcm_tuned(qsmeasure.free_port()))


def gst_chain(parts):
    def start(spawn):
        procs = []
        for name, desc in parts:
            procs.append(spawn([qsmeasure.gst_launch(), '-q'] + desc.split(),
                               name))
            time.sleep(0.5)
        return procs
    return start


# --------------------------------------------------------------- recorder --

def recorder_argv(path):
    """gst-launch-1.0 recording mix.monitor into ``path``: raw interleaved
    S16LE, 6 channels at 48 kHz, no header (read_mix reads it)."""
    return [qsmeasure.gst_launch(), '-q', 'pulsesrc',
            'device=mix.monitor', 'buffer-time=100000', 'latency-time=10000',
            '!', MIX_CAPS, '!', 'filesink', 'location=' + path]


def play_argv(path, sink='play'):
    return qsmeasure.play_argv(path, sink)


def run_rig(workdir, name, start_chain, seconds, seed=1, settle_s=2.0,
            tail_s=1.0, ready=None, ready_timeout=20.0, watch=None):
    """Record mix.monitor while ``start_chain(spawn)`` runs and the burst
    signal (``seconds`` long) plays into ``play``.  ``spawn(argv, name)``
    starts a logged process.  A stallwatch.Watch ``watch`` watches the host
    meanwhile (see lost_at).  Returns (recording path, processes)."""
    sig = os.path.join(workdir, 'bursts-%d-%d.wav' % (seed, seconds))
    if not os.path.exists(sig):
        make_bursts(sig, seconds, seed=seed)
    rec_path = os.path.join(workdir, name + '.s16')

    def spawn(argv, pname, env=None):
        return qsmeasure.spawn(argv, os.path.join(workdir, '%s-%s.log'
                                                  % (name, pname)), env=env)

    if watch is not None:
        watch.start(os.path.join(workdir, name + '-stallwatch.log'))
    rec = spawn(recorder_argv(rec_path), 'rec')
    procs = []
    try:
        procs = start_chain(spawn)
        if ready is not None:
            qsmeasure.wait_ready(procs, ready, ready_timeout)
        time.sleep(settle_s)
        if watch is not None:
            watch.play_start = time.monotonic()
        subprocess.run(play_argv(sig), check=True, timeout=seconds + 30,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(tail_s)
    finally:
        for p in reversed(procs):
            qsmeasure.stop(p)
        qsmeasure.stop(rec)
        if watch is not None:
            watch.stop()
    return rec_path, procs


def lost_at(po, watch):
    """When (monotonic s, as the watch's times) each burst ``po`` lost was
    played (qsmeasure.lost_at)."""
    return qsmeasure.lost_at(po.lost_s, po.first_sent_s, watch)


def host_steps(po, watch, min_ms=3.0):
    """How many of ``po``'s steps of ``min_ms`` or more between bursts came
    while the host stalled (stallwatch.Watch.explain_burst at the later
    burst)."""
    at = qsmeasure.lost_at(po.times, po.first_sent_s, watch)
    return sum(1 for i in range(1, len(po.lags_ms))
               if abs(po.lags_ms[i] - po.lags_ms[i - 1]) >= min_ms
               and watch.explain_burst(at[i]) is not None)


# --------------------------------------------------------------- analysis --

def read_mix(path):
    data = np.fromfile(path, dtype='<i2')
    data = data[:len(data) // 6 * 6]
    return data.reshape(-1, 6).astype(np.float64) / 32768.0


def find_bursts(x, burst_ms=20, threshold=0.02):
    """Start sample of each burst in the played channel, by 1 ms energy."""
    blk = RATE // 1000
    rms = np.sqrt(qsmeasure.block_energy(x, blk) / blk)
    active = rms > threshold
    starts = []
    i = 0
    while i < len(active):
        if active[i]:
            j = i
            while j < len(active) and (active[j] or active[j:j + 3].any()):
                j += 1
            if j - i >= burst_ms // 2:
                starts.append(i * blk)
            i = j
        else:
            i += 1
    return starts


def ncc_search(ref, x, lo, hi):
    """Best lag of ``ref`` in ``x`` between sample positions lo..hi (start
    positions), by normalised cross-correlation; returns (pos, ncc)."""
    lo = max(lo, 0)
    hi = min(hi, len(x) - len(ref))
    if hi <= lo:
        return None, 0.0
    seg = x[lo:hi + len(ref)]
    cc = np.correlate(seg, ref, mode='valid')
    e = np.concatenate(([0.0], np.cumsum(seg ** 2)))
    win = e[len(ref):] - e[:-len(ref)]
    er = float((ref ** 2).sum())
    ncc = cc / np.sqrt(np.maximum(win * er, 1e-20))
    k = int(np.argmax(ncc))
    return lo + k, float(ncc[k])


class Playout:
    """What one received channel did, burst by burst."""

    def __init__(self, name):
        self.name = name
        self.sent = 0
        self.times = []       # s, when each delivered burst was played
        self.lags_ms = []     # its latency
        self.band_db = None   # received / played power per band, dB
        self.first_lag_ms = None
        self.lost_s = []      # s, when each burst not delivered was played
        self.first_sent_s = None  # s, when the first burst was played

    @property
    def delivered(self):
        return len(self.lags_ms)

    def percentile(self, q):
        return float(np.percentile(self.lags_ms, q)) if self.lags_ms else None

    @property
    def spread_ms(self):
        if len(self.lags_ms) < 2:
            return None
        return self.percentile(95) - self.percentile(5)

    @property
    def slope_ms_per_s(self):
        if len(self.lags_ms) < 3:
            return None
        return float(np.polyfit(self.times, self.lags_ms, 1)[0])

    def jumps(self, min_ms=3.0):
        """Lag steps between successive bursts of at least ``min_ms``."""
        d = np.diff(self.lags_ms)
        return [float(v) for v in d if abs(v) >= min_ms]

    def since(self, t0):
        """The bursts played from ``t0`` s on, as a Playout of their own
        (those lost too)."""
        po = Playout(self.name)
        kept = [(t, lag) for t, lag in zip(self.times, self.lags_ms)
                if t >= t0]
        po.times = [t for t, _ in kept]
        po.lags_ms = [lag for _, lag in kept]
        po.lost_s = [t for t in self.lost_s if t >= t0]
        po.sent = len(po.lags_ms) + len(po.lost_s)
        po.first_sent_s = self.first_sent_s
        return po

    def window(self, t0, t1):
        """Median latency of the bursts played from t0 to t1 s."""
        sel = [lag for t, lag in zip(self.times, self.lags_ms) if t0 <= t < t1]
        return float(np.median(sel)) if sel else None

    def summary(self):
        if not self.lags_ms:
            return '%s: nothing delivered of %d bursts' % (self.name, self.sent)
        bands = ''
        if self.band_db is not None:
            bands = ', response ' + ' / '.join('%+.2f' % v
                                               for v in self.band_db) + ' dB'
        return ('%s: %d/%d bursts, latency median %.2f ms, p5..p95 %.2f..%.2f '
                '(spread %.2f ms), slope %+.3f ms/s, %d jumps >= 3 ms%s'
                % (self.name, self.delivered, self.sent,
                   float(np.median(self.lags_ms)), self.percentile(5),
                   self.percentile(95), self.spread_ms or 0.0,
                   self.slope_ms_per_s or 0.0, len(self.jumps()), bands))

    def as_dict(self):
        return {'name': self.name, 'sent': self.sent,
                'delivered': self.delivered, 'times': self.times,
                'lags_ms': self.lags_ms, 'band_db': self.band_db}


def band_power(x):
    f = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    freqs = np.fft.rfftfreq(len(x), 1.0 / RATE)
    return np.array([f[(freqs >= lo * 1000) & (freqs < hi * 1000)].sum()
                     for lo, hi in BANDS_KHZ])


# A burst is delivered when its waveform is found at its lag with at least
# this normalised correlation.  By chance (20 ms of noise against 1 s of
# other noise) the best match reaches about 0.15.  A lossy codec changes the
# waveform of noise it passes whole: Opus bursts at ~100 kbit/s matched 0.49
# to 0.9 (median 0.64), so 0.5 counted one whole burst in a few hundred as
# lost; for the lossy codecs the bar is MIN_NCC_LOSSY.
MIN_NCC = 0.5
MIN_NCC_LOSSY = 0.3


def analyse_out(path, chain):
    """The channel ``out`` of the mix recording ``path`` (as analyse, lags
    up to 2 s), judged with the bar for a lossy codec where ``chain`` is one
    (opus, mp3: MIN_NCC_LOSSY)."""
    return analyse(path, ('out',), max_latency_s=2.0, min_ncc=(
        MIN_NCC_LOSSY if chain in ('opus', 'mp3') else MIN_NCC))['out']


def analyse(path, outputs=('out',), max_latency_s=1.0, min_ncc=MIN_NCC,
            track_ms=40.0):
    """Per-burst latency and band response of each received channel of the
    mix recording ``path``.  Returns {output name: Playout}."""
    data = read_mix(path)
    sent = data[:, CHANNELS['play']]
    starts = find_bursts(sent)
    blen = RATE * 20 // 1000
    result = {}
    for name in outputs:
        recv = data[:, CHANNELS[name]]
        po = Playout(name)
        po.sent = len(starts)
        p_sent = np.zeros(len(BANDS_KHZ))
        p_recv = np.zeros(len(BANDS_KHZ))
        last = None
        po.first_sent_s = starts[0] / RATE if starts else None
        for s in starts:
            ref = sent[s:s + blen]
            if len(ref) < blen:
                po.lost_s.append(s / RATE)
                continue
            if last is None:
                lo, hi = s, s + int(RATE * max_latency_s)
            else:
                w = int(RATE * track_ms / 1000)
                lo, hi = s + last - w, s + last + w
            pos, ncc = ncc_search(ref, recv, lo, hi)
            if (pos is None or ncc < min_ncc) and last is not None:
                # lost track (a big jump): search the whole range again
                pos, ncc = ncc_search(ref, recv, s, s + int(RATE *
                                                            max_latency_s))
            if pos is None or ncc < min_ncc:
                po.lost_s.append(s / RATE)
                continue
            last = pos - s
            po.times.append(s / RATE)
            po.lags_ms.append(1000.0 * last / RATE)
            p_sent += band_power(ref)
            p_recv += band_power(recv[pos:pos + blen])
        if po.delivered:
            po.band_db = [round(float(10 * np.log10(r / s)), 3)
                          if s > 0 and r > 0 else None
                          for r, s in zip(p_recv, p_sent)]
        result[name] = po
    return result


def main(argv):
    if len(argv) >= 3 and argv[1] == 'analyse':
        res = analyse(argv[2], tuple(argv[3:]) or ('out',))
        for po in res.values():
            print(po.summary())
        if os.environ.get('MIXRIG_JSON'):
            with open(os.environ['MIXRIG_JSON'], 'w') as f:
                json.dump({k: v.as_dict() for k, v in res.items()}, f)
        return 0
    print(__doc__)
    return 2


if __name__ == '__main__':
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.exit(main(sys.argv))
