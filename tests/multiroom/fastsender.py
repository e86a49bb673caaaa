#!/usr/bin/env python3
"""fastsender: a transmitter whose sound card and clock run fast.

Usage: fastsender.py [--ppm 1000] [--device play] [--host 127.0.0.1]
                     [--port 0]

What a transmitter on a machine whose clock runs --ppm fast (negative:
slow) sends, for the multiroom tests (tests/multiroom) and bench
(bench/multiroom.sh).  It captures --device (loopbacksrc), resamples it to
48000 * (1 + ppm/1e6) samples a second and labels that 48000, in 5 ms
chunks (as loopbacksrc reads them; 1 ms, as raw_sender has, made 1000
frames a second that the Python proxy of the tests could not pass on
evenly on a busy host) whose timestamps count samples, as a card with that clock error
makes them (tests/e2e/mixrig.py raw_sender), and serves it with
framedtcpsink (a qsound-launch -m 2 receiver connects to it).

Unlike raw_sender's gst-launch-1.0, the pipeline runs on a clock that
runs as fast: loopbacksrc's capture clock (the card's time), calibrated
(1e6 + ppm) / 1e6 as fast from the start, or, where loopbacksrc provides
no clock, a new GstSystemClock (not the process's shared one) calibrated
so.  framedtcpsink answers a receiver's timed heartbeats (protocol 2.1) with
its running time on the pipeline clock, so the sender's clock that a
receiver learns from them is the one its timestamps count: one machine
whose card and clock are both fast, as on a real transmitter.

It prints "PORT <n>" (the port framedtcpsink listens on: --port 0 lets
the system pick one) and "CLOCK <ppm>" once it plays, and runs until
SIGINT or SIGTERM, when it prints the capture's and the sink's stats and
exits 0.  Exit status 2 when the pipeline fails (the GStreamer error is
printed).  The qsound plugin is found by GST_PLUGIN_PATH (the tests' meson
environment, or build/plugins/qsound).
"""

import argparse
import signal
import sys

import gi

gi.require_version('Gst', '1.0')
from gi.repository import GLib, Gst  # noqa: E402

sys.dont_write_bytecode = True

RATE = 48000


def description(ppm, device, host, port):
    rate = int(round(RATE * (1 + ppm * 1e-6)))
    return ('loopbacksrc name=capture device=%s ! audioconvert ! '
            'audioresample ! audio/x-raw,format=S16LE,channels=2,rate=%d ! '
            'capssetter replace=false caps=audio/x-raw,rate=%d ! '
            'audiobuffersplit output-buffer-duration=5/1000 '
            'alignment-threshold=3600000000000 ! '
            'framedtcpsink name=net host=%s port=%d sync=false'
            % (device, rate, RATE, host, port))


def fast_clock(capture, ppm):
    """loopbacksrc's capture clock (the card's time), made to run
    (1e6 + ppm) / 1e6 as fast from the time of the call: the clock of a
    card that fast, so that the clock the sender answers timed heartbeats
    with keeps pace with its timestamps, as a real card's does."""
    clock = capture.provide_clock()
    if clock is None:
        # a loopbacksrc that provides no clock (before issue 13): a system
        # clock of its own, not the process's shared one
        print('fastsender: loopbacksrc provides no clock; a system clock '
              'runs fast instead', flush=True)
        clock = Gst.SystemClock(clock_type=Gst.ClockType.MONOTONIC)
    now = clock.get_internal_time()
    clock.set_calibration(now, now, 1000000 + int(round(ppm)), 1000000)
    return clock


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--ppm', type=float, default=1000.0,
                    help='how much faster the card and clock run (ppm)')
    ap.add_argument('--device', default='play',
                    help='what loopbacksrc captures (an output or input)')
    ap.add_argument('--host', default='127.0.0.1')
    ap.add_argument('--port', type=int, default=0)
    args = ap.parse_args()

    Gst.init(None)
    if Gst.ElementFactory.find('framedtcpsink') is None:
        print('fastsender: the qsound plugin is not found (set '
              'GST_PLUGIN_PATH to build/plugins/qsound)', flush=True)
        return 2
    pipeline = Gst.parse_launch(description(args.ppm, args.device,
                                            args.host, args.port))
    pipeline.use_clock(fast_clock(pipeline.get_by_name('capture'),
                                  args.ppm))
    loop = GLib.MainLoop()
    status = [0]

    def on_message(bus, msg):
        if msg.type == Gst.MessageType.ERROR:
            err, dbg = msg.parse_error()
            print('fastsender: error from %s: %s (%s)'
                  % (msg.src.get_name(), err.message, dbg), flush=True)
            status[0] = 2
            loop.quit()
        elif msg.type == Gst.MessageType.EOS:
            loop.quit()
        return True

    def on_signal():
        loop.quit()
        return GLib.SOURCE_REMOVE

    bus = pipeline.get_bus()
    bus.add_watch(GLib.PRIORITY_DEFAULT, on_message)
    for sig in (signal.SIGINT, signal.SIGTERM):
        GLib.unix_signal_add(GLib.PRIORITY_HIGH, sig, on_signal)

    net = pipeline.get_by_name('net')

    def announce():
        port = net.get_property('current-port')
        if port:
            print('PORT %d' % port, flush=True)
            print('CLOCK %+g' % args.ppm, flush=True)
            return GLib.SOURCE_REMOVE
        return GLib.SOURCE_CONTINUE

    if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
        print('fastsender: the pipeline would not start', flush=True)
        status[0] = 2
    else:
        GLib.timeout_add(20, announce)
        loop.run()
    for name in ('capture', 'net'):
        st = pipeline.get_by_name(name).get_property('stats')
        if st is not None:
            print('%s stats: %s' % (name, st.to_string()), flush=True)
    pipeline.set_state(Gst.State.NULL)
    return status[0]


if __name__ == '__main__':
    sys.exit(main())
