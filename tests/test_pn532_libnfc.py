"""libnfc (Debian's libnfc-bin: nfc-list, nfc-scan-device; libnfc-examples: nfc-poll), run as a new user would, against
the PN532 emulator served on a pseudo-terminal (sim/pn532_pty.py) as its pn532_uart device. An
independent host stack: it opens the chip with SAMConfiguration, then Diagnose (communication line
test), GetFirmwareVersion, SetParameters, ReadRegister / WriteRegister, RFConfiguration, and lists
every modulation it knows (InListPassiveTarget A, FeliCa 212/424, B, Jewel; InCommunicateThru for the
rest), or polls with InAutoPoll. docs/pn532.md says what each tool sent and what it found broken.

Needs the libnfc command-line tools: `apt-get install -y libnfc-bin libnfc-examples`. Without them these tests are
skipped, unless DOORKIT_REQUIRE_LIBNFC=1 (as CI sets it once it installs them): then they fail."""
import os
import shutil
import subprocess
import threading
import time

import pytest

import doorkit  # noqa: F401
from doorkit.sim import pn532 as E
from doorkit.sim.pn532_pty import PtyServer, commands

REQUIRED = os.environ.get("DOORKIT_REQUIRE_LIBNFC") == "1"
HAVE = all(shutil.which(t) for t in ("nfc-list", "nfc-scan-device", "nfc-poll"))
if not HAVE and REQUIRED:
    MISSING = " ".join(t for t in ("nfc-list", "nfc-scan-device", "nfc-poll") if not shutil.which(t))
    raise RuntimeError("DOORKIT_REQUIRE_LIBNFC=1 but libnfc's tools are missing (" + MISSING + "): "
                       "apt-get install -y libnfc-bin libnfc-examples")
pytestmark = pytest.mark.skipif(not HAVE, reason="libnfc tools not installed (apt-get install -y libnfc-bin libnfc-examples)")

CARDS = {
    "mifare": (E.mifare_classic, ["ATQA (SENS_RES): 00  04", "UID (NFCID1): de  ad  be  ef", "SAK (SEL_RES): 08"]),
    "ntag": (E.ntag215, ["UID (NFCID1): 04  51  2a  1a  7c  5d  80", "SAK (SEL_RES): 00"]),
    "uid10": (E.triple_uid_card, ["UID (NFCID1): 01  02  03  04  05  06  07  08  09  10"]),
    "suica": (E.suica, ["FeliCa (212 kbps) target:", "ID (NFCID2): 01  01  4e  1f  2d  3c  4b  5a",
                        "System Code (SC): 00  03"]),
    "phone": (lambda: E.phone(lambda apdu: b"\x6a\x82"), ["SAK (SEL_RES): 20", "ATS: 78  80  70  02"]),
}


def libnfc(srv, *argv, timeout=60):
    env = dict(os.environ, LIBNFC_DEVICE="pn532_uart:" + srv.path, LIBNFC_AUTO_SCAN="false",
               LIBNFC_INTRUSIVE_SCAN="false", LIBNFC_LOG_LEVEL="3")
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("name", ["none"] + sorted(CARDS))
def test_nfc_list_sees_each_card(name):
    with PtyServer() as srv:
        if name != "none":
            srv.emu.enter(CARDS[name][0]())
        p = libnfc(srv, "nfc-list")
    assert p.returncode == 0, p.stderr[-2000:]
    assert "NFC device: user defined device opened" in p.stdout
    for line in CARDS.get(name, (None, []))[1]:
        assert line in p.stdout, p.stdout
    if name == "none":
        assert "target(s) found" not in p.stdout
    else:
        assert "1 " in p.stdout and "passive target(s) found" in p.stdout
    assert "Application level error" not in p.stderr  # no command refused
    sent = commands(srv.log)
    assert sent[:3] == [0x14, 0x00, 0x02]  # SAMConfiguration, Diagnose line test, GetFirmwareVersion
    assert {0x06, 0x08, 0x12, 0x32, 0x4A, 0x42}.issubset(sent)


def test_nfc_scan_device_identifies_a_pn532_v1_6():
    with PtyServer() as srv:
        p = libnfc(srv, "nfc-scan-device", "-v")
    assert p.returncode == 0, p.stderr[-2000:]
    assert "chip: PN532 v1.6" in p.stdout
    assert "1 NFC device(s) found" in p.stdout


@pytest.mark.parametrize("name,uid", [("mifare", "de  ad  be  ef"), ("suica", "01  01  4e  1f  2d  3c  4b  5a")])
def test_nfc_poll_finds_a_card_and_sees_it_leave(name, uid):
    with PtyServer() as srv:
        card = CARDS[name][0]()
        env = dict(os.environ, LIBNFC_DEVICE="pn532_uart:" + srv.path, LIBNFC_AUTO_SCAN="false",
                   LIBNFC_INTRUSIVE_SCAN="false")
        proc = subprocess.Popen(["nfc-poll"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)

        def take_away():  # in the field once InAutoPoll runs; out again once nfc-poll has it
            end = time.monotonic() + 20
            while 0x60 not in commands(srv.log) and time.monotonic() < end:
                time.sleep(0.01)
            srv.emu.enter(card)
            while not srv.emu.targets and time.monotonic() < end:
                time.sleep(0.01)
            time.sleep(0.3)
            srv.emu.leave(card)

        t = threading.Thread(target=take_away, daemon=True)
        t.start()
        try:
            out, err = proc.communicate(timeout=40)
        finally:
            proc.kill()
        t.join(5)
    assert proc.returncode == 0, err[-2000:]
    assert uid in out and "Waiting for card removing...done." in out, out
    assert 0x60 in commands(srv.log)  # InAutoPoll
