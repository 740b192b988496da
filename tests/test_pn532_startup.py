"""Start-up and brown-out: the firmware's driver and NfcReader against both LowVbat models of the
emulator (docs/pn532.md, "Start-up"): the C106 as hosts find it (a cold chip wakes on any HSU byte
and answers every command) and the strict reading (everything but SAMConfiguration ignored until it).
The reader must come up with either, over HSU and I2C, and must recover from a brown-out that a real
chip does not announce (it answers again at once, with its settings back to the defaults)."""
import pytest

import doorkit  # noqa: F401
from doorkit.sim.pn532 import Clock, PN532Emulator, mifare_classic, suica
from drivers import pn532 as P
from lockshell import nfc
from lockctl.codes import KIND_FELICA, KIND_ISO14443A

MODELS = ("answer", "sam-first")
LINKS = ("uart", "i2c")


class Rig:
    def __init__(self, link, lowvbat, **kw):
        self.clock = Clock(1000)
        self.emu = PN532Emulator(self.clock, lowvbat=lowvbat)
        link = P.HsuLink(self.emu.uart) if link == "uart" else P.I2cLink(self.emu.i2c)
        self.rd = nfc.NfcReader(P.PN532(link), **kw)

    def run(self, ms):
        out = []
        end = self.clock.t + ms
        while self.clock.t < end:
            ev = self.rd.poll(self.clock.t)
            if ev is not None:
                out.append((self.clock.t, ev))
            self.clock.advance(1)
        return out


@pytest.mark.parametrize("link", LINKS)
@pytest.mark.parametrize("model", MODELS)
def test_reader_comes_up_with_either_model(link, model):
    r = Rig(link, model)
    assert r.run(100) == []
    assert r.emu.commands[:3] == [0x14, 0x02, 0x32] and r.emu.ignored == []
    assert not r.emu.lowvbat and r.rd.inits == 1 and r.rd.errors == 0
    r.emu.enter(mifare_classic())
    assert [ev for _, ev in r.run(1000)] == [("card", KIND_ISO14443A, "DEADBEEF")]


@pytest.mark.parametrize("link", LINKS)
@pytest.mark.parametrize("model", MODELS)
def test_first_command_after_power_up_lost(link, model):
    # field reports: the first command after the cold wake-up may go unanswered. The reader retries
    # after its back-off and comes up without ever reporting the reader down
    r = Rig(link, model)
    r.emu.inject("mute", on="ack")
    r.emu.inject("mute", on="resp")
    evs = r.run(1500)
    assert evs == [] and r.rd.errors == 1 and r.rd.inits == 1 and not r.rd.down
    r.emu.enter(suica())
    assert [ev for _, ev in r.run(1000)] == [("card", KIND_FELICA, "01014E1F2D3C4B5A")]


@pytest.mark.parametrize("link", LINKS)
@pytest.mark.parametrize("model", MODELS)
def test_brown_out_is_recovered_from(link, model):
    # the chip resets under the reader: over HSU (answer model) it answers the next command at once,
    # but MaxRetries is back to FF, so a list with no card never ends: the reader's time-out catches
    # it and the re-initialisation puts the settings back
    r = Rig(link, model)
    r.run(500)
    inits = r.rd.inits
    r.emu.power_on()
    evs = r.run(2000)
    assert [ev for _, ev in evs] == [] and r.rd.inits == inits + 1 and not r.rd.down
    assert r.emu.max_retries[2] == r.rd.passive
    r.emu.enter(mifare_classic())
    assert [ev for _, ev in r.run(1000)] == [("card", KIND_ISO14443A, "DEADBEEF")]


@pytest.mark.parametrize("fault", ["mute", "truncate", "dcs"])
def test_power_down_answer_lost_the_next_command_wakes_the_chip_first(fault):
    # the driver (firmware/drivers/pn532.py) cannot tell whether a PowerDown whose answer was lost
    # took effect; a real chip then sleeps, and only a 55 wakes its HSU again. So the next command
    # goes out behind the wake preamble: no E_NO_ACK, no re-initialisation
    clock = Clock(100)
    emu = PN532Emulator(clock)
    drv = P.PN532(P.HsuLink(emu.uart))


    assert clock.run(drv, drv.start_sam_configuration) == P.DONE
    emu.inject(fault, on="resp", keep=3)  # the driver's NACKs go unheard: the chip sleeps
    assert clock.run(drv, drv.start_power_down) in (P.E_TIMEOUT, P.E_CHECKSUM)
    assert emu.asleep and not drv.awake and emu.faults == []
    assert clock.run(drv, drv.start_firmware_version) == P.DONE and drv.ic == 0x32
