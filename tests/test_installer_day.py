"""An installer's day, end to end, against a virtual board driven by stock mpremote's transport:
the door directory, a factory image, boot, the clock, calibration, a card enrolled on the desk reader
(the PN532 emulator on a pty, read by the Adafruit client), the keys pushed, the card tapped at the
door, the door opened and closed, the auto-lock, a PIN, the log pulled into the local history; then a
power cut in the middle of a key push, after which the board holds the old or the new key list,
whole. Every step is a `doorkit` command run as a subprocess, as an installer types it."""
import os
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import fakefw  # noqa: E402

from doorkit.vboard_client import Control  # noqa: E402
from conftest import wait_for

BIN = os.path.dirname(sys.executable)
DOORKIT = os.path.join(BIN, "doorkit")


def dk(*args, check=True, timeout=180):
    p = subprocess.run([DOORKIT] + [str(a) for a in args], capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    if check and p.returncode != 0:
        raise AssertionError("doorkit %s -> %d\n%s%s" % (" ".join(map(str, args)), p.returncode, p.stdout, p.stderr))
    return p



@pytest.fixture
def vboard(tmp_path):
    """`doorkit vboard` in the foreground of a subprocess, flashed with the factory image."""
    procs = []

    def start(factory):
        p = subprocess.Popen([DOORKIT, "vboard", "--listen", "127.0.0.1:0", "--control", "127.0.0.1:0",
                              "--factory", str(factory), "--image", str(tmp_path / "flash.img")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
        procs.append(p)
        line = p.stdout.readline()  # vboard: serial socket://H:P  control H:P  flash ...
        assert line.startswith("vboard: serial socket://"), line + p.stderr.read()
        f = line.split()
        return f[2], f[4]
    yield start
    for p in procs:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()


def events(door, csv_path):
    """The history as (event, detail, who) rows without the BOOT records (how many boots a day has
    depends on how many times the host talked to the board)."""
    dk("logs", "export", "--door", door, "--csv", csv_path, "--utc-offset", "+09:00")
    import csv
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    return [(r["event"], r["detail"], r["who"]) for r in rows if r["event"] != "BOOT"], rows


def test_an_installers_day(tmp_path, vboard):
    door = tmp_path / "front"
    dk("provision", "new", door, "--door-id", "front", "--name", "Front door")
    dk("provision", "set", door, "--auto-lock", "on", "--auto-lock-delay", "3s", "--utc-offset", "+09:00")
    dk("keys", "user", "add", door, "E1", "--name", "Aiko Owner")
    dk("keys", "add", door, "E1", "--pin", "4711")
    (tmp_path / "fw.bin").write_bytes(fakefw.combined())
    dk("image", "--plan", "4M", "--firmware", tmp_path / "fw.bin", "--door", door, "--out", tmp_path / "front.bin")

    port, control = vboard(tmp_path / "front.bin")
    vb = Control(control)
    dk("clock", "set", "--port", port, "--time", "2026-12-02T09:00:00+09:00")
    dk("calibrate", "--port", port)

    from doorkit.sim import pn532 as E
    from doorkit.sim.pn532_pty import PtyServer
    desk = PtyServer()
    desk.start()
    try:
        desk.emu.enter(E.mifare_classic())
        out = dk("enroll", door, "--reader", desk.path, "--user", "E1", "--timeout", "20").stdout
    finally:
        desk.stop()
    assert out == "iso14443a DEADBEEF enrolled for E1\n"
    # the same card again: refused, naming its owner
    again = PtyServer()
    again.start()
    try:
        again.emu.enter(E.mifare_classic())
        p = dk("enroll", door, "--reader", again.path, "--user", "E1", "--timeout", "20", check=False)
    finally:
        again.stop()
    assert p.returncode == 7 and "E1" in p.stderr and p.stderr.count("\n") == 1

    dk("keys", "push", door, "--port", port)

    def locked():
        st = vb.status()
        return not st["motor_running"] and st["angle"] <= 15 and st

    def unlocked():
        st = vb.status()
        return not st["motor_running"] and st["angle"] >= 75 and st

    wait_for(lambda: vb.status()["state"] == "running", "the board to run")
    time.sleep(2)  # (main.py starts: the App takes its boot state)
    vb.tap("mifare")
    wait_for(unlocked, "the card to unlock the door", show=vb.status)
    assert vb.door("open")["door_open"]
    vb.advance(1500)  # someone walks through
    assert not vb.door("close")["door_open"]
    vb.advance(4000)  # past the auto-lock delay, skipped
    wait_for(locked, "the auto-lock")
    vb.keypad("4711#")
    wait_for(unlocked, "the PIN to unlock the door")
    vb.advance(11000)  # nobody opens the door: it locks again after relock_ms
    wait_for(locked, "the relock")

    dk("logs", "pull", "--port", port, "--door", door, "--door-id", "front")
    got, rows = events(door, tmp_path / "day.csv")
    assert got == [
        ("CLOCK_SET", "2026-12-02T00:00:00Z@0", ""),  # (the RTC keeps UTC)
        ("CALIBRATED", "800,3500", ""),  # the world's end stops, in sensor counts
        ("BUNDLE", "v2 2", ""),  # key list version 2 (the image had version 1), the card and the PIN
        ("UNLOCK", "iso14443a", "E1 (Aiko Owner)"),
        ("DOOR_OPEN", "", ""),
        ("DOOR_CLOSE", "", ""),
        ("LOCK", "auto", ""),
        ("UNLOCK", "pin", "E1 (Aiko Owner)"),
        ("LOCK", "relock", ""),  # nobody opened the door after the PIN
    ], got
    times = [r["time"] for r in rows]
    assert times == sorted(times) and all(t.startswith("2026-12-02T09:0") for t in times), times
    # pulling again stores nothing twice: what was there stays, only the boots since come on top
    dk("logs", "pull", "--port", port, "--door", door, "--door-id", "front")
    rows2 = events(door, tmp_path / "day2.csv")[1]
    assert rows2[:len(rows)] == rows and all(r["event"] == "BOOT" for r in rows2[len(rows):])
    seqs = [int(r["seq"]) for r in rows2]
    assert seqs == sorted(set(seqs))

    # a power cut in the middle of a key push: the board keeps one whole key list, the old or the
    # new. A push of 400 more credentials is measured (the bytes it sends the board), then each
    # further push is cut at a point of its conversation: in the status call, during the bundle's
    # transfer, and just after the install call went out (the board installing, or done)
    dk("keys", "import", door, _hr_csv(tmp_path, 400, 0))
    before = _board_keys(port)
    sent = vb.status()["input_bytes"]
    dk("keys", "push", door, "--port", port)
    total = vb.status()["input_bytes"] - sent
    assert _board_keys(port)["keys_count"] == before["keys_count"] + 400
    cut_inside = 0
    for n, (at, delay_ms) in enumerate(((0.02, 0), (0.3, 0), (0.7, 0), (1.0, 5), (1.0, 60)), 1):
        dk("keys", "import", door, _hr_csv(tmp_path, 400, n))
        before = _board_keys(port)
        vb.power_cut(after_bytes=int(total * at) - 1, delay_ms=delay_ms)  # (counted from the push's first byte)
        push = subprocess.Popen([DOORKIT, "keys", "push", str(door), "--port", port], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
        out, err = push.communicate(timeout=120)
        after = _board_keys(port)
        old = (before["keys_version"], before["keys_count"])
        new = (before["keys_version"] + 1, before["keys_count"] + 400)
        assert (after["keys_version"], after["keys_count"]) in (old, new), (at, before, after, err)
        if at < 1.0:
            assert after["keys_count"] == old[1], (at, after)  # the bundle never reached the board whole
        if push.returncode != 0:
            cut_inside += 1
            assert push.returncode == 4 and err.count("\n") == 1, err  # one line: the board went away
            dk("keys", "push", door, "--port", port)  # again: now it goes in
            assert (_board_keys(port)["keys_count"]) == new[1]
    assert cut_inside >= 3, "the cuts inside the transfer did not make the push fail"
    # after all that the card still opens the door
    wait_for(lambda: vb.status()["state"] == "running", "the board to run")
    time.sleep(2)
    vb.tap("mifare")
    wait_for(unlocked, "the card to unlock the door after the power cuts")


def _hr_csv(tmp_path, n, batch):
    path = tmp_path / ("hr%d.csv" % batch)
    lines = ["user_code,name,cards"]
    for i in range(batch * n, (batch + 1) * n):
        lines.append("H%05d,Person %d,%08X" % (i, i, 0x20000000 + i))
    path.write_text("\n".join(lines) + "\n")
    return path


def _board_keys(port):
    from doorkit.link import open_link
    with open_link(port, timeout=30) as ln:
        return ln.call("status")
