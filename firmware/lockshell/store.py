# Persistence of settings and calibration. JsonStore writes a temp file then renames it over the old
# one, so a power cut leaves either the old or the new file, never half of one. A cut before the
# rename leaves the temp file behind (on littlefs in most of the cuts that land in a save: counted
# by bench/powercut.py): load() removes it first (clean()), so every boot (App.start) tidies up.
#
# A filesystem that does not mount is never this module's to repair, and nothing in doorkit
# reformats. Stock MicroPython's frozen _boot.py (ports/esp32/modules) does, though: when
# vfs.mount() of the "vfs" partition raises OSError it runs inisetup.setup(), which reformats
# (VfsLfs2.mkfs, everything on it lost) if the partition's block 0 is all 0xFF, and otherwise
# prints "The filesystem appears to be corrupted..." every 3 s forever. Either way main.py, which
# lives on that filesystem, never runs. The fix is the board build's (issue 8): freeze the firmware
# with a _boot.py of its own that never formats, boots the lock on defaults and logs
# LOG_STORE_FAULT (STORE_FS, errno).
class MemoryStore:
    def __init__(self, config=None, calibration=None):
        self.config = dict(config) if config else None
        self.calibration = tuple(calibration) if calibration else None
        self.writes = 0

    def load(self):
        return (dict(self.config) if self.config else None), self.calibration

    def save(self, what, data):
        if what == "config":
            self.config = dict(data)
        elif what == "calibration":
            self.calibration = tuple(data)
        else:
            raise ValueError("unknown store item: %s" % what)
        self.writes += 1


class JsonStore:
    """Settings in one JSON file at `path`. os_module (rename, remove) and opener (like the
    built-in open) default to the real ones; tests pass others for a filesystem that is not in the
    VFS (littlefs-python on CPython)."""

    def __init__(self, path="/lock.json", os_module=None, opener=None):
        if os_module is None:
            import os as os_module
        self.os = os_module
        self.open = open if opener is None else opener
        self.path = path
        self.tmp = path + ".tmp"
        self.error = None  # text of the last load problem, for the shell to report
        self.cleaned = 0  # temp files left by an interrupted save that clean() removed

    def clean(self):
        """Remove the temp file an interrupted save left (the settings file itself is whole:
        old or new). -> True if there was one. Nothing else is touched; an error is not raised."""
        try:
            self.os.remove(self.tmp)
        except OSError:
            return False  # none (or a filesystem that cannot write: load() says what it finds)
        self.cleaned += 1
        return True

    def _read(self):
        import json
        try:
            f = self.open(self.path)
        except OSError:
            return {}
        try:
            d = json.load(f)
        except ValueError:
            self.error = "corrupt settings file %s" % self.path
            return {}
        finally:
            f.close()
        if not isinstance(d, dict):
            self.error = "settings file %s is not an object" % self.path
            return {}
        return d

    def load(self):
        self.error = None
        self.clean()
        d = self._read()
        cfg = d.get("config")
        cal = d.get("calibration")
        if cfg is not None and not isinstance(cfg, dict):
            self.error, cfg = "bad config in %s" % self.path, None
        if cal is not None:
            if isinstance(cal, list) and len(cal) == 2:
                cal = (cal[0], cal[1])
            else:
                self.error, cal = "bad calibration in %s" % self.path, None
        return cfg, cal

    def save(self, what, data):
        if what not in ("config", "calibration"):
            raise ValueError("unknown store item: %s" % what)
        d = self._read()
        d[what] = list(data) if what == "calibration" else data
        import json
        tmp = self.tmp
        f = self.open(tmp, "w")
        try:
            json.dump(d, f)
        finally:
            f.close()
        self.os.rename(tmp, self.path)
