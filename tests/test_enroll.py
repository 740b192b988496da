"""`doorkit enroll` against the PN532 emulator served on a pseudo-terminal (sim/pn532_pty.py): the
real Adafruit client (adafruit_pn532.uart.PN532_UART) over real pyserial, as at a desk with a USB
PN532 board. The emulator runs in real time here (Adafruit's client sleeps between polls)."""
import os

import pytest

from doorkit import cli
from doorkit import provision as P
from doorkit.errors import EXIT_BOARD, EXIT_CONFLICT, EXIT_DATA, EXIT_MISMATCH, EXIT_USAGE
from doorkit.provision.enroll import DeskReader
from doorkit.sim import pn532 as E
from doorkit.sim.pn532_pty import PtyServer, commands


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err):
    assert err.endswith("\n") and err.count("\n") == 1, err
    return err


@pytest.fixture
def door(tmp_path, capsys):
    d = tmp_path / "front"
    P.create_door(d, "front")
    door, keys = P.open_keys(d)
    keys.add_user("E1", "Aiko Owner")
    keys.add_user("E2", "Ben Ito")
    P.save_keys(door, keys)
    return d


@pytest.fixture
def reader():
    srv = PtyServer()
    srv.start()
    yield srv
    srv.stop()


def test_enroll_a_type_a_card(door, capsys, reader):
    card = E.mifare_classic()
    reader.emu.enter(card)
    code, out, err = run(capsys, "enroll", door, "--reader", reader.path, "--user", "E1", "--timeout", "10")
    assert code == 0, err
    assert out == "iso14443a DEADBEEF enrolled for E1\n"
    assert P.open_keys(door)[1].owner("iso14443a", "DEADBEEF") == "E1"
    assert 0x4A in commands(reader.log)  # read through InListPassiveTarget


def test_enroll_a_felica_card(door, capsys, reader):
    reader.emu.enter(E.suica())
    code, out, err = run(capsys, "enroll", door, "--reader", reader.path, "--user", "E2", "--until", "2027-03-31")
    assert code == 0, err
    assert out == "felica 01014E1F2D3C4B5A enrolled for E2\n"
    cred = P.open_keys(door)[1].book.credentials("E2")
    assert [c[:3] for c in cred] == [("felica", "01014E1F2D3C4B5A", "E2")] and cred[0][5] != 0xFFFF
    # the FeliCa poll went out as InListPassiveTarget at 212 kbps (BrTy 01) with a wildcard Polling
    host = b"".join(d for _, who, d in reader.log if who == "host")
    assert bytes([0xD4, 0x4A, 0x01, 0x01, 0x00, 0xFF, 0xFF, 0x00, 0x00]) in host


def test_a_card_already_registered_is_refused_naming_its_owner(door, capsys, reader):
    card = E.ntag215()
    reader.emu.enter(card)
    assert run(capsys, "enroll", door, "--reader", reader.path, "--user", "E1")[0] == 0
    before = (door / "keys.json").read_bytes()
    code, out, err = run(capsys, "enroll", door, "--reader", reader.path, "--user", "E2")
    assert code == EXIT_CONFLICT
    assert "card iso14443a 04512A1A7C5D80 is already registered to E1 (Aiko Owner)" in one_line(err)
    assert (door / "keys.json").read_bytes() == before and out == ""


def test_no_card_tapped(door, capsys, reader):
    code, _, err = run(capsys, "enroll", door, "--reader", reader.path, "--user", "E1", "--timeout", "0.5")
    assert code == EXIT_MISMATCH and "no card was tapped" in one_line(err)
    assert P.open_keys(door)[1].book.credentials() == []


def test_unknown_user_and_missing_reader(door, tmp_path, capsys):
    code, _, err = run(capsys, "enroll", door, "--reader", tmp_path / "ttyUSB0", "--user", "E9")
    assert code == EXIT_DATA and "no user with code E9" in one_line(err)
    code, _, err = run(capsys, "enroll", door, "--reader", tmp_path / "ttyUSB0", "--user", "E1")
    assert code == EXIT_BOARD and "no reader at" in one_line(err)
    code, _, err = run(capsys, "enroll", door, "--reader", "door:%s" % (tmp_path / "ttyUSB0"), "--user", "E1")
    assert code == EXIT_BOARD and "no board at" in one_line(err)  # the door's own reader: its board
    code, _, err = run(capsys, "enroll", door, "--reader", "door:", "--user", "E1")
    assert code == EXIT_USAGE and "door:PORT" in one_line(err)


def test_a_port_without_a_pn532(door, capsys):
    master, slave = os.openpty()  # a serial line nobody answers on
    try:
        code, _, err = run(capsys, "enroll", door, "--reader", os.ttyname(slave), "--user", "E1")
    finally:
        os.close(master)
        os.close(slave)
    assert code == EXIT_BOARD and "no PN532 answers" in one_line(err)


def test_desk_reader_reads_whichever_card_is_there(reader):
    with DeskReader(reader.path) as rd:
        assert rd.read(0.3) is None
        phone_like = E.mifare_classic(bytes.fromhex("11223344556677"))
        reader.emu.enter(phone_like)
        assert rd.read(5) == ("iso14443a", "11223344556677")
        reader.emu.leave(phone_like)
        reader.emu.enter(E.suica(bytes.fromhex("0123456789abcdef")))
        assert rd.read(5) == ("felica", "0123456789ABCDEF")


def test_a_random_uid_is_not_enrolled(door, capsys, reader):
    ph = E.phone(lambda apdu: b"\x6a\x82")  # an HCE phone: a fresh 08.. UID at every activation
    reader.emu.enter(ph)
    code, out, err = run(capsys, "enroll", door, "--reader", reader.path, "--user", "E1")
    assert code == EXIT_DATA and "random UID" in one_line(err)
    assert P.open_keys(door)[1].book.credentials() == []
