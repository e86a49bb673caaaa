#!/usr/bin/env python3
"""Where audio comes late: each stage's lateness, from a kept run's logs.

Usage: bench/arrival-lag.py FOLDER NAME-RUN [FRAME_MS]

FOLDER is what `bench/playout-bench.sh --keep` printed, run with
TXDEBUG=loopbacksrc:6,framedtcpsink:6 and RXDEBUG=audiojitterbuffer:6, so
that the sender logs each captured chunk and each frame sent, and the
receiver each arrival, with the monotonic time (one clock for both
processes).  For each stage it sets the time of each item against the audio
counted so far (chunks and arrivals by their frames, frames sent at
FRAME_MS each, default 5: the launcher's opus and pcm frames) and prints how
late each was beyond the least lateness of the 4 s around it (p50, p99,
max), then every spell of 8 ms or more, with when it came (s into the log).
A spell that starts at the capture was the sound server's; one that starts
at the frames sent, the sender's pipeline; one that starts at the
arrivals, the network or the receiver.
"""
import re
import sys

STAGES = (
    ('capture', 'tx', r'chunk: (?P<n>\d+) frames, .*monotonic (?P<t>\d+)'),
    ('sent', 'tx', r'frame \d+: pts .*bytes, monotonic (?P<t>\d+)'),
    ('arrival', 'rx', r'arrival: (?P<n>\d+) frames, .*monotonic (?P<t>\d+)'),
)
RATE = 48000.0


def series(path, pat, frame_ms):
    out, audio_ms = [], 0.0
    with open(path, errors='replace') as f:
        for line in f:
            m = re.search(pat, line)
            if not m:
                continue
            out.append((int(m.group('t')) / 1e3, audio_ms))
            n = m.groupdict().get('n')
            audio_ms += int(n) * 1e3 / RATE if n else frame_ms
    return out


def main(argv):
    if len(argv) not in (3, 4):
        print(__doc__)
        return 2
    folder, name = argv[1], argv[2]
    frame_ms = float(argv[3]) if len(argv) == 4 else 5.0
    runs = [(label, series('%s/%s-%s.log' % (folder, name, who), pat,
                           frame_ms)) for label, who, pat in STAGES]
    if not any(s for _, s in runs):
        print('no timed lines in %s/%s-*.log: run with TXDEBUG and RXDEBUG '
              '(see --help)' % (folder, name))
        return 1
    t0 = min(s[0][0] for _, s in runs if s)
    for label, s in runs:
        if len(s) < 400:
            print('%-8s %d items: too few' % (label, len(s)))
            continue
        s = s[200:]                       # the start is a burst by design
        lag = [t - a for t, a in s]
        late = [lag[i] - min(lag[max(0, i - 400):i + 400])
                for i in range(len(lag))]
        srt = sorted(late)
        spells = []
        for (t, _), e in zip(s, late):
            if e < 8.0:
                continue
            ts = (t - t0) / 1e3
            if spells and ts - spells[-1][1] < 0.1:
                spells[-1][1] = ts
                spells[-1][2] = max(spells[-1][2], e)
            else:
                spells.append([ts, ts, e])
        print('%-8s %5d items, late p50 %.1f ms, p99 %.1f, max %.1f; %d '
              'spells of 8 ms or more' % (label, len(s), srt[len(srt) // 2],
                                          srt[len(srt) * 99 // 100], srt[-1],
                                          len(spells)))
        print('         ' + ' '.join('%.2fs:%.0f' % (a, e)
                                     for a, _, e in spells[:30]))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
