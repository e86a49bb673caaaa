#!/usr/bin/env python3
# qsound — soak benchmark: transmit and receive for a long time while the
# receiver is killed and restarted every 2 minutes and the sender every 5.
#
# Copyright (C) 2026 The qsound authors
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Needs a PulseAudio with null sinks `play` and `out` (run it through
# bench/soak.sh, which starts a private one).  A 440 Hz tone plays into
# `play`; the sender captures it and sends it, the receiver plays into `out`;
# `out.monitor` is recorded here, so every restart's silence is measured on
# the real output: the time from the kill until sound is back.  Each minute
# it prints both processes' resident memory (VmRSS) and open descriptors.
#
# The sender and receiver are `qsound-launch -m 1` / `-m 2` when the launcher
# is built (with --launcher auto, the default), else the equivalent
# gst-launch-1.0 pipelines (pulsesrc in place of loopbacksrc).
import argparse
import math
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

RATE = 48000
BLOCK = 960          # 20 ms
THRESHOLD = 0.02     # RMS of "sound is there" (the tone is ~0.35)


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Recorder:
    """Records out.monitor and keeps (time, rms) per 20 ms block."""

    def __init__(self):
        self.blocks = []
        self.lock = threading.Lock()
        self.proc = subprocess.Popen(
            ['parec', '--device=out.monitor', '--format=s16le',
             '--rate=%d' % RATE, '--channels=1', '--latency-msec=20',
             '--raw'], stdout=subprocess.PIPE, start_new_session=True)
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        n = BLOCK * 2
        while True:
            data = self.proc.stdout.read(n)
            if not data or len(data) < n:
                break
            samples = struct.unpack('<%dh' % BLOCK, data)
            rms = math.sqrt(sum(x * x for x in samples) / BLOCK) / 32768.0
            with self.lock:
                self.blocks.append((time.monotonic(), rms))

    def gap_after(self, t_kill, horizon=6.0):
        """Seconds from t_kill until sound is back after the silence it
        caused; 0 when there was no silence; None when it never came back."""
        with self.lock:
            blocks = [b for b in self.blocks if t_kill <= b[0] <= t_kill + horizon]
        silent_seen = False
        for t, rms in blocks:
            if rms < THRESHOLD:
                silent_seen = True
            elif silent_seen:
                return t - t_kill
        if not silent_seen:
            return 0.0
        return None

    def sound_share(self, t0, t1):
        with self.lock:
            blocks = [b for b in self.blocks if t0 <= b[0] <= t1]
        if not blocks:
            return 0.0
        return sum(1 for b in blocks if b[1] >= THRESHOLD) / len(blocks)

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def proc_figures(pid):
    rss = None
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    rss = int(line.split()[1])
        fds = len(os.listdir('/proc/%d/fd' % pid))
    except OSError:
        return None, None
    return rss, fds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--minutes', type=float, default=30.0)
    ap.add_argument('--recv-every', type=float, default=120.0,
                    help='seconds between receiver restarts')
    ap.add_argument('--send-every', type=float, default=300.0,
                    help='seconds between sender restarts')
    ap.add_argument('--codec', default='mp3', choices=['mp3', 'opus', 'pcm'])
    ap.add_argument('--latency-ms', type=int, default=0,
                    help='receiver target (0: the launcher\'s default)')
    ap.add_argument('--launcher', default='auto',
                    help='path of qsound-launch, "auto" or "none"')
    ap.add_argument('--build', default=os.environ.get('QSOUND_BUILD_ROOT', 'build'))
    args = ap.parse_args()

    launcher = None
    if args.launcher == 'auto':
        cand = os.path.join(args.build, 'launcher', 'qsound-launch')
        launcher = cand if os.access(cand, os.X_OK) else None
    elif args.launcher != 'none':
        launcher = args.launcher
    port = free_port()
    lat = args.latency_ms or {'mp3': 80, 'opus': 35, 'pcm': 30}[args.codec]
    enc = {'mp3': 'lamemp3enc target=bitrate bitrate=128 cbr=true',
           'opus': 'opusenc frame-size=10',
           'pcm': 'audio/x-raw,format=S16LE,rate=48000,channels=2'}[args.codec]

    if launcher:
        send_cmd = [launcher, '-m', '1', '-p', str(port), '-c', args.codec,
                    '-d', 'play']
        recv_cmd = [launcher, '-m', '2', '-p', str(port), '-c', args.codec,
                    '-o', 'out']
        if args.latency_ms:
            recv_cmd += ['-l', str(args.latency_ms)]
    else:
        send_cmd = ['gst-launch-1.0', '-q', 'pulsesrc', 'device=play.monitor',
                    'buffer-time=20000', 'latency-time=10000', '!',
                    'audioconvert', '!', 'audioresample', '!'] + \
            enc.split() + ['!', 'framedtcpsink', 'port=%d' % port]
        recv_cmd = ['gst-launch-1.0', '-q', 'framedtcpsrc', 'port=%d' % port,
                    'latency=0', '!', 'decodebin', '!', 'audioconvert', '!',
                    'audiojitterbuffer', 'latency=%d' % (lat * 1000000), '!',
                    'audioconvert', '!', 'audioresample', '!', 'pulsesink',
                    'device=out', 'buffer-time=40000', 'latency-time=10000']

    print('soak: %.1f min, receiver restarted every %.0f s, sender every %.0f '
          's, codec %s, port %d, %s' % (args.minutes, args.recv_every,
                                        args.send_every, args.codec, port,
                                        'qsound-launch' if launcher else
                                        'gst-launch-1.0 pipelines'))
    print('sender:   ' + ' '.join(send_cmd))
    print('receiver: ' + ' '.join(recv_cmd))
    sys.stdout.flush()

    devnull = subprocess.DEVNULL
    tone = subprocess.Popen(['gst-launch-1.0', '-q', 'audiotestsrc',
                             'is-live=true', 'freq=440', 'volume=0.5', '!',
                             'pulsesink', 'device=play'], stdout=devnull,
                            start_new_session=True)
    logdir = os.environ.get('QSOUND_SOAK_LOGDIR', '/tmp')
    slog = open(os.path.join(logdir, 'soak-sender.log'), 'w')
    rlog = open(os.path.join(logdir, 'soak-receiver.log'), 'w')

    def start(cmd, log):
        return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)

    def kill(p):
        p.send_signal(signal.SIGKILL)
        p.wait()

    time.sleep(1.0)
    rec = Recorder()
    sender = start(send_cmd, slog)
    time.sleep(0.5)
    receiver = start(recv_cmd, rlog)
    t0 = time.monotonic()
    end = t0 + args.minutes * 60.0
    next_recv = t0 + args.recv_every
    next_send = t0 + args.send_every
    next_min = t0 + 30.0     # between restarts, which fall on whole minutes
    events = []     # (time, what)
    gaps = []
    first = {}      # figures at each process's first minute, for growth
    print('%5s %22s %22s %8s' % ('min', 'sender RSS kB / fds',
                                 'receiver RSS kB / fds', 'sound %'))
    sys.stdout.flush()
    last_min = t0
    while time.monotonic() < end:
        time.sleep(0.1)
        now = time.monotonic()
        for name, p in (('sender', sender), ('receiver', receiver)):
            if p.poll() is not None:
                print('  %s exited by itself (status %s) at %.1f s; '
                      'restarting' % (name, p.returncode, now - t0))
                events.append((now, name + ' died'))
                if name == 'sender':
                    sender = start(send_cmd, slog)
                else:
                    receiver = start(recv_cmd, rlog)
        if now >= next_send:
            kill(sender)
            events.append((time.monotonic(), 'sender'))
            sender = start(send_cmd, slog)
            first.pop('sender', None)
            next_send += args.send_every
        if now >= next_recv:
            kill(receiver)
            events.append((time.monotonic(), 'receiver'))
            receiver = start(recv_cmd, rlog)
            first.pop('receiver', None)
            next_recv += args.recv_every
        if now >= next_min:
            s = proc_figures(sender.pid)
            r = proc_figures(receiver.pid)
            first.setdefault('sender', s)
            first.setdefault('receiver', r)
            share = rec.sound_share(last_min, now)
            print('%5.1f %13s / %6s %13s / %6s %7.1f%%' % (
                (now - t0) / 60.0, s[0], s[1], r[0], r[1], share * 100.0))
            sys.stdout.flush()
            last_min = now
            next_min += 60.0
    time.sleep(3.0)
    for t, what in events:
        g = rec.gap_after(t)
        gaps.append(g)
        print('restart of the %-8s at %7.1f s: sound back after %s' % (
            what, t - t0, 'NEVER' if g is None else '%.2f s' % g))
    kill(sender)
    kill(receiver)
    tone.kill()
    tone.wait()
    rec.stop()
    ok = [g for g in gaps if g is not None]
    print('restarts: %d, sound back in every one: %s, longest silence %.2f s, '
          'mean %.2f s' % (len(gaps), 'yes' if len(ok) == len(gaps) else 'NO',
                           max(ok) if ok else float('nan'),
                           sum(ok) / len(ok) if ok else float('nan')))


if __name__ == '__main__':
    main()
