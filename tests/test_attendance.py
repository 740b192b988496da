"""doorkit attendance: work days from entries (doorkit.attendance, pure) and the command as an HR
clerk runs it, on the records of virtual doors (sim.board.VirtualDoor running the firmware) stored
in the collector's database (doorkit.fleet.FleetDB), with the door directories' key books."""
import csv
import datetime
import io
import json
import os

import pytest

import doorkit  # noqa: F401  (the firmware packages on the path)
from doorkit import attendance as A
from doorkit.fleet import FleetDB
from doorkit.provision import load_door, load_keys
from lockctl import codes as C
from lockctl.schedule import DST_EU
from sim.board import VirtualDoor
from conftest import doorkit_cli

JST = datetime.timezone(datetime.timedelta(hours=9))
NOW = datetime.datetime(2026, 11, 30, 12, 0, tzinfo=JST)
FELICA = "0102030405060708"
CARD = "04AABBCC"
CARD2 = "04CCDDEE"


def at(text):
    return datetime.datetime.fromisoformat(text).replace(tzinfo=JST)


def E(code, text, door="front", method="felica", flags=(), seq=0):
    return A.Entry(code, door, "hq", at(text), method, seq, flags)


def summary(days):
    """[(code, work date, [(punch, time, door, status)], remarks)]."""
    return [(d.code, d.date.isoformat(), [(k, e.when.strftime("%m-%d %H:%M"), e.door, s) for k, e, s in d.punches],
             d.remarks) for d in days]


# ----------------------------------------------------------------------------- work days
def test_the_first_entry_at_any_door_clocks_in_the_last_clocks_out():
    ents = [E("E1", "2026-11-02 12:00", "back"), E("E1", "2026-11-02 18:30"), E("E1", "2026-11-02 08:55"),
            E("E2", "2026-11-02 09:10"), E("E1", "2026-11-03 09:00")]
    assert summary(A.work_days(ents, A.FIRST_LAST, NOW)) == [
        ("E1", "2026-11-02", [("clock_in", "11-02 08:55", "front", "ok"), ("clock_out", "11-02 18:30", "front", "ok")],
         []),
        ("E2", "2026-11-02", [("clock_in", "11-02 09:10", "front", "ok")], ["no-clock-out"]),
        ("E1", "2026-11-03", [("clock_in", "11-03 09:00", "front", "ok")], ["no-clock-out"])]


def test_the_work_day_runs_to_05_00_next_morning_and_is_sent_once_it_has_ended():
    ents = [E("E1", "2026-11-02 09:00"), E("E1", "2026-11-03 04:59:59"), E("E1", "2026-11-03 05:00")]
    days = A.work_days(ents, A.FIRST_LAST, at("2026-11-04 05:00"))
    assert summary(days) == [
        ("E1", "2026-11-02", [("clock_in", "11-02 09:00", "front", "ok"), ("clock_out", "11-03 04:59", "front", "ok")],
         []),
        ("E1", "2026-11-03", [("clock_in", "11-03 05:00", "front", "ok")], ["no-clock-out"])]
    # a second before the end the day is still running: not sent, or sent as "open" when asked
    running = at("2026-11-04 04:59:59")
    assert [d.date.isoformat() for d in A.work_days(ents, A.FIRST_LAST, running)] == ["2026-11-02"]
    days = A.work_days(ents, A.FIRST_LAST, running, include_open=True)
    assert [(d.date.isoformat(), d.open, d.punches[0][2]) for d in days] == [("2026-11-02", False, "ok"),
                                                                             ("2026-11-03", True, "open")]
    # another day start for everyone
    assert [d.date.isoformat() for d in A.work_days(ents, A.FIRST_LAST, NOW, day_start=0)] == [
        "2026-11-02", "2026-11-03"]
    assert len(A.work_days(ents, A.FIRST_LAST, NOW, day_start=0)[1].entries) == 2


def test_a_night_shift_across_midnight_is_one_work_day():
    ents = [E("N1", "2026-11-02 21:55"), E("N1", "2026-11-03 02:10", "back"), E("N1", "2026-11-03 07:05"),
            E("N1", "2026-11-03 21:58"), E("D1", "2026-11-03 07:05")]
    # with the default 05:00 boundary the shift is cut in two: clock-out 02:10, then a day from 07:05
    cut = A.work_days(ents, A.FIRST_LAST, NOW)
    assert [(d.code, d.date.isoformat(), len(d.entries)) for d in cut] == [
        ("N1", "2026-11-02", 2), ("D1", "2026-11-03", 1), ("N1", "2026-11-03", 2)]
    # the night shift's day starts at 12:00: 21:55 -> 07:05 is one day; a day worker is unchanged
    days = A.work_days(ents, A.FIRST_LAST, NOW, shifts={"N1": A.parse_hhmm("12:00")})
    assert summary(days) == [
        ("N1", "2026-11-02", [("clock_in", "11-02 21:55", "front", "ok"), ("clock_out", "11-03 07:05", "front", "ok")],
         []),
        ("D1", "2026-11-03", [("clock_in", "11-03 07:05", "front", "ok")], ["no-clock-out"]),
        ("N1", "2026-11-03", [("clock_in", "11-03 21:58", "front", "ok")], ["no-clock-out"])]
    # that day ends at 12:00 the next day, not at 05:00
    for now, is_open in (("2026-11-03 11:59", True), ("2026-11-03 12:00", False)):
        d = A.work_days(ents, A.FIRST_LAST, at(now), shifts={"N1": 720}, include_open=True)[0]
        assert (d.code, d.date.isoformat(), d.open) == ("N1", "2026-11-02", is_open)


def test_every_entry_a_punch():
    ents = [E("E1", "2026-11-02 08:55"), E("E1", "2026-11-02 12:00", "back"), E("E1", "2026-11-02 18:30")]
    (d,) = A.work_days(ents, A.EVERY, NOW)
    assert [(k, e.door, s) for k, e, s in d.punches] == [("punch", "front", "ok"), ("punch", "back", "ok"),
                                                         ("punch", "front", "ok")]
    assert d.remarks == []
    with pytest.raises(ValueError, match="daily layout"):
        A.daily_rows([d])
    with pytest.raises(ValueError, match="mode is one of"):
        A.work_days(ents, "all", NOW)


def test_the_clock_in_is_unapproved_when_another_method_punched_earlier_that_work_day():
    ents = [E("E1", "2026-11-02 08:55"), E("E1", "2026-11-02 18:30"), E("E2", "2026-11-02 09:00"),
            E("E3", "2026-11-02 09:00")]
    other = {"E1": [at("2026-11-02 08:40")],  # the PC login before the door: unapproved
             "E2": [at("2026-11-02 09:30")],  # after the door: fine
             "E3": [at("2026-11-02 04:30")]}  # the work day before (before 05:00): fine
    days = A.work_days(ents, A.UNAPPROVED, NOW, other=other)
    assert [(d.code, d.punches[0][2]) for d in days] == [("E1", "unapproved"), ("E2", "ok"), ("E3", "ok")]
    assert [p[2] for p in days[0].punches] == ["unapproved", "ok"]  # the clock-out stays approved
    assert all(p[2] == "ok" for d in A.work_days(ents, A.FIRST_LAST, NOW, other=other) for p in d.punches)


def test_start_until_and_left_out_users():
    ents = [E("E1", "2026-11-%02d 09:00" % d) for d in (1, 2, 3, 4)] + [E("E9", "2026-11-02 09:00")]
    days = A.work_days(ents, A.FIRST_LAST, NOW, start=datetime.date(2026, 11, 2), until=datetime.date(2026, 11, 3),
                       skip={"E9"})
    assert [(d.code, d.date.isoformat()) for d in days] == [("E1", "2026-11-02"), ("E1", "2026-11-03")]


def test_the_two_csv_layouts():
    ents = [E("E1", "2026-11-02 08:55", flags=["not-opened"]), E("E1", "2026-11-02 18:30", "back", "phone",
                                                                   ["held-open", "jammed"])]
    days = A.work_days(ents, A.FIRST_LAST, NOW)
    assert A.daily_rows(days, {"E1": "Aiko Owner"}) == [{
        "user_code": "E1", "name": "Aiko Owner", "work_date": "2026-11-02", "clock_in": "2026-11-02 08:55:00",
        "clock_out": "2026-11-02 18:30:00", "clock_in_door": "front", "clock_out_door": "back", "status": "ok",
        "remarks": "clock_in not-opened;clock_out held-open;clock_out jammed"}]
    rows = A.punch_rows(days, {"E1": "Aiko Owner"})
    assert [tuple(r[c] for c in A.PUNCH_COLUMNS) for r in rows] == [
        ("E1", "Aiko Owner", "2026-11-02", "clock_in", "2026-11-02 08:55:00", "front", "hq", "felica", "ok",
         "not-opened"),
        ("E1", "Aiko Owner", "2026-11-02", "clock_out", "2026-11-02 18:30:00", "back", "hq", "phone", "ok",
         "held-open;jammed")]
    (one,) = A.work_days(ents[:1], A.FIRST_LAST, NOW)
    assert A.daily_rows([one])[0]["remarks"] == "clock_in not-opened;no-clock-out"
    assert A.daily_rows([one])[0]["clock_out"] == ""


def test_users_in_several_offices_and_duplicate_codes_are_reported_not_guessed():
    problems, out = A.check_users({
        "front": ("tokyo", {"E1": "Aiko Owner", "E2": "Ben Guest", "E5": "Eri", "e7": "Goro"}),
        "back": ("tokyo", {"E1": "Aiko Owner", "E5": "Emi"}),
        "osaka-1": ("osaka", {"E2": "Ben Guest", "E6": "Fumi", "E7 ": "Goro"})})
    assert out == {"E2", "E5", "e7", "E7 "}
    text = "\n".join(problems)
    assert "user code E5 has 2 names ('Emi' at back; 'Eri' at front): a duplicate code" in text
    assert "user E2 is in several offices (osaka: osaka-1; tokyo: front)" in text
    assert "differ only in case or spaces" in text and "'E7 ', 'e7'" in text
    assert len(problems) == 3 and "E1" not in text and "E6" not in text


def test_parse_helpers():
    assert A.parse_hhmm("05:00") == 300 and A.parse_hhmm("23:59") == 1439
    for bad in ("5", "24:00", "05:60", "5:0", "ab:cd", ""):
        with pytest.raises(ValueError, match="HH:MM"):
            A.parse_hhmm(bad)
    assert A.parse_methods("FeliCa, remote") == ("felica", "remote")
    for bad in ("", "badge"):
        with pytest.raises(ValueError):
            A.parse_methods(bad)


def test_local_time_follows_the_doors_dst_rule():
    summer = 1783591200  # 2026-07-09 10:00 UTC
    assert A.local_time(summer, 60, DST_EU).strftime("%H:%M %z") == "12:00 +0200"
    assert A.local_time(summer, 60).strftime("%H:%M %z") == "11:00 +0100"
    assert A.local_time(summer + 150 * 86400, 60, DST_EU).strftime("%H:%M %z") == "11:00 +0100"
    # a naive time of another punch system, at a door in Berlin: the offset in force that day
    from doorkit.commands.attendance import _localize
    assert _localize(datetime.datetime(2026, 7, 9, 8, 0), 60, DST_EU).strftime("%z") == "+0200"
    assert _localize(datetime.datetime(2026, 12, 9, 8, 0), 60, DST_EU).strftime("%z") == "+0100"


# ----------------------------------------------------------------------------- from a door's records
def visit(vd, local, kind, ident, opened=True, hold_ms=3000):
    """Someone at the door at `local` (door-local "YYYY-MM-DD HH:MM", JST): the clock set, the
    credential, the door opened and closed (or not), the lock relocked."""
    vd.set_clock(int(at(local).timestamp()))
    vd.card(kind, ident)
    vd.advance(2000)
    if opened:
        vd.open_door()
        vd.advance(hold_ms)
        vd.close_door()
    vd.advance(15000)


def test_entries_from_a_doors_records():
    vd = VirtualDoor(calibration="ends", keys=[("felica", FELICA, "E1"), ("iso14443a", CARD, "E2")],
                     config={"utc_offset_min": 540})
    visit(vd, "2026-11-02 08:55", "felica", FELICA)
    visit(vd, "2026-11-02 09:10", "iso14443a", CARD, opened=False)
    visit(vd, "2026-11-02 12:00", "felica", FELICA, hold_ms=70000)  # held open past held_open_ms
    vd.set_clock(int(at("2026-11-02 18:30").timestamp()))
    vd.card("felica", FELICA)
    vd.advance(2000)
    vd.world.jam(None, None)  # the move back to locked jams
    vd.advance(15000)
    vd.world.unjam()
    vd.advance(20000)
    vd.set_clock(int(at("2026-11-02 19:00").timestamp()))
    vd.press_button()  # button, manual and remote operations have no user of their own
    vd.advance(20000)
    vd.turn("unlock")
    vd.advance(5000)
    vd.turn("lock")
    vd.advance(5000)
    vd.remote("unlock", 2)
    vd.advance(20000)
    vd.power_cut()  # the RTC lost: nothing dates this boot's records
    vd.card("felica", FELICA)
    vd.advance(20000)
    recs = list(vd.storage.log.records(0))
    assert any(r[4] == C.LOG_JAM for r in recs) and any(r[4] == C.LOG_HELD_OPEN for r in recs)
    codes = vd.book.names()
    ents, notes = A.entries(recs, "front", "hq", codes, 540)
    assert [(e.code, e.when.strftime("%H:%M"), e.method, e.flags) for e in ents] == [
        ("E1", "08:55", "felica", []), ("E2", "09:10", "iso14443a", ["not-opened"]),
        ("E1", "12:00", "felica", ["held-open"]), ("E1", "18:30", "felica", ["jammed"])]
    assert ents[0].when.utcoffset() == datetime.timedelta(hours=9)
    assert notes == {"undated": 1, "unknown": {}}
    # a remote unlock counts when asked for; a key book that does not know user 2
    ents, notes = A.entries(recs, "front", "hq", {1: "E1"}, 540, methods=A.DEFAULT_METHODS + ("remote",))
    assert [e.code for e in ents] == ["E1", "E1", "E1"] and notes == {"undated": 1, "unknown": {2: 2}}


def test_a_retried_unlock_is_flagged():
    vd = VirtualDoor(calibration="ends", keys=[("felica", FELICA, "E1")], config={"utc_offset_min": 540})
    vd.world.jam(None, 1)  # the unlock's first try fails, the retry goes through
    visit(vd, "2026-11-02 08:55", "felica", FELICA)
    recs = list(vd.storage.log.records(0))
    assert [r[4] for r in recs if r[4] in (C.LOG_RETRY, C.LOG_UNLOCK)] == [C.LOG_RETRY, C.LOG_UNLOCK]
    (e,), _ = A.entries(recs, "front", "hq", vd.book.names(), 540)
    assert e.flags == ["retried"]


# ----------------------------------------------------------------------------- the command
def dk(*argv, **kw):
    p = doorkit_cli(*argv, **kw)
    return p.stdout, p.stderr


def board_of(path):
    """A virtual door with the identity and key list of a door directory."""
    door = load_door(str(path))
    vd = VirtualDoor(calibration="ends", secret=door.secret, door_id=door.door_id.encode(),
                     config={"utc_offset_min": 540})
    assert vd.install(load_keys(door).book.bundle())[1] is None
    return vd


def upload(db, name, vd, since=0):
    FleetDB(str(db)).add_events(name, [r for r in vd.storage.log.records(since)])


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture
def site(tmp_path):
    """doors/front and doors/back at site tokyo, doors/osaka at site osaka; two days of entries."""
    doors = tmp_path / "doors"
    doors.mkdir()
    for name, site, users in (("front", "tokyo", "E1,Aiko Owner,%s;%s\nE2,Ben Guest,%s\nE3,Chie,\nE5,Eri,\n"
                               % (FELICA, CARD2, CARD)),
                              ("back", "tokyo", "E1,Aiko Owner,%s\nE2,Ben Guest,%s\n" % (FELICA, CARD)),
                              ("osaka", "osaka", "E3,Chie,\nE5,Emi,\n")):
        dk("provision", "new", doors / name, "--door-id", name, "--site", site, "--utc-offset", "+09:00")
        (tmp_path / "hr.csv").write_text("user_code,name,cards\n" + users)
        dk("keys", "import", doors / name, tmp_path / "hr.csv")
    front, back = board_of(doors / "front"), board_of(doors / "back")
    visit(front, "2026-11-01 09:00", "felica", FELICA)  # before the link's start
    visit(front, "2026-11-02 08:55", "felica", FELICA)
    visit(front, "2026-11-02 09:10", "iso14443a", CARD, opened=False)
    visit(back, "2026-11-02 12:00", "felica", FELICA)
    visit(front, "2026-11-02 17:00", "iso14443a", CARD)
    visit(front, "2026-11-02 18:30", "felica", FELICA)
    visit(back, "2026-11-03 00:30", "iso14443a", CARD)  # still Ben's Nov 2
    visit(front, "2026-11-03 09:00", "felica", FELICA)
    db = tmp_path / "fleet.sqlite"
    upload(db, "front", front)
    upload(db, "back", back)
    return tmp_path, doors, db, front


def test_attendance_for_hr_with_a_link_that_sends_each_closed_day_once(site):
    tmp, doors, db, front = site
    out, err = dk("attendance", "--db", db, "--doors", doors, "--start", "2026-11-02")
    assert "E1" in out and "2026-11-02 08:55:00" in out and "2026-11-01" not in out
    # users in several offices and duplicate codes: reported (one line each), left out
    assert "doorkit attendance: warning: user code E5 has 2 names" in err
    assert "doorkit attendance: warning: user E3 is in several offices (osaka: osaka; tokyo: front)" in err
    assert "E3" not in out and "Traceback" not in err
    link, csv1 = tmp / "hr-link.json", tmp / "day1.csv"
    out, err = dk("attendance", "--db", db, "--doors", doors, "--link", link, "--start", "2026-11-02", "--csv", csv1)
    assert out == "3 rows of 2 users written to %s\n" % csv1
    assert open(csv1, newline="").readline() == ",".join(A.DAILY_COLUMNS) + "\r\n"
    assert [(r["user_code"], r["work_date"], r["clock_in"][11:16], r["clock_out"][11:16], r["clock_in_door"],
             r["clock_out_door"], r["remarks"]) for r in read_csv(csv1)] == [
        ("E1", "2026-11-02", "08:55", "18:30", "front", "front", ""),
        ("E2", "2026-11-02", "09:10", "00:30", "front", "back", "clock_in not-opened"),
        ("E1", "2026-11-03", "09:00", "", "front", "", "no-clock-out")]
    assert read_csv(csv1)[0]["name"] == "Aiko Owner"
    # the next run: nothing new
    dk("attendance", "--db", db, "--doors", doors, "--link", link, "--csv", tmp / "day2.csv")
    assert read_csv(tmp / "day2.csv") == []
    # an offline door's records arrive late: a new day is sent, a day already sent is reported
    n = front.storage.log.records(0)
    last = max(r[0] for r in n)
    visit(front, "2026-11-03 10:00", "iso14443a", CARD)
    visit(front, "2026-11-04 09:00", "iso14443a", CARD)
    upload(db, "front", front, last + 1)
    out, err = dk("attendance", "--db", db, "--doors", doors, "--link", link, "--csv", tmp / "day3.csv")
    assert [(r["user_code"], r["work_date"]) for r in read_csv(tmp / "day3.csv")] == [("E2", "2026-11-04")]
    assert "work day 2026-11-03 changed after it was sent" in err and "--resend 2026-11-03" in err
    dk("attendance", "--db", db, "--doors", doors, "--link", link, "--resend", "2026-11-03", "--csv", tmp / "d4.csv")
    assert [(r["user_code"], r["work_date"]) for r in read_csv(tmp / "d4.csv")] == [("E1", "2026-11-03"),
                                                                                    ("E2", "2026-11-03")]
    state = json.loads(link.read_text())
    assert state["start"] == "2026-11-02" and sorted(state["sent"]) == ["2026-11-02", "2026-11-03", "2026-11-04"]
    _, err = dk("attendance", "--db", db, "--doors", doors, "--link", link, "--csv", tmp / "d5.csv")
    assert "changed" not in err and read_csv(tmp / "d5.csv") == []
    # the link keeps its start and mode
    _, err = dk("attendance", "--db", db, "--doors", doors, "--link", link, "--mode", "every", "--csv", "-", code=2)
    assert "was made with --mode first-last" in err


def test_punches_shifts_and_other_punches(site):
    tmp, doors, db, front = site
    out, _ = dk("attendance", "--db", db, "--doors", doors, "--mode", "every", "--start", "2026-11-02",
                "--until", "2026-11-02", "--csv", "-")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["user_code"], r["time"][11:16], r["door"], r["site"], r["method"], r["punch"], r["remarks"])
            for r in rows] == [
        ("E1", "08:55", "front", "tokyo", "felica", "punch", ""), ("E1", "12:00", "back", "tokyo", "felica", "punch", ""),
        ("E1", "18:30", "front", "tokyo", "felica", "punch", ""),
        ("E2", "09:10", "front", "tokyo", "iso14443a", "punch", "not-opened"),
        ("E2", "17:00", "front", "tokyo", "iso14443a", "punch", ""),
        ("E2", "00:30", "back", "tokyo", "iso14443a", "punch", "")]
    # Ben works from 12:00: his 09:10 entry is the day before's
    (tmp / "shifts.csv").write_text("user_code,day_start\nE2,12:00\n")
    (tmp / "pc.csv").write_text("user_code,time,method\nE1,2026-11-02 08:40,pc-login\n")
    out, _ = dk("attendance", "--db", db, "--doors", doors, "--mode", "unapproved", "--shifts", tmp / "shifts.csv",
                "--other-punches", tmp / "pc.csv", "--start", "2026-11-01", "--until", "2026-11-02", "--csv", "-")
    assert [(r["user_code"], r["work_date"], r["clock_in"][11:16], r["clock_out"][11:16], r["status"])
            for r in csv.DictReader(io.StringIO(out))] == [
        ("E1", "2026-11-01", "09:00", "", "ok"), ("E2", "2026-11-01", "09:10", "", "ok"),
        ("E1", "2026-11-02", "08:55", "18:30", "unapproved"), ("E2", "2026-11-02", "17:00", "00:30", "ok")]
    # only the badge card counts: Aiko's FeliCa at 09:00 is another method, before it
    visit(front, "2026-11-05 09:00", "felica", FELICA)
    visit(front, "2026-11-05 09:30", "iso14443a", CARD2)
    visit(front, "2026-11-05 18:00", "iso14443a", CARD2)
    upload(db, "front", front)
    out, _ = dk("attendance", "--db", db, "--doors", doors, "--mode", "unapproved", "--methods", "iso14443a",
                "--start", "2026-11-05", "--csv", "-")
    assert [(r["user_code"], r["clock_in"][11:16], r["clock_out"][11:16], r["status"])
            for r in csv.DictReader(io.StringIO(out))] == [("E1", "09:30", "18:00", "unapproved")]


@pytest.fixture(scope="module")
def one_door(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("one")
    dk("provision", "new", tmp / "doors" / "front", "--door-id", "front")
    FleetDB(str(tmp / "fleet.sqlite")).close()  # a collector's database, empty
    return tmp, tmp / "doors", tmp / "fleet.sqlite"


@pytest.mark.parametrize("argv, code, words", [
    (("--mode", "every", "--layout", "daily"), 2, "needs --layout punches"),
    (("--day-start", "5am"), 2, "--day-start: a time of day is HH:MM"),
    (("--methods", "badge"), 2, "--methods"),
    (("--start", "2026-11-31"), 2, "--start is a date YYYY-MM-DD"),
    (("--start", "2026-11-05", "--until", "2026-11-04"), 2, "is before --start"),
    (("--link", "L.json"), 2, "needs --csv"),
    (("--link", "L.json", "--csv", "x.csv"), 2, "a new link needs --start"),
    (("--resend", "2026-11-02"), 2, "--resend is for a --link"),
    (("--shifts", "shifts.csv"), 6, "day_start"),
    (("--link", "bad.json", "--csv", "x.csv"), 6, "not a doorkit attendance link"),
    (("--other-punches", "pc.csv"), 6, "pc.csv line 3: time is YYYY-MM-DD"),
    (("--csv", "nodir/x.csv"), 6, "CSV file nodir/x.csv: No such file or directory"),
    (("--link", "L.json", "--start", "2026-11-02", "--csv", "nodir/x.csv"), 6, "CSV file nodir/x.csv"),
])
def test_bad_arguments_are_one_line_errors_and_write_nothing(one_door, argv, code, words):
    tmp, doors, db = one_door
    (tmp / "shifts.csv").write_text("user_code,day_start\nE2,25:00\n")
    (tmp / "bad.json").write_text("{\"format\": 9}")
    (tmp / "pc.csv").write_text("user_code,time\nE1,2026-11-02 08:00\nE1,yesterday\n")
    _, err = dk("attendance", "--db", db, "--doors", doors, *argv, code=code, cwd=tmp)
    assert words in err, err
    assert not os.path.exists(tmp / "x.csv") and not os.path.exists(tmp / "L.json")
    assert (tmp / "bad.json").read_text() == "{\"format\": 9}"


def test_a_missing_door_directory_or_database(tmp_path):
    _, err = dk("attendance", "--db", tmp_path / "fleet.sqlite", "--doors", tmp_path / "nope", code=6)
    assert "no such directory" in err
    dk("provision", "new", tmp_path / "front", "--door-id", "front")
    _, err = dk("attendance", "--db", tmp_path / "fleet.sqlite", "--doors", tmp_path / "front", code=6)
    assert "fleet.sqlite: no such file" in err and not os.path.exists(tmp_path / "fleet.sqlite")
