#!/usr/bin/env python3
"""The stall watch sees a stall where there is one, and only there.

A real stall of the host cannot be made on demand; stopping the watch's
process (SIGSTOP) for 150 ms stops its threads just as one would, so each
CPU's thread wakes 150 ms late.  Usage: test_stallwatch.py (QSOUND_BUILD_ROOT
set, as meson test does).
"""

import os
import signal
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'e2e'))
import stallwatch  # noqa: E402
from test_e2e import check, failures  # noqa: E402  (one way to report)


def main():
    if stallwatch.program() is None:
        print('tests/stallwatch/stallwatch is not built (QSOUND_BUILD_ROOT)')
        return 1
    with tempfile.TemporaryDirectory() as d:
        w = stallwatch.Watch().start(os.path.join(d, 'watch.log'))
        time.sleep(0.5)
        t_stop = time.monotonic()
        w.proc.send_signal(signal.SIGSTOP)
        time.sleep(0.15)
        w.proc.send_signal(signal.SIGCONT)
        time.sleep(0.5)
        w.stop()
    print(w.summary())
    ncpu = os.cpu_count() or 1
    big = [s for s in w.stalls if s.length_ms >= 120]
    for s in big:
        print('stall at %+.3f s: %s' % (s.start - t_stop, s))
    check(w.steal_pct is not None, 'the watch said the host steal at its end')
    if not w.realtime:
        # as root on Linux it runs real-time; elsewhere it must not explain
        check(w.explain_burst(t_stop) is None, 'a watch that is not '
              'real-time explains no loss')
        return 1 if failures else 0
    check(len({s.cpu for s in big}) == ncpu, 'a stall of 120 ms or more on '
          'each of the %d CPUs (%d)' % (ncpu, len(big)))
    check(all(abs(s.start - t_stop) < 0.05 for s in big),
          'each began when the process was stopped')
    found = w.explain_burst(t_stop + 0.5)
    check(found is not None and found.length_ms >= 120,
          'a burst played 0.5 s after it is explained by it (%s)' % found)
    check(w.explain(t_stop + 2.0, t_stop + 3.0) is None or
          w.explain(t_stop + 2.0, t_stop + 3.0).length_ms < 120,
          'nothing that long explains a time 2-3 s after it')
    lost = [t_stop + 0.1, t_stop + 30.0]
    ok, why = w.judge(20, 18, lost)
    check(not ok and 'no host stall' in why, 'a loss far from any stall '
          'fails the judgement (%s)' % why.strip('; '))
    ok, why = w.judge(20, 19, lost[:1])
    check(ok, 'a loss in the stall does not (%s)' % why.strip('; '))
    ok, why = w.judge(20, 18, lost, spare=1)
    check(ok and '1 allowed' in why, 'one loss far from any stall passes '
          'where one is allowed (%s)' % why.strip('; '))
    ok, why = w.judge(20, 17, lost[:1])
    check(not ok and 'found nothing' in why, 'losses not placed in time '
          'are never explained (%s)' % why.strip('; '))
    ok, why = w.judge(5, 3, lost[:1] * 2)
    check(not ok, 'nor more than a tenth of the bursts (2 of 5)')
    return 1 if failures else 0


if __name__ == '__main__':
    rc = main()
    print('%d passed, %d failed' % (0 if rc else 1, len(failures)))
    sys.exit(rc)
