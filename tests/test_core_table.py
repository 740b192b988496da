"""docs/core.md's transition table, walked cell by cell against the core.

Each row is a mode of the core (LockCore.mode, named in lockctl/record.py MODE_NAMES), with the door
closed unless the row says "door open"; each column an event. A cell says what the core does: the
mode it ends in, then its motor actions and log records in order (D+ drive toward unlock, D- drive
toward lock, S stop, then the LOG names), or "·" where the event cannot happen in that row (a timer
that is not armed there). "same" stands for the row's own mode.

    .venv/bin/python tests/test_core_table.py    # prints the table from the core, for the doc

The test reads the table from docs/core.md, builds each row's situation with the public API, feeds
the column's event and compares.
"""
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "fw"))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "host"))
import doorkit  # noqa: E402,F401

from corekit import Rig, LOCK_POS, UNLOCK_POS  # noqa: E402
from lockctl.keys import KeyList  # noqa: E402
from lockctl.record import MODE_NAMES, LOG_NAMES  # noqa: E402
from lockctl.codes import (  # noqa: E402
    EV_DOOR, EV_BUTTON, EV_POSITION, EV_STALL, EV_CREDENTIAL, EV_TIMER, EV_REMOTE, EV_CONFIG, EV_CALIBRATE,
    EV_READER, EV_SENSOR, A_DRIVE, A_STOP, A_LOG, T_AUTOLOCK, T_MOTION, T_BACKOFF, T_HELD, KIND_ISO14443A,
)

DOC = os.path.join(os.path.dirname(HERE), "docs", "core.md")
NEAR_LOCK = 1600  # between the ends, nearer the lock end
NEAR_UNLOCK = 2400  # between the ends, nearer the unlock end
CARD = (KIND_ISO14443A, "04A1B2C3")


def _rig(pos=LOCK_POS, cal=(LOCK_POS, UNLOCK_POS), door_open=False):
    return Rig({"relock_on_boot": False}, cal=cal, pos=pos, door_open=door_open,
               keys=KeyList([(KIND_ISO14443A, "04A1B2C3", "alice")]))


def _jammed():
    r = _rig()
    r.ev(100, EV_BUTTON)
    r.advance(5000)  # two time-outs: jammed at the lock end
    return r


def _open(r):
    r.ev(r.now + 100, EV_DOOR, True)
    return r


def _then(r, *evs):
    for kind, arg in evs:
        r.ev(r.now + 100, kind, arg)
    return r


# row label -> how to get there
ROWS = (
    ("uncalibrated", lambda: _rig(pos=NEAR_LOCK, cal=None)),
    ("locked", lambda: _rig()),
    ("unlocked", lambda: _then(_rig(), (EV_CREDENTIAL, CARD), (EV_POSITION, UNLOCK_POS))),
    ("jammed", _jammed),
    ("unlocking", lambda: _then(_rig(), (EV_BUTTON, None))),
    ("unlock-backoff", lambda: (lambda r: (r.advance(r.now + 1500), r)[1])(_then(_rig(), (EV_BUTTON, None)))),
    ("locking", lambda: _then(_rig(pos=UNLOCK_POS), (EV_REMOTE, ("lock", "admin")))),
    ("lock-backoff", lambda: (lambda r: (r.advance(r.now + 1500), r)[1])(
        _then(_rig(pos=UNLOCK_POS), (EV_REMOTE, ("lock", "admin"))))),
    ("cal-unlock", lambda: _then(_rig(), (EV_CALIBRATE, "auto"))),
    ("cal-lock", lambda: _then(_rig(), (EV_CALIBRATE, "auto"), (EV_POSITION, UNLOCK_POS), (EV_STALL, None))),
    ("mark-lock", lambda: _then(_rig(pos=NEAR_LOCK, cal=None), (EV_CALIBRATE, "manual"))),
    ("mark-unlock", lambda: _then(_rig(pos=NEAR_LOCK, cal=None), (EV_CALIBRATE, "manual"), (EV_POSITION, LOCK_POS),
                                  (EV_CALIBRATE, "mark"))),
    ("uncalibrated, door open", lambda: _open(_rig(pos=NEAR_LOCK, cal=None))),
    ("locked, door open", lambda: _open(_rig())),
    ("unlocked, door open", lambda: _open(_then(_rig(), (EV_CREDENTIAL, CARD), (EV_POSITION, UNLOCK_POS)))),
    ("jammed, door open", lambda: _open(_jammed())),
    ("unlocking, door open", lambda: _open(_then(_rig(pos=UNLOCK_POS), (EV_REMOTE, ("lock", "admin")),
                                                 (EV_POSITION, NEAR_LOCK)))),
)


def _timer(tid):
    def fire(r):
        d = r.core.deadline(tid)
        if d is None:
            return None  # not armed in this row: "·"
        return r.core.handle(max(d, r.core.now), EV_TIMER)
    return fire


def _ev(kind, arg=None):
    return lambda r: r.core.handle(r.core.now + 10, kind, arg)


# column label -> the event
COLUMNS = (
    ("door opens", lambda r: None if r.core.door_open else r.core.handle(r.core.now + 10, EV_DOOR, True)),
    ("door closes", lambda r: None if not r.core.door_open else r.core.handle(r.core.now + 10, EV_DOOR, False)),
    ("button", _ev(EV_BUTTON)),
    ("knob at lock end", _ev(EV_POSITION, LOCK_POS)),
    ("knob nearer lock", _ev(EV_POSITION, NEAR_LOCK)),
    ("knob nearer unlock", _ev(EV_POSITION, NEAR_UNLOCK)),
    ("knob at unlock end", _ev(EV_POSITION, UNLOCK_POS)),
    ("stall", _ev(EV_STALL)),
    ("card (enrolled)", _ev(EV_CREDENTIAL, CARD)),
    ("card (unknown)", _ev(EV_CREDENTIAL, (KIND_ISO14443A, "FFFF"))),
    ("remote lock", _ev(EV_REMOTE, ("lock", "admin"))),
    ("remote unlock", _ev(EV_REMOTE, ("unlock", "admin"))),
    ("auto-lock timer", _timer(T_AUTOLOCK)),
    ("motion timer", _timer(T_MOTION)),
    ("back-off timer", _timer(T_BACKOFF)),
    ("held-open timer", _timer(T_HELD)),
    ("set auto_lock off", _ev(EV_CONFIG, {"auto_lock": False})),
    ("calibrate auto", _ev(EV_CALIBRATE, "auto")),
    ("calibrate manual", _ev(EV_CALIBRATE, "manual")),
    ("calibrate mark", _ev(EV_CALIBRATE, "mark")),
    ("calibrate cancel", _ev(EV_CALIBRATE, "cancel")),
    ("reader down", _ev(EV_READER, -1)),
    ("door sensor fails", lambda r: r.core.handle(r.core.now + 10, EV_SENSOR, (EV_DOOR, False))),
)


def cell(row_mode, core, acts):
    """The cell text for what one event did."""
    if acts is None:
        return "·"
    out = []
    for a in acts:
        if a[0] == A_DRIVE:
            out.append("D+" if a[1] > 0 else "D-")
        elif a[0] == A_STOP:
            out.append("S")
        elif a[0] == A_LOG:
            out.append(LOG_NAMES[a[1][1]])
    mode = MODE_NAMES[core.mode]
    head = "same" if mode == row_mode else mode
    if head == "same" and not out:
        return "–"
    return head + (": " + " ".join(out) if out else "")


def compute():
    table = []
    for label, make in ROWS:
        probe = make()
        row_mode = MODE_NAMES[probe.core.mode]
        assert label.split(",")[0] == row_mode, (label, row_mode)
        cells = []
        for _, event in COLUMNS:
            r = make()
            cells.append(cell(row_mode, r.core, event(r)))
        table.append((label, cells))
    return table


def markdown(table):
    lines = ["| mode \\ event | " + " | ".join(c for c, _ in COLUMNS) + " |",
             "|---" * (len(COLUMNS) + 1) + "|"]
    for label, cells in table:
        lines.append("| **%s** | %s |" % (label, " | ".join(cells)))
    return lines


def doc_table():
    text = open(DOC).read()
    m = re.search(r"<!-- transition table: generated by tests/test_core_table.py -->\n(.*?)\n<!-- end -->", text, re.S)
    assert m, "docs/core.md has no transition table block"
    rows = [l for l in m.group(1).splitlines() if l.startswith("| **")]
    head = m.group(1).splitlines()[0]
    cols = [c.strip() for c in head.strip("|").split("|")][1:]
    out = []
    for l in rows:
        parts = [c.strip() for c in l.strip().strip("|").split("|")]
        out.append((parts[0].strip("*"), parts[1:]))
    return cols, out


def test_the_doc_table_has_every_row_and_column():
    cols, rows = doc_table()
    assert cols == [c for c, _ in COLUMNS]
    assert [label for label, _ in rows] == [label for label, _ in ROWS]
    assert {label.split(",")[0] for label, _ in rows} == set(MODE_NAMES)  # every mode has a row


def test_every_cell_of_the_doc_table_holds():
    cols, rows = doc_table()
    got = dict(compute())
    bad = []
    for label, cells in rows:
        for col, want, have in zip(cols, cells, got[label]):
            if want != have:
                bad.append("%s x %s: doc says %r, core does %r" % (label, col, want, have))
    assert not bad, "\n".join(bad)


if __name__ == "__main__":
    print("\n".join(markdown(compute())))
