"""The door's event history on the host: a local SQLite file the board's event log is pulled into.

    h = History("doors/front/history.sqlite")
    res = h.pull(ln)                 # ln: a doorkit.link Link (anything with call(name, *args))
    rows = h.events(names=book.names(), utc_offset=9 * 3600)
    h.export_csv("front.csv", names=..., utc_offset=...)

Pulling reads the board's records in batches (`log(since_seq, n)` of lockshell.service), commits
each batch to SQLite and only then acknowledges it on the board (`ack(seq)`), so a record the
board forgets after an ack is always in the file. A pull resumes after the highest seq the file
holds; the primary key (door, seq) makes a duplicate impossible. The file belongs to one door (the
first board pulled from, or the door given): a board of another door, or a board whose log went
back below what the file holds (its log was wiped), is refused with EXIT_REFUSED.

Records are kept as the board gave them (seq, boot, wall, t, code, arg, who); times are turned into
wall clock when read (lockctl.eventlog.correct_times over the whole history, so a CLOCK_SET pulled
last time still dates the records of its boot pulled now). Names and texts come from
lockctl.record, the firmware's one formatter."""
import csv
import datetime
import json
import os
import sqlite3

from doorkit.errors import EXIT_BOARD, EXIT_DATA, EXIT_REFUSED, UserError

BATCH = 32  # records a log() call returns: a few KB of tuples on the board's heap
SCHEMA_VERSION = 1
CSV_COLUMNS = ("seq", "boot", "time", "since_boot_ms", "code", "event", "detail", "user", "who")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    door TEXT NOT NULL,
    seq INTEGER NOT NULL,
    boot INTEGER NOT NULL,
    wall INTEGER NOT NULL,
    t INTEGER NOT NULL,
    code INTEGER NOT NULL,
    arg TEXT NOT NULL,
    who TEXT NOT NULL,
    PRIMARY KEY (door, seq)
) WITHOUT ROWID;
"""


class PullResult:
    """What a pull did: door, added (records new to the file), last_seq (highest in the file),
    cursor (the board's acknowledged cursor after the pull)."""

    def __init__(self, door, added, last_seq, cursor):
        self.door = door
        self.added = added
        self.last_seq = last_seq
        self.cursor = cursor

    def __repr__(self):
        return "PullResult(door=%r, added=%d, last_seq=%d, cursor=%d)" % (self.door, self.added, self.last_seq,
                                                                          self.cursor)


def _enc(v):
    """arg / who -> JSON text (tuples as lists; a bool stays a bool)."""
    return json.dumps(v, separators=(",", ":"))


def _dec(text):
    v = json.loads(text)
    return tuple(v) if isinstance(v, list) else v


def _check_record(r):
    """A record from the board, checked for shape: (seq, boot, wall, t, code, arg, who)."""
    if not (isinstance(r, (tuple, list)) and len(r) == 7 and all(type(x) is int for x in (r[0], r[1], r[3], r[4]))
            and isinstance(r[2], bool) and r[0] >= 1):
        raise UserError(EXIT_BOARD, "board: a log record of an unexpected shape: %.80r" % (r,))
    arg, who = r[5], r[6]
    return (r[0], r[1], bool(r[2]), r[3], r[4], tuple(arg) if isinstance(arg, list) else arg,
            tuple(who) if isinstance(who, list) else who)


class History:
    def __init__(self, path):
        self.path = path
        d = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(d):
            raise UserError(EXIT_DATA, "history %s: no such directory %s" % (path, d))
        try:
            self.db = sqlite3.connect(path)
            self.db.executescript(_SCHEMA)
            got = self._meta("schema")
            if got is None:
                with self.db:
                    self.db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            elif got != str(SCHEMA_VERSION):
                raise UserError(EXIT_DATA, "history %s: format %s, this doorkit reads %d" % (path, got, SCHEMA_VERSION))
        except sqlite3.DatabaseError as e:
            raise UserError(EXIT_DATA, "history %s: not a doorkit history (%s)" % (path, e))

    def close(self):
        self.db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _meta(self, key):
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    @property
    def door(self):
        """The door this history belongs to (None until the first pull)."""
        return self._meta("door")

    def last_seq(self, door=None):
        door = door or self.door
        row = self.db.execute("SELECT MAX(seq) FROM events WHERE door = ?", (door,)).fetchone()
        return row[0] or 0

    def _stored(self, door, seq):
        row = self.db.execute("SELECT seq, boot, wall, t, code, arg, who FROM events WHERE door = ? AND seq = ?",
                              (door, seq)).fetchone()
        return None if row is None else (row[0], row[1], bool(row[2]), row[3], row[4], _dec(row[5]), _dec(row[6]))

    # ------------------------------------------------------------------ pulling
    def pull(self, ln, door=None, batch=BATCH, on_progress=None):
        """Pull the board's new records into the file and acknowledge them; -> PullResult.
        door: the door the board must be (else the file's own door, else whatever the board is).
        on_progress(done, total): records taken so far of the board's count to take."""
        st = ln.call("status")
        if not isinstance(st, dict):
            raise UserError(EXIT_BOARD, "board: status() gave %.60r" % (st,))
        board = st.get("door")
        if board is None:
            raise UserError(EXIT_REFUSED, "the board has no door identity (not provisioned): nothing to pull")
        if "next_seq" not in st:
            raise UserError(EXIT_REFUSED, "board %s has no event log partition" % board)
        mine = self.door
        want = door or mine
        if want is not None and board != want:
            raise UserError(EXIT_REFUSED, "the board is door %s, not %s%s" % (board, want, "" if door else
                                                                                " (this history is %s's)" % want))
        if mine is not None and door is not None and door != mine:
            raise UserError(EXIT_REFUSED, "history %s belongs to door %s, not %s" % (self.path, mine, door))
        last = self.last_seq(board)
        next_seq = st["next_seq"]
        if next_seq <= last:
            raise UserError(EXIT_REFUSED, "board %s's log ends at seq %d but the history holds up to %d: its log "
                                          "was reset (refusing to mix two logs)" % (board, next_seq - 1, last))
        if mine is None:
            with self.db:
                self.db.execute("INSERT OR REPLACE INTO meta VALUES ('door', ?)", (board,))
        added = 0
        cursor = st.get("cursor", 0)
        total = max(0, next_seq - 1 - last)
        if on_progress is not None:
            on_progress(0, total)
        since = last  # the last record pulled, again: the board must still hold the same one there
        overlap = last > 0
        while True:
            got = ln.call("log", since, batch)
            if not isinstance(got, (list, tuple)):
                raise UserError(EXIT_BOARD, "board: log() gave %.60r" % (got,))
            recs = [_check_record(r) for r in got]
            if overlap:
                overlap = False
                if recs and recs[0][0] == last:
                    if recs[0] != self._stored(board, last):
                        raise UserError(EXIT_REFUSED, "board %s's record %d differs from the history's: its log "
                                                      "was reset (pull it into another --history file)" % (board, last))
                    recs = recs[1:]
            new = []
            for r in recs:
                if r[0] <= (new[-1][0] if new else last):
                    raise UserError(EXIT_BOARD, "board: log records out of order (seq %d after %d)"
                                    % (r[0], new[-1][0] if new else last))
                new.append(r)
            if new:
                with self.db:  # one transaction: the whole batch or none of it
                    self.db.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                        [(board, r[0], r[1], int(r[2]), r[3], r[4], _enc(r[5]), _enc(r[6]))
                                         for r in new])
                last = new[-1][0]
                added += len(new)
                # only now, with the batch durable in the file, may the board forget it
                cursor = ln.call("ack", last)
                if on_progress is not None:
                    on_progress(added, max(total, added))
            if len(got) < batch:
                break
            since = last + 1
        if last and cursor < last:  # an earlier pull stopped between its commit and its ack
            cursor = ln.call("ack", last)
        return PullResult(board, added, last, cursor)

    # ------------------------------------------------------------------ reading
    def records(self, door=None):
        """The history's records (seq, boot, wall, t, code, arg, who) in seq order, as pulled."""
        door = door or self.door
        cur = self.db.execute("SELECT seq, boot, wall, t, code, arg, who FROM events WHERE door = ? ORDER BY seq",
                              (door,))
        return [(r[0], r[1], bool(r[2]), r[3], r[4], _dec(r[5]), _dec(r[6])) for r in cur]

    def events(self, names=None, utc_offset=None, door=None, last=None):
        """The records as rows for people (event_rows)."""
        return event_rows(self.records(door), names, utc_offset, last)

    def export_csv(self, out, names=None, utc_offset=None):
        """Write the history as CSV (CSV_COLUMNS, a header line first) to a path or a text file;
        -> the number of records."""
        rows = self.events(names, utc_offset)
        if isinstance(out, str):
            try:
                with open(out, "w", newline="", encoding="utf-8") as f:
                    return self.export_csv(f, names, utc_offset)
            except OSError as e:
                raise UserError(EXIT_DATA, "CSV file %s: %s" % (out, e.strerror or e))
        w = csv.DictWriter(out, CSV_COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        return len(rows)


def event_rows(records, names=None, utc_offset=None, last=None):
    """Records (seq, boot, wall, t, code, arg, who) of one door, in seq order, as rows for people:
    dicts with the CSV_COLUMNS keys (strings), times in wall clock where the board's CLOCK_SET
    tells them (local time at utc_offset seconds east of UTC, else UTC), who joined to a name
    through names (user index -> name). Texts come from lockctl.record, the one formatter."""
    from lockctl.eventlog import correct_times
    from lockctl.record import LOG_NAMES, format_record, who_text
    recs = correct_times(list(records))
    if last is not None:
        recs = recs[-last:] if last > 0 else []
    tz = datetime.timezone.utc if not utc_offset else datetime.timezone(datetime.timedelta(seconds=utc_offset))
    out = []
    for seq, boot, wall, t, code, arg, who in recs:
        name = LOG_NAMES[code] if 0 < code < len(LOG_NAMES) else "CODE%d" % code
        # the arg's text is what the one formatter writes after the name
        detail = format_record((0, code, arg, None)).split(" ", 2)[2] if arg is not None else ""
        out.append({
            "seq": str(seq), "boot": str(boot),
            "time": datetime.datetime.fromtimestamp(t, tz).isoformat() if wall else "",
            "since_boot_ms": "" if wall else str(t),
            "code": str(code), "event": name, "detail": detail,
            "user": str(who) if type(who) is int else "",
            "who": "" if who is None else who_text(who, names),
        })
    return out


def table(rows):
    """Rows of events() as an aligned text table: seq, time, event, detail, who."""
    head = ("seq", "time", "event", "detail", "who")
    cells = [head] + [(r["seq"], r["time"].replace("T", " ") if r["time"] else "boot %s +%.3fs" % (
        r["boot"], int(r["since_boot_ms"]) / 1000.0), r["event"], r["detail"], r["who"]) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(head))]
    return "\n".join("  ".join(c[i].ljust(widths[i]) for i in range(len(head))).rstrip() for c in cells) + "\n"


def parse_utc_offset(text):
    """'+09:00', '-05:30', '+9', 'Z' or 'UTC' -> seconds east of UTC; ValueError otherwise."""
    s = text.strip()
    if s.upper() in ("Z", "UTC"):
        return 0
    if not s or s[0] not in "+-":
        raise ValueError("a UTC offset is +HH:MM or -HH:MM (or Z), not %r" % text)
    sign = -1 if s[0] == "-" else 1
    hh, _, mm = s[1:].partition(":")
    if not hh.isdigit() or (mm and not mm.isdigit()) or len(hh) > 2 or len(mm) > 2:
        raise ValueError("a UTC offset is +HH:MM or -HH:MM (or Z), not %r" % text)
    h, m = int(hh), int(mm or 0)
    if h > 14 or m >= 60 or h * 60 + m > 14 * 60:
        raise ValueError("a UTC offset is between -14:00 and +14:00, not %r" % text)
    return sign * (h * 3600 + m * 60)
