#!/usr/bin/env python3
# qsound — a delaying TCP proxy for the jitter tests (this kernel has no netem).
#
# Copyright (C) 2026 The qsound authors
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Listens on 127.0.0.1 (port 0 by default; the real port is printed as
# "PORT <n>" on stdout), and for each client connects to --target-port.
# Everything the target sends is held --delay-ms +- --jitter-ms (uniform,
# order kept) before it is passed on; with --stall-every S, everything that
# arrives in the first --stall-ms of every S seconds is held until that stall
# ends ("STALL <t>" is printed when one starts).  The other direction passes
# straight through, or with --both-ways is held --delay-ms +- --jitter-ms too
# (drawn apart; no stalls), as a link whose delay is the same both ways on
# average: what clock synchronisation over the link (NTP's, qsound's timed
# heartbeats) assumes.  With --wander-ms T the jitter is not drawn afresh
# for each piece but wanders, as a queue that fills and drains does: each
# way heads for a new point drawn in +- --jitter-ms every T ms, in a
# straight line.  Drawn afresh with the order kept, each piece of a dense
# stream waits for the latest of the pieces before it, so its least delay
# is near the most (+9 ms at +-10 for 1 ms pieces) while a sparse stream
# the other way keeps its least: a link slower one way than the other,
# which no clock synchronisation can tell from a clock offset (half the
# difference).  Runs until killed.
import argparse
import collections
import random
import socket
import sys
import threading
import time


def pump_straight(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    for s in (dst, src):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class Wander:
    """A jitter that heads for a new point in +- ``jitter_ms`` every
    ``wander_ms``, in a straight line (ms at time.monotonic() s)."""

    def __init__(self, jitter_ms, wander_ms):
        self.jitter = jitter_ms
        self.step = wander_ms / 1000.0
        self.t = time.monotonic()
        self.a = random.uniform(-jitter_ms, jitter_ms)
        self.b = random.uniform(-jitter_ms, jitter_ms)

    def at(self, now):
        while now >= self.t + self.step:
            self.t += self.step
            self.a, self.b = self.b, random.uniform(-self.jitter, self.jitter)
        return self.a + (self.b - self.a) * (now - self.t) / self.step


def pump_delayed(src, dst, args, t0, stalls=True):
    wander = Wander(args.jitter_ms, args.wander_ms) if args.wander_ms > 0 \
        else None
    q = collections.deque()
    cv = threading.Condition()
    done = [False]

    def writer():
        while True:
            with cv:
                while not q and not done[0]:
                    cv.wait()
                if not q:
                    break
                due, data = q[0]
                now = time.monotonic()
                if now < due:
                    cv.wait(due - now)
                    continue
                q.popleft()
            try:
                dst.sendall(data)
            except OSError:
                break
        try:
            dst.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    th = threading.Thread(target=writer, daemon=True)
    th.start()
    last = 0.0
    while True:
        try:
            data = src.recv(65536)
        except OSError:
            data = b''
        if not data:
            break
        now = time.monotonic()
        jitter = wander.at(now) if wander else random.uniform(
            -args.jitter_ms, args.jitter_ms)
        due = now + (args.delay_ms + jitter) / 1000.0
        if stalls and args.stall_every > 0:
            k = int((now - t0) / args.stall_every)
            start = t0 + k * args.stall_every
            end = start + args.stall_ms / 1000.0
            if k > 0 and now < end:
                due = max(due, end)
        due = max(due, last)
        last = due
        with cv:
            q.append((due, data))
            cv.notify()
    with cv:
        done[0] = True
        cv.notify()
    th.join()


def stall_announcer(args, t0):
    k = 1
    while True:
        t = t0 + k * args.stall_every
        time.sleep(max(0.0, t - time.monotonic()))
        print("STALL %.3f" % (t - t0), flush=True)
        k += 1


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--port', type=int, default=0)
    p.add_argument('--target-port', type=int, required=True)
    p.add_argument('--delay-ms', type=float, default=20.0)
    p.add_argument('--jitter-ms', type=float, default=10.0)
    p.add_argument('--stall-ms', type=float, default=300.0)
    p.add_argument('--stall-every', type=float, default=0.0)
    p.add_argument('--both-ways', action='store_true')
    p.add_argument('--wander-ms', type=float, default=0.0)
    args = p.parse_args()

    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(('127.0.0.1', args.port))
    ls.listen(8)
    t0 = time.monotonic()
    print("PORT %d" % ls.getsockname()[1], flush=True)
    if args.stall_every > 0:
        threading.Thread(target=stall_announcer, args=(args, t0),
                         daemon=True).start()
    while True:
        client, _ = ls.accept()
        try:
            target = socket.create_connection(('127.0.0.1', args.target_port))
        except OSError:
            client.close()
            continue
        for s in (client, target):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=pump_delayed, args=(target, client, args, t0),
                         daemon=True).start()
        if args.both_ways:
            threading.Thread(target=pump_delayed,
                             args=(client, target, args, t0, False),
                             daemon=True).start()
        else:
            threading.Thread(target=pump_straight, args=(client, target),
                             daemon=True).start()


if __name__ == '__main__':
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
