"""Signed results (lockctl.command.result_mac, docs/network.md): the lock's answer to a command
carries a MAC under the door secret; doorkit remote and the collector take only results that
verify. Over a real broker a forger that answers every command with a made-up "ok" (anyone who
may publish to PREFIX/DOOR/result) is never believed: the sender gets the lock's own answer, or,
with no lock there, no answer."""
import json
import threading

import paho.mqtt.client as paho
import pytest

from doorkit.fleet import FleetError, Remote, result_signed
from lockctl.codes import OP_LOCK, OP_UNLOCK, R_REPLAY
from lockctl.command import result_mac
from sim.netdoor import NetDoor, Running as Loop
from conftest import counter, wait_for

SECRET = bytes(range(32))


def genuine(counter=5, op="unlock", reason=0, last=None, door="front", secret=SECRET):
    from lockctl.names import OP_NAMES
    r = {"counter": counter, "op": op, "ok": reason == 0, "reason": reason}
    if last is not None:
        r["last"] = last
    r["mac"] = result_mac(secret, door.encode(), counter, OP_NAMES.index(op), reason, last or 0).hex()
    return r


def test_only_a_result_the_door_signed_verifies():
    assert result_signed(SECRET, "front", genuine())
    assert result_signed(SECRET, "front", genuine(reason=R_REPLAY, last=9))
    for change in ({"reason": 6}, {"ok": False}, {"counter": 6}, {"op": "lock"}, {"last": 3}):
        assert not result_signed(SECRET, "front", dict(genuine(), **change)), change
    assert not result_signed(SECRET, "back", genuine())  # another door's
    assert not result_signed(bytes(32), "front", genuine())  # another secret
    for junk in ({}, {"mac": "zz"}, dict(genuine(), mac="00" * 16), dict(genuine(), counter=-1),
                 dict(genuine(), counter=2 ** 40), dict(genuine(), op="nope"), dict(genuine(), reason="0")):
        bad = {k: v for k, v in genuine().items() if k != "mac"} if junk == {} else junk
        assert not result_signed(SECRET, "front", bad), junk


class Forger:
    """Answers every command on PREFIX/front/cmd with a made-up result: ok, or refused."""

    def __init__(self, broker, ok=True):
        self.seen = threading.Event()
        self.c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="", clean_session=True)
        self.c.on_message = self._on
        subscribed = threading.Event()
        self.c.on_subscribe = lambda *a: subscribed.set()
        self.c.connect(broker.host, broker.port)
        self.c.loop_start()
        self.ok = ok
        r = self.c.subscribe("doorkit/front/cmd", 1)
        assert r[0] == 0 and subscribed.wait(20), "the forger's subscription"  # (before any command goes)

    def _on(self, c, u, m):
        from lockctl.command import HEAD
        counter = int.from_bytes(m.payload[20:24], "little")
        assert len(m.payload) >= HEAD
        fake = {"counter": counter, "op": "unlock", "ok": self.ok, "reason": 0 if self.ok else 11,
                "mac": "00" * 16}
        c.publish("doorkit/front/result", json.dumps(fake), qos=1)
        self.seen.set()

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()


def test_a_forged_ok_is_never_taken_for_the_locks_answer(broker):
    forger = Forger(broker)
    rem = Remote("front", SECRET, counter(), broker.host, broker.port)
    try:
        with pytest.raises(FleetError, match="no answer from door front"):  # no lock: only the forger answers
            rem.send(OP_UNLOCK, timeout=3)
        assert forger.seen.is_set() and rem.forged >= 1 and rem.results == {}
    finally:
        rem.close()
        forger.close()


def test_with_the_lock_there_its_own_answer_is_the_one_taken(broker):
    d = NetDoor("front", broker.host, broker.port, keepalive=10)
    loop = Loop(d)
    forger = rem = None
    try:
        wait_for(lambda: d.hub.status == 7, "the door online")
        forger = Forger(broker, ok=False)  # says every command was refused
        rem = Remote("front", d.secret, counter(), broker.host, broker.port)
        r = rem.send(OP_LOCK, timeout=30)
        assert r["ok"] is True and r["counter"] == 1 and result_signed(d.secret, "front", r)
        wait_for(lambda: rem.forged >= 1, "the forger's answer seen and dropped")
    finally:
        if rem is not None:
            rem.close()
        if forger is not None:
            forger.close()
        loop.stop()
