"""doorkit.fleet.FleetDB on SQLite and PostgreSQL: the same rows, duplicates impossible, state and
results kept (the collector's storage; tests/test_hub_faults.py runs the collector on both)."""
import json

REC = [(1, 1, False, 10, 1, (1, 1), None), (2, 1, True, 1800000000, 3, 16, 4),
       (3, 1, True, 1800000005, 7, 8, (1, "04A1B2C3"))]


def test_events_are_stored_once_and_read_back_exactly(fleet_db):
    db = fleet_db
    assert db.add_events("front", REC[:2]) == REC[:2]
    assert db.add_events("front", REC) == REC[2:]  # the first two again: ignored
    assert db.add_events("back", REC[:1]) == REC[:1]  # another door's seq 1 is another record
    assert db.records("front") == REC
    assert db.count() == 4 and db.count("front") == 3
    assert db.doors() == ["back", "front"]


def test_state_and_results(fleet_db):
    db = fleet_db
    db.set_state("front", body=json.dumps({"bolt": "locked"}))
    db.set_state("front", online=True)
    assert db.state("front") == {"bolt": "locked", "online": True}
    db.set_state("front", online=False)
    db.set_state("front", body=json.dumps({"bolt": "unlocked"}))
    assert db.state("front") == {"bolt": "unlocked", "online": False}
    db.add_result("front", 7, json.dumps({"counter": 7, "ok": True}))
    db.add_result("front", 7, json.dumps({"counter": 7, "ok": False}))  # a redelivery: the first stays
    assert db.result("front", 7) == {"counter": 7, "ok": True} and db.result("front", 8) is None
