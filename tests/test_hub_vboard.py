"""The hub end to end: the unmodified firmware on a virtual board (its network module over the unix
port's sockets) talks to a real broker (amqtt; mosquitto when installed); the collector
(doorkit.fleet) stores its events exactly once and acknowledges them; a signed remote clock and
unlock act on the lock and report back; the broker restarting mid-way loses nothing."""
import os
import subprocess
import sys
import time


from doorkit.fleet import Collector, FleetDB, Remote, result_signed
from doorkit.image import build_flash
from doorkit.sim.vboard.supervisor import VirtualBoard
from doorkit.vboard_client import Control
from lockctl.codes import (OP_CLOCK, OP_UNLOCK, LOG_BOOT, LOG_UNLOCK, LOG_COMMAND, LOG_LINK, LOG_CALIBRATED,
                           SRC_BUTTON, SRC_REMOTE)
from conftest import counter, wait_for

SECRET = bytes(range(32))
DOORKIT = os.path.join(os.path.dirname(sys.executable), "doorkit")



def board(tmp_path, broker, keepalive=10):
    img = tmp_path / "flash.img"
    door = {"door_id": "front", "secret": SECRET, "config": {},
            "net": {"broker": broker.host, "port": broker.port, "keepalive": keepalive}}
    img.write_bytes(build_flash("4M", None, door))
    return VirtualBoard(str(img), listen=("127.0.0.1", 0)).start()


def codes(db):
    return [r[4] for r in db.records("front")]


def test_events_arrive_once_commands_act_and_a_broker_restart_loses_nothing(tmp_path, broker):
    db = FleetDB(str(tmp_path / "fleet.sqlite"))
    col = Collector(db, {"front": SECRET}, broker.host, broker.port).start()
    vb = board(tmp_path, broker)
    try:
        wait_for(lambda: (db.state("front") or {}).get("link") == "online", "the board's state, online")
        wait_for(lambda: LOG_BOOT in codes(db) and LOG_LINK in codes(db), "the boot and link records")
        # the installer calibrates over USB (the lock's loop and its link stop meanwhile, then run again)
        p = subprocess.run([DOORKIT, "calibrate", "--port", "socket://%s:%d" % vb.listen_addr], capture_output=True,
                           text=True, timeout=180, stdin=subprocess.DEVNULL)
        assert p.returncode == 0, p.stderr
        wait_for(lambda: LOG_CALIBRATED in codes(db), "the calibration record",
                 show=lambda: (codes(db), db.state("front")))
        ctl = Control("%s:%d" % vb.control_addr)
        ctl.button()
        wait_for(lambda: any(r[4] == LOG_UNLOCK and r[5] == SRC_BUTTON for r in db.records("front")),
                 "the button's unlock record", show=lambda: (db.records("front")[-8:], db.state("front")))
        rem = Remote("front", SECRET, counter(), broker.host, broker.port)
        try:
            r = rem.send(OP_CLOCK, int(time.time()).to_bytes(4, "little"))
            assert r["ok"] is True, r
            r = rem.send(OP_UNLOCK, user=3)
            assert result_signed(SECRET, "front", r)  # (Remote takes no other; checked here all the same)
            assert {k: v for k, v in r.items() if k != "mac"} == {"counter": 2, "op": "unlock", "ok": True, "reason": 0}
        finally:
            rem.close()
        wait_for(lambda: any(r[4] == LOG_UNLOCK and r[5] == SRC_REMOTE and r[6] == 3 for r in db.records("front")),
                 "the remote unlock record")
        assert [r[5] for r in db.records("front") if r[4] == LOG_COMMAND] == [(4, 1), (2, 2)]  # clock, unlock
        # the broker goes away for a while; the lock keeps logging; everything arrives afterwards
        broker.stop()
        ctl.door("open")
        ctl.advance(1500)
        ctl.door("close")
        time.sleep(1)
        broker.start()
        seqs = wait_for(lambda: [r[0] for r in db.records("front")] if db.state("front")["online"] and
                        any(r[4] == 9 for r in db.records("front")) else None, "the records taken offline")
        wait_for(lambda: (db.state("front") or {}).get("pending") == 0, "every record acknowledged")
        seqs = [r[0] for r in db.records("front")]
        assert seqs == list(range(seqs[0], seqs[-1] + 1)), seqs  # no gap, no duplicate (the primary key)
        assert col.refused == 0 and not col.errors, col.errors
    finally:
        vb.stop()
        col.stop()
        db.close()
