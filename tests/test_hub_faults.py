"""The upload's promise under faults, with real brokers (amqtt; mosquitto when installed) and both
databases (SQLite; PostgreSQL where DOORKIT_PG_URL points to one, as in CI): the
firmware's hub (sim/netdoor.py: the App on a virtual door, the hub's task on real sockets) and the
collector (doorkit.fleet) end with every record exactly once, no gap, no duplicate, after
  * a collector that dies between its database commit and its ack (the lock sends again),
  * the broker restarting in the middle of a backlog's upload,
  * 7 days offline with the door in use, then the link back."""
import pytest

from doorkit.fleet import Collector
from sim.netdoor import NetDoor, Running as Loop
from conftest import wait_for


def pg_with_one_broker(db, broker):
    """The database's part does not depend on the broker: PostgreSQL runs with mosquitto only."""
    if db.pg and broker.kind == "amqtt":
        pytest.skip("(PostgreSQL: with mosquitto; SQLite runs with both brokers)")



def exact(db, d):
    """The collector holds exactly the records on the door's flash (seq by seq, the same content)."""
    want = [r[:1] + r[2:] for r in d.log.records(1)]
    got = [r[:1] + r[2:] for r in db.records(d.door_id)]  # (boot aside: the batch carries it as the log does)
    assert [r[0] for r in got] == [r[0] for r in want], (len(got), len(want))
    assert got == want


def test_a_collector_dying_between_commit_and_ack_loses_and_duplicates_nothing(fleet_db, broker):
    pg_with_one_broker(fleet_db, broker)
    d = NetDoor("front", broker.host, broker.port, keepalive=10)
    d.hub.resend_ms = 2000
    d.backlog(1500)
    db = fleet_db
    first = Collector(db, {"front": d.secret}, broker.host, broker.port)
    first.crash_before_ack = True  # it stores, then dies before it acks
    first.start()
    loop = Loop(d)
    try:
        wait_for(lambda: first.stored > 0, "the first collector to store a batch")
        first.stop()  # (its commits are in the database; the lock got no ack)
        assert d.log.cursor == 0
        second = Collector(db, {"front": d.secret}, broker.host, broker.port).start()
        wait_for(lambda: d.hub.pending() == 0, "every record acknowledged")
        second.stop()
        assert second.duplicates > 0  # what the first stored came again: ignored, not stored twice
        exact(db, d)
    finally:
        loop.stop()


def test_a_broker_restart_in_the_middle_of_a_backlog(fleet_db, broker):
    pg_with_one_broker(fleet_db, broker)
    d = NetDoor("front", broker.host, broker.port, keepalive=5)
    d.hub.resend_ms = 3000
    d.backlog(5000)
    db = fleet_db
    col = Collector(db, {"front": d.secret}, broker.host, broker.port).start()
    loop = Loop(d)
    try:
        wait_for(lambda: 0 < d.log.cursor, "the upload under way")
        broker.restart()
        assert d.hub.pending() > 0  # it was cut in the middle
        wait_for(lambda: d.hub.pending() == 0, "every record acknowledged after the restart")
        exact(db, d)
        assert d.hub.connects >= 2
    finally:
        col.stop()
        loop.stop()


def test_seven_days_offline_with_the_door_in_use(fleet_db, broker):
    pg_with_one_broker(fleet_db, broker)
    d = NetDoor("front", broker.host, broker.port, keepalive=5)
    db = fleet_db
    col = Collector(db, {"front": d.secret}, broker.host, broker.port).start()
    loop = Loop(d)
    try:
        wait_for(lambda: d.hub.status == 7 and d.hub.pending() == 0, "the door online")
        broker.stop()
        wait_for(lambda: d.hub.status != 7, "the door to see the link gone")
        before = d.log.next_seq

        def week():  # every 20 minutes for 7 days (virtual time) someone lets themselves out:
            for _ in range(7 * 72):  # button, door open, door closed, auto-lock
                d.door.press_button()
                d.door.advance(3000)
                d.door.open_door()
                d.door.advance(4000)
                d.door.close_door()
                d.door.advance(20 * 60000 - 7000)
        loop.call(week)
        assert d.log.next_seq - before >= 7 * 72 * 4
        broker.start()
        wait_for(lambda: d.hub.pending() == 0, "the week's records acknowledged")
        exact(db, d)
    finally:
        col.stop()
        loop.stop()


def test_two_collectors_sharing_a_group_store_each_event_once(fleet_db, broker):
    pg_with_one_broker(fleet_db, broker)
    if broker.kind == "amqtt":
        pytest.skip("amqtt 0.12 has no shared subscriptions (docs/network.md); mosquitto runs this")
    d = NetDoor("front", broker.host, broker.port, keepalive=10)
    d.backlog(3000)
    db = fleet_db
    cols = [Collector(db, {"front": d.secret}, broker.host, broker.port, group="site").start() for _ in range(2)]
    loop = Loop(d)
    try:
        wait_for(lambda: d.hub.pending() == 0, "every record acknowledged")
        assert all(c.batches > 0 for c in cols), [c.batches for c in cols]  # both took a share
        assert sum(c.duplicates for c in cols) == 0  # and no batch went to both
        exact(db, d)
    finally:
        for c in cols:
            c.stop()
        loop.stop()


def test_home_assistant_discovery_and_its_opt_in_command_bridge(fleet_db, broker):
    import json
    import paho.mqtt.client as paho
    from lockctl.codes import LOG_UNLOCK, LOG_COMMAND, OP_UNLOCK, SRC_REMOTE
    if fleet_db.pg:
        pytest.skip("(the database plays no part here: SQLite only)")
    d = NetDoor("front", broker.host, broker.port, keepalive=10)
    seen = {}
    c = paho.Client(paho.CallbackAPIVersion.VERSION2)
    c.on_message = lambda cl, u, m: seen.__setitem__(m.topic, m.payload)
    c.connect(broker.host, broker.port)
    c.loop_start()
    c.subscribe([("homeassistant/#", 1), ("doorkit/front/ha/#", 1), ("doorkit/front/result", 1)])
    col = Collector(fleet_db, {"front": d.secret}, broker.host, broker.port, ha={"front": "Front door"},
                    ha_commands={"front": lambda at_least=0: 1 + at_least})
    col.names = {"front": {}}
    col.start()
    loop = Loop(d)
    try:
        wait_for(lambda: sum(t.startswith("homeassistant/") for t in seen) == 5, "the five discovery configs")
        lock = json.loads(seen["homeassistant/lock/doorkit_front/lock/config"])
        assert lock["state_topic"] == "doorkit/front/state" and lock["state_jammed"] == "jammed"
        assert lock["availability_topic"] == "doorkit/front/online" and lock["device"]["name"] == "Front door"
        for t in ("binary_sensor/doorkit_front/door", "sensor/doorkit_front/battery", "sensor/doorkit_front/error",
                  "sensor/doorkit_front/last_user"):
            assert "homeassistant/%s/config" % t in seen, sorted(seen)
        wait_for(lambda: d.hub.status == 7, "the door online")
        c.publish("doorkit/front/ha/set", b"UNLOCK", qos=1).wait_for_publish(10)
        wait_for(lambda: any(r[4] == LOG_COMMAND and r[5][0] == OP_UNLOCK for r in d.log.records(1)),
                 "Home Assistant's unlock, signed by the bridge, taken by the lock")
        loop.call(lambda: d.door.advance(3000))  # (the door's virtual time: the motor runs)
        assert any(r[4] == LOG_UNLOCK and r[5] == SRC_REMOTE for r in d.log.records(1))
        # an unlock for a user: the last-user sensor names them
        from doorkit.fleet import Remote
        from lockctl.codes import OP_LOCK
        n = [10]

        def counter(at_least=0):
            n[0] = max(n[0], at_least) + 1
            return n[0]
        rem = Remote("front", d.secret, counter, broker.host, broker.port)
        try:
            assert rem.send(OP_LOCK)["ok"]
            loop.call(lambda: d.door.advance(3000))
            assert rem.send(OP_UNLOCK, user=3)["ok"]
            loop.call(lambda: d.door.advance(3000))
        finally:
            rem.close()
        wait_for(lambda: seen.get("doorkit/front/ha/last_user") == b"user 3", "the last user")
        c.publish("doorkit/front/ha/set", b"OPEN SESAME", qos=1).wait_for_publish(10)
        wait_for(lambda: col.refused == 1, "a payload the bridge does not know refused")
        assert col.bridged == 1
    finally:
        c.loop_stop()
        col.stop()
        loop.stop()


def test_a_key_list_pushed_over_the_broker_in_signed_pieces(fleet_db, broker, tmp_path):
    """doorkit.provision.push through doorkit.fleet.MqttLink: the bundle as OP_BUNDLE pieces, the
    install done when the door's state shows the version; then a delta the same way."""
    from doorkit import provision as P
    from doorkit.fleet import MqttLink, Remote
    from doorkit.provision import push
    from lockctl.codes import KIND_ISO14443A
    if fleet_db.pg:
        pytest.skip("(the database plays no part here: SQLite only)")
    d = NetDoor("front", broker.host, broker.port, keepalive=10)
    path = tmp_path / "front"
    P.create_door(path, "front", secret=d.secret)
    door, keys = P.open_keys(path)
    keys.add_user("E1", "Aiko")
    for i in range(150):  # 150 cards: a bundle of a few pieces
        keys.add_credential("E1", "iso14443a", "04%06X" % i)
    P.save_keys(door, keys)
    loop = Loop(d)
    rem = None
    try:
        wait_for(lambda: d.hub.status == 7, "the door online")
        rem = Remote("front", d.secret, lambda at_least=0: P.next_command_counter(str(path), at_least),
                     broker.host, broker.port)
        version, kind, count = push.push(str(path), "broker", link=MqttLink(rem))
        assert (version, kind, count) == (1, "full", 150)
        keys_on_door = d.door.storage.keys
        assert keys_on_door.version == 1 and keys_on_door.check(KIND_ISO14443A, "04000005", None)[0] is not None
        door, keys = P.open_keys(path)
        keys.remove_credential("iso14443a", "04000005")
        P.save_keys(door, keys)
        assert push.push(str(path), "broker", link=MqttLink(rem)) == (2, "delta", 149)
        assert d.door.storage.keys.check(KIND_ISO14443A, "04000005", None)[0] is None
    finally:
        if rem is not None:
            rem.close()
        loop.stop()
