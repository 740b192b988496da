# Persistence of settings and calibration. JsonStore writes a temp file then renames it over the old
# one, so a power cut leaves either the old or the new file, never half of one.
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
    def __init__(self, path="/lock.json", os_module=None):
        if os_module is None:
            import os as os_module
        self.os = os_module
        self.path = path
        self.error = None  # text of the last load problem, for the shell to report

    def _read(self):
        import json
        try:
            f = open(self.path)
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
        tmp = self.path + ".tmp"
        f = open(tmp, "w")
        try:
            json.dump(d, f)
        finally:
            f.close()
        self.os.rename(tmp, self.path)
