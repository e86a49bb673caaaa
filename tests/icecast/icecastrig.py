"""A private icecast2 for the tests and the benchmark (issue 14).

Icecast(...) writes an icecast.xml into a fresh folder (127.0.0.1, a free
port, burst-on-connect off, room for 500 listeners), starts Debian's
icecast2 on it and waits until it answers.  Icecast refuses to run as root
unless told which user to become (<changeowner>): as root the folder is
handed to nobody:nogroup and Icecast changes to them; as a user it runs as
that user.  relay_of=(port, mount) makes it relay that mount of another
Icecast on 127.0.0.1 (a <relay> block, the snippet README.md shows).

Never the system's icecast2: the Debian package's own server is left alone.
"""

import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

import qsmeasure  # tests/e2e, on the path of every user of this module

SOURCE_PASSWORD = 'qsound-src'


def icecast_binary():
    for name in ('icecast2', 'icecast'):
        path = shutil.which(name) or (
            '/usr/bin/' + name if os.path.exists('/usr/bin/' + name) else None)
        if path:
            return path
    return None


CONFIG = """<icecast>
  <location>qsound test</location>
  <admin>qsound@localhost</admin>
  <hostname>127.0.0.1</hostname>
  <limits>
    <clients>{clients}</clients>
    <sources>8</sources>
    <queue-size>524288</queue-size>
    <client-timeout>30</client-timeout>
    <header-timeout>15</header-timeout>
    <source-timeout>10</source-timeout>
    <burst-on-connect>0</burst-on-connect>
    <burst-size>0</burst-size>
  </limits>
  <authentication>
    <source-password>{password}</source-password>
    <relay-password>{password}</relay-password>
    <admin-user>admin</admin-user>
    <admin-password>{password}-admin</admin-password>
  </authentication>
  <listen-socket>
    <port>{port}</port>
    <bind-address>127.0.0.1</bind-address>
  </listen-socket>
{relay}  <fileserve>1</fileserve>
  <paths>
    <basedir>/usr/share/icecast2</basedir>
    <logdir>{dir}</logdir>
    <webroot>/usr/share/icecast2/web</webroot>
    <adminroot>/usr/share/icecast2/admin</adminroot>
    <pidfile>{dir}/icecast.pid</pidfile>
  </paths>
  <logging>
    <accesslog>access.log</accesslog>
    <errorlog>error.log</errorlog>
    <loglevel>3</loglevel>
  </logging>
  <security>
    <chroot>0</chroot>
{owner}  </security>
</icecast>
"""

RELAY = """  <relay>
    <server>127.0.0.1</server>
    <port>{port}</port>
    <mount>{mount}</mount>
    <local-mount>{mount}</local-mount>
    <on-demand>0</on-demand>
    <relay-shoutcast-metadata>0</relay-shoutcast-metadata>
  </relay>
  <master-update-interval>1</master-update-interval>
"""


class Icecast:
    def __init__(self, port=None, password=SOURCE_PASSWORD, relay_of=None,
                 clients=500):
        self.binary = icecast_binary()
        if not self.binary:
            raise RuntimeError('icecast2 is not installed (.ci/deps.sh test)')
        self.port = port or qsmeasure.free_port()
        self.password = password
        self.dir = tempfile.mkdtemp(prefix='qsound-icecast-')
        relay = ''
        if relay_of:
            relay = RELAY.format(port=relay_of[0], mount=relay_of[1])
        owner = ''
        if os.geteuid() == 0:
            # icecast will not run as root: it becomes nobody, who must be
            # able to write its logs
            owner = ('    <changeowner><user>nobody</user>'
                     '<group>nogroup</group></changeowner>\n')
            nobody = pwd.getpwnam('nobody')
            os.chown(self.dir, nobody.pw_uid, nobody.pw_gid)
        self.config = os.path.join(self.dir, 'icecast.xml')
        with open(self.config, 'w') as f:
            f.write(CONFIG.format(port=self.port, password=password,
                                  dir=self.dir, relay=relay, owner=owner,
                                  clients=clients))
        os.chmod(self.config, 0o644)
        self.proc = None
        self.start()

    def start(self, timeout=10.0):
        self.out = open(os.path.join(self.dir, 'stdout.log'), 'ab')
        self.proc = subprocess.Popen([self.binary, '-c', self.config],
                                     stdout=self.out, stderr=self.out,
                                     stdin=subprocess.DEVNULL,
                                     cwd=self.dir)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError('icecast2 exited at once (rc %s): %s'
                                   % (self.proc.returncode, self.log()))
            if self.status() is not None:
                return
            time.sleep(0.05)
        raise RuntimeError('icecast2 did not answer within %.0f s: %s'
                           % (timeout, self.log()))

    def kill(self):
        """As a crash would: SIGKILL, no goodbye to its clients."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        if getattr(self, 'out', None):
            self.out.close()
            self.out = None

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.kill()
        if getattr(self, 'out', None):
            self.out.close()
            self.out = None

    def close(self, keep=False):
        self.stop()
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def log(self):
        text = ''
        for name in ('stdout.log', 'error.log'):
            try:
                with open(os.path.join(self.dir, name), errors='replace') as f:
                    text += f.read()[-3000:]
            except OSError:
                pass
        return text

    def url(self, mount):
        return 'http://127.0.0.1:%d%s' % (self.port, mount)

    def source_url(self, mount, password=None):
        return 'icecast://source:%s@127.0.0.1:%d%s' % (
            password or self.password, self.port, mount)

    def status(self):
        """status-json.xsl as a dict, None when Icecast does not answer."""
        try:
            with urllib.request.urlopen(self.url('/status-json.xsl'),
                                        timeout=2) as r:
                return json.loads(r.read().decode('utf-8', 'replace'))
        except (OSError, ValueError):
            return None

    def source(self, mount):
        """The status of @mount's source, None when there is none."""
        st = self.status()
        if not st:
            return None
        srcs = st.get('icestats', {}).get('source')
        if isinstance(srcs, dict):
            srcs = [srcs]
        for s in srcs or []:
            url = s.get('listenurl', '')
            if url.endswith(mount) and url[:-len(mount)].count('/') == 2:
                return s
        return None

    def wait_mount(self, mount, timeout):
        """Seconds until @mount has a source, None after @timeout."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.source(mount) is not None:
                return time.monotonic() - t0
            time.sleep(0.1)
        return None


def read_stream(url, seconds, max_bytes=10 << 20, connect_timeout=5.0):
    """Bytes an HTTP listener received from @url in @seconds."""
    import http.client
    from urllib.parse import urlparse
    u = urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port,
                                      timeout=connect_timeout)
    got = bytearray()
    try:
        conn.request('GET', u.path)
        sock = conn.sock
        r = conn.getresponse()
        if r.status != 200:
            return bytes(got), r.status
        sock.settimeout(1.0)
        end = time.monotonic() + seconds
        while time.monotonic() < end and len(got) < max_bytes:
            try:
                chunk = r.read1(65536)
            except socket.timeout:
                continue
            if not chunk:
                break
            got += chunk
        return bytes(got), r.status
    finally:
        conn.close()


def mp3_frames(data):
    """How many MPEG-1 layer III frames follow each other from the first
    sync in @data (a check that a listener got mp3, not an error page)."""
    rates = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256,
             320]
    srates = [44100, 48000, 32000]
    i = 0
    while i + 4 <= len(data):
        if data[i] == 0xFF and (data[i + 1] & 0xFE) == 0xFA:
            break
        i += 1
    n = 0
    while i + 4 <= len(data):
        h = data[i:i + 4]
        if h[0] != 0xFF or (h[1] & 0xFE) != 0xFA:
            break
        br = (h[2] >> 4) & 0xF
        sr = (h[2] >> 2) & 0x3
        if br in (0, 15) or sr == 3:
            break
        size = 144000 * rates[br] // srates[sr] + ((h[2] >> 1) & 1)
        i += size
        n += 1
    return n
