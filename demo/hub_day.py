"""`make demo-hub`: the hub on a virtual board, command by command (docs/network.md): a broker, two
doors with their network settings, the fleet collector, a remote unlock, someone letting
themselves out, and the history arriving in the fleet's database. Every step is a real `doorkit`
command; the broker is amqtt (embedded), the boards `doorkit vboard --image A --image B`.

    .venv/bin/python demo/hub_day.py [--keep DIR]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from installer_day import DOORKIT, dk, say, wait  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep", metavar="DIR", help="work in DIR (kept afterwards) instead of a temporary directory")
    a = ap.parse_args(argv)
    work = a.keep or tempfile.mkdtemp(prefix="doorkit-hub-")
    doors = os.path.join(work, "doors")
    os.makedirs(doors, exist_ok=True)
    t0 = time.monotonic()
    from doorkit.broker import Broker, free_port
    from doorkit.vboard_client import Control
    procs = []
    with Broker("amqtt") as b:
        broker = "%s:%d" % (b.host, b.port)
        say("Two doors, each with the hub's link to the broker at %s" % broker)
        for d in ("front", "back"):
            path = os.path.join(doors, d)
            if not os.path.exists(path):
                dk("provision", "new", path, "--door-id", d, "--name", d.title() + " door")
                dk("keys", "user", "add", path, "E1", "--name", "Aiko Owner")
                dk("keys", "user", "add", path, "E2", "--name", "Ben Guest")
            dk("provision", "network", path, "--broker", broker, "--keepalive", "10")
            dk("image", "--format", "raw", "--door", path, "--out", os.path.join(work, d + ".img"))
        base = free_port()
        say("Two virtual boards (serial %d and %d) and the fleet collector" % (base, base + 2))
        print("$ doorkit vboard --listen 127.0.0.1:%d --image front.img --image back.img" % base)
        procs.append(subprocess.Popen([DOORKIT, "vboard", "--listen", "127.0.0.1:%d" % base, "-q",
                                       "--image", os.path.join(work, "front.img"),
                                       "--image", os.path.join(work, "back.img")],
                                      stdout=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL))
        for _ in range(2):
            print("  " + procs[0].stdout.readline().rstrip())
        db = os.path.join(work, "fleet.sqlite")
        print("$ doorkit fleet serve --doors doors --broker %s --db fleet.sqlite" % broker)
        procs.append(subprocess.Popen([DOORKIT, "fleet", "serve", "--doors", doors, "--broker", broker, "--db", db],
                                      stdout=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL))
        print("  " + procs[1].stdout.readline().rstrip())
        try:
            for d, port in (("front", base), ("back", base + 2)):
                dk("calibrate", "--port", "socket://127.0.0.1:%d" % port)
            say("The clocks from this laptop's, over the broker (signed commands)")
            for d in ("front", "back"):
                wait(lambda d=d: dk("remote", "clock", os.path.join(doors, d), "--broker", broker, "--timeout", "5",
                                    show=False).returncode == 0, 90)
                print("$ doorkit remote clock doors/%s --broker %s\n  door %s: clock done" % (d, broker, d))
            say("Ben is locked out at the front door: a remote unlock for him")
            dk("remote", "unlock", os.path.join(doors, "front"), "--broker", broker, "--user", "E2")
            say("At the back door someone lets themselves out (button, door open and closed, auto-lock)")
            ctl = Control("127.0.0.1:%d" % (base + 3))
            ctl.button()
            ctl.advance(2000)
            ctl.door("open")
            ctl.advance(3000)
            ctl.door("close")
            ctl.advance(5000)
            time.sleep(3)  # (the hub uploads, the collector commits and acknowledges)
            say("The fleet's history: every record of both doors, as they arrived")
            dk("history", "--db", db, "--doors", doors, "--kind", "UNLOCK,LOCK,DOOR_OPEN,DOOR_CLOSE,COMMAND")
            dk("history", "--db", db, "--doors", doors, "--user", "E2", "--csv", os.path.join(work, "ben.csv"))
        finally:
            for p in procs:
                p.terminate()
                p.wait(30)
    print("\ndemo: done in %.0f s (files in %s)" % (time.monotonic() - t0, work))


if __name__ == "__main__":
    main()
