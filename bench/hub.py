"""The hub and the fleet side over a real broker: an offline backlog uploaded after reconnect, many
doors publishing at once, and the remote command round trip.

    .venv/bin/python bench/hub.py [--broker amqtt|mosquitto] [--backlog 50000] [--doors 100]
                                  [--seconds 20] [--commands 50]

Doors are sim/netdoor.py NetDoors (the firmware's App on a virtual door, the firmware's hub task,
unmodified, on real sockets) in this process, one asyncio loop; the collector (doorkit.fleet, SQLite
in a temporary file) runs in its own process, the broker in its own (doorkit.broker).
  backlog   one door with N records on its flash, taken offline, connects: time until the
            collector has acknowledged every one; then the database is compared with the flash,
            record by record (lost / duplicated / different must all be 0)
  doors     N doors, each letting someone out (button, door open, close, auto-lock: 4 records)
            every 2 s of virtual time for --seconds of real time; events/s stored end to end, the
            lag from the end of the traffic to the last record acknowledged, the broker's and the
            collector's resident memory
  commands  signed status commands to one door, one at a time: round trip from publish to result
Prints one `RESULT {json}` line."""
import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "host"))
import doorkit  # noqa: E402,F401
import psutil  # noqa: E402  (installed with amqtt)
from doorkit.broker import Broker  # noqa: E402
from doorkit.fleet import FleetDB, Remote  # noqa: E402
from lockctl.codes import OP_STATUS  # noqa: E402
from doorkit.sim.netdoor import NetDoor, door_secret  # noqa: E402

COLLECTOR = r"""
import sys, time, json
sys.path.insert(0, %r)
import doorkit
from doorkit.fleet import Collector, FleetDB
from doorkit.sim.netdoor import door_secret
ids = json.loads(sys.argv[1])
db = FleetDB(sys.argv[2])
c = Collector(db, {d: door_secret(d) for d in ids}, "127.0.0.1", int(sys.argv[3])).start()
print("ready", flush=True)
sys.stdin.read()
c.stop()
"""


class Fleet:
    """Doors in one asyncio loop in a thread."""

    def __init__(self, doors):
        self.doors = doors
        self.loop = asyncio.new_event_loop()
        self.t = threading.Thread(target=self.loop.run_until_complete, args=(self._all(),), daemon=True)
        self.t.start()

    async def _all(self):
        await asyncio.gather(*(d.run() for d in self.doors))
        for t in asyncio.all_tasks():  # (the hubs' reader tasks of connections still open)
            if t is not asyncio.current_task():
                t.cancel()
        await asyncio.sleep(0)

    def call(self, fn):
        done = threading.Event()
        out = []
        self.loop.call_soon_threadsafe(lambda: (out.append(fn()), done.set()))
        done.wait(600)
        return out[0] if out else None

    def stop(self):
        for d in self.doors:
            d.stop()
        self.t.join(60)


def collector(ids, db, port):
    p = subprocess.Popen([sys.executable, "-c", COLLECTOR % ROOT, json.dumps(ids), db, str(port)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert p.stdout.readline().strip() == "ready"
    return p


def wait(pred, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


def rss_mb(pid):
    p = psutil.Process(pid)
    return round(sum(x.memory_info().rss for x in [p] + p.children(recursive=True)) / 2 ** 20, 1)


def bench_backlog(b, n, tmp):
    d = NetDoor("backlog", b.host, b.port, keepalive=30)
    t = time.perf_counter()
    d.backlog(n)
    fill_s = time.perf_counter() - t
    dbp = os.path.join(tmp, "backlog.sqlite")
    col = collector(["backlog"], dbp, b.port)
    fleet = Fleet([d])
    t = time.perf_counter()
    ok = wait(lambda: d.hub.pending() == 0 and d.log.cursor >= n, 1800)
    up_s = time.perf_counter() - t
    fleet.stop()
    col.stdin.close()
    col.wait(60)
    db = FleetDB(dbp)
    got = db.records("backlog")
    db.close()
    want = list(d.log.records(1))
    seqs = [r[0] for r in got]
    lost = len(set(r[0] for r in want) - set(seqs))
    dup = len(seqs) - len(set(seqs))
    diff = sum(1 for a, w in zip(got, want) if a[:1] + a[2:] != w[:1] + w[2:])
    return {"records": n, "on_flash": len(want), "stored": len(got), "lost": lost, "duplicated": dup,
            "different": diff, "upload_s": round(up_s, 2), "records_per_s": round(n / up_s) if up_s else None,
            "connects": d.hub.connects, "fill_s": round(fill_s, 2), "complete": ok}


def bench_doors(b, n, seconds, tmp):
    ids = ["door%03d" % i for i in range(n)]
    doors = [NetDoor(i, b.host, b.port, keepalive=30, seed=k) for k, i in enumerate(ids)]
    dbp = os.path.join(tmp, "doors.sqlite")
    col = collector(ids, dbp, b.port)
    fleet = Fleet(doors)
    ok = wait(lambda: all(d.hub.status == 7 for d in doors), 120)
    base = sum(d.log.next_seq - 1 for d in doors)
    wait(lambda: all(d.hub.pending() == 0 for d in doors), 120)

    def traffic():
        for d in doors:
            d.door.press_button()
            d.door.advance(300)
            d.door.open_door()
            d.door.advance(700)
            d.door.close_door()
            d.door.advance(1000)
    t0 = time.perf_counter()
    rounds = 0
    while time.perf_counter() - t0 < seconds:
        fleet.call(traffic)
        rounds += 1
        time.sleep(0.01)  # (the hubs run between rounds)
    gen_s = time.perf_counter() - t0
    made = sum(d.log.next_seq - 1 for d in doors) - base
    t1 = time.perf_counter()
    drained = wait(lambda: all(d.hub.pending() == 0 for d in doors), 600)
    lag_s = time.perf_counter() - t1
    total_s = time.perf_counter() - t0
    mem = {"broker_rss_mb": rss_mb(b.proc.pid), "collector_rss_mb": rss_mb(col.pid)}
    fleet.stop()
    col.stdin.close()
    col.wait(60)
    db = FleetDB(dbp)
    stored = db.count() - base
    exact = all([r[0] for r in db.records(d.door_id)] == [r[0] for r in d.log.records(1)] for d in doors)
    db.close()
    return dict({"doors": n, "online": ok, "rounds": rounds, "events": made, "stored": stored, "exact": exact,
                 "traffic_s": round(gen_s, 2), "events_per_s": round(stored / total_s), "drain_lag_s": round(lag_s, 2),
                 "drained": drained}, **mem)


def bench_commands(b, k, tmp):
    d = NetDoor("cmd", b.host, b.port, keepalive=30)
    fleet = Fleet([d])
    wait(lambda: d.hub.status == 7, 60)
    n = [0]

    def counter(at_least=0):
        n[0] = max(n[0], at_least) + 1
        return n[0]
    rem = Remote("cmd", door_secret("cmd"), counter, b.host, b.port)
    times = []
    try:
        for _ in range(k):
            t = time.perf_counter()
            r = rem.send(OP_STATUS, timeout=30)
            times.append(time.perf_counter() - t)
            assert r["ok"], r
    finally:
        rem.close()
        fleet.stop()
    times.sort()
    return {"commands": k, "median_ms": round(statistics.median(times) * 1000, 1),
            "p95_ms": round(times[int(len(times) * 0.95) - 1] * 1000, 1), "max_ms": round(times[-1] * 1000, 1)}


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--broker", default="amqtt", choices=("amqtt", "mosquitto"))
    ap.add_argument("--backlog", type=int, default=50000)
    ap.add_argument("--doors", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--commands", type=int, default=50)
    a = ap.parse_args(argv)
    res = {"broker": a.broker}
    with tempfile.TemporaryDirectory(prefix="doorkit-bench-hub-") as tmp, Broker(a.broker) as b:
        res["backlog"] = bench_backlog(b, a.backlog, tmp)
        print("backlog: %s" % res["backlog"], flush=True)
        res["doors"] = bench_doors(b, a.doors, a.seconds, tmp)
        print("doors: %s" % res["doors"], flush=True)
        res["commands"] = bench_commands(b, a.commands, tmp)
        print("commands: %s" % res["commands"], flush=True)
    print("RESULT " + json.dumps(res))


if __name__ == "__main__":
    main()
