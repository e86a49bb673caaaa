#!/usr/bin/env python3
"""End-to-end tests of qsound-launch on a real PulseAudio.

Usage: test_e2e.py CASE QSOUND_LAUNCH

Run by meson test under tests/run.sh, which provides a private PulseAudio
with the null sinks ``play`` and ``out``.  Cases:

  usage         bad input: exit 1, one sentence and the usage line
  stock-rig     the measuring rig itself, on a stock GStreamer chain
  pair-CODEC    modes 1+2 and 3+4 with CODEC (mp3, opus, pcm): every burst
                arrives, latency finite and positive (reported, not judged)
  print-run     the --print descriptions run by gst-launch-1.0 deliver too
  client-first  a client started 3 s before its server delivers audio
  port-in-use   a server on a taken port: exit 2, message names the port
  wrong-key     a receiver with the wrong key (from QSOUND_KEY): exit 2, the
                server serves on and never prints its key
  next-sender   mode 3 serves a second client of another codec after the
                first stops with Ctrl-C
  server-restart  mode 2 waits for its server and resumes when it is back
  peer-text     mode 3 fed by raw sockets speaking the protocol (caps that
                do not parse, an ERROR), both holding terminal escapes:
                none reaches its output raw

Exit status 77 (skipped by meson) when a case needs the qsound elements and
they are still placeholders, or when no PulseAudio server is reachable.
"""

import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qsmeasure as q  # noqa: E402
from qsmeasure import np  # noqa: E402  (numpy, as the rig has it)

SKIP = 77
# One burst a run may be lost with no host stall near it; two or more fail.
# A receiver keeps 40 ms in its sink (pulsesink buffer-time) and 8-60 ms of
# jitter room: on CI's 2 cores, with the host taking 10-30 % of the CPU
# time in short slices that the stall watch (15 ms or more) does not count,
# the sound server or the receiver is sometimes not run for that long.
# Seen once in about ten CI runs on 2026-12-03 (e2e-pair-pcm, modes 3+4: one
# burst at 0.36 of its energy, no event in the receiver, steal 12.6 %), as
# in the Wine cases (tests/windows, WINE_AUDIO_SPARE).  The rigs log the
# sink's underflows (pulse:2) beside the jitter buffer's events, so that
# the next such loss shows where it happened.
E2E_SPARE = 1
LAUNCH = None
failures = []


def check(cond, what):
    print(('ok    ' if cond else 'FAIL  ') + what, flush=True)
    if not cond:
        failures.append(what)
    return cond


def run_launch(args, timeout=30, env=None):
    e = q.launch_env()
    e.update(env or {})
    return subprocess.run([LAUNCH] + args, capture_output=True, text=True,
                          timeout=timeout, env=e,
                          stdin=subprocess.DEVNULL)


def elements_are_real():
    """The qsound elements in the build are the real ones, not SCAFFOLD."""
    want = {'framedtcpsink': 'current-port', 'framedtcpsrc': 'stats',
            'loopbacksrc': 'backend'}
    for name, prop in want.items():
        r = subprocess.run(['gst-inspect-1.0', name], capture_output=True,
                           text=True)
        if r.returncode != 0 or prop not in r.stdout:
            return False
    return True


def pulse_is_up():
    r = subprocess.run(['pactl', 'list', 'short', 'sinks'],
                       capture_output=True, text=True)
    names = [line.split('\t')[1] for line in r.stdout.splitlines()
             if '\t' in line]
    return r.returncode == 0 and 'play' in names and 'out' in names


def need(real=True, pulse=True):
    if pulse and not pulse_is_up():
        print('SKIP: no PulseAudio with the null sinks play and out '
              '(run the suite with tests/run.sh)')
        sys.exit(SKIP)
    if real and not elements_are_real():
        print('SKIP: the qsound elements in this build are still '
              'placeholders')
        sys.exit(SKIP)


# ------------------------------------------------------------------ usage --

def case_usage():
    need(real=False, pulse=False)
    bad = [
        (['-m', '7'], 'mode'),
        (['-m', 'five'], 'mode'),
        (['-p', '70000'], '70000'),
        (['-p', '-1'], 'port'),
        (['-p', '0', '-m', '2'], 'port'),
        (['-n', 'no-such-host.invalid'], 'no-such-host.invalid'),
        (['-n', 'bad host!'], 'bad host!'),
        (['-n', '300.1.2.3'], '300.1.2.3'),
        (['-c', 'flac'], 'flac'),
        (['-m', '1', '-c', 'pcm', '-b', '128'], 'bitrate'),
        (['-m', '1', '-b', '9999'], '9999'),
        (['-m', '1', '-b', '100'], '100'),
        (['-m', '1', '-c', 'opus', '-b', '2'], '2'),
        (['--no-such-option'], 'no-such-option'),
        (['stray'], 'stray'),
        (['-m', '2', '--icecast', 'icecast://source:pw@h:8000/m'],
         '-m 1 or -m 4'),
        (['-m', '1', '--icecast', 'http://h:8000/m'], 'icecast://'),
        (['-m', '4', '--icecast', 'icecast://h:8000/m'], 'password'),
        (['-m', '1', '--icecast', 'icecast://source:pw@h:8000/'], 'mount'),
        (['-m', '1', '--icecast', 'icecast://source:pw@bad!host/m'],
         'bad!host'),
    ]
    for args, word in bad:
        for extra in ([], ['--print']):
            r = run_launch(args + extra)
            lines = r.stderr.strip().splitlines()
            check(r.returncode == 1, '%s: exit 1 (got %s)' % (
                ' '.join(args + extra), r.returncode))
            check(len(lines) == 2 and lines[0].startswith('qsound-launch: ')
                  and word in lines[0] and lines[0].endswith('.')
                  and lines[1].startswith('Usage: qsound-launch'),
                  '%s: one sentence naming "%s" and the usage line (got %r)'
                  % (' '.join(args), word, r.stderr))
            check(r.stdout == '', '%s: nothing on stdout' % ' '.join(args))
    r = run_launch(['--help'])
    check(r.returncode == 0 and 'qsound-launch -m 1 -n 0.0.0.0' in r.stdout
          and 'qsound-launch -m 2 -n <that machine>' in r.stdout
          and '0.0.0.0' in r.stdout and '--gst' in run_launch(
              ['--help-all']).stdout,
          '--help explains the modes, the pairings and the GStreamer options')
    keys = [run_launch(['--new-key']) for _ in range(2)]
    check(all(k.returncode == 0 and re.fullmatch(
        r'([a-z2-7]{4}-){6}[a-z2-7]{4}\n', k.stdout) for k in keys)
          and keys[0].stdout != keys[1].stdout,
          '--new-key prints a fresh 140-bit key in groups (%r)'
          % [k.stdout for k in keys])
    r = run_launch(['-m', '1', '--print'], env={'QSOUND_KEY': 'from-env'})
    check(r.returncode == 0 and 'key=from-env' in r.stdout,
          '-k defaults to $QSOUND_KEY (%r)' % r.stdout)
    r = run_launch(['--version'])
    check(r.returncode == 0 and re.match(r'qsound-launch \d', r.stdout),
          '--version prints the version (%r)' % r.stdout)
    for mode in '1234':
        r = run_launch(['-m', mode, '--print'])
        check(r.returncode == 0 and r.stdout.count('\n') == 1
              and '@' not in r.stdout and '127.0.0.1' in r.stdout
              and 'port=5000' in r.stdout,
              'mode %s --print: one filled line (%r)' % (mode, r.stdout))


# ---------------------------------------------------------- measurements --

def report(name, res):
    print('%-28s %s' % (name, res), flush=True)
    for w in getattr(res, 'warnings', []):
        print('      the chain said: %s' % w)
    if res.watch is not None:
        print('      ' + res.watch.summary(), flush=True)



def stock_rig():
    need(real=False)
    rig = q.Rig()
    try:
        res = rig.measure('stock-mp3',
                          q.gst_chain(q.stock_mp3_default(q.free_port())))
        report('stock mp3 (defaults)', res)
        check(res.sent == rig.bursts,
              'the rig sees all %d bursts on play.monitor' % rig.bursts)
        check(*res.judge_losses('stock chain'))
        check(res.latency_ms is not None and 0 < res.latency_ms < 2000,
              'stock chain: latency finite and positive')
    finally:
        rig.close()


def case_measure_step():
    """The rig's analysis itself, on a made recording: a chain that plays
    the first half of the bursts 36 ms late and the rest 111 ms late (a
    receiver whose room grew after a stall) and loses one burst is measured
    as that: every other burst delivered, latency from 36 to 111 ms."""
    import tempfile
    import wave
    tmp = tempfile.mkdtemp(prefix='qsound-measure-')
    try:
        sig = os.path.join(tmp, 'sig.wav')
        n = q.make_signal(sig, bursts=30)
        sent = q.read_wav(sig)[:, 0]
        bursts = q.find_bursts(sent)
        recv = np.zeros(len(sent) + q.RATE)
        for i, (s, e) in enumerate(bursts):
            if i == 5:
                continue
            d = q.RATE * (36 if i < len(bursts) // 2 else 111) // 1000
            recv[s + d:e + d] = sent[s:e]
        both = np.stack([np.append(sent, np.zeros(q.RATE)), recv], axis=1)
        path = os.path.join(tmp, 'rec.wav')
        with wave.open(path, 'wb') as w:
            w.setnchannels(2)
            w.setsampwidth(2)
            w.setframerate(q.RATE)
            w.writeframes((both * 32767).astype('<i2').tobytes())
        r = q.analyse(path, expected_bursts=n)
        check(len(bursts) == n, 'the analysis finds the %d bursts made (%d)'
              % (n, len(bursts)))
        check(r.delivered == n - 1 and len(r.lost_s) == 1,
              'all but the one burst left out delivered (%d of %d, %d lost)'
              % (r.delivered, n, len(r.lost_s)))
        check(r.latency_min_ms is not None
              and abs(r.latency_min_ms - 36) < 1.0
              and abs(r.latency_max_ms - 111) < 1.0,
              'latency measured from 36 to 111 ms (%s..%s)'
              % (r.latency_min_ms, r.latency_max_ms))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def qs_pair(server_mode, codec, client_first_s=0.0, port=None, key=None):
    return q.qsound_pair(LAUNCH, server_mode, codec, env=q.launch_env(),
                         client_first_s=client_first_s, port=port, key=key)


both_connected = q.both_connected


def check_delivery(label, res, rig):
    report(label, res)
    check(res.sent == rig.bursts, '%s: the rig saw all %d bursts sent'
          % (label, rig.bursts))
    ok = check(*res.judge_losses(label, spare=E2E_SPARE))
    if not ok:
        # which bursts, and how much of each arrived (energy ratios)
        print('      per-burst energy ratios: %s' % res.ratios)
    check(res.latency_ms is not None and 0 < res.latency_ms < 5000,
          '%s: latency finite and positive (%s ms)' % (label, res.latency_ms))


def dump_logs(res):
    for path, text in getattr(res, 'logs', {}).items():
        print('--- %s\n%s' % (os.path.basename(path), text[-3000:]))


def case_pair(codec):
    need()
    decoder = {'mp3': 'mpg123audiodec', 'opus': 'opusdec', 'pcm': None}[codec]
    rig = q.Rig()
    try:
        for server_mode in (1, 3):
            label = 'modes %d+%d %s' % (server_mode, {1: 2, 3: 4}[server_mode],
                                        codec)
            n = len(failures)
            res = rig.measure('pair%d-%s' % (server_mode, codec),
                              qs_pair(server_mode, codec),
                              ready=both_connected)
            check_delivery(label, res, rig)
            rx_log = [t for p, t in res.logs.items()
                      if os.path.basename(p) in ('m2.log', 'm3.log')]
            if decoder:
                check(any('decoding with %s' % decoder in t for t in rx_log),
                      '%s: the receiver decodes with %s' % (label, decoder))
            check(all(rc == 0 for rc in res.exit_codes),
                  '%s: both ends exit 0 on Ctrl-C (%s)' % (label,
                                                           res.exit_codes))
            if len(failures) != n:
                dump_logs(res)
    finally:
        rig.close()


def case_print_run():
    need()
    port = q.free_port()
    descs = {}
    for mode, extra in ((1, ['-c', 'opus', '-d', 'play']), (2, ['-o', 'out'])):
        r = run_launch(['-m', str(mode), '-p', str(port), '--print'] + extra)
        check(r.returncode == 0, 'mode %d --print' % mode)
        descs[mode] = r.stdout.strip()
    rig = q.Rig()
    try:
        # as in a shell: gst-launch-1.0 -e <what --print printed>
        def start(rig):
            a = rig.spawn([q.gst_launch(), '-e'] + shlex.split(descs[1]),
                          'gst-m1')
            time.sleep(0.7)
            b = rig.spawn([q.gst_launch(), '-e'] + shlex.split(descs[2]),
                          'gst-m2')
            return [a, b]
        res = rig.measure('print-run', start, settle_s=2.5)
        check_delivery('gst-launch-1.0 of --print (1+2 opus)', res, rig)
        if failures:
            dump_logs(res)
    finally:
        rig.close()


def case_client_first():
    need()
    port = q.free_port()
    rig = q.Rig()
    try:
        # with a key that needs quoting, to carry it through both ends
        res = rig.measure('client-first',
                          qs_pair(1, 'mp3', client_first_s=3.0, port=port,
                                  key='a "key" with spaces'),
                          ready=both_connected)
        check_delivery('client 3 s before server (1+2 mp3, key)', res, rig)
        client_log = [t for p, t in res.logs.items()
                      if os.path.basename(p) == 'm2.log']
        check(client_log and ('waiting for server at 127.0.0.1:%d, retrying'
                              % port) in client_log[0],
              'the early client said it was waiting for the server')
        check(all(rc == 0 for rc in res.exit_codes),
              'both ends exit 0 on Ctrl-C (%s)' % res.exit_codes)
        if failures:
            dump_logs(res)
    finally:
        rig.close()


def case_wrong_key():
    need()
    env = q.launch_env()
    work = q.tempfile.mkdtemp(prefix='qsound-key-')
    secret = 'sesame-r1ght-k3y'
    server = q.spawn([LAUNCH, '-m', '1', '-p', '0', '-d', 'play', '-k',
                      secret], os.path.join(work, 'server.log'), env=env)
    try:
        port = q.port_from_log(server)
        check(port is not None, 'the server announced its port')
        # the receiver's key from the environment
        r = run_launch(['-m', '2', '-p', str(port), '-o', 'out'], timeout=60,
                       env={'QSOUND_KEY': 'wrong'})
        last = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ''
        check(r.returncode == 2, 'a receiver with the wrong key exits 2 '
              '(got %s)' % r.returncode)
        check('key' in last, 'its last line names the key (%r)' % last)
        check(server.poll() is None, 'the server keeps serving')
        check(q.wait_for_log(server, 'warning:', 5),
              'the server warns about the refused peer')
        with open(os.path.join(work, 'server.log'), errors='replace') as f:
            log = f.read()
        check(secret not in log and '(hidden)' in log,
              'the key never appears in the server\'s output')
    finally:
        check(q.stop(server) == 0, 'the server exits 0 on Ctrl-C')
        q.shutil.rmtree(work, ignore_errors=True)


def wait_for_re(p, pattern, timeout):
    """Wait until ``pattern`` matches ``p``'s log after what it held at the
    call; the match or None."""
    start = len(q.read_log(p))
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        m = re.search(pattern, q.read_log(p)[start:])
        if m or p.poll() is not None:
            return m
        time.sleep(0.05)
    return None


def dump_work(work):
    """On failure, the tail of each log in work; then work goes."""
    if failures:
        for name in sorted(os.listdir(work)):
            with open(os.path.join(work, name), errors='replace') as f:
                print('--- %s\n%s' % (name, f.read()[-3000:]))
    q.shutil.rmtree(work, ignore_errors=True)


def case_next_sender():
    """Mode 3 serves a second client of another codec after the first stops
    with Ctrl-C."""
    need()
    env = q.launch_env()
    work = q.tempfile.mkdtemp(prefix='qsound-next-')
    recv = q.spawn([LAUNCH, '-m', '3', '-p', '0', '-o', 'out'],
                   os.path.join(work, 'm3.log'), env=env)
    senders = []
    try:
        port = q.port_from_log(recv)
        check(port is not None, 'the receiver announced its port')
        for i, (codec, dec) in enumerate((('mp3', 'mpg123audiodec'),
                                           ('opus', 'opusdec'))):
            s = q.spawn([LAUNCH, '-m', '4', '-p', str(port), '-d', 'play',
                         '-c', codec], os.path.join(work, 'm4-%d.log' % i),
                        env=env)
            senders.append(s)
            m = wait_for_re(recv, r'%s, ([0-9]+) kbps' % dec, 30)
            check(m is not None and int(m.group(1)) > 0,
                  'sender %d (%s): the receiver decodes it with %s and '
                  'receives audio' % (i + 1, codec, dec))
            check(q.stop(s) == 0, 'sender %d exits 0 on Ctrl-C' % (i + 1))
            check(q.wait_for_log(recv, 'listening on', 5)
                  and recv.poll() is None,
                  'the receiver is still there, listening, after sender %d '
                  'left' % (i + 1))
        check('not-negotiated' not in q.read_log(recv)
              and 'error' not in q.read_log(recv).lower(),
              'the receiver reported no error')
    finally:
        for s in senders:
            q.stop(s)
        check(q.stop(recv) == 0, 'the receiver exits 0 on Ctrl-C')
        dump_work(work)


def case_server_restart():
    """Mode 2 waits for its server, says so, and resumes when it is back
    (with another codec)."""
    need()
    env = q.launch_env()
    work = q.tempfile.mkdtemp(prefix='qsound-restart-')
    server = q.spawn([LAUNCH, '-m', '1', '-p', '0', '-d', 'play', '-c',
                      'opus'], os.path.join(work, 'm1-a.log'), env=env)
    client = None
    try:
        port = q.port_from_log(server)
        check(port is not None, 'the server announced its port')
        client = q.spawn([LAUNCH, '-m', '2', '-p', str(port), '-o', 'out'],
                         os.path.join(work, 'm2.log'), env=env)
        m = wait_for_re(client, r'opusdec, ([0-9]+) kbps', 30)
        check(m is not None and int(m.group(1)) > 0,
              'the client receives the first server\'s Opus')
        check(q.stop(server) == 0, 'the first server exits 0 on Ctrl-C')
        check(q.wait_for_log(client, 'waiting for server at 127.0.0.1:%d'
                             % port, 15) and client.poll() is None,
              'the client stays and says it waits for its server')
        server = q.spawn([LAUNCH, '-m', '1', '-p', str(port), '-d', 'play',
                          '-c', 'mp3'], os.path.join(work, 'm1-b.log'),
                         env=env)
        m = wait_for_re(client, r'mpg123audiodec, ([0-9]+) kbps', 30)
        check(m is not None and int(m.group(1)) > 0,
              'the client resumes with the restarted server (now mp3)')
    finally:
        check(q.stop(server) == 0, 'the server exits 0 on Ctrl-C')
        if client:
            check(q.stop(client) == 0, 'the client exits 0 on Ctrl-C')
        dump_work(work)


# What a hostile peer puts in its text: an OSC title, a bell, a screen
# clear, a carriage return, a C1 CSI and a right-to-left override.
HOSTILE = b'\x1b]0;owned\x07\x1b[2J\r\xc2\x9b31m\xe2\x80\xaeevil'


def sender_hello():
    """A qsound sender's HELLO, without a key (docs/PROTOCOL.md)."""
    return b'QSND' + bytes([2, 0, 1, 0]) + os.urandom(16) + bytes(8)


def frame(ftype, payload):
    return bytes([ftype, 0, 0, 0]) + len(payload).to_bytes(4, 'big') + payload


def case_peer_text():
    """Peers' text with terminal escapes, at a receiving server: the
    launcher prints no ESC or BEL byte."""
    need()
    env = q.launch_env()
    work = q.tempfile.mkdtemp(prefix='qsound-text-')
    log_path = os.path.join(work, 'm3.log')
    recv = q.spawn([LAUNCH, '-m', '3', '-p', '0', '-o', 'out'], log_path,
                   env=env)
    peers = [
        ('caps that do not parse',
         frame(1, b'audio/x-raw' + HOSTILE), 'not valid fixed GStreamer caps'),
        ('an ERROR frame',
         frame(5, (9).to_bytes(4, 'big') + b'bye ' + HOSTILE),
         'The sender closed the link'),
    ]
    try:
        port = q.port_from_log(recv)
        check(port is not None, 'the receiver announced its port')
        for what, data, said in peers:
            start = len(q.read_log(recv))
            with socket.create_connection(('127.0.0.1', port)) as s:
                s.sendall(sender_hello() + data)
                end = time.monotonic() + 10
                while time.monotonic() < end and (
                        said not in q.read_log(recv)[start:]):
                    time.sleep(0.05)
            check(said in q.read_log(recv)[start:],
                  '%s: the receiver reports it ("%s")' % (what, said))
        check('\\x1b]0;owned\\x07' in q.read_log(recv),
              'the peers\' text is shown, escaped')
        check(recv.poll() is None, 'the receiver keeps serving')
    finally:
        # a mode 3 that never got a stream ends on Ctrl-C with 0, not with
        # decodebin's "Stream doesn't contain enough data"
        rc = q.stop(recv)
        with open(log_path, 'rb') as f:
            out = f.read()
        check(rc == 0 and b'enough data' not in out, 'Ctrl-C ends it with '
              'status 0 and no error (%s)' % rc)
        raw = sorted({'0x%02x' % b for b in out if b in (0x1b, 0x07)})
        check(not raw, 'no ESC or BEL byte in the launcher\'s stdout and '
              'stderr (found %s)' % (', '.join(raw) or 'none'))
        check(b'\xc2\x9b' not in out and b'\xe2\x80\xae' not in out,
              'no raw C1 CSI or direction override either')
        dump_work(work)


def case_port_in_use():
    need()
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    s.listen(1)
    port = s.getsockname()[1]
    try:
        for mode, extra in ((1, ['-d', 'play']), (3, ['-o', 'out'])):
            r = run_launch(['-m', str(mode), '-p', str(port)] + extra,
                           timeout=30)
            lines = [line for line in r.stderr.splitlines()
                     if not line.startswith('qsound-launch: mode ')]
            check(r.returncode == 2, 'mode %d on a taken port: exit 2 (got %s)'
                  % (mode, r.returncode))
            check(any(str(port) in line for line in lines),
                  'mode %d on a taken port: the message names port %d (%r)'
                  % (mode, port, r.stderr))
    finally:
        s.close()


def main():
    global LAUNCH
    if len(sys.argv) != 3:
        print(__doc__)
        return 1
    case, LAUNCH = sys.argv[1], os.path.abspath(sys.argv[2])
    cases = {
        'usage': case_usage,
        'stock-rig': stock_rig,
        'measure-step': case_measure_step,
        'pair-mp3': lambda: case_pair('mp3'),
        'pair-opus': lambda: case_pair('opus'),
        'pair-pcm': lambda: case_pair('pcm'),
        'print-run': case_print_run,
        'client-first': case_client_first,
        'port-in-use': case_port_in_use,
        'wrong-key': case_wrong_key,
        'next-sender': case_next_sender,
        'server-restart': case_server_restart,
        'peer-text': case_peer_text,
    }
    if case not in cases:
        print('unknown case %s; one of %s' % (case, ', '.join(cases)))
        return 1
    cases[case]()
    if failures:
        print('%d check(s) failed' % len(failures))
        return 1
    print('all checks passed')
    return 0


if __name__ == '__main__':
    sys.exit(main())
