# lockshell.service.calibrate with the board's storage: the calibration's records go to the event
# log on flash (CALIBRATED, or CAL_FAIL cancelled for one abandoned at the time limit), and the App it
# runs logs no BOOT of its own. The storage is opened first, as the board's main.py does.
import os
import sys

from lockshell.flash import Storage
from lockctl.plan import TALLY_BLOCKS
from sim.nor import NorFlash, FileCells, Partition, BLOCK

MP_HEAP = "96wK"  # the whole firmware shell with its storage


def _flash():
    # the board's Storage (key store, event log) on a simulated NOR flash (its cells in a file on
    # MicroPython); made first, as the board's main.py opens its storage before composing the App
    kb, lb = 4, TALLY_BLOCKS + 4
    if sys.implementation.name == "micropython":
        path = "%s/doorkit-cal-log.nor" % (os.getenv("DOORKIT_TMP") or "/tmp")
        dev = NorFlash(kb + lb, cells=FileCells(path, (kb + lb) * BLOCK, fresh=True))
    else:
        dev = NorFlash(kb + lb)
    return Storage(Partition(dev, 0, kb), Partition(dev, kb, lb), b"0123456789abcdef0123456789abcdef", b"door-1")


_FL = _flash()


_FL = _flash()

from calworld import World  # noqa: E402
from lockshell import service  # noqa: E402
from lockshell.store import MemoryStore  # noqa: E402
from lockctl.codes import LOG_CALIBRATED, LOG_CAL_FAIL, R_CANCELLED  # noqa: E402


def _store():
    return MemoryStore()


def test_the_records_go_to_the_event_log_without_a_boot_record():
    fl = _FL
    service.use(fl)
    try:
        n0 = fl.log.next_seq
        w, st = World(pos=2000), _store()
        r = service.calibrate("auto", machine=w.machine, store=st, clock=w)
        assert r["ok"] is True
        codes = [x[4] for x in fl.log.records(n0)]
        assert codes == [LOG_CALIBRATED], codes
        assert [x[5] for x in fl.log.records(n0)] == [(r["lock"], r["unlock"])]
        w, st = World(pos=2000, speed=1), _store()
        assert service.calibrate("auto", 300, machine=w.machine, store=st, clock=w)["reason"] == "timeout"
        recs = list(fl.log.records(n0 + 1))
        assert [(x[4], x[5]) for x in recs] == [(LOG_CAL_FAIL, R_CANCELLED)], recs  # abandoned: logged so
    finally:
        service.use(None)
