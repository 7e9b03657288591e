#!/usr/bin/python3
"""The im benchmark driven by python3-slixmpp from Debian, for comparison.

Two clients in one process (one asyncio loop), like the Go side:
  throughput: alice sends N chat messages to bob as fast as she can; bob
              counts them. Reports messages/s and the process CPU per message
              (sent and received), from time.process_time().
  latency:    M sequential round trips: alice sends, bob echoes, alice waits.

Usage: slixmpp_bench.py HOST:PORT CAFILE N M  -> one JSON line on stdout.
"""
import asyncio
import json
import logging
import ssl
import statistics
import sys
import time

import slixmpp

logging.basicConfig(level=logging.ERROR)


class Client(slixmpp.ClientXMPP):
    def __init__(self, jid, password, cafile):
        super().__init__(jid, password)
        self.ssl_context = ssl.create_default_context(cafile=cafile)
        self.ready = asyncio.get_event_loop().create_future()
        self.add_event_handler("session_start", self.on_start)

    async def on_start(self, _):
        self.send_presence()
        if not self.ready.done():
            self.ready.set_result(True)


async def main():
    hostport, cafile, n, m = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    host, port = hostport.rsplit(":", 1)
    alice = Client("alice@example.test/slix", "secret1", cafile)
    bob = Client("bob@example.test/slix", "secret2", cafile)
    for c in (alice, bob):
        c.connect(address=(host, int(port)), force_starttls=True)
    await asyncio.wait_for(asyncio.gather(alice.ready, bob.ready), 30)

    loop = asyncio.get_event_loop()
    state = {"count": 0, "done": loop.create_future(), "echo": None}

    def on_bob(msg):
        body = msg["body"]
        if body.startswith("ping"):
            bob.send_message(mto=msg["from"], mbody="pong" + body[4:], mtype="chat")
            return
        state["count"] += 1
        if state["count"] == n and not state["done"].done():
            state["done"].set_result(True)

    def on_alice(msg):
        f = state["echo"]
        if f is not None and not f.done() and msg["body"].startswith("pong"):
            f.set_result(True)

    bob.add_event_handler("message", on_bob)
    alice.add_event_handler("message", on_alice)

    # Warm up, then measure throughput.
    cpu0, t0 = time.process_time(), time.perf_counter()
    to = "bob@example.test/slix"
    for i in range(n):
        alice.send_message(mto=to, mbody="message %d" % i, mtype="chat")
        if i % 100 == 99:
            await asyncio.sleep(0)
    await asyncio.wait_for(state["done"], 300)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0

    rtts = []
    for i in range(m):
        state["echo"] = loop.create_future()
        s = time.perf_counter()
        alice.send_message(mto=to, mbody="ping %d" % i, mtype="chat")
        await asyncio.wait_for(state["echo"], 30)
        rtts.append(time.perf_counter() - s)
    rtts.sort()
    print(json.dumps({
        "client": "slixmpp " + slixmpp.__version__,
        "messages": n,
        "seconds": wall,
        "msgs_per_sec": n / wall,
        "cpu_us_per_msg": cpu / n * 1e6,
        "rtt_median_ms": statistics.median(rtts) * 1e3,
        "rtt_p99_ms": rtts[min(len(rtts) - 1, int(len(rtts) * 0.99))] * 1e3,
    }))
    for c in (alice, bob):
        c.disconnect()
    await asyncio.sleep(0.2)


asyncio.get_event_loop().run_until_complete(main())
