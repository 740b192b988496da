"""The host side of a door's key list: users and credentials with their validity, turned into the
signed bundles the lock installs (the formats are the firmware's own: lockctl/bundle.py,
lockctl/keystore.py, lockctl/schedule.py).

    book = KeyBook(secret, b"door-1")
    book.add("felica", "01014E1F2D3C4B5A", "alice")
    book.add("pin", "4711", "bob", days="mon-fri", window="09:00-18:00", until="2026-12-31")
    data = book.bundle()            # a delta against what the door has, or full the first time
    ... install it on the door ...
    book.installed()                # the door has that version now: the next delta starts there

Names and HR user codes stay here: the lock only holds a compact user index (book.users), and the
log's who is joined back to names with book.names().
"""
import datetime

import doorkit  # noqa: F401  (the firmware packages on the path)
from lockctl import bundle as B
from lockctl import keystore as K
from lockctl import schedule as S
from lockctl.record import kind_code, KIND_NAMES

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TYPES = {"always": S.P_ALWAYS, "weekly": S.P_WEEKLY, "daily": S.P_DAILY, "once": S.P_ONCE}
EPOCH = datetime.date(1970, 1, 1)


class KeyError_(ValueError):
    """A key-list request that cannot be carried out (the message says why)."""


def parse_day(text):
    """'2026-12-31' -> local day number (days since 1970-01-01)."""
    try:
        return (datetime.date.fromisoformat(text) - EPOCH).days
    except ValueError:
        raise KeyError_("a date is YYYY-MM-DD, not %r" % (text,))


def parse_days(text):
    """'mon-fri' / 'sat,sun' / 'mon,wed-fri' -> weekday mask (bit 0 Monday)."""
    mask = 0
    for part in text.lower().split(","):
        ends = part.split("-")
        try:
            idx = [DAYS.index(e.strip()[:3]) for e in ends]
        except ValueError:
            raise KeyError_("days are mon..sun, e.g. mon-fri or sat,sun, not %r" % (text,))
        if len(idx) == 1:
            mask |= 1 << idx[0]
        elif len(idx) == 2:
            i = idx[0]
            while True:
                mask |= 1 << i
                if i == idx[1]:
                    break
                i = (i + 1) % 7
        else:
            raise KeyError_("days: %r" % (text,))
    return mask


def parse_window(text):
    """'09:00-18:00' (or '22:00-06:00', crossing midnight) -> (start, end) minutes."""
    try:
        a, b = text.split("-")
        out = []
        for x in (a, b):
            h, m = x.split(":")
            out.append(int(h) * 60 + int(m))
    except ValueError:
        raise KeyError_("a window is HH:MM-HH:MM, not %r" % (text,))
    if not (0 <= out[0] < 1440 and 0 <= out[1] <= 1440):
        raise KeyError_("a window is within 00:00-24:00, not %r" % (text,))
    return out[0], out[1]


def validity(schedule=None, days=None, window=None, start=None, until=None, uses=0, enabled=True):
    """Keyword options (text, as a CLI or a scenario gives them) -> (profile, from, until, uses,
    enabled). No schedule but days -> weekly; a window alone -> daily."""
    if schedule is None:
        schedule = "weekly" if days else ("daily" if window else "always")
    if schedule not in TYPES:
        raise KeyError_("schedule is one of %s, not %r" % (", ".join(TYPES), schedule))
    t = TYPES[schedule]
    mask = parse_days(days) if days else (0x7F if t == S.P_WEEKLY else 0)
    s, e = parse_window(window) if window else (0, 0)
    if t == S.P_ALWAYS and (days or window):
        raise KeyError_("an 'always' credential has no days or window")
    prof = (t, mask, s, e)
    try:
        S.validate_profile(prof)
    except ValueError as ex:
        raise KeyError_(str(ex))
    frm = parse_day(start) if start else S.NO_START
    to = parse_day(until) if until else S.NO_END
    if frm and to != S.NO_END and to < frm:
        raise KeyError_("until is before from")
    try:
        uses = int(uses)
    except (TypeError, ValueError):
        raise KeyError_("uses is a count, not %r" % (uses,))
    if not 0 <= uses <= 255:
        raise KeyError_("uses is 0 (unlimited) .. 255")
    return prof, frm, to, uses, bool(enabled)


class KeyBook:
    def __init__(self, secret, door_id):
        self.secret = bytes(secret)
        self.door_id = bytes(door_id)
        self.users = {}  # name -> user index on the lock (1..)
        self.creds = {}  # (kind code, ident) -> (user name, profile, from, until, uses, enabled)
        self.profiles = [(S.P_ALWAYS, 0, 0, 0)]  # append-only: indices stay valid across deltas
        self.version = 0  # the version the door has installed
        self._door = None  # {key: record} as the door has it (None: nothing installed yet)
        self._pending = None  # (version, records) of the last bundle() until installed()

    # ------------------------------------------------------------------ editing
    def user(self, name):
        if not name or not isinstance(name, str):
            raise KeyError_("a user needs a name")
        if name not in self.users:
            self.users[name] = len(self.users) + 1
        return self.users[name]

    def names(self):
        """user index -> name (the log's join)."""
        return {v: k for k, v in self.users.items()}

    @staticmethod
    def _cred(kind, ident):
        k = kind_code(kind) if isinstance(kind, str) else kind
        ident = str(ident)
        if k != S_KIND_PIN:
            ident = ident.upper()
        try:
            K.ident_bytes(k, ident)
        except ValueError as e:
            raise KeyError_("%s %s: %s" % (KIND_NAMES[k], ident, "not hex" if k != S_KIND_PIN else e))
        return k, ident

    def add(self, kind, ident, user, **opts):
        c = self._cred(kind, ident)
        if c in self.creds:
            raise KeyError_("this card is already registered" if c[0] != S_KIND_PIN else "this PIN is already in use")
        v = validity(**opts)
        self.user(user)
        self.creds[c] = (user,) + v

    def change(self, kind, ident, **opts):
        c = self._cred(kind, ident)
        if c not in self.creds:
            raise KeyError_("no such credential: %s %s" % (KIND_NAMES[c[0]], c[1]))
        self.creds[c] = (self.creds[c][0],) + validity(**opts)

    def remove(self, kind, ident):
        c = self._cred(kind, ident)
        if self.creds.pop(c, None) is None:
            raise KeyError_("no such credential: %s %s" % (KIND_NAMES[c[0]], c[1]))

    def owner(self, kind, ident):
        """The user a credential is registered to, or None (KeyError_ for a malformed one)."""
        c = self._cred(kind, ident)
        got = self.creds.get(c)
        return None if got is None else got[0]

    def credentials(self, user=None):
        """[(kind name, ident, user, profile, from, until, uses, enabled)] sorted, of one user or all."""
        out = []
        for (k, ident), v in sorted(self.creds.items(), key=lambda kv: (kv[1][0], kv[0])):
            if user is None or v[0] == user:
                out.append((KIND_NAMES[k], ident) + v)
        return out

    # ------------------------------------------------------------------ saving
    def state(self):
        """Everything a later session needs to carry on (JSON-friendly): users, credentials,
        profiles, the installed version and what the door holds (so the next delta is right), and
        a bundle built but not yet confirmed installed."""
        def recs(d):
            return None if d is None else {k.hex(): v.hex() for k, v in sorted(d.items())}
        pending = self._pending
        return {
            "users": dict(self.users),
            "credentials": [[KIND_NAMES[k], ident, v[0], list(v[1]), v[2], v[3], v[4], v[5]]
                            for (k, ident), v in sorted(self.creds.items())],
            "profiles": [list(p) for p in self.profiles],
            "version": self.version,
            "door": recs(self._door),
            "pending": None if pending is None else [pending[0], recs(pending[1])],
        }

    @classmethod
    def from_state(cls, secret, door_id, st):
        """The KeyBook that state() described; ValueError/KeyError/TypeError on a malformed one."""
        def recs(d):
            return None if d is None else {bytes.fromhex(k): bytes.fromhex(v) for k, v in d.items()}
        b = cls(secret, door_id)
        b.users = {str(k): int(v) for k, v in st["users"].items()}
        for kind, ident, user, prof, frm, to, uses, enabled in st["credentials"]:
            if user not in b.users:
                raise ValueError("credential of an unknown user %r" % (user,))
            b.creds[(kind_code(kind), str(ident))] = (user, tuple(int(x) for x in prof), int(frm), int(to),
                                                       int(uses), bool(enabled))
        b.profiles = [tuple(int(x) for x in p) for p in st["profiles"]]
        b.version = int(st["version"])
        b._door = recs(st.get("door"))
        p = st.get("pending")
        if p is not None:
            b._pending = (int(p[0]), recs(p[1]))
        return b

    # ------------------------------------------------------------------ bundles
    def _profile(self, prof):
        if prof not in self.profiles:
            if len(self.profiles) >= K.MAX_PROFILES:
                raise KeyError_("more than %d different schedules" % K.MAX_PROFILES)
            self.profiles.append(prof)
        return self.profiles.index(prof)

    def records(self):
        """{key: 16-byte record} of every credential."""
        out = {}
        for (k, ident), (name, prof, frm, to, uses, enabled) in self.creds.items():
            key = K.cred_key(self.secret, k, ident)
            if key in out:
                raise KeyError_("two credentials share a key hash: re-issue %s %s" % (KIND_NAMES[k], ident))
            out[key] = K.pack(key, self.users[name], frm, to, self._profile(prof), k, enabled, uses)
        return out

    def bundle(self, full=False):
        """The next bundle (bytes): a delta against the installed version by default, a full one
        the first time or when asked."""
        recs = self.records()
        packed = [S.pack_profile(*p) for p in self.profiles]
        v = self.version + 1
        self._pending = (v, recs)
        if full or self._door is None:
            return B.build(self.secret, self.door_id, B.FULL, v, 0, packed, [recs[k] for k in sorted(recs)])
        old = self._door
        ops = []
        for key in sorted(set(old) | set(recs)):
            if key not in recs:
                ops.append((B.OP_REMOVE, old[key]))
            elif key not in old:
                ops.append((B.OP_ADD, recs[key]))
            elif old[key] != recs[key]:
                ops.append((B.OP_CHANGE, recs[key]))
        return B.build(self.secret, self.door_id, B.DELTA, v, self.version, packed, ops)

    @property
    def pending_version(self):
        """The version of the last bundle() not yet confirmed installed, or None."""
        return None if self._pending is None else self._pending[0]

    def installed(self):
        """The door installed the last bundle(): deltas start from it now."""
        if self._pending is None:
            raise KeyError_("no bundle was built to be installed")
        self.version, self._door = self._pending


S_KIND_PIN = kind_code("pin")
