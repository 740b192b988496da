# The hub's test rig (tests/fw/test_hub*.py): the whole firmware (App + flash Storage,
# tests/fw/offlinerig.py) and a Hub, with the broker played byte for byte: what the hub publishes
# is parsed, what the broker would send is built by hand. MicroPython subset.
import gc

from offlinerig import Door, U
gc.collect()
from lockshell.hub import Hub, LINK_ONLINE
gc.collect()
from lockctl.upload import read_events
from lockctl.command import build, result_mac
from lockctl.names import OP_NAMES
from keykit import SECRET, DOOR
import json
gc.collect()

PFX = b"doorkit/door-1/"


def packets(data):
    """Split what the hub sent into (type, flags, body)."""
    out = []
    i = 0
    while i < len(data):
        first = data[i]
        n = 0
        mult = 1
        j = i + 1
        while True:
            c = data[j]
            n += (c & 0x7F) * mult
            j += 1
            if not c & 0x80:
                break
            mult <<= 7
        out.append((first >> 4, first & 15, data[j:j + n]))
        i = j + n
    return out


def publishes(data):
    """[(topic, payload, qos, retain, pid)] of the PUBLISH packets in data."""
    out = []
    for kind, flags, body in packets(data):
        if kind != 3:
            continue
        tl = body[0] << 8 | body[1]
        topic = body[2:2 + tl]
        qos = flags >> 1 & 3
        j = 2 + tl
        pid = 0
        if qos:
            pid = body[j] << 8 | body[j + 1]
            j += 2
        out.append((topic, body[j:], qos, bool(flags & 1), pid))
    return out


def pub(topic, payload, qos=1, pid=1, retain=False):
    body = bytes((len(topic) >> 8, len(topic) & 255)) + topic + (bytes((pid >> 8, pid & 255)) if qos else b"") + payload
    n = len(body)
    ln = bytes((n & 0x7F | 0x80, n >> 7)) if n > 127 else bytes((n,))
    return bytes((0x30 | qos << 1 | (1 if retain else 0),)) + ln + body


def rig():
    gc.collect()
    d = Door(rtc=True, keys=False)  # (remote commands need no key list)
    d.app.set_clock(d.step(20), U)
    d.run_to(100)
    h = Hub(d.app, d.storage, DOOR, SECRET, version="test")
    return d, h


def online(d, h, now=1000):
    connect = h.start(now)
    assert connect[0] == 0x10 and b"doorkit-door-1" in connect and b"offline" in connect
    h.receive(b"\x20\x02\x00\x00", now)
    out = h.take()
    kinds = [p[0] for p in packets(out)]
    assert kinds[0] == 8  # SUBSCRIBE cmd and ack
    pubs = publishes(out)
    assert (PFX + b"online", b"online", 1, True) == pubs[0][:4]
    assert pubs[1][0] == PFX + b"state" and pubs[1][3] is True
    assert h.status == LINK_ONLINE
    return pubs


def seqs_of(out):
    got = []
    for topic, payload, qos, retain, pid in publishes(out):
        if topic == PFX + b"events":
            assert qos == 1 and not retain
            got += [r[0] for r in read_events(payload, SECRET, DOOR)[2]]
    return got


def command(d, h, counter, op, args=b"", user=None, expiry=U + 600, retained=False, pid=9, now=5000,
            secret=SECRET):
    h.receive(pub(PFX + b"cmd", build(secret, DOOR, counter, op, expiry, args, user), pid=pid, retain=retained), now)
    out = h.take()
    res = [signed(json.loads(p[1])) for p in publishes(out) if p[0] == PFX + b"result"]
    acks = [p[2] for p in packets(out) if p[0] == 4]
    assert acks == [bytes((pid >> 8, pid & 255))]  # PUBACKed after it was handled
    return res


def signed(r):
    """A result as published, its "mac" checked against the door's secret and taken off."""
    mac = r.pop("mac")
    op = OP_NAMES.index(r["op"]) if r["op"] != "?" else 0
    assert mac == result_mac(SECRET, DOOR, r["counter"], op, r["reason"], r.get("last", 0)).hex(), r
    return r


def records(d, code):
    return [r for r in d.app.log if r[1] == code]
