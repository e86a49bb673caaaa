"""qsmeasure: measure what a live audio chain delivers, on a real PulseAudio.

Shared by the end-to-end tests (tests/e2e) and the benchmark (bench/).

The method (see DESIGN.md, "A real sound server for tests"):

  * a NON-periodic test signal (seeded noise bursts at random intervals) is
    played into the null sink ``play``;
  * the chain under test captures ``play`` (its monitor) and plays into the
    null sink ``out``;
  * ``play.monitor`` and ``out.monitor`` are recorded TOGETHER by one
    GStreamer pipeline (two pulsesrc into one interleaving element), so the
    two channels are aligned in running time;
  * cross-correlating the two channels gives the latency, and checking each
    sent burst at that lag (energy ratio) gives the share delivered.

Needs python3, numpy, gst-launch-1.0 and a PulseAudio server with the null
sinks ``play`` and ``out`` at 48 kHz (tests/pulse-env.sh starts one).
"""

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import wave

import numpy as np

RATE = 48000


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
                lead_ms=300, tail_ms=300, amplitude=0.35):
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
    so that stopping it never touches anything else."""
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
    """One pipeline recording play.monitor (channel 0) and out.monitor
    (channel 1) aligned in running time.

    Validated on this machine: the same signal played into both sinks at
    once (module-combine-sink) records with 0..5 ms offset, and two
    recordings of play.monitor with 0 offset.  Both sources follow the system
    clock (provide-clock=false) and audiointerleave aligns them by
    timestamp; plain interleave or a pulse clock gave offsets of hundreds of
    milliseconds that varied from run to run."""
    src = ('pulsesrc device={dev} buffer-time=100000 latency-time=10000 '
           'provide-clock=false '
           '! audio/x-raw,format=S16LE,rate=48000,channels=1 '
           '! queue max-size-time=2000000000 ! m.sink_{i}')
    head = ('audiointerleave name=m latency=200000000 ! audioconvert '
            '! audio/x-raw,format=S16LE,channels=2 ! wavenc ! filesink')
    tail = ' '.join([src.format(dev='play.monitor', i=0),
                     src.format(dev='out.monitor', i=1)])
    # the path as one argument: gst-launch-1.0 quotes it
    return ([gst_launch(), '-e', '-q'] + head.split() + ['location=' + path]
            + tail.split())


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

    @property
    def share(self):
        return self.delivered / self.sent if self.sent else 0.0

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


def read_wav(path):
    with wave.open(path, 'rb') as w:
        n = w.getnframes()
        ch = w.getnchannels()
        data = np.frombuffer(w.readframes(n), dtype='<i2')
    return data.reshape(-1, ch).astype(np.float64) / 32768.0


def find_bursts(x, burst_ms=50, threshold=0.02):
    """Onsets/ends (samples) of the bursts in the sent channel, by energy."""
    win = int(RATE * 0.005)
    n = len(x) // win
    if n == 0:
        return []
    rms = np.sqrt((x[:n * win].reshape(n, win) ** 2).mean(axis=1))
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


def xcorr_lag(a, b, max_lag):
    """Lag (samples, b later than a) maximising the cross-correlation, and
    the normalised peak."""
    n = len(a) + len(b)
    nfft = 1 << (n - 1).bit_length()
    fa = np.fft.rfft(a, nfft)
    fb = np.fft.rfft(b, nfft)
    cc = np.fft.irfft(np.conj(fa) * fb, nfft)
    pos = cc[:max_lag + 1]          # b lags a by 0..max_lag
    lag = int(np.argmax(pos))
    norm = np.sqrt((a ** 2).sum() * (b ** 2).sum())
    return lag, (pos[lag] / norm if norm > 0 else 0.0)


def analyse(wav_path, expected_bursts=None, max_latency_s=3.0,
            min_ratio=0.5):
    """Cross-correlate the two channels of ``wav_path``; return a Result."""
    r = Result()
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
    lag, peak = xcorr_lag(sent, recv, max_lag)
    r.peak = float(peak)
    if peak < 0.05:
        r.note = (r.note + '; ' if r.note else '') + \
            'no correlation between sent and received (peak %.3f)' % peak
        return r
    # Per burst: refine the lag locally (+-30 ms around the global one) and
    # compare the energy found there with the energy sent.
    local = int(RATE * 0.03)
    lags = []
    for (s, e) in bursts:
        seg = sent[s:e]
        e_sent = float((seg ** 2).sum())
        lo = s + lag - local
        hi = e + lag + local
        if lo < 0 or hi > len(recv) or e_sent <= 0:
            continue
        win = recv[lo:hi]
        cc = np.correlate(win, seg, mode='valid')   # len 2*local+1
        k = int(np.argmax(cc))
        got = win[k:k + len(seg)]
        e_got = float((got ** 2).sum())
        ratio = e_got / e_sent
        corr = cc[k] / np.sqrt(e_sent * e_got) if e_got > 0 else 0.0
        r.ratios.append(round(ratio, 2))
        # intact: no 10 ms slice of the burst lost (each >= 1/4 of sent)
        n10 = len(seg) // (RATE // 100)
        if n10 and e_got > 0:
            a = (seg[:n10 * (RATE // 100)] ** 2).reshape(n10, -1).sum(axis=1)
            b = (got[:n10 * (RATE // 100)] ** 2).reshape(n10, -1).sum(axis=1)
            if np.all(b >= 0.25 * a):
                r.intact += 1
        if ratio >= min_ratio and corr >= 0.3:
            r.delivered += 1
            lags.append(lag - local + k)
        elif ratio >= min_ratio:
            # lossy codecs change the waveform; energy in place is enough
            r.delivered += 1
            lags.append(lag)
    r.latency_ms = 1000.0 * lag / RATE
    if lags:
        lags_ms = 1000.0 * np.array(lags) / RATE
        r.latency_ms = float(np.median(lags_ms))
        r.latency_min_ms = float(lags_ms.min())
        r.latency_max_ms = float(lags_ms.max())
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
        # audiointerleave sometimes fails to negotiate when both inputs
        # start at once ("not negotiated"): start it again when it died
        for attempt in range(4):
            rec = spawn(recorder_argv(rec_path),
                        self.path('%s-rec%d.log' % (name, attempt)))
            time.sleep(1.0)
            if rec.poll() is None:
                break
        procs = []
        res = None
        try:
            procs = chain(self)
            if ready is not None:
                end = time.monotonic() + ready_timeout
                while time.monotonic() < end and not ready(procs):
                    if any(p.poll() is not None for p in procs):
                        break
                    time.sleep(0.05)
            time.sleep(settle_s)
            dead = [p for p in procs if p.poll() is not None]
            subprocess.run(play_argv(self.signal), check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=signal_duration(self.signal) + 30)
            time.sleep(tail_s)
            dead = dead or [p for p in procs if p.poll() is not None]
        finally:
            stop(rec)
            for p in reversed(procs):
                stop(p)
        res = analyse(rec_path, expected_bursts=self.bursts)
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
                port=None, extra=()):
    """Chain starter for Rig.measure: the qsound-launch pair of
    ``server_mode`` (1 pairs with 2, 3 with 4) carrying ``codec``, the
    transmitter capturing ``play``, the receiver playing into ``out``.
    The server picks its port (-p 0) unless ``port`` is given; with
    ``client_first_s`` the client starts that long before the server."""
    client_mode = {1: 2, 3: 4}[server_mode]

    def args(mode):
        if mode in (1, 4):
            return ['-m', str(mode), '-c', codec, '-d', 'play'] + list(extra)
        return ['-m', str(mode), '-o', 'out']

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
