# lockshell.hub.Hub: the link's logic over the whole firmware, the broker played byte for byte
# (tests/fw/hubkit.py). Both runtimes. (URL keys: tests/fw/test_hub_urlkey.py.)
import gc

from offlinerig import U, UNLOCK
gc.collect()
from lockshell.hub import Hub, RESEND_MS, LINK_UNREACHABLE
gc.collect()
from hubkit import PFX, packets, publishes, pub, rig, online, seqs_of, command, records
from lockctl.upload import read_events, ack
from lockctl.codes import (OP_UNLOCK, OP_LOCK, OP_STATUS, OP_CLOCK, OP_CONFIG, LOG_COMMAND, LOG_COMMAND_REFUSED,
                           LOG_UNLOCK, LOG_LINK, SRC_REMOTE, R_RETAINED, R_REPLAY, R_BAD_SIGNATURE, R_EXPIRED,
                           R_FORMAT, R_DUPLICATE)
from keykit import SECRET, DOOR
from lockctl.mqtt import MqttError, E_DENIED
import json
gc.collect()

MP_HEAP = "96wK"  # the whole firmware (tests/conftest.py)


def test_connect_subscribe_online_and_state():
    d, h = rig()
    pubs = online(d, h)
    st = json.loads(pubs[1][1])
    assert st["bolt"] == "locked" and st["door"] == "closed" and st["battery"] == "ok" and st["firmware"] == "test"
    assert st["link"] == "online" and st["error"] == ""
    assert [r[1] for r in d.app.log if r[1] == LOG_LINK][-2:] == [LOG_LINK, LOG_LINK]  # connecting, online


def test_records_go_up_in_order_and_leave_only_on_the_collectors_ack():
    d, h = rig()
    online(d, h)
    log = d.storage.log
    top = log.next_seq - 1
    h.poll(1100)
    sent = seqs_of(h.take())
    assert sent == list(range(log.cursor + 1, top + 1)) and sent  # BOOT, CLOCK_SET, LINK ...
    h.poll(1200)
    assert seqs_of(h.take()) == []  # in flight: not sent twice
    start = sent[0]
    h.receive(pub(PFX + b"ack", ack(b"z" * 32, DOOR, start, top), pid=3), 1300)  # a forged ack: nothing dropped
    assert log.cursor < top
    h.receive(pub(PFX + b"ack", ack(SECRET, DOOR, start, top), pid=4), 1400)
    assert log.cursor == top and h.pending() == 0
    out = h.take()
    assert [(p[0], p[2]) for p in packets(out)] == [(4, b"\x00\x03"), (4, b"\x00\x04")]  # both PUBACKed
    d.door_pin.level = 1  # someone opens the door: its record goes up next
    d.run_to(300)
    h.poll(1500)
    assert seqs_of(h.take()) == list(range(top + 1, log.next_seq))


def test_without_an_ack_everything_after_the_cursor_goes_again():
    d, h = rig()
    online(d, h)
    h.poll(1100)
    first = seqs_of(h.take())
    h.poll(1100 + RESEND_MS - 1)
    assert seqs_of(h.take()) == []
    assert h.next_deadline() <= 1100 + RESEND_MS
    h.poll(1100 + RESEND_MS)
    again = seqs_of(h.take())
    assert again[:len(first)] == first
    # a new connection starts again from the cursor too
    h.lost(2000)
    assert h.status == LINK_UNREACHABLE
    online(d, h, 90000)
    h.poll(90001)
    assert seqs_of(h.take())[:len(first)] == first


def test_a_signed_unlock_acts_once_and_reports_its_result():
    d, h = rig()
    online(d, h)
    res = command(d, h, 1, OP_UNLOCK, user=2)
    assert res == [{"counter": 1, "op": "unlock", "ok": True, "reason": 0}]
    d.run_to(200)
    d.set_pos(UNLOCK)  # the motor turned the knob
    d.run_to(3000)
    assert d.app.core.state == 3  # unlocked
    assert [(r[2], r[3]) for r in records(d, LOG_UNLOCK)] == [(SRC_REMOTE, 2)]
    assert [(r[2], r[3]) for r in records(d, LOG_COMMAND)] == [((OP_UNLOCK, 1), 2)]
    # the broker delivers it again (QoS 1, dup): the result again, nothing done again
    res = command(d, h, 1, OP_UNLOCK, user=2, pid=10)
    assert res == [{"counter": 1, "op": "unlock", "ok": True, "reason": 0}]
    assert len(records(d, LOG_COMMAND)) == 1 and len(records(d, LOG_UNLOCK)) == 1
    assert d.storage.tally.get(7) == 1  # T_CMD_COUNTER: persisted


def test_retained_replayed_forged_and_expired_commands_are_refused_and_logged():
    d, h = rig()
    online(d, h)
    command(d, h, 5, OP_LOCK)
    # signed ones: logged with their user, answered with their counter
    for kw, reason in (({"counter": 4}, R_REPLAY), ({"counter": 8, "expiry": U - 1}, R_EXPIRED)):
        res = command(d, h, op=OP_UNLOCK, user=1, **kw)
        assert res == [{"counter": kw["counter"], "op": "unlock", "ok": False, "reason": reason}] or (
            reason == R_REPLAY and res[0]["reason"] == R_REPLAY and res[0]["last"] == 5), res
        r = records(d, LOG_COMMAND_REFUSED)[-1]
        assert r[2] == (reason, OP_UNLOCK) and r[3] == 1, r
    # unsigned ones (retained, forged): answered without a counter (they prove nothing), no user
    n = len(records(d, LOG_COMMAND_REFUSED))
    for kw, reason in (({"counter": 6, "retained": True}, R_RETAINED), ({"counter": 7, "secret": b"q" * 32},
                                                                         R_BAD_SIGNATURE)):
        res = command(d, h, op=OP_UNLOCK, user=1, **kw)
        assert res[0]["counter"] == 0 and res[0]["reason"] == reason and res[0]["ok"] is False, res
    r = records(d, LOG_COMMAND_REFUSED)
    assert len(r) == n + 1 and r[-1][2] == (R_RETAINED, OP_UNLOCK) and r[-1][3] is None  # (once a minute)
    d.run_to(3000)
    assert d.app.core.state == 1 and not records(d, LOG_UNLOCK)  # still locked
    assert h.refused == 4


def test_the_counter_is_persisted_before_acting_and_read_back_by_a_new_hub():
    d, h = rig()
    online(d, h)
    command(d, h, 40, OP_STATUS)
    assert d.storage.tally.get(7) == 40  # T_CMD_COUNTER on flash
    h = None
    gc.collect()
    h = Hub(d.app, d.storage, DOOR, SECRET)  # (as after a reboot: the gate starts from the tally)
    online(d, h)
    res = command(d, h, 40, OP_UNLOCK)
    assert res[0]["reason"] == R_REPLAY
    assert command(d, h, 41, OP_STATUS)[0]["ok"] is True


def test_clock_and_config_commands():
    d, h = rig()
    online(d, h)
    assert command(d, h, 1, OP_CLOCK, (U + 60).to_bytes(4, "little"))[0]["ok"] is True
    assert d.app.wall_at(d.app.now_ms()) == U + 60
    assert command(d, h, 2, OP_CONFIG, b'{"auto_lock": true}')[0]["ok"] is True
    assert d.store.config["auto_lock"] is True
    assert command(d, h, 3, OP_CONFIG, b'{"no_such_setting": 1}')[0]["reason"] == R_FORMAT
    assert command(d, h, 4, OP_CONFIG, b'not json')[0]["reason"] == R_FORMAT


def test_acks_in_any_order_move_the_cursor_only_over_what_is_held():
    d, h = rig()
    h = Hub(d.app, d.storage, DOOR, SECRET, batch=2)
    online(d, h)
    log = d.storage.log
    h.poll(1100)
    spans = []
    for topic, payload, qos, retain, pid in publishes(h.take()):
        if topic == PFX + b"events":
            start, last, recs = read_events(payload, SECRET, DOOR)
            assert last == recs[-1][0]
            spans.append((start, last))
    assert len(spans) >= 2 and spans[1][0] == spans[0][1] + 1
    before = log.cursor
    h.receive(pub(PFX + b"ack", ack(SECRET, DOOR, spans[1][0], spans[1][1]), pid=5), 1200)
    assert log.cursor == before  # the first span is not acknowledged yet
    h.receive(pub(PFX + b"ack", ack(SECRET, DOOR, spans[0][0], spans[0][1]), pid=6), 1300)
    assert log.cursor == spans[1][1]  # both now
    h.receive(pub(PFX + b"ack", ack(SECRET, DOOR, spans[0][0], spans[0][1]), pid=7), 1400)  # a stale one again
    assert log.cursor == spans[1][1]


def test_a_redelivery_after_a_reboot_is_still_a_duplicate_and_refusals_do_not_replace_the_result():
    d, h = rig()
    online(d, h)
    assert command(d, h, 3, OP_LOCK, pid=1)[0]["ok"] is True
    # the same command retained (refused, unverified: no counter in its answer), then redelivered
    res = command(d, h, 3, OP_LOCK, retained=True, pid=2)
    assert res[0]["counter"] == 0 and res[0]["reason"] == R_RETAINED
    assert command(d, h, 3, OP_LOCK, pid=3) == [{"counter": 3, "op": "lock", "ok": True, "reason": 0}]
    h = None
    gc.collect()
    h = Hub(d.app, d.storage, DOOR, SECRET)  # the RAM is gone: the flash knows the last command's MAC
    online(d, h)
    res = command(d, h, 3, OP_LOCK, pid=4)
    assert res[0]["reason"] == R_DUPLICATE and res[0]["counter"] == 3  # not a replay: nothing is resent
    assert len(records(d, LOG_COMMAND)) == 1


def test_a_flood_of_unsigned_commands_is_logged_once_a_minute():
    d, h = rig()
    online(d, h)
    n = len(records(d, LOG_COMMAND_REFUSED))
    for i in range(20):
        command(d, h, 5 + i, OP_UNLOCK, secret=b"w" * 32, pid=20 + i, now=5000 + i)
    assert len(records(d, LOG_COMMAND_REFUSED)) == n + 1 and h.refused == 20
    command(d, h, 99, OP_UNLOCK, secret=b"w" * 32, pid=99, now=5000 + 60000)
    assert len(records(d, LOG_COMMAND_REFUSED)) == n + 2



def test_a_subscription_the_broker_refuses_ends_the_link_as_denied():
    # a broker ACL that refuses PREFIX/DOOR/cmd or ack: no command would arrive, no ack, ever;
    # the link ends with its own status (run_hub: LINK denied) and is tried again later
    d, h = rig()
    online(d, h)
    pid = h.session.last_pid
    h.receive(bytes((0x90, 4, pid >> 8, pid & 255, 1, 1)), 1100)  # both granted: nothing happens
    d = h = None  # (two rigs do not fit)
    gc.collect()
    d, h2 = rig()
    online(d, h2)
    pid = h2.session.last_pid
    try:
        h2.receive(bytes((0x90, 4, pid >> 8, pid & 255, 1, 0x80)), 1100)
    except MqttError as e:
        assert e.code == E_DENIED, e.code
    else:
        assert False, "a refused subscription went unnoticed"
