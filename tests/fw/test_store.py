# Settings/calibration persistence on both runtimes (JsonStore writes real files through `os`).
import os
import sys

from fwcheck import raises
from lockshell.store import MemoryStore, JsonStore

PATH = "/tmp/doorkit_store_test_%s.json" % sys.implementation.name


def _clean():
    for p in (PATH, PATH + ".tmp"):
        try:
            os.remove(p)
        except OSError:
            pass


def test_memory_store_round_trip():
    s = MemoryStore()
    assert s.load() == (None, None)
    s.save("config", {"auto_lock": False})
    s.save("calibration", (10, 900))
    assert s.load() == ({"auto_lock": False}, (10, 900))
    raises(ValueError, s.save, "keys", {})
    assert s.writes == 2


def test_json_store_round_trip_and_atomic_replace():
    _clean()
    s = JsonStore(PATH)
    assert s.load() == (None, None) and s.error is None
    s.save("calibration", (1000, 3000))
    s.save("config", {"auto_lock": True, "auto_lock_ms": 5000})
    s2 = JsonStore(PATH)
    cfg, cal = s2.load()
    assert cal == (1000, 3000) and cfg["auto_lock_ms"] == 5000 and cfg["auto_lock"] is True
    raises(OSError, os.stat, PATH + ".tmp")  # the temp file was renamed over the old one
    _clean()


def test_json_store_reports_corrupt_file_and_loads_nothing():
    for text in ("{not json", "[1, 2]", '{"config": 5, "calibration": [1, 2, 3]}'):
        _clean()
        f = open(PATH, "w")
        f.write(text)
        f.close()
        s = JsonStore(PATH)
        assert s.load() == (None, None)
        assert s.error is not None
    _clean()
