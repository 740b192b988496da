# lockctl.command: signed remote commands, built by the host and checked by the lock. Both runtimes.
from lockctl.hmac256 import hmac_sha256
from lockctl.command import build, Gate, CommandError, HEAD, MAC
from lockctl.codes import (OP_LOCK, OP_UNLOCK, OP_CLOCK, OP_STATUS, R_CORRUPT, R_FORMAT, R_WRONG_DOOR,
                           R_BAD_SIGNATURE, R_DUPLICATE, R_REPLAY, R_NOT_YET, R_EXPIRED, R_CLOCK_UNSET, R_RETAINED)

SECRET = b"s" * 32
DOOR = b"door-1"
NOW = 1800000000


def refused(reason, gate, buf, now=NOW, retained=False):
    try:
        gate.check(buf, now, retained)
    except CommandError as e:
        assert e.reason == reason, (e.reason, reason, str(e))
        return e
    raise AssertionError("accepted")


def accept(gate, buf, now=NOW):
    c = gate.check(buf, now)
    gate.accepted(c)
    return c


def test_a_command_round_trips():
    b = build(SECRET, DOOR, 7, OP_UNLOCK, NOW + 60, b"\x01\x02", user=3, not_before=NOW - 5)
    assert len(b) == HEAD + 2 + MAC
    c = Gate(SECRET, DOOR, 6).check(b, NOW)
    assert (c.op, c.counter, c.user, c.args, c.expiry, c.not_before) == (OP_UNLOCK, 7, 3, b"\x01\x02", NOW + 60,
                                                                         NOW - 5)
    assert Gate(SECRET, DOOR).check(build(SECRET, DOOR, 1, OP_LOCK, NOW + 1), NOW).user is None


def test_each_command_acts_once_a_redelivery_is_a_duplicate_and_older_ones_are_replays():
    g = Gate(SECRET, DOOR)
    c1 = build(SECRET, DOOR, 1, OP_UNLOCK, NOW + 60)
    c2 = build(SECRET, DOOR, 2, OP_LOCK, NOW + 60)
    accept(g, c1)
    e = refused(R_DUPLICATE, g, c1)
    assert e.counter == 1 and e.op == OP_UNLOCK
    accept(g, c2)
    refused(R_REPLAY, g, c1)
    refused(R_DUPLICATE, g, c2)
    # another command with the counter of the last one (a second signer, or a forged reuse): a replay
    refused(R_REPLAY, g, build(SECRET, DOOR, 2, OP_UNLOCK, NOW + 60))
    assert g.counter == 2


def test_a_gate_rebuilt_from_the_persisted_counter_refuses_everything_up_to_it():
    g = Gate(SECRET, DOOR, 5)  # after a reboot: no last MAC, so the 5th again is a replay (it acted)
    refused(R_REPLAY, g, build(SECRET, DOOR, 5, OP_UNLOCK, NOW + 60))
    accept(g, build(SECRET, DOOR, 9, OP_UNLOCK, NOW + 60))  # gaps are fine


def test_retained_tampered_foreign_and_malformed_commands_are_refused():
    g = Gate(SECRET, DOOR)
    ok = build(SECRET, DOOR, 1, OP_UNLOCK, NOW + 60, b"xy", user=2)
    refused(R_RETAINED, g, ok, retained=True)
    for i, why in ((0, R_FORMAT), (4, R_WRONG_DOOR), (20, R_BAD_SIGNATURE), (24, R_BAD_SIGNATURE),
                   (28, R_BAD_SIGNATURE), (32, R_BAD_SIGNATURE), (34, R_BAD_SIGNATURE), (36, R_CORRUPT),
                   (HEAD, R_BAD_SIGNATURE), (len(ok) - 1, R_BAD_SIGNATURE)):
        t = bytearray(ok)
        t[i] ^= 1
        e = refused(why, g, bytes(t))
        assert e.user is None  # nothing unverified is ever logged as who did it
    refused(R_BAD_SIGNATURE, g, build(b"t" * 32, DOOR, 1, OP_UNLOCK, NOW + 60))
    refused(R_WRONG_DOOR, g, build(SECRET, b"door-2", 1, OP_UNLOCK, NOW + 60))
    refused(R_CORRUPT, g, ok[:-1])
    refused(R_CORRUPT, g, ok + b"\x00")
    refused(R_CORRUPT, g, ok[:HEAD])
    refused(R_FORMAT, g, b"DKB1" + ok[4:])
    body = build(SECRET, DOOR, 1, OP_STATUS, NOW + 60)[:-MAC]
    body = body[:32] + b"\x63" + body[33:]  # an op this firmware does not know, signed
    refused(R_FORMAT, g, body + hmac_sha256(SECRET, body))
    assert g.counter == 0  # nothing was accepted
    accept(g, ok)


def test_the_time_window_and_an_unset_clock():
    g = Gate(SECRET, DOOR)
    refused(R_EXPIRED, g, build(SECRET, DOOR, 1, OP_UNLOCK, NOW - 1))
    refused(R_NOT_YET, g, build(SECRET, DOOR, 1, OP_UNLOCK, NOW + 60, not_before=NOW + 1))
    accept(g, build(SECRET, DOOR, 1, OP_UNLOCK, NOW, not_before=NOW))  # both ends are inside
    refused(R_CLOCK_UNSET, g, build(SECRET, DOOR, 2, OP_UNLOCK, NOW + 60), now=None)
    accept(g, build(SECRET, DOOR, 3, OP_CLOCK, NOW + 60, b"\x00\x00\x00\x00"), now=None)


def test_build_refuses_what_the_format_cannot_carry():
    for kw in ({"counter": 0}, {"op": 0}, {"op": 99}, {"args": b"x" * 1025}, {"user": 65535}, {"user": -1}):
        a = {"counter": 1, "op": OP_LOCK, "args": b"", "user": None}
        a.update(kw)
        try:
            build(SECRET, DOOR, a["counter"], a["op"], NOW, a["args"], a["user"])
        except ValueError:
            pass
        else:
            raise AssertionError("built %r" % (kw,))
