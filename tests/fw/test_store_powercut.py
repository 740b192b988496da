# Settings on littlefs through power cuts. JsonStore saves on a littlefs volume over a simulated NOR
# flash (sim/nor.py); sim/powercut.py cuts the power at every write op of one save (with several
# lengths of the cut program landing). After each cut the next boot's filesystem mounts, holds
# exactly the old or the new settings, and JsonStore's boot clean-up (load() -> clean()) removes the
# temp file an interrupted save left behind.
#
# The same test logic runs on both runtimes, each on a real littlefs: MicroPython's os.VfsLfs2 (the
# board's filesystem) in the unix port, littlefs-python (PyPI, a dev extra) on CPython, both over
# the same NorFlash with VfsLfs2's settings (sim.powercut.LfsVolume).
from fwcheck import raises
from lockshell.store import JsonStore
from sim.nor import BLOCK, NorFlash, RamCells
from sim.powercut import ALL, LfsVolume, lfs_format, sweep

BLOCKS = 6  # 24 KB of cells (+ the snapshot of the blocks in use): fits -X heapsize=96k
CELLS = RamCells(BLOCKS * BLOCK)  # allocated once for the module (a new 24 KB per test fragments the heap)
NAME = "lock.json"
TMP = NAME + ".tmp"
KEEPS = (0, 1, 37, -1, ALL)  # bytes of the cut program that land (-1: a length picked from the op)
CFG_A = {"auto_lock": True, "auto_lock_ms": 3000, "button_unlock": True}
CFG_B = {"auto_lock": False, "auto_lock_ms": 5000, "button_unlock": True, "held_open_ms": 60000}
# every setting: a file bigger than littlefs's inline limit (128 B here), so it gets a block of its own
CFG_BIG = {"auto_lock": True, "auto_lock_ms": 4000, "relock_ms": 15000, "button_unlock": False,
           "held_open_ms": 120000, "jam_ms": 1800, "backoff_ms": 250, "cal_ms": 6000, "zone_pct": 12,
           "min_span": 150, "relock_on_boot": True, "manual_cal_ms": 200000}
CAL_A = (700, 3100)
CAL_B = (650, 3200)


def _store(vol):
    return JsonStore(vol.path(NAME), vol.os, vol.open)


def _prepared(saves):
    def prepare():
        CELLS.erase(0, CELLS.size)
        dev = NorFlash(BLOCKS, cells=CELLS)
        lfs_format(dev)
        vol = LfsVolume(dev)
        s = _store(vol)
        for what, data in saves:
            s.save(what, data)
        vol.umount()
        return dev
    return prepare


def _saving(what, data):
    def act(dev):
        vol = LfsVolume(dev)
        _store(vol).save(what, data)
        vol.umount()
        return "saved"
    return act


def _checker(old, new):
    def check(dev, k, outcome):
        vol = LfsVolume(dev)  # the next boot: it mounts (OSError here fails the sweep)
        names = vol.listdir()
        left = TMP in names
        s = _store(vol)
        got = s.load()
        assert s.error is None, s.error
        assert got == old or got == new, "settings are %r: neither old %r nor new %r" % (got, old, new)
        assert s.cleaned == (1 if left else 0)
        assert vol.listdir() == ([] if got == (None, None) else [NAME])  # the temp file is gone
        s.save("calibration", (1, 2))  # and the filesystem takes the next save
        vol = LfsVolume(dev)
        assert _store(vol).load() == (got[0], (1, 2))
        vol.umount()  # (MicroPython: the VFS lets go of the device)
        state = "new" if got == new else "old"
        return (state, "temp left") if left else state
    return check


def _sweep(saves, what, data, old, new):
    r = sweep(_prepared(saves), _saving(what, data), _checker(old, new), keeps=KEEPS)
    o = r["outcomes"]
    assert r["cuts"] == r["raised"] and r["returned"] == 0  # a cut save always fails
    assert o.get("old", 0) + o.get("new", 0) == r["cuts"]
    assert o.get("old", 0) > 0 and o.get("new", 0) > 0 and o.get("temp left", 0) > 0
    return r


def test_a_save_with_no_cut_stores_the_new_settings_and_no_temp_file():
    dev = _prepared((("config", CFG_A),))()
    _saving("config", CFG_B)(dev)
    assert _checker(None, (CFG_B, None))(dev.power_cycle(), -1, None) == "new"


def test_every_cut_in_a_config_save_leaves_the_old_or_the_new_settings():
    r = _sweep((("config", CFG_A), ("calibration", CAL_A)), "config", CFG_B, (CFG_A, CAL_A), (CFG_B, CAL_A))
    assert r["ops"] >= 4


def test_every_cut_in_the_first_save_leaves_nothing_or_the_new_settings():
    _sweep((), "calibration", CAL_A, (None, None), (None, CAL_A))


def test_every_cut_in_a_calibration_save_keeps_the_config():
    _sweep((("config", CFG_BIG), ("calibration", CAL_A)), "calibration", CAL_B, (CFG_BIG, CAL_A),
           (CFG_BIG, CAL_B))


def test_every_cut_in_a_save_that_outgrows_inline_storage():
    # CFG_BIG does not fit in the directory entry: littlefs writes it to a block of its own
    # (an erase among the cut ops) and the rename drops the old inline file
    r = _sweep((("config", CFG_A), ("calibration", CAL_A)), "config", CFG_BIG, (CFG_A, CAL_A), (CFG_BIG, CAL_A))
    assert r["erase_cuts"] >= 1


def test_clean_removes_a_leftover_temp_file_and_nothing_else():
    dev = _prepared((("config", CFG_A), ("calibration", CAL_A)))()
    vol = LfsVolume(dev)
    f = vol.open(vol.path(TMP), "w")
    f.write('{"config": {"auto_lo')  # what an interrupted save could leave on another filesystem
    f.close()
    assert vol.listdir() == [NAME, TMP]
    s = _store(vol)
    assert s.load() == (CFG_A, CAL_A) and s.error is None and s.cleaned == 1
    assert vol.listdir() == [NAME]
    assert s.clean() is False and s.load() == (CFG_A, CAL_A) and s.cleaned == 1
    vol.umount()


def test_a_replace_that_removes_the_old_file_first_is_caught_by_the_sweep():
    # the check can fail: a save that removes the settings file before it renames the temp file
    # over it (as on a filesystem whose rename does not replace) loses both for some cuts
    def act(dev):
        vol = LfsVolume(dev)
        f = vol.open(vol.path(TMP), "w")
        try:
            f.write('{"config": {"auto_lock": false}}')
        finally:
            f.close()
        vol.os.remove(vol.path(NAME))
        vol.os.rename(vol.path(TMP), vol.path(NAME))

    e = raises(AssertionError, sweep, _prepared((("config", CFG_A),)), act,
               _checker((CFG_A, None), ({"auto_lock": False}, None)), (0, ALL))
    assert "cut at write op" in str(e) and "neither old" in str(e)
