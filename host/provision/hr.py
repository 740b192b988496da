"""The CSV that HR hands over: one user a row, with a header line.

    user_code,name,cards[,role]
    E0012,Alice Sato,04A1B2C3;01014E1F2D3C4B5A
    E0013,Bob Ito,

`cards`: card ids separated by ';' or spaces, each hex as the reader reports it, optionally
prefixed by its kind (`felica:...`, `iso14443a:...`); without one an 8-byte id is FeliCa (IDm) and
4, 7 or 10 bytes is an ISO14443A UID. `role` (optional): super, manager or member.

Every row is checked before anything changes: a bad row -> UserError(EXIT_DATA, "FILE line N: ..."),
a card registered to another user -> UserError(EXIT_CONFLICT, "FILE line N: ... registered to ...").
Users and cards already in the key book as the CSV says are left as they are (importing the same
file twice changes nothing); users the CSV does not name are kept."""
import csv
import io
import os
import re

from doorkit.errors import EXIT_CONFLICT, EXIT_DATA, UserError

from . import ROLES, open_keys, save_keys

COLUMNS = ("user_code", "name", "cards")
_SPLIT = re.compile(r"[;\s]+")


def card_kind(text):
    """'felica:0101..' / '0101...' -> (kind, IDENT) by prefix or length (not yet validated)."""
    if ":" in text:
        kind, ident = text.split(":", 1)
        return kind.strip().lower(), ident.strip()
    n = len(text) // 2
    return ("felica" if n == 8 else "iso14443a"), text


def read_rows(path, columns=COLUMNS, optional=("role",)):
    """[(line number, {column: value})] of a CSV with a header naming `columns` (and any of
    `optional`); UserError(EXIT_DATA) for a file that is not one."""
    name = os.path.basename(path)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise UserError(EXIT_DATA, "%s: no such file" % path)
    except OSError as e:
        raise UserError(EXIT_DATA, "%s: %s" % (path, e.strerror or e))
    try:
        text = raw.decode("utf-8-sig")  # Excel writes a BOM
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise UserError(EXIT_DATA, "%s line %d: not UTF-8 text" % (name, line))
    rd = csv.reader(io.StringIO(text, newline=""))
    try:
        rows = []
        header = None
        for row in rd:
            if not any(c.strip() for c in row):
                continue
            if header is None:
                header = [c.strip().lower() for c in row]
                missing = [c for c in columns if c not in header]
                if missing:
                    raise UserError(EXIT_DATA, "%s line %d: the header needs the columns %s (missing: %s)"
                                    % (name, rd.line_num, ",".join(columns), ",".join(missing)))
                extra = [c for c in header if c not in tuple(columns) + tuple(optional)]
                if extra or len(set(header)) != len(header):
                    raise UserError(EXIT_DATA, "%s line %d: unknown or repeated column %r"
                                    % (name, rd.line_num, (extra or header)[0]))
                continue
            if len(row) != len(header):
                raise UserError(EXIT_DATA, "%s line %d: %d fields, the header has %d"
                                % (name, rd.line_num, len(row), len(header)))
            rows.append((rd.line_num, {k: v.strip() for k, v in zip(header, row)}))
    except csv.Error as e:
        raise UserError(EXIT_DATA, "%s line %d: %s" % (name, rd.line_num, e))
    if header is None:
        raise UserError(EXIT_DATA, "%s: empty (no header line)" % name)
    return rows


def import_csv(door_path, csv_path):
    """Import the HR CSV into the door's key book (all or nothing); -> (users added, users updated,
    cards added)."""
    door, keys = open_keys(door_path)
    name = os.path.basename(csv_path)
    rows = read_rows(csv_path)
    # 1. every row checked against the file and the key book, nothing changed yet
    seen_codes = {}
    seen_cards = {}
    plan = []
    for line, r in rows:
        where = "%s line %d" % (name, line)
        code, uname, role = r["user_code"], r["name"], r.get("role") or None
        try:
            if code in seen_codes:
                raise UserError(EXIT_DATA, "user code %s is also on line %d" % (code, seen_codes[code]))
            seen_codes[code] = line
            if role is not None and role not in ROLES:
                raise UserError(EXIT_DATA, "role must be one of %s, not %r" % (", ".join(ROLES), role))
            probe = type(keys)(door, {}, None)
            probe.add_user(code, uname, "member")  # the code's and the name's checks
            cards = []
            for c in _SPLIT.split(r["cards"]):
                if not c:
                    continue
                kind, ident = keys.norm(*card_kind(c))
                if (kind, ident) in seen_cards:
                    raise UserError(EXIT_DATA, "card %s is also on line %d" % (ident, seen_cards[(kind, ident)]))
                seen_cards[(kind, ident)] = line
                owner = keys.book.owner(kind, ident)
                if owner is not None and owner != code:
                    raise UserError(EXIT_CONFLICT, "card %s %s is already registered to %s"
                                    % (kind, ident, keys.who(owner)))
                if owner is None:
                    cards.append((kind, ident))
        except UserError as e:
            raise UserError(e.code, "%s: %s" % (where, e))
        plan.append((code, uname, role, cards))
    if not keys.supers() and not any(role == "super" for _, _, role, _ in plan) and plan:
        first = plan[0]
        plan[0] = (first[0], first[1], "super", first[3])  # a door's first user is its owner
    # 2. applied in memory (a failure here saves nothing), then saved in one atomic write
    added = updated = ncards = 0
    lines = [line for line, _ in rows]
    for line, (code, uname, role, cards) in zip(lines, plan):
        try:
            if code in keys.users:
                u = keys.users[code]
                if u["name"] != uname or (role is not None and u["role"] != role):
                    updated += 1
            else:
                added += 1
            keys.add_user(code, uname, role)
            for kind, ident in cards:
                keys.add_credential(code, kind, ident)
                ncards += 1
        except UserError as e:
            raise UserError(e.code, "%s line %d: %s" % (name, line, e))
    if plan:
        save_keys(door, keys)
    return added, updated, ncards
