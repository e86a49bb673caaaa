#!/usr/bin/env python3
"""qsound-launch --icecast against a real icecast2 (issue 14).

Usage: test_icecast.py CASE QSOUND_LAUNCH

Each case starts its own icecast2 on 127.0.0.1 with a private config on a
free port (icecastrig.py), never the system's.  The sound cases run on the
private PulseAudio of tests/run.sh (null sinks play and out) with the rig of
tests/e2e (qsmeasure.py: seeded noise bursts played into play, both
monitors recorded, each burst found by cross-correlation).  Cases:

  listen        -m 1 mp3 --icecast; a listener through Icecast (souphttpsrc
                ! mpegaudioparse ! mpg123audiodec into out) hears every
                burst; its latency is measured (burst-on-connect off) and
                reported
  listen-opus   the same for Opus in Ogg (oggdemux ! opusdec)
  listen-pcm    -c pcm: published as mp3, heard the same way
  source-info   the mount names the stream and carries its bitrate; -m 4
                publishes Opus in Ogg while its framed receiver is not up
  listeners     100 concurrent HTTP listeners each receive mp3 frames,
                Icecast counts 100, and the transmitter's status line says so
  restart       Icecast is killed (SIGKILL) and restarted while a framed
                receiver (-m 2) plays: the mount is back within 10 s and
                the receiver lost nothing
  wrong-password  the transmitter says one sentence (the password and the
                fix), once, and the framed path delivers every burst
  browser       headless Chromium plays the mount (Opus in Ogg, and mp3) in
                an <audio> element; its currentTime advances
  relay         a second icecast2 relaying the first serves a listener
  print-run     the --print line with --icecast, run by gst-launch-1.0,
                publishes too (mp3 and Opus in Ogg)
  mount-busy    another source holds the mount: the transmitter says so
                (the same sentence as a wrong password: Icecast answers
                both alike) and never claims to be live
  no-shout      a GStreamer without shout2send (as the Windows zip): one
                sentence, the status line says so, the framed path
                delivers every burst

Exit status 77 (skipped by meson) when icecast2 (or chromium, for browser)
is not installed or no PulseAudio with the null sinks is reachable.
"""

import os
import re
import shutil
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, '..', 'e2e'))
import icecastrig as ir  # noqa: E402
import qsmeasure as q  # noqa: E402

SKIP = 77
# as tests/e2e (E2E_SPARE): one burst a run may be lost to the host
SPARE = 1
LAUNCH = None
failures = []


def check(cond, what):
    print(('ok    ' if cond else 'FAIL  ') + what, flush=True)
    if not cond:
        failures.append(what)
    return cond


def pulse_is_up():
    r = subprocess.run(['pactl', 'list', 'short', 'sinks'],
                       capture_output=True, text=True)
    names = [line.split('\t')[1] for line in r.stdout.splitlines()
             if '\t' in line]
    return r.returncode == 0 and 'play' in names and 'out' in names


def need(pulse=True, browser=False):
    if not ir.icecast_binary():
        print('SKIP: icecast2 is not installed (.ci/deps.sh test)')
        sys.exit(SKIP)
    if pulse and not pulse_is_up():
        print('SKIP: no PulseAudio with the null sinks play and out '
              '(run the suite with tests/run.sh)')
        sys.exit(SKIP)
    if browser and not chromium_binary():
        print('SKIP: chromium is not installed (.ci/deps.sh test)')
        sys.exit(SKIP)


def chromium_binary():
    for name in ('chromium', 'chromium-browser'):
        if shutil.which(name):
            return shutil.which(name)
    return None


def tx(rig, ice, mount, codec='mp3', password=None, name='tx', mode=1,
       port=0):
    """A qsound-launch transmitter capturing play, publishing to @mount."""
    args = [LAUNCH, '-m', str(mode), '-p', str(port), '-c', codec,
            '-d', 'play', '--icecast', ice.source_url(mount, password)]
    return rig.spawn(args, name, env=q.launch_env())


def report(name, res):
    print('%-28s %s' % (name, res), flush=True)
    if res.watch is not None:
        print('      ' + res.watch.summary(), flush=True)


def dump_logs(res, ice=None):
    for path, text in getattr(res, 'logs', {}).items():
        print('--- %s\n%s' % (os.path.basename(path), text[-3000:]))
    if ice is not None:
        print('--- icecast\n%s' % ice.log())


def judge_delivery(label, res, rig):
    report(label, res)
    check(res.sent == rig.bursts, '%s: the rig saw all %d bursts sent'
          % (label, rig.bursts))
    ok = check(*res.judge_losses(label, spare=SPARE))
    if not ok:
        print('      per-burst energy ratios: %s' % res.ratios)
    return ok


# ----------------------------------------------------------------- listen --

LISTENERS = {
    'mp3': 'souphttpsrc location={url} iradio-mode=false ! mpegaudioparse '
           '! mpg123audiodec',
    'opus': 'souphttpsrc location={url} iradio-mode=false ! oggdemux '
            '! opusdec',
}


def case_listen(codec):
    """A listener through Icecast hears every burst; its latency is
    measured.  pcm is published as mp3."""
    need()
    ice = ir.Icecast()
    rig = q.Rig()
    mount = '/live' + ('.ogg' if codec == 'opus' else '.mp3')
    heard_as = 'opus' if codec == 'opus' else 'mp3'
    try:
        def start(rig):
            t = tx(rig, ice, mount, codec)
            if ice.wait_mount(mount, 20) is None:
                return [t]
            desc = (LISTENERS[heard_as].format(url=ice.url(mount))
                    + ' ! audioconvert ! audioresample ! pulsesink '
                    'device=out sync=false')
            lis = rig.spawn([q.gst_launch(), '-q'] + desc.split(), 'listener')
            return [t, lis]
        res = rig.measure('icecast-' + codec, start, settle_s=3.0,
                          tail_s=3.0)
        label = 'listener through Icecast (%s)' % codec
        n = len(failures)
        judge_delivery(label, res, rig)
        check(res.latency_ms is not None and 0 < res.latency_ms < 3000,
              '%s: latency measured (%s ms, burst-on-connect off)'
              % (label, res.latency_ms))
        print('LATENCY %s median %s ms, %s..%s' % (
            codec, res.latency_ms, res.latency_min_ms, res.latency_max_ms),
            flush=True)
        if len(failures) != n:
            dump_logs(res, ice)
    finally:
        rig.close()
        ice.close()


def case_source_info():
    """The mount names the stream and carries its bitrate."""
    need()
    ice = ir.Icecast()
    rig = q.Rig()
    procs = []
    try:
        procs.append(tx(rig, ice, '/named.mp3', 'mp3'))
        check(ice.wait_mount('/named.mp3', 20) is not None,
              'the transmitter publishes /named.mp3')
        src = ice.source('/named.mp3') or {}
        check(src.get('server_name', '').startswith('qsound on '),
              'the stream is named "qsound on HOST" (%r)'
              % src.get('server_name'))
        check('192 kbit/s' in src.get('server_description', ''),
              'its description carries the bitrate (%r)'
              % src.get('server_description'))
        check(src.get('server_type') == 'audio/mpeg',
              'mp3 goes as audio/mpeg (%r)' % src.get('server_type'))
        # mode 4 too, while its mode 3 receiver is not up (it retries that
        # link and publishes all the same)
        procs.append(tx(rig, ice, '/client.ogg', 'opus', name='tx4', mode=4,
                        port=q.free_port()))
        check(ice.wait_mount('/client.ogg', 20) is not None,
              '-m 4 publishes too, its framed receiver not up')
        data, status = ir.read_stream(ice.url('/client.ogg'), 2.0)
        check(status == 200 and data[:4] == b'OggS'
              and b'OpusHead' in data[:200],
              '-m 4 -c opus: a listener receives Opus in Ogg (HTTP %s, %d '
              'bytes)' % (status, len(data)))
        # the status line, logged every 5 s without a terminal
        end = time.monotonic() + 10
        while time.monotonic() < end and not re.search(
                r'waiting for server.*icecast live', q.read_log(procs[-1])):
            time.sleep(0.2)
        log = q.read_log(procs[-1])
        check(re.search(r'waiting for server.*icecast live', log),
              '-m 4: its status line says both (%r)' % log[-400:])
    finally:
        for p in procs:
            q.stop(p)
        rig.close()
        ice.close()


# -------------------------------------------------------------- listeners --

def case_listeners(count=100):
    need()
    ice = ir.Icecast()
    rig = q.Rig()
    mount = '/many.mp3'
    t = None
    try:
        t = tx(rig, ice, mount, 'mp3')
        check(ice.wait_mount(mount, 20) is not None, 'the mount is up')
        got = [None] * count

        def listen(i):
            try:
                got[i] = ir.read_stream(ice.url(mount), 8.0)
            except OSError as e:
                got[i] = (b'', str(e))
        threads = [threading.Thread(target=listen, args=(i,))
                   for i in range(count)]
        for th in threads:
            th.start()
        # while they listen: what Icecast counts and the transmitter says
        seen = 0
        end = time.monotonic() + 6.0
        while time.monotonic() < end:
            src = ice.source(mount) or {}
            seen = max(seen, int(src.get('listeners', 0) or 0))
            time.sleep(0.5)
        for th in threads:
            th.join(30)
        time.sleep(0.2)
        # 8 s at 192 kbit/s is 192 kB; ask at least a quarter of it
        ok = [g for g in got if g and g[1] == 200 and len(g[0]) >= 48000
              and ir.mp3_frames(g[0]) >= 50]
        sizes = sorted(len(g[0]) for g in got if g)
        check(len(ok) == count, '%d concurrent listeners each received mp3 '
              '(%d did; bytes min %s, max %s)' % (count, len(ok),
                                                  sizes[0] if sizes else None,
                                                  sizes[-1] if sizes else None))
        check(seen == count, 'Icecast counted %d listeners (%d)' % (count,
                                                                    seen))
        log = q.read_log(t)
        counts = [int(m) for m in re.findall(r'icecast live, (\d+) listener',
                                             log)]
        check(count in counts, "the transmitter's status line said %d "
              'listeners (it said %s)' % (count, sorted(set(counts))))
        if failures:
            print(log[-3000:])
    finally:
        if t is not None:
            q.stop(t)
        rig.close()
        ice.close()


# ---------------------------------------------------------------- restart --

def case_restart():
    """Icecast killed and restarted mid-stream: the mount is back within
    10 s and a framed receiver lost nothing meanwhile."""
    need()
    ice = ir.Icecast()
    rig = q.Rig()
    mount = '/restart.mp3'
    events = {}

    def crash_and_restart():
        time.sleep(2.0)
        ice.kill()
        events['killed'] = time.monotonic()
        time.sleep(2.0)
        ice.start()
        events['restarted'] = time.monotonic()
        events['back_s'] = ice.wait_mount(mount, 15.0)

    try:
        chain = q.qsound_pair(LAUNCH, 1, 'mp3', env=q.launch_env(),
                              extra=['--icecast', ice.source_url(mount)])

        def start(rig):
            procs = chain(rig)
            ice.wait_mount(mount, 20)
            th = threading.Thread(target=crash_and_restart)
            th.start()
            events['thread'] = th
            return procs
        res = rig.measure('restart', start, ready=q.both_connected,
                          settle_s=1.5)
        events['thread'].join(30)
        n = len(failures)
        judge_delivery('framed receiver while Icecast restarts (1+2 mp3)',
                       res, rig)
        check('killed' in events and 'restarted' in events,
              'Icecast was killed and restarted during the bursts')
        back = events.get('back_s')
        check(back is not None and back <= 10.0,
              'the mount is back %s s after Icecast restarted (at most 10)'
              % (None if back is None else '%.1f' % back))
        print('RESTART back after %s s' % back, flush=True)
        txlog = [t for p, t in res.logs.items()
                 if os.path.basename(p) == 'm1.log']
        txlog = txlog[0] if txlog else ''
        check(txlog.count('icecast: publishing at') >= 2,
              'the transmitter said it published, then again after the '
              'restart')
        check(all(rc == 0 for rc in res.exit_codes),
              'both ends exit 0 on Ctrl-C (%s)' % res.exit_codes)
        if len(failures) != n:
            dump_logs(res, ice)
    finally:
        rig.close()
        ice.close()


# --------------------------------------------------------- wrong password --

def case_wrong_password():
    need()
    ice = ir.Icecast()
    rig = q.Rig()
    mount = '/secret.mp3'
    try:
        res = rig.measure('wrong-password', q.qsound_pair(
            LAUNCH, 1, 'mp3', env=q.launch_env(),
            extra=['--icecast', ice.source_url(mount, 'not-the-password')]),
            ready=q.both_connected, settle_s=2.0)
        n = len(failures)
        judge_delivery('framed path with a wrong Icecast password', res, rig)
        txlog = [t for p, t in res.logs.items()
                 if os.path.basename(p) == 'm1.log']
        txlog = txlog[0] if txlog else ''
        said = [line for line in txlog.splitlines()
                if 'icecast:' in line and 'password' in line]
        check(len(said) == 1, 'the wrong password is said once (%d times)'
              % len(said))
        if said:
            text = said[0].split('icecast: ', 1)[1]
            check(text.endswith('.') and text.count('. ') == 0
                  and 'icecast.xml' in text and 'source-password' in text,
                  'in one sentence naming the cause and the fix (%r)' % text)
        check('icecast refused the password' in txlog,
              'the status line says Icecast refused the password')
        check(ice.source(mount) is None, 'nothing was published')
        check(all(rc == 0 for rc in res.exit_codes),
              'both ends exit 0 on Ctrl-C (%s)' % res.exit_codes)
        if len(failures) != n:
            dump_logs(res, ice)
    finally:
        rig.close()
        ice.close()


# ---------------------------------------------------------------- browser --

PAGE = """<!doctype html><html><body>
<audio id="a" src="{src}" autoplay></audio>
<script>
const a = document.getElementById('a');
function report() {{
  const err = a.error ? a.error.code : 0;
  fetch('/report?t=' + a.currentTime + '&paused=' + a.paused +
        '&state=' + a.readyState + '&err=' + err).catch(() => {{}});
}}
setInterval(report, 500);
a.play().catch(e => fetch('/report?playerr=' + encodeURIComponent(e)));
</script></body></html>
"""


def browser_plays(ice, mount, seconds=10.0):
    """currentTime readings of an <audio> element in headless Chromium
    playing @mount; [(wall_s, t, paused, err)]."""
    import http.server
    import tempfile
    from urllib.parse import urlparse, parse_qs
    reports = []
    page = PAGE.format(src=ice.url(mount)).encode()

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            u = urlparse(self.path)
            if u.path == '/report':
                qs = parse_qs(u.query)
                reports.append((time.monotonic(), qs))
                body = b'ok'
            else:
                body = page
            self.send_response(200)
            self.send_header('Content-Type', 'text/html')
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    profile = tempfile.mkdtemp(prefix='qsound-chromium-')
    log = open(os.path.join(profile, 'chromium.log'), 'wb')
    argv = [chromium_binary(), '--headless=new', '--no-sandbox',
            '--disable-gpu', '--no-first-run', '--mute-audio',
            '--autoplay-policy=no-user-gesture-required',
            '--user-data-dir=' + profile,
            'http://127.0.0.1:%d/' % srv.server_address[1]]
    p = subprocess.Popen(argv, stdout=log, stderr=log,
                         stdin=subprocess.DEVNULL)
    try:
        time.sleep(seconds)
    finally:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        log.close()
        srv.shutdown()
        shutil.rmtree(profile, ignore_errors=True)
    out = []
    for wall, qs in reports:
        if 't' in qs:
            out.append((wall, float(qs['t'][0]), qs['paused'][0] == 'true',
                        int(qs['err'][0])))
        else:
            print('      the page said: %s' % qs)
    return out


def case_browser():
    need(pulse=True, browser=True)
    ice = ir.Icecast()
    rig = q.Rig()
    procs = []
    try:
        for codec, mount in (('opus', '/browser.ogg'), ('mp3', '/browser.mp3')):
            t = tx(rig, ice, mount, codec, name='tx-' + codec)
            procs.append(t)
            check(ice.wait_mount(mount, 20) is not None,
                  '%s: the mount is up' % codec)
            # something to hear, so that Opus is not all silence
            player = subprocess.Popen(q.play_argv(rig.signal),
                                      stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
            try:
                rep = browser_plays(ice, mount, 12.0)
            finally:
                player.kill()
                player.wait()
            q.stop(t)
            times = [r[1] for r in rep]
            print('      %s: %d reports, currentTime %s' % (
                codec, len(rep), ['%.1f' % x for x in times[::4]]))
            advanced = (max(times) - min(times)) if times else 0.0
            check(len(rep) >= 5 and advanced >= 3.0,
                  '%s: Chromium plays http://HOST:PORT%s in <audio>: its '
                  'currentTime advanced %.1f s' % (codec, mount, advanced))
            check(all(r[3] == 0 for r in rep),
                  '%s: the element reported no error' % codec)
            check(all(b >= a for a, b in zip(times, times[1:])),
                  '%s: currentTime never went back' % codec)
    finally:
        for p in procs:
            q.stop(p)
        rig.close()
        ice.close()


# ------------------------------------------------------------------ relay --

def case_relay():
    need()
    first = ir.Icecast()
    second = None
    rig = q.Rig()
    mount = '/relayed.mp3'
    t = None
    try:
        t = tx(rig, first, mount, 'mp3')
        check(first.wait_mount(mount, 20) is not None,
              'the first Icecast has the mount')
        second = ir.Icecast(relay_of=(first.port, mount))
        back = second.wait_mount(mount, 20)
        check(back is not None, 'the second Icecast relays it (after %s s)'
              % back)
        data, status = ir.read_stream(second.url(mount), 5.0)
        frames = ir.mp3_frames(data)
        check(status == 200 and frames >= 50,
              'a listener of the relay receives mp3 (HTTP %s, %d bytes, %d '
              'frames in a row)' % (status, len(data), frames))
        src = first.source(mount) or {}
        check(int(src.get('listeners', 0) or 0) >= 1,
              'the first Icecast counts the relay as a listener')
        if failures:
            print(first.log())
            print(second.log())
    finally:
        if t is not None:
            q.stop(t)
        rig.close()
        first.close()
        if second:
            second.close()


# -------------------------------------------------------------- print-run --

def case_print_run():
    """What --print shows with --icecast runs in gst-launch-1.0 and
    publishes: the tee and shout2send in one line."""
    import shlex
    need()
    ice = ir.Icecast()
    rig = q.Rig()
    try:
        for codec, mount in (('mp3', '/printed.mp3'), ('opus', '/printed.ogg')):
            r = subprocess.run([LAUNCH, '-m', '1', '-c', codec, '-d', 'play',
                                '-p', str(q.free_port()), '--icecast',
                                ice.source_url(mount), '--print'],
                               capture_output=True, text=True, timeout=30,
                               env=q.launch_env())
            check(r.returncode == 0 and 'shout2send' in r.stdout
                  and 'tee name=icecast_tee' in r.stdout,
                  '%s: --print shows the tee and shout2send (%r)'
                  % (codec, r.stdout))
            p = rig.spawn([q.gst_launch(), '-e'] + shlex.split(r.stdout),
                          'gst-' + codec)
            try:
                up = ice.wait_mount(mount, 20)
                check(up is not None, '%s: gst-launch-1.0 of --print '
                      'publishes %s' % (codec, mount))
                data, status = ir.read_stream(ice.url(mount), 3.0)
                if codec == 'mp3':
                    got = ir.mp3_frames(data) >= 50
                else:
                    got = data[:4] == b'OggS' and b'OpusHead' in data[:200]
                check(status == 200 and got, '%s: a listener receives it '
                      '(HTTP %s, %d bytes)' % (codec, status, len(data)))
            finally:
                q.stop(p)
            if failures:
                print(q.read_log(p)[-2000:])
    finally:
        rig.close()
        ice.close()


# ------------------------------------------------------------- mount-busy --

def case_mount_busy():
    need()
    ice = ir.Icecast()
    rig = q.Rig()
    mount = '/busy.mp3'
    other = t = None
    try:
        other = rig.spawn([q.gst_launch(), '-q', 'audiotestsrc',
                           'is-live=true', '!', 'lamemp3enc', '!',
                           'shout2send', 'port=%d' % ice.port,
                           'password=' + ice.password, 'mount=' + mount],
                          'other-source')
        check(ice.wait_mount(mount, 20) is not None,
              'another source publishes %s' % mount)
        t = tx(rig, ice, mount, 'mp3')
        end = time.monotonic() + 12
        while time.monotonic() < end and \
                'taken by another source' not in q.read_log(t):
            time.sleep(0.2)
        time.sleep(6)       # a status summary and a few retries later
        log = q.read_log(t)
        said = [line for line in log.splitlines()
                if 'taken by another source' in line]
        check(len(said) == 1, 'the transmitter says the mount may be taken, '
              'once (%r)' % said)
        check('icecast live' not in log and 'publishing at' not in log,
              'it never claims the mount')
        check('icecast refused the password, retrying' in log,
              'its status line says it retries')
        src = ice.source(mount) or {}
        check(bool(src) and
              not src.get('server_name', '').startswith('qsound on'),
              'the other source keeps the mount (%r)'
              % src.get('server_name'))
        if failures:
            print(log[-3000:])
    finally:
        for p in (t, other):
            if p is not None:
                q.stop(p)
        rig.close()
        ice.close()


# --------------------------------------------------------------- no-shout --

def case_no_shout():
    """Without shout2send (the Windows zip has none): one sentence, and the
    framed receiver hears every burst."""
    import glob
    import tempfile
    need()
    r = subprocess.run(['pkg-config', '--variable=pluginsdir',
                        'gstreamer-1.0'], capture_output=True, text=True)
    sysdir = r.stdout.strip() or '/usr/lib/x86_64-linux-gnu/gstreamer-1.0'
    plugins = tempfile.mkdtemp(prefix='qsound-noshout-')
    for f in glob.glob(os.path.join(sysdir, '*.so')):
        if 'shout' not in os.path.basename(f):
            os.symlink(f, os.path.join(plugins, os.path.basename(f)))
    env = q.launch_env()
    env['GST_PLUGIN_SYSTEM_PATH_1_0'] = plugins
    env['GST_REGISTRY_1_0'] = os.path.join(plugins, 'registry.bin')
    r = subprocess.run(['gst-inspect-1.0', 'shout2send'], env=env,
                       capture_output=True, text=True)
    check(r.returncode != 0, 'shout2send is gone from this plugin path')
    rig = q.Rig()
    try:
        res = rig.measure('no-shout', q.qsound_pair(
            LAUNCH, 1, 'mp3', env=env,
            extra=['--icecast', 'icecast://source:pw@127.0.0.1:%d/x.mp3'
                   % q.free_port()]), ready=q.both_connected, settle_s=2.0)
        n = len(failures)
        judge_delivery('framed path without shout2send', res, rig)
        txlog = [t for p, t in res.logs.items()
                 if os.path.basename(p) == 'm1.log']
        txlog = txlog[0] if txlog else ''
        said = [line for line in txlog.splitlines()
                if 'icecast: cannot publish' in line]
        check(len(said) == 1 and 'shout2send' in said[0]
              and said[0].endswith('.'),
              'one sentence naming shout2send, once (%r)' % said)
        check('icecast unavailable' in txlog,
              'the status line says Icecast is unavailable')
        if len(failures) != n:
            dump_logs(res)
    finally:
        rig.close()
        shutil.rmtree(plugins, ignore_errors=True)


CASES = {
    'listen': lambda: case_listen('mp3'),
    'listen-opus': lambda: case_listen('opus'),
    'listen-pcm': lambda: case_listen('pcm'),
    'source-info': case_source_info,
    'listeners': case_listeners,
    'restart': case_restart,
    'wrong-password': case_wrong_password,
    'browser': case_browser,
    'relay': case_relay,
    'print-run': case_print_run,
    'no-shout': case_no_shout,
    'mount-busy': case_mount_busy,
}


def main():
    global LAUNCH
    if len(sys.argv) != 3 or sys.argv[1] not in CASES:
        print(__doc__)
        return 2
    LAUNCH = sys.argv[2]
    CASES[sys.argv[1]]()
    if failures:
        print('%d check(s) failed' % len(failures))
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
