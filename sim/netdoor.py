"""A virtual door on the network, in CPython: sim.board.VirtualDoor (the firmware's App, drivers and
flash in virtual time) with the firmware's hub (lockshell.hub.Hub and run_hub, unmodified) on real
sockets to a real broker, in one asyncio loop. Light enough for a fleet of them in one process (the
benchmarks: many doors, long offline backlogs); the virtual board (sim/vboard) is the full-fidelity
one, a MicroPython process per door.

    d = NetDoor("front", host, port, keepalive=10)
    d.backlog(5000)                       # records taken while offline, on the door's flash
    task = asyncio.create_task(d.run())   # the hub's task: connect, upload, serve commands
    ...                                   # d.door.open_door(); d.door.advance(1000) ...
    d.stop()
"""
import asyncio
import hashlib
import random
import threading
import time

from lockctl.codes import LOG_DOOR_OPEN, LOG_DOOR_CLOSE
from lockshell.hub import Clock, Hub, run_hub
from .board import VirtualDoor


def door_secret(door_id):
    """A fleet's test secrets: one per door id (the benchmarks and tests know them all)."""
    return hashlib.sha256(b"doorkit-fleet:" + door_id.encode()).digest()


class NetDoor:
    def __init__(self, door_id, host, port, keepalive=30, prefix=b"doorkit", seed=0, clock=None, **kw):
        """clock: the door's RTC at the start (Unix s; default: the host's time now)."""
        self.door_id = door_id
        self.secret = door_secret(door_id)
        self.host = host
        self.port = port
        self.door = VirtualDoor(seed=seed, calibration="ends", clock=int(time.time()) if clock is None else clock, door_id=door_id.encode(),
                                secret=self.secret, keep_records=False, **kw)
        self.hub = Hub(self.door.app, self.door.storage, door_id.encode(), self.secret, prefix, keepalive, "sim")
        self._stop = False
        self._rand = random.Random(seed)

    @property
    def log(self):
        return self.door.storage.log

    def backlog(self, n, t0=1800000000):
        """n records appended to the door's event log as if taken while offline (door open/close,
        wall-clock stamped a second apart), through the log's public append."""
        log = self.log
        for i in range(n):
            log.append((0, LOG_DOOR_OPEN if i % 2 == 0 else LOG_DOOR_CLOSE, None, None), t0 + i, True)

    async def _sleep_ms(self, ms):
        await asyncio.sleep(ms / 1000)

    async def _connect(self):
        if self._stop:
            raise OSError("stopped")
        return await asyncio.open_connection(self.host, self.port)

    async def run(self):
        """The hub's task until stop(); meanwhile the door's virtual time follows the real time
        (its App polls, so an install commits, a motor reaches its end) in 50 ms steps."""
        clock = Clock(lambda: int(time.monotonic() * 1000), lambda a, b: a - b)
        task = asyncio.ensure_future(run_hub(self.hub, self._connect, clock, self._rand.random, self._sleep_ms))
        last = time.monotonic()
        while not self._stop:
            await asyncio.sleep(0.05)
            now = time.monotonic()
            self.door.advance(int((now - last) * 1000))
            last = now
        task.cancel()
        try:
            await task
        except (asyncio.CancelledError, Exception):
            pass

    def stop(self):
        self._stop = True


class Running:
    """A NetDoor's run() in an asyncio loop of its own thread; call(fn, *args) runs fn there (the
    door's App is not thread-safe) and returns its value."""

    def __init__(self, door):
        self.door = door
        self.loop = asyncio.new_event_loop()
        self.t = threading.Thread(target=self.loop.run_until_complete, args=(door.run(),), daemon=True)
        self.t.start()

    def call(self, fn, *a):
        """Run fn in the loop's thread (the door's App is not thread-safe) and wait for it."""
        done = threading.Event()
        out = []

        def go():
            out.append(fn(*a))
            done.set()
        self.loop.call_soon_threadsafe(go)
        done.wait(30)
        return out[0]

    def stop(self):
        self.door.stop()
        self.t.join(30)
