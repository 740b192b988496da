"""doorkit.history: pulling the board's event log into SQLite, against the firmware's own
lockshell.service running in-process on CPython over a file-backed Storage (sim.nor FileCells),
reached through a fake link that round-trips every value through repr/literal_eval as the raw
REPL does."""
import ast
import io
import sqlite3

import pytest

import doorkit  # noqa: F401  (firmware/ on sys.path)
from doorkit.errors import EXIT_BOARD, EXIT_DATA, EXIT_REFUSED, UserError
from doorkit.history import History, parse_utc_offset, table
from keykit import SECRET, DOOR
from lockctl import codes as C
from lockctl.plan import TALLY_BLOCKS
from lockshell import service
from lockshell.flash import Storage
from sim.nor import FileCells, NorFlash, Partition

KEY_BLOCKS = 8
LOG_BLOCKS = TALLY_BLOCKS + 4
T0 = 1767225600  # 2026-01-01T00:00:00Z


class Board:
    """A door's flash in a file; boot() opens its Storage again (a reboot) and serves it."""

    def __init__(self, path, door=DOOR):
        self.path = str(path)
        self.door = door
        self.fl = None
        self.cells = None
        self.boot(fresh=True)

    def boot(self, fresh=False):
        blocks = KEY_BLOCKS + LOG_BLOCKS
        if self.cells is not None:
            self.cells.f.close()  # the power goes: what was written is in the file
        self.cells = FileCells(self.path, blocks * 4096, fresh=fresh)
        dev = NorFlash(blocks, cells=self.cells)
        self.fl = Storage(Partition(dev, 0, KEY_BLOCKS), Partition(dev, KEY_BLOCKS, LOG_BLOCKS), SECRET, self.door)
        service.use(self.fl)
        return self

    def append(self, t, code, arg=None, who=None, wall=False):
        return self.fl.log.append((t, code, arg, who), t, wall)


class Gone(UserError):
    pass


class FakeLink:
    """call(name, *args) -> lockshell.service.name(*args), literal values both ways. fail=(name, n):
    the n-th call of name raises (the USB cable pulled). history: at every ack, the seqs acked
    must already be committed in that file (read through a connection of its own)."""

    def __init__(self, fail=None, history=None):
        self.calls = []
        self.fail = fail
        self.history = history

    def call(self, name, *args):
        args = ast.literal_eval(repr(args))
        self.calls.append((name,) + args)
        if self.fail == (name, sum(1 for c in self.calls if c[0] == name)):
            raise Gone(EXIT_BOARD, "no board at fake: gone")
        if name == "ack" and self.history is not None:
            db = sqlite3.connect(self.history)
            have = db.execute("SELECT MAX(seq) FROM events").fetchone()[0] or 0
            db.close()
            assert have >= args[0], "ack(%d) before seq %d was committed (file has %d)" % (args[0], args[0], have)
        return ast.literal_eval(repr(getattr(service, name)(*args)))


@pytest.fixture
def board(tmp_path):
    b = Board(tmp_path / "door.nor")
    yield b
    service.use(None)


def day(b):
    """A first boot with the clock set, an unlock by user 2, a door, a denied card, an auto-lock;
    then a reboot with no clock set."""
    b.append(0, C.LOG_BOOT, (C.LOCKED, 1))
    b.append(2000, C.LOG_DOOR_CLOSE)
    b.append(5000, C.LOG_CLOCK_SET, (T0, 5000))
    b.append(T0 + 60, C.LOG_UNLOCK, C.KIND_ISO14443A, 2, wall=True)
    b.append(T0 + 62, C.LOG_DOOR_OPEN, wall=True)
    b.append(T0 + 100, C.LOG_DENIED, C.R_UNKNOWN, (C.KIND_ISO14443A, "04A1B2C3"), wall=True)
    b.append(T0 + 130, C.LOG_LOCK, C.SRC_AUTO, wall=True)
    b.boot()
    b.append(0, C.LOG_BOOT, (C.LOCKED, 2))
    b.append(1500, C.LOG_DOOR_OPEN)


def seqs(path):
    db = sqlite3.connect(str(path))
    out = [r[0] for r in db.execute("SELECT seq FROM events ORDER BY seq")]
    db.close()
    return out


def test_pull_takes_everything_and_acks_only_what_is_committed(board, tmp_path):
    day(board)
    path = str(tmp_path / "history.sqlite")
    ln = FakeLink(history=path)
    with History(path) as h:
        res = h.pull(ln, batch=3)
        assert (res.door, res.added, res.last_seq, res.cursor) == ("door-1", 9, 9, 9)
        assert h.door == "door-1"
        assert [r[0] for r in h.records()] == list(range(1, 10))
        assert h.records()[5] == (6, 1, True, T0 + 100, C.LOG_DENIED, C.R_UNKNOWN, (C.KIND_ISO14443A, "04A1B2C3"))
    assert service.status()["cursor"] == 9
    acks = [c[1] for c in ln.calls if c[0] == "ack"]
    assert acks == [3, 6, 9]  # one per committed batch, never ahead of the file


def test_an_interrupted_pull_resumes_without_duplicates(board, tmp_path):
    day(board)
    path = str(tmp_path / "history.sqlite")
    with History(path) as h:
        with pytest.raises(Gone):
            h.pull(FakeLink(fail=("log", 2), history=path), batch=4)  # the cable goes after one batch
        assert seqs(path) == [1, 2, 3, 4]
    assert service.status()["cursor"] == 4
    board.append(3000, C.LOG_DOOR_CLOSE)  # the door goes on living meanwhile
    ln = FakeLink(history=path)
    with History(path) as h:  # a new session on the same file
        res = h.pull(ln, batch=4)
        assert res.added == 6 and res.last_seq == 10
    assert seqs(path) == list(range(1, 11))
    assert all(c[1] >= 4 for c in ln.calls if c[0] == "log")  # it resumed, it did not start over
    assert service.status()["cursor"] == 10
    with History(path) as h:  # nothing new: nothing added, nothing duplicated
        assert h.pull(FakeLink(history=path)).added == 0
    assert seqs(path) == list(range(1, 11))


def test_a_pull_cut_between_commit_and_ack_acks_on_the_next_one(board, tmp_path):
    day(board)
    path = str(tmp_path / "history.sqlite")
    with History(path) as h:
        with pytest.raises(Gone):
            h.pull(FakeLink(fail=("ack", 1), history=path), batch=5)
    assert seqs(path) == [1, 2, 3, 4, 5]  # committed, not acknowledged
    assert service.status()["cursor"] == 0
    with History(path) as h:
        assert h.pull(FakeLink(history=path), batch=5).added == 4
    assert seqs(path) == list(range(1, 10)) and service.status()["cursor"] == 9


def test_a_pull_cut_at_its_last_ack_acks_with_nothing_new(board, tmp_path):
    day(board)
    path = str(tmp_path / "history.sqlite")
    with History(path) as h:
        with pytest.raises(Gone):
            h.pull(FakeLink(fail=("ack", 2), history=path), batch=5)
        assert service.status()["cursor"] == 5
        ln = FakeLink(history=path)
        res = h.pull(ln, batch=5)
    assert res.added == 0 and res.cursor == 9 and service.status()["cursor"] == 9
    assert [c for c in ln.calls if c[0] != "status"] == [("log", 9, 5), ("ack", 9)]


def test_a_batch_of_one_moves_on(board, tmp_path):
    day(board)
    path = str(tmp_path / "history.sqlite")
    with History(path) as h:
        assert h.pull(FakeLink(history=path), batch=1).added == 9
        board.append(4000, C.LOG_DOOR_CLOSE)
        assert h.pull(FakeLink(history=path), batch=1).added == 1
    assert seqs(path) == list(range(1, 11))


def test_another_door_is_refused(board, tmp_path):
    day(board)
    path = str(tmp_path / "history.sqlite")
    with History(path) as h:
        h.pull(FakeLink())
    other = Board(tmp_path / "other.nor", door=b"door-2")
    other.append(0, C.LOG_BOOT, (C.LOCKED, 1))
    with History(path) as h:
        with pytest.raises(UserError) as e:
            h.pull(FakeLink())
        assert e.value.code == EXIT_REFUSED and "door-2" in str(e.value) and "\n" not in str(e.value)
        with pytest.raises(UserError) as e:
            h.pull(FakeLink(), door="door-2")  # the board is the door asked for, the file is not its
        assert e.value.code == EXIT_REFUSED and "belongs to door door-1" in str(e.value)
    assert seqs(path) == list(range(1, 10))
    assert service.status()["cursor"] == 0  # the other door's log was not touched


def test_a_board_whose_log_was_reset_is_refused(board, tmp_path):
    day(board)
    path = str(tmp_path / "history.sqlite")
    with History(path) as h:
        h.pull(FakeLink())
    wiped = Board(tmp_path / "wiped.nor")  # the same door, a blank log: it starts at seq 1 again
    for i in range(3):
        wiped.append(i, C.LOG_DOOR_OPEN)
    with History(path) as h:
        with pytest.raises(UserError) as e:
            h.pull(FakeLink())
        assert e.value.code == EXIT_REFUSED and "reset" in str(e.value)
        for i in range(10):  # now past the history's last seq, but not the same records
            wiped.append(10 + i, C.LOG_DOOR_CLOSE)
        with pytest.raises(UserError) as e:
            h.pull(FakeLink())
        assert e.value.code == EXIT_REFUSED and "record 9 differs" in str(e.value)
    assert seqs(path) == list(range(1, 10))
    assert service.status()["cursor"] == 0


def test_a_board_without_identity_is_refused(tmp_path):
    service.use(None)

    class NoDoor:
        def call(self, name, *args):
            assert name == "status"
            return {"door": None}
    with History(str(tmp_path / "h.sqlite")) as h:
        with pytest.raises(UserError) as e:
            h.pull(NoDoor())
    assert e.value.code == EXIT_REFUSED


EXPECTED_CSV = """\
seq,boot,time,since_boot_ms,code,event,detail,user,who
1,1,2026-01-01T08:59:55+09:00,,1,BOOT,locked #1,,
2,1,2026-01-01T08:59:57+09:00,,9,DOOR_CLOSE,,,
3,1,2026-01-01T09:00:00+09:00,,22,CLOCK_SET,2026-01-01T00:00:00Z@5000,,
4,1,2026-01-01T09:01:00+09:00,,3,UNLOCK,iso14443a,2,Alice
5,1,2026-01-01T09:01:02+09:00,,8,DOOR_OPEN,,,
6,1,2026-01-01T09:01:40+09:00,,7,DENIED,unknown,,iso14443a:04A1B2C3
7,1,2026-01-01T09:02:10+09:00,,2,LOCK,auto,,
8,2,,0,1,BOOT,locked #2,,
9,2,,1500,8,DOOR_OPEN,,,
"""


def test_export_csv_exactly(board, tmp_path):
    day(board)
    path = str(tmp_path / "history.sqlite")
    with History(path) as h:
        ln = FakeLink()
        h.pull(ln, batch=4)
        assert [c for c in ln.calls if c[0] == "log"] == [("log", 0, 4), ("log", 5, 4), ("log", 9, 4)]
        out = io.StringIO()
        assert h.export_csv(out, names={2: "Alice"}, utc_offset=9 * 3600) == 9
        assert out.getvalue() == EXPECTED_CSV
        f = str(tmp_path / "out.csv")
        h.export_csv(f, names={2: "Alice"}, utc_offset=9 * 3600)
        with open(f, newline="") as fh:
            assert fh.read() == EXPECTED_CSV
        out = io.StringIO()
        h.export_csv(out)  # no names: the user index; no offset: UTC
        lines = out.getvalue().splitlines()
        assert lines[4] == "4,1,2026-01-01T00:01:00+00:00,,3,UNLOCK,iso14443a,2,2"


def test_clock_set_pulled_earlier_still_dates_its_boot(board, tmp_path):
    board.append(0, C.LOG_BOOT, (C.LOCKED, 1))
    board.append(5000, C.LOG_CLOCK_SET, (T0, 5000))
    path = str(tmp_path / "history.sqlite")
    with History(path) as h:
        h.pull(FakeLink())
        board.append(65000, C.LOG_DOOR_OPEN)  # monotonic, pulled in a later session
        h.pull(FakeLink())
        assert h.events()[-1]["time"] == "2026-01-01T00:01:00+00:00"


def test_show_table(board, tmp_path):
    day(board)
    path = str(tmp_path / "history.sqlite")
    with History(path) as h:
        h.pull(FakeLink())
        text = table(h.events(names={2: "Alice"}, utc_offset=-5 * 3600, last=6))
    lines = text.splitlines()
    assert lines[0].split() == ["seq", "time", "event", "detail", "who"]
    assert len(lines) == 7
    assert lines[1].split() == ["4", "2025-12-31", "19:01:00-05:00", "UNLOCK", "iso14443a", "Alice"]
    assert lines[-1].split() == ["9", "boot", "2", "+1.500s", "DOOR_OPEN"]


def test_not_a_history_file(tmp_path):
    p = tmp_path / "junk.sqlite"
    p.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(UserError) as e:
        History(str(p))
    assert e.value.code == EXIT_DATA and "\n" not in str(e.value)
    with pytest.raises(UserError) as e:
        History(str(tmp_path / "nodir" / "h.sqlite"))
    assert e.value.code == EXIT_DATA


def test_utc_offsets():
    assert parse_utc_offset("+09:00") == 32400
    assert parse_utc_offset("-05:30") == -19800
    assert parse_utc_offset("Z") == 0 and parse_utc_offset("+9") == 32400
    for bad in ("9", "+25:00", "+09:75", "nine", ""):
        with pytest.raises(ValueError):
            parse_utc_offset(bad)


# ---------------------------------------------------------------------- the command
class _Opened:
    def __init__(self, ln, seen, port):
        self.ln = ln
        seen.append(port)

    def __enter__(self):
        return self.ln

    def __exit__(self, *exc):
        return False


@pytest.fixture
def fake_port(monkeypatch):
    """doorkit.link.open_link -> a FakeLink on the in-process service; -> the ports opened."""
    import types
    import sys
    seen = []
    mod = types.ModuleType("doorkit.link")
    mod.open_link = lambda port, timeout=10: _Opened(FakeLink(), seen, port)
    monkeypatch.setitem(sys.modules, "doorkit.link", mod)
    return seen


def test_logs_command_pull_show_export(board, tmp_path, fake_port, capsys):
    import json
    from doorkit import cli
    from doorkit.keybook import KeyBook
    day(board)
    door = tmp_path / "front"
    door.mkdir()
    assert cli.main(["logs", "pull", "--port", "socket://127.0.0.1:1", "--door", str(door)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("door door-1: 9 new records, history up to seq 9, board acknowledged up to 9")
    assert fake_port == ["socket://127.0.0.1:1"] and (door / "history.sqlite").exists()
    assert cli.main(["logs", "pull", "--port", "p", "--door", str(door)]) == 0
    assert "0 new records" in capsys.readouterr().out
    kb = KeyBook(SECRET, DOOR)
    kb.add("iso14443a", "01020304", "Bob")
    kb.add("iso14443a", "01020305", "Alice")
    book = tmp_path / "keys.json"
    book.write_text(json.dumps(kb.state()))
    assert cli.main(["logs", "show", "--door", str(door), "--keybook", str(book), "--utc-offset", "+09:00",
                     "--last", "6"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 7 and lines[1].split()[-1] == "Alice" and "09:01:00+09:00" in lines[1]
    csv_path = tmp_path / "x.csv"
    assert cli.main(["logs", "export", "--history", str(door / "history.sqlite"), "--csv", str(csv_path),
                     "--keybook", str(book), "--utc-offset", "+09:00"]) == 0
    assert csv_path.read_text() == EXPECTED_CSV
    assert "9 records" in capsys.readouterr().err
    assert cli.main(["logs", "export", "--door", str(door), "--csv", "-", "--keybook", str(book),
                     "--utc-offset", "+09:00"]) == 0
    assert capsys.readouterr().out == EXPECTED_CSV


def test_logs_command_errors_are_one_line(board, tmp_path, fake_port, capsys):
    from doorkit import cli
    from doorkit.errors import EXIT_USAGE
    day(board)
    door = tmp_path / "front"
    door.mkdir()
    cases = [
        (["logs", "show", "--door", str(door)], EXIT_DATA, "no such file"),
        (["logs", "show", "--door", str(tmp_path / "nope")], EXIT_DATA, "no such directory"),
        (["logs"], EXIT_USAGE, "give an action"),
        (["logs", "pull", "--port", "p", "--door", str(door), "--door-id", "door-9"], EXIT_REFUSED, "not door-9"),
    ]
    for argv, code, text in cases:
        assert cli.main(argv) == code, argv
        err = capsys.readouterr().err
        assert err.startswith("doorkit logs: ") and text in err and err.count("\n") == 1, err
    assert cli.main(["logs", "pull", "--port", "p", "--door", str(door)]) == 0
    capsys.readouterr()
    (tmp_path / "bad.json").write_text("{\"users\": 3}")
    for argv, code, text in [
            (["logs", "show", "--door", str(door), "--utc-offset", "nine"], EXIT_USAGE, "--utc-offset"),
            (["logs", "show", "--door", str(door), "--keybook", str(tmp_path / "bad.json")], EXIT_DATA, "key book"),
            (["logs", "show", "--door", str(door), "--keybook", str(tmp_path / "no.json")], EXIT_DATA, "no such"),
            (["logs", "export", "--door", str(door), "--csv", str(tmp_path / "no" / "x.csv")], EXIT_DATA, "CSV")]:
        assert cli.main(argv) == code, argv
        err = capsys.readouterr().err
        assert err.startswith("doorkit logs: ") and text in err and err.count("\n") == 1, err


def test_logs_help_has_an_example_and_the_exit_codes(capsys):
    from doorkit import cli
    from doorkit.errors import EXIT_HELP
    for argv in (["logs", "--help"], ["logs", "pull", "--help"]):
        with pytest.raises(SystemExit) as e:
            cli.main(argv)
        assert e.value.code == 0
        out = capsys.readouterr().out
        assert "doorkit logs pull --port" in out and EXIT_HELP in out
