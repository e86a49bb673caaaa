"""qsmeasure: measure what a live audio chain delivers, on a real PulseAudio.

Shared by the end-to-end tests (tests/e2e) and the benchmark (bench/).

The method (see DESIGN.md, "A real sound server for tests"):

  * a NON-periodic test signal (seeded noise bursts at random intervals) is
    played into the null sink ``play``;
  * the chain under test captures ``play`` (its monitor) and plays into the
    null sink ``out``;
  * ``play.monitor`` and ``out.monitor`` are recorded TOGETHER by one
    recorder (this file run as a program, see ``recorder_argv``), which puts
    the two channels on one time line using PulseAudio's own timing: a
    sample on channel 0 and one on channel 1 at the same index were played
    into their sinks at the same moment;
  * cross-correlating the two channels gives the latency, and checking each
    sent burst at that lag (energy ratio) gives the share delivered; each
    burst's own lag is refined within +-30 ms.  When the waveforms agree at
    no single lag (the latency moved by a few ms during the run: a jitter
    buffer steering back to its target), their energy envelopes give the
    lag instead, and the bursts' spread of lags shows the movement.

Why not one gst-launch-1.0 pipeline (two pulsesrc into audiointerleave), as
before: its two channels were aligned only as well as each pulsesrc placed
its first buffer, decided anew in each run.  Measured against a ground
truth (a private PulseAudio where ``play`` and ``out`` are module-remap-sink
sinks of ONE 4-channel null sink, so that its monitor records both exactly
aligned), with the chain ``loopbacksrc device=play ! pulsesink device=out``:

  * the old pipeline: error 0 in most runs and one 10 ms fragment (+-10 ms)
    in others (idle: 7 runs, 2 at +10 ms; other core busy: 6 runs, one at
    +10, one at -10 ms); 3 of 16 runs recorded nothing;
  * this recorder: +0.06..+0.48 ms idle (8 runs, mean +0.30), -0.10..+0.52
    ms with the other core busy (8 runs, mean +0.06).

On the real rig (two independent null sinks) there is no such truth; there
the two ways of aligning (PulseAudio timing, used; earliest arrival, kept
as a check) agreed within 0.3..2.5 ms in each of 16 runs (idle and busy;
with the 20 ms sink buffer of ``stock_floor`` they differ by ~4.5 ms, as
``out`` then renders further ahead of play time); the old pipeline's
figure for the same run differed from this recorder's by up to 11.5 ms, and
it once recorded the received channel 15.8 ms EARLIER than the sent one.

Needs python3, numpy, libpulse (libpulse.so.0), gst-launch-1.0 and a
PulseAudio server with the null sinks ``play`` and ``out`` at 48 kHz
(tests/pulse-env.sh starts one).
"""

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
import stallwatch  # noqa: E402

RATE = 48000
LEAD_MS = 300      # silence before the first burst of the rigs' signals


# ----------------------------------------------------------------- signal --

def bandlimit(x, lo_hz=200.0, hi_hz=7000.0):
    """Noise kept to 200 Hz..7 kHz, which mp3 and Opus at their usual
    bitrates carry whole: a burst that arrives intact keeps its energy."""
    f = np.fft.rfft(x)
    freqs = np.fft.rfftfreq(len(x), 1.0 / RATE)
    f[(freqs < lo_hz) | (freqs > hi_hz)] = 0
    y = np.fft.irfft(f, len(x))
    rms = np.sqrt((y ** 2).mean())
    return y * (np.sqrt((x ** 2).mean()) / rms) if rms > 0 else y


def make_signal(path, seed=1, bursts=30, burst_ms=50, gap_ms=(200, 550),
                lead_ms=LEAD_MS, tail_ms=300, amplitude=0.35):
    """Write a stereo S16LE 48 kHz WAV of ``bursts`` noise bursts of
    ``burst_ms`` each, separated by seeded random gaps (never periodic).
    Returns the number of bursts written."""
    rng = np.random.default_rng(seed)
    blen = int(RATE * burst_ms / 1000)
    gaps = rng.integers(int(RATE * gap_ms[0] / 1000),
                        int(RATE * gap_ms[1] / 1000), size=bursts)
    total = int(RATE * lead_ms / 1000) + int(gaps.sum()) + bursts * blen \
        + int(RATE * tail_ms / 1000)
    sig = np.zeros(total, dtype=np.float64)
    pos = int(RATE * lead_ms / 1000)
    ramp = np.minimum(1.0, np.minimum(np.arange(blen), np.arange(blen)[::-1])
                      / (RATE * 0.002))  # 2 ms fades: no clicks
    for i in range(bursts):
        noise = bandlimit(rng.normal(0.0, amplitude, blen))
        noise = np.clip(noise, -0.95, 0.95)
        sig[pos:pos + blen] = noise * ramp
        pos += blen + int(gaps[i])
    pcm = (sig * 32767).astype('<i2')
    stereo = np.repeat(pcm[:, None], 2, axis=1)
    with wave.open(path, 'wb') as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(stereo.tobytes())
    return bursts


def signal_duration(path):
    with wave.open(path, 'rb') as w:
        return w.getnframes() / w.getframerate()


# -------------------------------------------------------------- processes --

def gst_launch():
    return shutil.which('gst-launch-1.0') or 'gst-launch-1.0'


def spawn(argv, log_path, env=None):
    """Start ``argv`` with stdout+stderr into ``log_path``; own process group
    so that stopping it never touches anything else.  Unless ``env`` says
    otherwise, a receiver's audiojitterbuffer logs when it locks, re-locks,
    fills a gap or runs dry (a few lines a run), and pulsesink and pulsesrc
    when their PulseAudio stream under- or overflows: what a failed check
    shows beside the status lines."""
    env = dict(os.environ if env is None else env)
    env.setdefault('GST_DEBUG', 'audiojitterbuffer:4,pulse:2')
    env.setdefault('GST_DEBUG_NO_COLOR', '1')
    log = open(log_path, 'wb')
    p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, env=env,
                         start_new_session=True)
    p.qs_log = log_path
    log.close()
    return p


def stop(p, timeout=8.0):
    """Ask ``p`` to finish (SIGINT, as Ctrl-C), kill it if it does not.
    Returns its exit code (negative: killed by that signal)."""
    if p.poll() is None:
        try:
            p.send_signal(signal.SIGINT)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    return p.returncode


def wait_ready(procs, ready, timeout):
    """Wait up to ``timeout`` s until ``ready(procs)``, or one of them
    exits."""
    end = time.monotonic() + timeout
    while time.monotonic() < end and not ready(procs):
        if any(p.poll() is not None for p in procs):
            break
        time.sleep(0.05)


def read_log(p):
    try:
        with open(p.qs_log, 'r', errors='replace') as f:
            return f.read()
    except OSError:
        return ''


def wait_for_log(p, needle, timeout):
    """Wait until ``needle`` appears in ``p``'s log; False on timeout or exit."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if needle in read_log(p):
            return True
        if p.poll() is not None:
            return needle in read_log(p)
        time.sleep(0.05)
    return False


def recorder_argv(path):
    """The recorder: play.monitor (channel 0) and out.monitor (channel 1)
    into the stereo WAV ``path``, aligned in play time; SIGINT stops it and
    writes the file (and ``path``.json, how the channels were aligned).  It
    prints "recording" once both streams run.  See ``record``."""
    return [sys.executable or 'python3', os.path.abspath(__file__), 'record',
            path]


def play_argv(path, sink='play'):
    if shutil.which('paplay'):
        return ['paplay', '--device=' + sink, path]
    return [gst_launch(), '-q', 'filesrc', 'location=' + path, '!', 'wavparse',
            '!', 'audioconvert', '!', 'pulsesink', 'device=' + sink]


# --------------------------------------------------------------- analysis --

class Result:
    """What a measurement found.  latency_ms is None when nothing arrived."""

    def __init__(self):
        self.sent = 0
        self.delivered = 0
        self.latency_ms = None
        self.latency_min_ms = None
        self.latency_max_ms = None
        self.peak = 0.0
        self.note = ''
        self.ratios = []      # energy received / sent, per burst
        self.intact = 0       # bursts without a lost 10 ms slice
        self.warnings = []    # warnings and errors the chain printed
        self.misaligned_ms = None  # set when channel 1 LEADS channel 0
        self.alignment = None  # how the recorder aligned its channels
        self.lost_s = []      # s into the recording: bursts not delivered
        self.first_sent_s = None  # s into the recording: the first burst
        self.watch = None     # the stallwatch.Watch of the run, if any

    @property
    def share(self):
        return self.delivered / self.sent if self.sent else 0.0

    def judge_losses(self, label, through='', spare=0):
        """(ok, what): every burst delivered, or each loss but ``spare``
        explained by a host stall the run's watch saw
        (stallwatch.Watch.judge), as a test's check states it."""
        if self.watch is None:
            ok = self.sent > 0 and self.sent - self.delivered <= spare
            why = ''
        else:
            ok, why = self.watch.judge(self.sent, self.delivered, lost_at(
                self.lost_s, self.first_sent_s, self.watch), spare)
        return ok, ('%s: every burst delivered%s, or lost while the host '
                    'stalled (%d/%d%s)' % (label, through, self.delivered,
                                           self.sent, why))

    def __str__(self):
        lat = ('%.1f ms' % self.latency_ms) if self.latency_ms is not None \
            else 'n/a'
        spread = ''
        if self.latency_min_ms is not None:
            spread = ' (bursts %.1f..%.1f ms)' % (self.latency_min_ms,
                                                  self.latency_max_ms)
        return ('latency %s%s, delivered %d/%d bursts (%.0f %%), %d intact%s'
                % (lat, spread, self.delivered, self.sent, 100 * self.share,
                   self.intact, ('; ' + self.note) if self.note else ''))


def lost_at(lost_s, first_sent_s, watch):
    """When (monotonic s, as the watch's times) each burst lost at
    ``lost_s`` s into the recording was played: the first burst, recorded at
    ``first_sent_s``, was LEAD_MS into the signal the player started at
    watch.play_start."""
    if first_sent_s is None:
        return []
    return [watch.play_start + LEAD_MS / 1000.0 + t - first_sent_s
            for t in lost_s]


def read_wav(path):
    with wave.open(path, 'rb') as w:
        n = w.getnframes()
        ch = w.getnchannels()
        data = np.frombuffer(w.readframes(n), dtype='<i2')
    return data.reshape(-1, ch).astype(np.float64) / 32768.0


def block_energy(x, block):
    """Energy (sum of squares) of each whole ``block`` samples of ``x``."""
    n = len(x) // block
    return (x[:n * block].reshape(n, block) ** 2).sum(axis=1)


def find_bursts(x, burst_ms=50, threshold=0.02):
    """Onsets/ends (samples) of the bursts in the sent channel, by energy."""
    win = int(RATE * 0.005)
    n = len(x) // win
    if n == 0:
        return []
    rms = np.sqrt(block_energy(x, win) / win)
    active = rms > threshold
    bursts = []
    i = 0
    min_len = max(1, int(burst_ms * 0.5 / 5))
    while i < n:
        if active[i]:
            j = i
            while j < n and active[j]:
                j += 1
            # bridge tiny dips inside a burst
            while j + 2 < n and active[j + 1:j + 3].any() and not active[j]:
                j += 1
                while j < n and active[j]:
                    j += 1
            if j - i >= min_len:
                bursts.append((i * win, j * win))
            i = j
        else:
            i += 1
    return bursts


def envelope_lag(a, b, max_lag, min_lag=0, step=RATE // 1000):
    """Lag (samples, to ``step``) of ``b`` behind ``a`` by their energy
    envelopes (``step`` samples a point), and the normalised peak.  Unlike
    the waveforms', their correlation survives a latency that changes by a
    few ms during the recording (a jitter buffer steering back to its
    target) and a codec that changes the waveform."""
    # lags in whole steps, inside min_lag..max_lag
    lag, peak = xcorr_lag(block_energy(a, step), block_energy(b, step),
                          max_lag // step, -((-min_lag) // step))
    return lag * step, peak


def xcorr_lag(a, b, max_lag, min_lag=0):
    """Lag (samples, b later than a; negative: b EARLIER) in
    min_lag..max_lag maximising the cross-correlation, and the normalised
    peak."""
    n = len(a) + len(b)
    nfft = 1 << (n - 1).bit_length()
    fa = np.fft.rfft(a, nfft)
    fb = np.fft.rfft(b, nfft)
    cc = np.fft.irfft(np.conj(fa) * fb, nfft)
    min_lag = max(min_lag, -(len(a) - 1))
    max_lag = min(max_lag, len(b) - 1)
    lags = np.arange(min_lag, max_lag + 1)
    vals = cc[lags % nfft]          # negative lags wrap to the end
    k = int(np.argmax(vals))
    norm = np.sqrt((a ** 2).sum() * (b ** 2).sum())
    return int(lags[k]), (vals[k] / norm if norm > 0 else 0.0)


def burst_at(seg, recv, s, lo_lag, hi_lag):
    """Where the sent burst ``seg`` (sent at sample ``s``) correlates best
    in ``recv`` at a lag from lo_lag to hi_lag samples: (lag, the received
    samples there, their normalised correlation), or None if that range
    leaves the recording."""
    lo = s + lo_lag
    hi = s + len(seg) + hi_lag
    if lo < 0 or hi > len(recv) or hi - lo < len(seg):
        return None
    win = recv[lo:hi]
    cc = np.correlate(win, seg, mode='valid')
    k = int(np.argmax(cc))
    got = win[k:k + len(seg)]
    e = float((seg ** 2).sum()) * float((got ** 2).sum())
    return lo_lag + k, got, (cc[k] / np.sqrt(e) if e > 0 else 0.0)


def analyse(wav_path, expected_bursts=None, max_latency_s=3.0,
            min_ratio=0.5, max_early_s=0.1):
    """Cross-correlate the two channels of ``wav_path``; return a Result.

    Lags from -max_early_s to +max_latency_s are searched.  A chain cannot
    deliver before it was sent: a best lag below zero means the recording
    is wrong (its channels misaligned), which the note says, with
    latency_ms None and misaligned_ms set; the bursts are still counted at
    that lag."""
    r = Result()
    try:
        with open(wav_path + '.json') as f:
            r.alignment = json.load(f)
    except (OSError, ValueError):
        pass
    try:
        data = read_wav(wav_path)
    except (OSError, EOFError, wave.Error) as e:
        r.note = 'no recording (%s)' % e
        return r
    if data.shape[0] < RATE // 2 or data.shape[1] < 2:
        r.note = 'recording too short'
        return r
    sent, recv = data[:, 0], data[:, 1]
    bursts = find_bursts(sent)
    r.sent = len(bursts)
    if expected_bursts is not None and r.sent != expected_bursts:
        r.note = ('the rig saw %d of the %d bursts played on play.monitor'
                  % (r.sent, expected_bursts))
    if not bursts or not np.any(recv):
        r.note = (r.note + '; ' if r.note else '') + 'nothing received'
        return r
    max_lag = int(RATE * max_latency_s)
    lag, peak = xcorr_lag(sent, recv, max_lag, -int(RATE * max_early_s))
    r.peak = float(peak)
    if peak < 0.05:
        # the waveforms agree at no single lag; if the envelopes do, the
        # latency moved during the recording: measure each burst on its own
        elag, epeak = envelope_lag(sent, recv, max_lag,
                                   -int(RATE * max_early_s))
        if epeak < 0.5:
            r.note = (r.note + '; ' if r.note else '') + (
                'no correlation between sent and received (peak %.3f, '
                'envelopes %.3f)' % (peak, epeak))
            return r
        lag = elag
    # Per burst: refine the lag locally (+-30 ms around the last burst's,
    # the global one at first) and compare the energy found there with the
    # energy sent.  A burst not there is searched for over the whole range
    # of lags: a receiver whose room grew after a stall plays the rest of
    # the run later by as much (a step, not a loss).
    local = int(RATE * 0.03)
    lags = []
    r.first_sent_s = bursts[0][0] / RATE
    centre = lag
    for (s, e) in bursts:
        seg = sent[s:e]
        e_sent = float((seg ** 2).sum())
        found = burst_at(seg, recv, s, centre - local, centre + local)
        if found is None or e_sent <= 0:
            r.lost_s.append(s / RATE)
            continue
        at, got, corr = found
        ratio = float((got ** 2).sum()) / e_sent
        if ratio < min_ratio:
            moved = burst_at(seg, recv, s, -int(RATE * max_early_s), max_lag)
            if moved is not None and moved[2] >= 0.5:
                at, got, corr = moved
                ratio = float((got ** 2).sum()) / e_sent
        r.ratios.append(round(ratio, 2))
        # intact: no 10 ms slice of the burst lost (each >= 1/4 of sent)
        if len(seg) >= RATE // 100 and ratio > 0:
            a = block_energy(seg, RATE // 100)
            b = block_energy(got, RATE // 100)
            if np.all(b >= 0.25 * a):
                r.intact += 1
        if ratio >= min_ratio and corr >= 0.3:
            r.delivered += 1
            lags.append(at)
            centre = at
        elif ratio >= min_ratio:
            # lossy codecs change the waveform; energy in place is enough
            r.delivered += 1
            lags.append(centre)
        else:
            r.lost_s.append(s / RATE)
    r.latency_ms = 1000.0 * lag / RATE
    if lags:
        lags_ms = 1000.0 * np.array(lags) / RATE
        r.latency_ms = float(np.median(lags_ms))
        r.latency_min_ms = float(lags_ms.min())
        r.latency_max_ms = float(lags_ms.max())
    if r.latency_ms < 0:
        r.misaligned_ms = -r.latency_ms
        r.latency_ms = r.latency_min_ms = r.latency_max_ms = None
        r.note = (r.note + '; ' if r.note else '') + (
            "the recorder's channels are misaligned by %.1f ms (out.monitor "
            "recorded that much EARLIER than play.monitor): a recording "
            "fault, no latency measured" % r.misaligned_ms)
    a = r.alignment
    if a and a.get('method') != 'timing':
        r.note = (r.note + '; ' if r.note else '') + (
            'recorder aligned by %s only (no PulseAudio timing)'
            % a.get('method'))
    elif a and a.get('arrival_shift_ms') is not None and \
            abs(a['arrival_shift_ms'] - a['shift_ms']) > 10.0:
        r.note = (r.note + '; ' if r.note else '') + (
            "the recorder's alignment is uncertain: PulseAudio timing says "
            "%.1f ms, arrival times %.1f ms" % (a['shift_ms'],
                                                a['arrival_shift_ms']))
    return r


# ------------------------------------------------------------ measurement --

class Rig:
    """One measurement: signal, recorder, chain, playback, analysis.

    ``chain`` is a callable(rig) returning the list of started Popen objects
    (use rig.spawn); ``ready`` an optional callable(procs) -> bool waited for
    (up to ready_timeout) before the signal plays."""

    def __init__(self, workdir=None, seed=1, bursts=30, burst_ms=50,
                 keep=False):
        self.own_dir = workdir is None
        self.dir = workdir or tempfile.mkdtemp(prefix='qsmeasure-')
        os.makedirs(self.dir, exist_ok=True)
        self.keep = keep
        self.seed = seed
        self.bursts = bursts
        self.burst_ms = burst_ms
        self.signal = os.path.join(self.dir, 'signal.wav')
        make_signal(self.signal, seed=seed, bursts=bursts, burst_ms=burst_ms)
        self.count = 0

    def path(self, name):
        return os.path.join(self.dir, name)

    def spawn(self, argv, name, env=None):
        return spawn(argv, self.path(name + '.log'), env=env)

    def measure(self, name, chain, ready=None, settle_s=1.5,
                ready_timeout=20.0, tail_s=1.2):
        self.count += 1
        rec_path = self.path('%s.wav' % name)
        # the recorder says "recording" once both streams run; start it
        # again if it died before that
        for attempt in range(3):
            rec = spawn(recorder_argv(rec_path),
                        self.path('%s-rec%d.log' % (name, attempt)))
            if wait_for_log(rec, 'recording', 10.0) and rec.poll() is None:
                break
            stop(rec)
        time.sleep(0.5)    # a few timing updates before the chain starts
        procs = []
        res = None
        watch = stallwatch.Watch().start(self.path(name + '-stallwatch.log'))
        try:
            procs = chain(self)
            if ready is not None:
                wait_ready(procs, ready, ready_timeout)
            time.sleep(settle_s)
            dead = [p for p in procs if p.poll() is not None]
            watch.play_start = time.monotonic()
            subprocess.run(play_argv(self.signal), check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=signal_duration(self.signal) + 30)
            time.sleep(tail_s)
            dead = dead or [p for p in procs if p.poll() is not None]
        finally:
            stop(rec)
            for p in reversed(procs):
                stop(p)
            watch.stop()
        res = analyse(rec_path, expected_bursts=self.bursts)
        res.watch = watch
        res.logs = {p.qs_log: read_log(p) for p in procs}
        res.warnings = sorted({line.strip() for text in res.logs.values()
                               for line in text.splitlines()
                               if 'warning:' in line.lower()
                               or line.startswith('ERROR')})
        res.exit_codes = [p.returncode for p in procs]
        if dead:
            res.note = (res.note + '; ' if res.note else '') + \
                'a chain process exited early (%s)' % ', '.join(
                    '%s rc=%s' % (os.path.basename(p.qs_log), p.returncode)
                    for p in dead)
        return res

    def close(self):
        if self.own_dir and not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)


def launch_env():
    """This environment, with qsound-launch reading the pipeline files of
    the source tree (QSOUND_SOURCE_ROOT) when that is set."""
    env = dict(os.environ)
    root = os.environ.get('QSOUND_SOURCE_ROOT')
    if root:
        env['QSOUND_PIPELINES_DIR'] = os.path.join(root, 'pipelines')
    return env


def free_port():
    """A TCP port that was free on 127.0.0.1 a moment ago (for stock
    elements, which cannot report the port the OS picked)."""
    import socket
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


# Stock chains of DESIGN.md, as gst-launch-1.0 argument lists.

def stock_floor():
    """pulse monitor straight into the pulse sink, 10 ms buffers."""
    return [('floor', 'pulsesrc device=play.monitor buffer-time=20000 '
             'latency-time=10000 ! audio/x-raw,rate=48000,channels=2 '
             '! pulsesink device=out buffer-time=20000 latency-time=10000 '
             'sync=false')]


def stock_mp3_default(port):
    return [('tx', 'pulsesrc device=play.monitor ! audioconvert ! lamemp3enc '
             '! tcpserversink host=127.0.0.1 port=%d' % port),
            ('rx', 'tcpclientsrc host=127.0.0.1 port=%d ! mpegaudioparse '
             '! mpg123audiodec ! audioconvert ! audioresample '
             '! pulsesink device=out' % port)]


def stock_mp3_tuned(port):
    return [('tx', 'pulsesrc device=play.monitor buffer-time=20000 '
             'latency-time=10000 ! audioconvert ! lamemp3enc target=bitrate '
             'cbr=true bitrate=192 ! tcpserversink host=127.0.0.1 port=%d '
             'sync=false' % port),
            ('rx', 'tcpclientsrc host=127.0.0.1 port=%d ! mpegaudioparse '
             '! mpg123audiodec ! audioconvert ! audioresample '
             '! pulsesink device=out buffer-time=40000 latency-time=10000 '
             'sync=false' % port)]


def stock_pcm_tuned(port):
    return [('tx', 'pulsesrc device=play.monitor buffer-time=20000 '
             'latency-time=10000 ! audio/x-raw,format=S16LE,rate=48000,'
             'channels=2 ! tcpserversink host=127.0.0.1 port=%d sync=false'
             % port),
            ('rx', 'tcpclientsrc host=127.0.0.1 port=%d blocksize=1920 '
             '! rawaudioparse format=pcm pcm-format=s16le sample-rate=48000 '
             'num-channels=2 ! pulsesink device=out buffer-time=30000 '
             'latency-time=10000 sync=false' % port)]


def gst_chain(parts):
    """A chain callable for Rig.measure from [(name, description), ...];
    server parts first (each started 0.5 s after the previous one)."""
    def start(rig):
        procs = []
        for name, desc in parts:
            procs.append(rig.spawn([gst_launch(), '-q'] + desc.split(), name))
            time.sleep(0.5)
        return procs
    return start


# qsound-launch pairs.

def port_from_log(p, timeout=20):
    """The port a qsound-launch server announced ("listening on HOST:PORT")."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        m = re.search(r'listening on [^ ]+:(\d+)', read_log(p))
        if m and m.group(1) != '0':
            return int(m.group(1))
        if p.poll() is not None:
            break
        time.sleep(0.05)
    return None


def qsound_pair(launch, server_mode, codec, env=None, client_first_s=0.0,
                port=None, extra=(), key=None):
    """Chain starter for Rig.measure: the qsound-launch pair of
    ``server_mode`` (1 pairs with 2, 3 with 4) carrying ``codec``, the
    transmitter capturing ``play``, the receiver playing into ``out``.
    The server picks its port (-p 0) unless ``port`` is given; with
    ``client_first_s`` the client starts that long before the server; with
    ``key`` both ends get -k key."""
    client_mode = {1: 2, 3: 4}[server_mode]
    keyargs = ['-k', key] if key is not None else []

    def args(mode):
        if mode in (1, 4):
            return (['-m', str(mode), '-c', codec, '-d', 'play'] + keyargs
                    + list(extra))
        return ['-m', str(mode), '-o', 'out'] + keyargs

    def start(rig):
        procs = []
        if client_first_s:
            client = rig.spawn([launch, '-p', str(port)] + args(client_mode),
                               'm%d' % client_mode, env=env)
            procs.append(client)
            time.sleep(client_first_s)
            server = rig.spawn([launch, '-p', str(port)] + args(server_mode),
                               'm%d' % server_mode, env=env)
            procs.insert(0, server)
            return procs
        server = rig.spawn([launch, '-p', str(port or 0)] + args(server_mode),
                           'm%d' % server_mode, env=env)
        procs.append(server)
        got = port or port_from_log(server)
        if got is None:
            return procs
        procs.append(rig.spawn([launch, '-p', str(got)] + args(client_mode),
                               'm%d' % client_mode, env=env))
        return procs
    return start


def both_connected(procs):
    """Rig.measure ready condition: both qsound-launch ends say connected."""
    return len(procs) == 2 and all(
        'connected to' in read_log(p) or 'serving' in read_log(p)
        for p in procs)


# --------------------------------------------------------------- recorder --
#
# Two record streams in one libpulse client (ctypes, no extra package).  Each
# stream's samples are counted from its first one; PulseAudio's timing info
# for a record stream says, at a server time T, how many samples were
# captured (write_index), how many the source still holds (source_usec) and,
# for a monitor, how far ahead of play time the sink renders (sink_usec).
# So sample W + source - sink plays at T, which fixes the play time of the
# stream's sample 0; the median over ~100 updates a second is the stream's
# offset, and channel 1 is shifted by the difference of the two offsets.
# A second, independent estimate (the earliest arrival of each stream's
# samples, i.e. render time) is kept as a check: the two differ by how much
# further ahead of play time one null sink renders than the other, 0.3..2.5
# ms with a 10 ms sink buffer in the chain, ~4.5 ms with 20 ms; analyse()
# notes a difference over 10 ms.

def _libpulse():
    import ctypes as C

    class SampleSpec(C.Structure):
        _fields_ = [('format', C.c_int), ('rate', C.c_uint32),
                    ('channels', C.c_uint8)]

    class BufferAttr(C.Structure):
        _fields_ = [('maxlength', C.c_uint32), ('tlength', C.c_uint32),
                    ('prebuf', C.c_uint32), ('minreq', C.c_uint32),
                    ('fragsize', C.c_uint32)]

    class Timeval(C.Structure):
        _fields_ = [('tv_sec', C.c_long), ('tv_usec', C.c_long)]

    class TimingInfo(C.Structure):   # pulse/def.h pa_timing_info
        _fields_ = [('timestamp', Timeval), ('synchronized_clocks', C.c_int),
                    ('sink_usec', C.c_uint64), ('source_usec', C.c_uint64),
                    ('transport_usec', C.c_uint64), ('playing', C.c_int),
                    ('write_index_corrupt', C.c_int),
                    ('write_index', C.c_int64),
                    ('read_index_corrupt', C.c_int), ('read_index', C.c_int64),
                    ('configured_sink_usec', C.c_uint64),
                    ('configured_source_usec', C.c_uint64),
                    ('since_underrun', C.c_int64)]

    lib = C.CDLL('libpulse.so.0')
    vp = C.c_void_p
    ns = type('libpulse', (), {})()
    ns.C, ns.lib = C, lib
    ns.SampleSpec, ns.BufferAttr, ns.TimingInfo = SampleSpec, BufferAttr, \
        TimingInfo
    ns.REQUEST = C.CFUNCTYPE(None, vp, C.c_size_t, vp)
    ns.SUCCESS = C.CFUNCTYPE(None, vp, C.c_int, vp)
    for name, res, args in [
            ('pa_mainloop_new', vp, []),
            ('pa_mainloop_free', None, [vp]),
            ('pa_mainloop_get_api', vp, [vp]),
            ('pa_mainloop_iterate', C.c_int, [vp, C.c_int, vp]),
            ('pa_context_new', vp, [vp, C.c_char_p]),
            ('pa_context_connect', C.c_int, [vp, C.c_char_p, C.c_int, vp]),
            ('pa_context_get_state', C.c_int, [vp]),
            ('pa_context_disconnect', None, [vp]),
            ('pa_stream_new', vp, [vp, C.c_char_p, C.POINTER(SampleSpec),
                                   vp]),
            ('pa_stream_connect_record', C.c_int,
             [vp, C.c_char_p, C.POINTER(BufferAttr), C.c_int]),
            ('pa_stream_get_state', C.c_int, [vp]),
            ('pa_stream_set_read_callback', None, [vp, ns.REQUEST, vp]),
            ('pa_stream_peek', C.c_int,
             [vp, C.POINTER(vp), C.POINTER(C.c_size_t)]),
            ('pa_stream_drop', C.c_int, [vp]),
            ('pa_stream_update_timing_info', vp, [vp, ns.SUCCESS, vp]),
            ('pa_stream_get_timing_info', C.POINTER(TimingInfo), [vp]),
            ('pa_stream_disconnect', C.c_int, [vp]),
            ('pa_operation_unref', None, [vp])]:
        f = getattr(lib, name)
        f.restype = res
        f.argtypes = args
    return ns


class _RecordStream:
    """One mono S16LE record stream; keeps its samples, its arrival times and
    its timing updates."""

    def __init__(self, pa, ctx, device, frag_ms):
        C, lib = pa.C, pa.lib
        self.pa = pa
        self.device = device
        self.chunks = []
        self.frames = 0
        self.arrivals = []    # (realtime, frames read so far)
        self.timing = []      # (server time, stream time then playing), s
        self.pending = False
        self.last_request = 0.0
        spec = pa.SampleSpec(3, RATE, 1)          # PA_SAMPLE_S16LE, mono
        self.s = lib.pa_stream_new(ctx, ('qsmeasure ' + device).encode(),
                                   C.byref(spec), None)
        self.read_cb = pa.REQUEST(self.on_read)
        self.timing_cb = pa.SUCCESS(self.on_timing)
        lib.pa_stream_set_read_callback(self.s, self.read_cb, None)
        frag = int(RATE * frag_ms / 1000) * 2
        attr = pa.BufferAttr(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff,
                             frag)
        # PA_STREAM_ADJUST_LATENCY | PA_STREAM_DONT_MOVE
        if lib.pa_stream_connect_record(self.s, device.encode(),
                                        C.byref(attr), 0x2000 | 0x0200) < 0:
            raise RuntimeError('cannot record ' + device)

    def on_read(self, s, nbytes, userdata):
        C, lib = self.pa.C, self.pa.lib
        while True:
            data = C.c_void_p()
            n = C.c_size_t()
            if lib.pa_stream_peek(self.s, C.byref(data), C.byref(n)) < 0 \
                    or n.value == 0:
                break
            # data NULL with a length: a hole, silence
            self.chunks.append(C.string_at(data.value, n.value) if data.value
                               else b'\0' * n.value)
            self.frames += n.value // 2
            lib.pa_stream_drop(self.s)
        self.arrivals.append((time.time(), self.frames))
        now = time.monotonic()
        if not self.pending and now - self.last_request > 0.01:
            op = lib.pa_stream_update_timing_info(self.s, self.timing_cb,
                                                  None)
            if op:
                self.pending = True
                self.last_request = now
                lib.pa_operation_unref(op)

    def on_timing(self, s, ok, userdata):
        self.pending = False
        if not ok:
            return
        t = self.pa.lib.pa_stream_get_timing_info(self.s).contents
        if t.write_index_corrupt or not t.synchronized_clocks:
            return
        server = t.timestamp.tv_sec + t.timestamp.tv_usec / 1e6
        playing = (t.write_index / 2.0 / RATE + t.source_usec / 1e6
                   - t.sink_usec / 1e6)
        self.timing.append((server, playing))

    def offset(self):
        """(play time of sample 0 by PA timing or None, its 5..95 % spread,
        by earliest arrival or None), seconds since the epoch."""
        by_timing = spread = by_arrival = None
        t = self.timing[5:] if len(self.timing) > 25 else self.timing
        if t:
            a = np.array([srv - pos for srv, pos in t])
            by_timing = float(np.median(a))
            spread = float(np.percentile(a, 95) - np.percentile(a, 5))
        a = self.arrivals[20:] if len(self.arrivals) > 40 else self.arrivals
        if a:
            by_arrival = float(min(tm - f / RATE for tm, f in a))
        return by_timing, spread, by_arrival

    def samples(self):
        return np.frombuffer(b''.join(self.chunks), dtype='<i2')


def record(path, devices=('play.monitor', 'out.monitor'), frag_ms=5):
    """Record ``devices`` (two sources) into the stereo WAV ``path`` until
    SIGINT or SIGTERM, channel 1 shifted onto channel 0's play time; write
    ``path``.json with the alignment used.  Returns an exit code."""
    pa = _libpulse()
    lib = pa.lib
    stopping = []
    signal.signal(signal.SIGINT, lambda *a: stopping.append(1))
    signal.signal(signal.SIGTERM, lambda *a: stopping.append(1))
    ml = lib.pa_mainloop_new()
    ctx = lib.pa_context_new(lib.pa_mainloop_get_api(ml), b'qsmeasure')
    if lib.pa_context_connect(ctx, None, 0, None) < 0:
        print('ERROR: cannot connect to PulseAudio', flush=True)
        return 1
    while not stopping:                 # PA_CONTEXT_READY 4, FAILED 5, TERM 6
        lib.pa_mainloop_iterate(ml, 1, None)
        state = lib.pa_context_get_state(ctx)
        if state == 4:
            break
        if state in (5, 6):
            print('ERROR: PulseAudio connection failed', flush=True)
            return 1
    if stopping:
        return 1
    streams = [_RecordStream(pa, ctx, d, frag_ms) for d in devices]
    running = False
    while not stopping:
        lib.pa_mainloop_iterate(ml, 1, None)
        states = [lib.pa_stream_get_state(st.s) for st in streams]
        if 3 in states or lib.pa_context_get_state(ctx) != 4:  # FAILED
            print('ERROR: a record stream failed', flush=True)
            return 1
        if not running and all(x == 2 for x in states):        # READY
            running = True
            print('recording', flush=True)
    for st in streams:
        lib.pa_stream_disconnect(st.s)
    lib.pa_context_disconnect(ctx)
    a, b = streams[0].samples(), streams[1].samples()
    (ta, sa, ea), (tb, sb, eb) = streams[0].offset(), streams[1].offset()
    info = {'devices': list(devices), 'method': 'timing',
            'timing_updates': [len(st.timing) for st in streams],
            'timing_spread_ms': [None if x is None else 1000 * x
                                 for x in (sa, sb)],
            'arrival_shift_ms': None if ea is None or eb is None
            else 1000 * (eb - ea)}
    if ta is not None and tb is not None:
        shift = tb - ta
    elif ea is not None and eb is not None:
        shift, info['method'] = eb - ea, 'arrival'
    else:
        shift, info['method'] = 0.0, 'none'
    info['shift_ms'] = 1000 * shift
    d = int(round(shift * RATE))   # b's sample j played with a's j + d
    b = np.concatenate([np.zeros(d, dtype=b.dtype), b]) if d >= 0 else b[-d:]
    n = min(len(a), len(b))
    stereo = np.empty((n, 2), dtype='<i2')
    stereo[:, 0] = a[:n]
    stereo[:, 1] = b[:n]
    with wave.open(path, 'wb') as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(stereo.tobytes())
    with open(path + '.json', 'w') as f:
        json.dump(info, f)
    return 0


if __name__ == '__main__':
    if len(sys.argv) >= 3 and sys.argv[1] == 'record':
        sys.exit(record(sys.argv[2], *([tuple(sys.argv[3:5])]
                                       if len(sys.argv) >= 5 else [])))
    sys.exit('usage: qsmeasure.py record OUT.wav [SOURCE0 SOURCE1]')
