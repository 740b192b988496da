"""The virtual board with its card reader (VirtualDoor(nfc=True)): firmware/lockshell/board.py composes the real
PN532 driver and NfcReader on the SimMachine's UART2, which is the PN532 emulator (sim/pn532.py) on the
world's virtual clock. Cards tapped in its field reach the lock as the reader reports them; the exact
fast-forwarding gives the same log as polling every millisecond."""
import os
import re
import subprocess
import sys

import pytest

import doorkit  # noqa: F401
from doorkit import cli
from doorkit.sim import scenario
from doorkit.sim.board import NFC_CARDS, VirtualBoard, VirtualDoor
from doorkit.sim.pn532 import PN532Emulator
from doorkit.sim.world import World

from drivers.pn532 import E_NO_ACK, PN532
from lockshell.nfc import NfcReader

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NFC_SCN = os.path.join(ROOT, "sim", "scenarios", "nfc.scn")
KEYS = [("iso14443a", "DEADBEEF", "alice"), ("felica", "01014E1F2D3C4B5A", "bob"),
        ("iso14443a", "01020304050607080910", "carol")]
# a phone: as the reader reports it today (random-UID ISO-DEP, unknown to the key list), or as a
# phone once the phone protocol runs in the reader
PHONE_LINE = re.compile(r"^\d+ (DENIED unknown iso-dep:08[0-9A-F]{6}|DENIED \S+ phone\b.*|UNLOCK phone\b.*)$")


def door(**kw):
    kw.setdefault("seed", 1)
    kw.setdefault("calibration", "ends")
    kw.setdefault("keys", KEYS)
    return VirtualDoor(nfc=True, **kw)


def body(lines):
    return [s.split(" ", 1)[1] for s in lines]


def test_board_composition_gets_the_real_reader_on_the_emulators_uart():
    w = World()
    emu = w.machine.attach_pn532(PN532Emulator(lambda: w.now))
    b = VirtualBoard(w, nfc=True)
    assert isinstance(b.reader, NfcReader) and isinstance(b.reader.eng, PN532)
    assert b.reader.eng.link.uart is emu.uart


def test_without_nfc_there_is_no_reader():
    d = VirtualDoor(seed=1, calibration="ends")
    assert d.board.reader is None and d.pn532 is None and d.status()["reader"] is None
    with pytest.raises(ValueError):
        d.tap("mifare")
    with pytest.raises(ValueError):
        d.reader_dead()
    with pytest.raises(OSError):
        d.world.machine.UART(2, baudrate=115200, tx=17, rx=16, timeout=0)


def test_each_card_kind_reaches_the_lock_as_the_reader_reports_it():
    d = door()
    d.advance(1000)
    for name in ("mifare", "ntag", "uid10", "suica", "unknown"):
        d.tap(name, 1000)
        d.advance(12000)  # unlocked cards relock 10 s later (the door stays shut)
    assert d.lines() == [
        "0 BOOT locked #1",
        "1566 UNLOCK iso14443a alice",
        "12046 LOCK relock",
        "13027 DENIED unknown iso14443a:04512A1A7C5D80",
        "25509 UNLOCK iso14443a carol",
        "35989 LOCK relock",
        "37523 UNLOCK felica bob",
        "48003 LOCK relock",
        "49026 DENIED unknown iso14443a:C0FFEE42",
    ]
    assert d.status()["reader"] == "up"


def test_the_cards_report_their_documented_identities():
    d = door(keys=[])
    d.advance(500)
    seen = []
    for name, (_, ident, _) in NFC_CARDS.items():
        n = len(d.records)
        d.tap(name, 800)
        d.advance(2000)
        rec = d.lines(n)
        assert len(rec) == 1, (name, rec)
        seen.append(rec[0])
        if ident[1] is not None:
            # (a phone is looked up in the key store by the reader first: not enrolled, unknown-phone)
            why = "unknown-phone" if ident[0] == "phone" else "unknown"
            assert rec[0].split(" ", 1)[1] == "DENIED %s %s:%s" % ((why,) + ident)
    assert PHONE_LINE.match(seen[list(NFC_CARDS).index("phone")])


def test_phone_is_logged_as_the_reader_reports_it():
    d = door()
    d.advance(1000)
    d.tap("phone", 1000)
    d.advance(3000)
    new = d.lines(1)
    assert len(new) == 1 and PHONE_LINE.match(new[0]), new


def test_a_card_held_in_the_field_is_decided_once():
    d = door()
    d.advance(1000)
    d.tap("mifare", 30000)  # stays on the reader past the 10 s relock
    d.advance(40000)
    assert body(d.lines()) == ["BOOT locked #1", "UNLOCK iso14443a alice", "LOCK relock"]
    d.tap("suica", 30000)
    d.advance(40000)
    assert body(d.lines(3)) == ["UNLOCK felica bob", "LOCK relock"]
    # taken away and presented again: a new decision
    d.tap("suica", 500)
    d.advance(2000)
    assert body(d.lines(5)) == ["UNLOCK felica bob"]


def test_tapping_again_while_held_extends_the_presentation():
    d = door()
    d.advance(1000)
    c = d.tap("ntag", 1000)
    d.advance(800)
    assert d.tap("ntag", 1000) is c  # the same card, still in the field
    d.advance(900)
    assert c in d.pn532.field  # not taken away by the first tap's end
    d.advance(100)
    assert c not in d.pn532.field
    assert body(d.lines()) == ["BOOT locked #1", "DENIED unknown iso14443a:04512A1A7C5D80"]


def test_dead_reader_is_logged_down_and_up_while_the_button_works():
    d = door()
    d.advance(1000)
    d.reader_dead()
    d.advance(5000)
    assert d.status()["reader"] == "down"
    d.press_button()
    d.advance(2000)
    d.tap("mifare", 1000)  # nobody hears it
    d.advance(3000)
    d.reader_dead(False)
    d.advance(8000)
    assert d.status()["reader"] == "up"
    assert body(d.lines()) == ["BOOT locked #1", "READER_DOWN %d" % E_NO_ACK, "UNLOCK button", "READER_UP",
                               "LOCK relock"]
    d.tap("mifare", 1000)  # works again
    d.advance(2000)
    assert body(d.lines(5)) == ["UNLOCK iso14443a alice"]


def test_reboot_powers_the_reader_again():
    d = door()
    d.advance(1000)
    d.reboot()
    d.advance(500)
    d.tap("suica", 1000)
    d.advance(2000)
    assert body(d.lines()) == ["BOOT locked #1", "BOOT locked #2", "UNLOCK felica bob"]


SHORT = """
seed 3
calibrated yes
nfc on
key iso14443a DEADBEEF alice
key felica 01014E1F2D3C4B5A bob
at 700ms  tap mifare 400
at 2s     door open
at 3s     door close
at 4s     tap ntag 300
at 5s     tap suica 2s
at 7s     reader dead
at 9s     button
at 10s    reader alive
at 13s    tap uid10
at 14s    tap phone
run until 20s
"""


def test_exact_fast_forward_equals_fixed_1ms_stepping():
    scn = scenario.parse(SHORT)
    exact = scenario.run(scn)
    fixed = scenario.run(scn, mode="fixed", fine_ms=1)
    assert exact.log == fixed.log
    assert exact.door.polls < fixed.door.polls
    log = exact.log
    assert log[:10] == [
        "0 BOOT locked #1", "1266 UNLOCK iso14443a alice", "2069 DOOR_OPEN", "3084 DOOR_CLOSE",
        "4027 DENIED unknown iso14443a:04512A1A7C5D80", "5043 UNLOCK felica bob", "7405 READER_DOWN -1",
        "9040 UNLOCK button", "10280 READER_UP", "13094 DENIED unknown iso14443a:01020304050607080910"]
    assert PHONE_LINE.match(log[10]) and log[11:] == ["19520 LOCK relock"]


def test_quiet_door_with_its_reader_costs_little():
    d = door()
    d.advance(2000)
    p0 = d.polls
    lists = d.board.reader.polls
    d.advance(60000)
    polls = d.polls - p0
    wakes = (d.board.reader.polls - lists) // 2  # type A and FeliCa in each wake
    # 10 wakes a second; the runner looks only when the chip's next frame lands, its list tries
    # again, or the driver times out: a dozen App polls per wake, not one per ms of radio time
    assert 590 <= wakes <= 610, wakes
    assert wakes * 8 < polls < wakes * 16, (polls, wakes)
    quiet = VirtualDoor(seed=1, calibration="ends")
    quiet.advance(2000)
    p0 = quiet.polls
    quiet.advance(60000)
    assert quiet.polls - p0 <= 1


def test_scenario_lines_for_the_reader():
    scn = scenario.parse("nfc on\nat 1s tap suica 1.5s\nat 2s reader dead\nat 3s reader alive\nrun until 4s\n")
    assert scn.nfc is True
    assert [(a.verb, a.args) for a in scn.actions] == [("tap", ("suica", 1500)), ("reader", ("dead",)),
                                                        ("reader", ("alive",))]
    assert scenario.parse("nfc on\nat 1s tap mifare\nrun until 2s\n").actions[0].args == ("mifare", 1000)


@pytest.mark.parametrize("text,line,msg", [
    ("at 1s tap mifare\nrun until 2s\n", 1, "needs the card reader"),
    ("at 1s reader dead\nrun until 2s\n", 1, "needs the card reader"),
    ("nfc on\nat 1s tap visa\nrun until 2s\n", 2, "unknown card 'visa'"),
    ("nfc on\nat 1s tap\nrun until 2s\n", 2, "expected 'tap <card>"),
    ("nfc on\nat 1s tap mifare 0\nrun until 2s\n", 2, "at least 1 ms"),
    ("nfc on\nat 1s reader sleepy\nrun until 2s\n", 2, "expected 'reader dead' or 'reader alive'"),
    ("nfc maybe\nrun until 2s\n", 1, "expected 'nfc on' or 'nfc off'"),
])
def test_bad_reader_lines_name_file_and_line(text, line, msg):
    with pytest.raises(scenario.ScenarioError) as ei:
        scenario.parse(text, "x.scn")
    assert ei.value.line == line and msg in ei.value.msg, str(ei.value)


def test_nfc_scenario_via_the_cli_exits_0(capsys):
    assert cli.main(["sim", "--script", NFC_SCN, "--log-only"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "READER_DOWN %d" % E_NO_ACK in out[8] and out[-1].endswith("LOCK relock")


def test_nfc_scenario_via_the_console_script_exits_0():
    exe = os.path.join(os.path.dirname(sys.executable), "doorkit")
    if not os.path.exists(exe):
        pytest.skip("doorkit console script not installed")
    r = subprocess.run([exe, "sim", "--script", NFC_SCN], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert "ok, 14 log lines as expected" in r.stderr
