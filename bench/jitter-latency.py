#!/usr/bin/env python3
# qsound — end-to-end latency of qsound-launch for several receiver targets
# (-l), on the null-sink rig of bench/e2e-latency.py (tests/e2e/qsmeasure.py).
#
# Copyright (C) 2026 The qsound authors
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Run through bench/jitter-latency.sh (private PulseAudio).  Arguments:
# CODEC:MS ... (e.g. pcm:5 pcm:10 opus:8 mp3:15); MS 0 means the launcher's
# default.  Prints, per pair, the latency (median over 30 bursts), the
# bursts delivered and intact, and the receiver's last status (measured
# room, drift, re-locks).
import os
import re
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'e2e'))
import qsmeasure as q  # noqa: E402


def pair(launch, codec, ms, env):
    def start(rig):
        server = rig.spawn([launch, '-p', '0', '-m', '1', '-c', codec, '-d',
                            'play'], 'm1', env=env)
        port = q.port_from_log(server)
        extra = ['-l', str(ms)] if ms else []
        client = rig.spawn([launch, '-p', str(port), '-m', '2', '-o', 'out']
                           + extra, 'm2', env=env)
        return [server, client]
    return start


def main():
    build = os.environ.get('QSOUND_BUILD_ROOT', os.path.join(ROOT, 'build'))
    launch = os.path.join(build, 'launcher', 'qsound-launch')
    env = dict(os.environ)
    env['GST_PLUGIN_PATH_1_0'] = os.path.join(build, 'plugins', 'qsound')
    env['QSOUND_PIPELINES_DIR'] = os.path.join(ROOT, 'pipelines')
    os.environ.update(env)
    rig = q.Rig()
    print('%-6s %5s %9s %13s %9s %6s  %s' % ('codec', '-l', 'latency',
                                            'spread', 'delivered', 'intact',
                                            'receiver status at the end'))
    for spec in sys.argv[1:]:
        codec, ms = spec.split(':')
        ms = int(ms)
        res = rig.measure('%s-%d' % (codec, ms), pair(launch, codec, ms, env),
                          ready=q.both_connected)
        status = ''
        try:
            text = open(rig.path('m2.log'), errors='replace').read()
            found = re.findall(r'buffer [^|]*re-locks \d+', text)
            status = found[-1] if found else ''
        except OSError:
            pass
        lat = res.latency_ms
        print('%-6s %5s %7s ms %13s %6d/%-2d %6d  %s' % (
            codec, ms or 'def', '%.0f' % lat if lat is not None else 'n/a',
            '%.0f..%.0f ms' % (res.latency_min_ms, res.latency_max_ms)
            if res.latency_min_ms is not None else '', res.delivered,
            res.sent if hasattr(res, 'sent') else 30, res.intact, status),
            flush=True)


if __name__ == '__main__':
    main()
