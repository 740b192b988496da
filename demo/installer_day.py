"""`make demo-day`: an installer's day on a virtual board, command by command (docs/installer-guide.md
walks the same day on a real board). Every step is a real `doorkit` command; the board is
`doorkit vboard` flashed with the factory image, the desk reader a PN532 emulator on a pty.

    .venv/bin/python demo/installer_day.py [--keep DIR]
"""
import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
DOORKIT = os.path.join(os.path.dirname(sys.executable), "doorkit")


def say(text):
    print("\n# " + text, flush=True)


def dk(*args, show=True):
    argv = [str(a) for a in args]
    if show:
        print("$ doorkit " + " ".join(shlex.quote(a) for a in argv), flush=True)
    p = subprocess.run([DOORKIT] + argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    out = (p.stdout + p.stderr).rstrip()
    if out and show:
        print("  " + out.replace("\n", "\n  "), flush=True)
    if p.returncode not in (0, 7):
        raise SystemExit("demo: doorkit %s failed (exit %d)" % (argv[0], p.returncode))
    return p


def wait(pred, timeout=60):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.1)
    raise SystemExit("demo: the board did not get there in %d s" % timeout)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep", metavar="DIR", help="work in DIR (kept afterwards) instead of a temporary directory")
    a = ap.parse_args(argv)
    work = a.keep or tempfile.mkdtemp(prefix="doorkit-day-")
    os.makedirs(work, exist_ok=True)
    door = os.path.join(work, "front")
    t0 = time.monotonic()
    import fakefw
    from doorkit.sim import pn532 as E
    from doorkit.sim.pn532_pty import PtyServer
    from doorkit.vboard_client import Control

    say("At the desk: a door directory (back it up: it holds the door's secret)")
    dk("provision", "new", door, "--door-id", "front", "--name", "Front door", "--site", "HQ")
    dk("provision", "set", door, "--auto-lock", "on", "--auto-lock-delay", "3s", "--utc-offset", "+09:00")
    dk("keys", "user", "add", door, "E1", "--name", "Aiko Owner")
    dk("keys", "add", door, "E1", "--pin", "4711")
    say("The factory image (MicroPython + doorkit + this door), one write on the production line")
    fw = os.path.join(work, "micropython.bin")
    with open(fw, "wb") as f:
        f.write(fakefw.combined())  # (a stand-in for micropython.org's ESP32_GENERIC .bin)
    dk("image", "--plan", "4M", "--firmware", fw, "--door", door, "--out", os.path.join(work, "front.bin"))

    say("The board: a virtual one, flashed with that image (doorkit vboard --factory front.bin)")
    vb = subprocess.Popen([DOORKIT, "vboard", "--listen", "127.0.0.1:0", "--control", "127.0.0.1:0", "-q",
                           "--factory", os.path.join(work, "front.bin"), "--image", os.path.join(work, "flash.img")],
                          stdout=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    try:
        line = vb.stdout.readline().strip()
        print("  " + line)
        f = line.split()
        port, ctl = f[2], f[4]
        c = Control(ctl)
        say("On site: set the clock, calibrate the thumb-turn")
        dk("clock", "set", "--port", port, "--time", "2026-12-02T09:00:00+09:00")
        dk("calibrate", "--port", port)
        say("Enrol a card on the desk reader, then push the keys to the door")
        desk = PtyServer()
        desk.start()
        try:
            desk.emu.enter(E.mifare_classic())
            dk("enroll", door, "--reader", desk.path, "--user", "E1", "--timeout", "20")
            dk("enroll", door, "--reader", desk.path, "--user", "E1", "--timeout", "20")
        finally:
            desk.stop()
        dk("keys", "push", door, "--port", port)
        wait(lambda: c.status()["state"] == "running")
        time.sleep(2)
        say("At the door: the card, the door, the auto-lock, a PIN (doorkit vboard tap/door/keypad)")
        dk("vboard", "tap", "mifare", "--control", ctl, show=True)
        wait(lambda: c.status()["angle"] >= 75 and not c.status()["motor_running"])
        dk("vboard", "door", "open", "--control", ctl)
        dk("vboard", "advance", "1500", "--control", ctl)
        dk("vboard", "door", "close", "--control", ctl)
        dk("vboard", "advance", "4s", "--control", ctl)
        wait(lambda: c.status()["angle"] <= 15 and not c.status()["motor_running"])
        dk("vboard", "keypad", "4711#", "--control", ctl)
        wait(lambda: c.status()["angle"] >= 75 and not c.status()["motor_running"])
        dk("vboard", "advance", "11s", "--control", ctl)
        wait(lambda: c.status()["angle"] <= 15 and not c.status()["motor_running"])
        say("Back at the laptop: the door's log into the local history")
        dk("logs", "pull", "--port", port, "--door", door)
        dk("logs", "show", "--door", door, "--utc-offset", "+09:00")
    finally:
        vb.terminate()
        vb.wait(10)
    print("\n# the day took %.0f s (work directory %s)" % (time.monotonic() - t0, work))


if __name__ == "__main__":
    main()
