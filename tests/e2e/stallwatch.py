"""stallwatch: when the host stopped running this machine, for the rigs.

A live chain loses sound when the machine stops running its processes for
longer than the sound server's buffer (a virtual machine whose host takes its
CPUs away).  tests/stallwatch/stallwatch (built with the tests; see
stallwatch.h) sees such stalls from real-time threads pinned to each CPU, so a
busy machine or a slow qsound does not look like one.  A rig runs a Watch
while it records and asks it, for each lost burst, whether the host stalled
then: a loss that it explains is the host's and is reported as such; any
other loss fails the test as before.

Without the program (a bench run without a build) the watch sees nothing, and
every loss counts against the chain.
"""

import os
import subprocess

# a stall the sound server's buffer (25 ms granted to a receiver's stream,
# docs/LATENCY.md) does not ride out; the watch sees 1-13 ms wake-ups on an
# idle virtual machine here
THRESHOLD_MS = 15.0
# a burst played at time t (monotonic) is explained by a stall from
# t - BEFORE_S to t + AFTER_S: the stall may hold the sender (which then
# comes late), the sound server, or the receiver while it re-locks; and t is
# known from when the player started, which it does 0-0.5 s later
BEFORE_S = 1.5
AFTER_S = 1.0
# however many losses stalls explain, a run that lost more than this share
# of its bursts fails: the test could not judge the chain
MAX_EXPLAINED = 0.1


def program():
    root = os.environ.get('QSOUND_BUILD_ROOT')
    if root:
        path = os.path.join(root, 'tests', 'stallwatch', 'stallwatch')
        if os.access(path, os.X_OK):
            return path
    return None


class Stall:
    def __init__(self, start, length_ms, cpu):
        self.start = start          # monotonic s
        self.length_ms = length_ms
        self.cpu = cpu

    def __str__(self):
        return '%.0f ms on %s' % (self.length_ms, self.cpu)


class Watch:
    """Start with start(log_path), stop with stop(); then stalls, steal_pct,
    realtime and explain() tell what it saw."""

    def __init__(self):
        self.proc = None
        self.path = None
        self.stalls = []
        self.steal_pct = None
        self.realtime = False
        self.available = False
        self.play_start = 0.0   # set by the rig: when the signal started

    def start(self, log_path):
        exe = program()
        self.path = log_path
        if exe is None:
            return self
        with open(log_path, 'wb') as log:
            self.proc = subprocess.Popen([exe, '%g' % THRESHOLD_MS],
                                         stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        self.available = True
        return self

    def stop(self):
        if self.proc is None:
            return self
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        with open(self.path, errors='replace') as f:
            for line in f:
                part = line.split()
                if len(part) == 4 and part[0] == 'stall':
                    self.stalls.append(Stall(float(part[1]), float(part[2]),
                                             part[3]))
                elif len(part) == 3 and part[0] == 'stallwatch':
                    self.realtime = part[1] == 'realtime'
                elif len(part) == 2 and part[0] == 'steal':
                    self.steal_pct = float(part[1])
        return self

    def explain(self, t_from, t_to):
        """The longest stall overlapping t_from..t_to (monotonic s), or
        None.  A watch that is not real-time explains nothing: it cannot
        tell a stalled machine from a busy one."""
        if not self.realtime:
            return None
        hits = [s for s in self.stalls
                if s.start <= t_to and s.start + s.length_ms / 1000 >= t_from]
        return max(hits, key=lambda s: s.length_ms) if hits else None

    def explain_burst(self, t):
        """The stall that explains losing a burst played at ``t``."""
        return self.explain(t - BEFORE_S, t + AFTER_S)

    def summary(self):
        if not self.available:
            return 'host stalls: not watched (no tests/stallwatch build)'
        worst = max((s.length_ms for s in self.stalls), default=0.0)
        return ('host stalls of %.0f ms or more: %d (longest %.0f ms), host '
                'steal %s%s' % (THRESHOLD_MS, len(self.stalls), worst,
                                '%.1f %%' % self.steal_pct
                                if self.steal_pct is not None
                                and self.steal_pct >= 0 else 'unknown',
                                '' if self.realtime else
                                ' (the watch could not run real-time, so '
                                'it explains no loss)'))

    def judge(self, sent, delivered, lost_at, spare=0):
        """Judge a run that sent ``sent`` bursts, delivered ``delivered`` and
        lost those played at the monotonic times ``lost_at``.  Returns (ok,
        text): ok when every loss but ``spare`` of them is explained by a
        stall and at most MAX_EXPLAINED of the bursts were lost; text says
        which losses the host explains.  Losses the analysis could not
        place in time (it found no correlation at all) are never
        explained."""
        explained = [(t, self.explain_burst(t)) for t in lost_at]
        alone = [t for t, s in explained if s is None]
        host = [(t, s) for t, s in explained if s is not None]
        unplaced = sent - delivered - len(lost_at)
        ok = (sent > 0 and len(alone) <= spare and unplaced == 0
              and sent - delivered <= MAX_EXPLAINED * sent)
        text = ''
        if host:
            text = '; lost while the host stalled: ' + ', '.join(
                '%.1f s (%s)' % (t - self.play_start, s) for t, s in host)
        if alone:
            text += '; lost with no host stall: ' + ', '.join(
                '%.1f s' % (t - self.play_start) for t in alone)
            if spare:
                text += ' (%d allowed)' % spare
        if unplaced:
            text += '; %d lost where the analysis found nothing' % unplaced
        return ok, text
