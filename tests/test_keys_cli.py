"""`doorkit keys`: users and roles, credentials, the HR CSV import (all or nothing), bundles, and
`keys push` through a small in-test link that runs the firmware's own lockshell.service on CPython
over a file-backed flash (the real install path: KeyStore, Installer, tally)."""
import os
import sys
import types

import pytest

from doorkit import cli
from doorkit import provision as P
from doorkit.errors import EXIT_CONFLICT, EXIT_DATA, EXIT_REFUSED, EXIT_USAGE, UserError
from doorkit.sim.nor import FileCells, NorFlash, Partition
from lockctl import bundle as B
from lockctl.codes import KIND_FELICA, KIND_ISO14443A, KIND_PIN
from lockctl.plan import TALLY_BLOCKS
from lockshell import service
from lockshell.flash import Storage

KEY_BLOCKS = 8
LOG_BLOCKS = TALLY_BLOCKS + 4


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err):
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


@pytest.fixture
def door(tmp_path, capsys):
    d = tmp_path / "front"
    assert run(capsys, "provision", "new", d, "--door-id", "front")[0] == 0
    return d


def keys_of(d):
    return P.open_keys(d)[1]


HR = """user_code,name,cards
E0001,Aiko Owner,04A1B2C3
E0012,Ben Ito,01014e1f2d3c4b5a; 04112233
E0013,Chie Sato,
"""


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


# ------------------------------------------------------------------ users and credentials
def test_users_roles_and_the_last_super_manager(door, capsys):
    code, out, _ = run(capsys, "keys", "user", "add", door, "E0001", "--name", "Aiko")
    assert code == 0 and "super manager" in out  # a door's first user is its owner
    assert run(capsys, "keys", "user", "add", door, "E0002", "--name", "Ben")[0] == 0
    assert keys_of(door).users["E0002"]["role"] == "member"
    code, _, err = run(capsys, "keys", "user", "role", door, "E0001", "manager")
    assert code == EXIT_CONFLICT and "only super manager" in one_line(err)
    code, _, err = run(capsys, "keys", "user", "remove", door, "E0001")
    assert code == EXIT_CONFLICT and "only super manager" in one_line(err)
    assert keys_of(door).users["E0001"]["role"] == "super"
    assert run(capsys, "keys", "user", "role", door, "E0002", "super")[0] == 0
    assert run(capsys, "keys", "user", "role", door, "E0001", "manager")[0] == 0
    k = keys_of(door)
    assert k.users == {"E0001": {"name": "Aiko", "role": "manager"}, "E0002": {"name": "Ben", "role": "super"}}
    code, out, _ = run(capsys, "keys", "list", door)
    assert "E0001  Aiko  [manager]" in out and "E0002  Ben  [super manager]" in out


def test_credentials_with_validity_and_schedules(door, capsys):
    run(capsys, "keys", "user", "add", door, "E1", "--name", "Aiko")
    run(capsys, "keys", "user", "add", door, "V1", "--name", "Visitor")
    assert run(capsys, "keys", "add", door, "E1", "--card", "04a1b2c3")[0] == 0
    code, _, err = run(capsys, "keys", "add", door, "V1", "--pin", "4711", "--days", "mon-fri",
                       "--window", "09:00-18:00", "--from", "2026-12-01", "--until", "2026-12-31", "--uses", "3")
    assert code == 0, err
    assert run(capsys, "keys", "add", door, "V1", "--felica", "01014E1F2D3C4B5A", "--window", "22:00-06:00")[0] == 0
    creds = {c[1]: c for c in keys_of(door).book.credentials()}
    assert creds["04A1B2C3"][0] == "iso14443a" and creds["04A1B2C3"][3] == (0, 0, 0, 0)
    pin = creds["4711"]
    assert pin[0] == "pin" and pin[2] == "V1" and pin[3] == (1, 0x1F, 540, 1080) and pin[6] == 3
    assert creds["01014E1F2D3C4B5A"][3] == (2, 0, 1320, 360)
    code, out, _ = run(capsys, "keys", "list", door)
    assert "4711" not in out and "mon,tue,wed,thu,fri 09:00-18:00  from 2026-12-01  until 2026-12-31  3 uses" in out
    assert "daily 22:00-06:00" in out
    # removing a user takes their credentials with them
    code, out, _ = run(capsys, "keys", "user", "remove", door, "V1")
    assert code == 0 and "2 credentials" in out
    assert [c[1] for c in keys_of(door).book.credentials()] == ["04A1B2C3"]


@pytest.mark.parametrize("args, code, want", [
    (["--card", "04A1B2"], EXIT_DATA, "a iso14443a id is 4 or 7 or 10 bytes, not 3"),
    (["--card", "zz"], EXIT_DATA, "is not hex"),
    (["--felica", "0101"], EXIT_DATA, "a felica id is 8 bytes"),
    (["--pin", "12"], EXIT_DATA, "a PIN is 4 to 8 digits"),
    (["--card", "04A1B2C3", "--days", "someday"], EXIT_DATA, "days are mon..sun"),
    (["--card", "04A1B2C3", "--until", "31/12/2026"], EXIT_DATA, "a date is YYYY-MM-DD"),
])
def test_bad_credentials_are_refused(door, capsys, args, code, want):
    run(capsys, "keys", "user", "add", door, "E1", "--name", "Aiko")
    before = (door / "keys.json").read_bytes()
    got, _, err = run(capsys, "keys", "add", door, "E1", *args)
    assert got == code and want in one_line(err)
    assert (door / "keys.json").read_bytes() == before


def test_a_card_already_registered_names_its_owner(door, capsys):
    run(capsys, "keys", "user", "add", door, "E1", "--name", "Aiko Owner")
    run(capsys, "keys", "user", "add", door, "E2", "--name", "Ben")
    assert run(capsys, "keys", "add", door, "E1", "--card", "04A1B2C3")[0] == 0
    before = (door / "keys.json").read_bytes()
    code, _, err = run(capsys, "keys", "add", door, "E2", "--card", "04a1b2c3")
    assert code == EXIT_CONFLICT
    assert "card iso14443a 04A1B2C3 is already registered to E1 (Aiko Owner)" in one_line(err)
    assert (door / "keys.json").read_bytes() == before


# ------------------------------------------------------------------ HR CSV
def test_import_hr_csv(door, tmp_path, capsys):
    csv = write(tmp_path, "hr.csv", HR)
    code, out, err = run(capsys, "keys", "import", door, csv)
    assert code == 0, err
    assert "3 users added, 0 updated, 3 cards added" in out
    k = keys_of(door)
    assert k.users["E0001"] == {"name": "Aiko Owner", "role": "super"}  # first user of the door
    assert k.users["E0012"] == {"name": "Ben Ito", "role": "member"}
    assert k.owner("felica", "01014E1F2D3C4B5A") == "E0012" and k.owner("iso14443a", "04112233") == "E0012"
    assert k.owner("iso14443a", "04A1B2C3") == "E0001"
    # the same file again changes nothing; a renamed user is updated
    before = (door / "keys.json").read_bytes()
    code, out, _ = run(capsys, "keys", "import", door, csv)
    assert code == 0 and "0 users added, 0 updated, 0 cards added" in out
    assert (door / "keys.json").read_bytes() == before
    csv2 = write(tmp_path, "hr2.csv", "\ufeffUser_Code,Name,Cards,Role\nE0013,Chie Sato-Ito,felica:0102030405060708,manager\n")
    code, out, _ = run(capsys, "keys", "import", door, csv2)
    assert code == 0 and "0 users added, 1 updated, 1 card added" in out
    assert keys_of(door).users["E0013"] == {"name": "Chie Sato-Ito", "role": "manager"}


@pytest.mark.parametrize("text, code, want", [
    ("user_code,name\nE1,A\n", EXIT_DATA, "hr.csv line 1: the header needs the columns user_code,name,cards"),
    (HR + "E0014,Dai\n", EXIT_DATA, "hr.csv line 5: 2 fields, the header has 3"),
    (HR + "E0014,Dai,04A1B2\n", EXIT_DATA, "hr.csv line 5: a iso14443a id is 4 or 7 or 10 bytes, not 3"),
    (HR + "E0014,Dai,0xZZ\n", EXIT_DATA, "hr.csv line 5: iso14443a id '0xZZ' is not hex"),
    (HR + "E0012,Ben again,\n", EXIT_DATA, "hr.csv line 5: user code E0012 is also on line 3"),
    (HR + "E0014,Dai,04112233\n", EXIT_DATA, "hr.csv line 5: card 04112233 is also on line 3"),
    (HR + "E 14,Dai,\n", EXIT_DATA, "hr.csv line 5: a user code is 1..32"),
    (HR + "E0014,,\n", EXIT_DATA, "hr.csv line 5: user E0014 needs a name"),
    (HR.replace("cards\n", "cards,role\n").replace("\n", ",\n").replace("cards,role,", "cards,role")
     .replace("E0013,Chie Sato,,", "E0013,Chie Sato,,boss"), EXIT_DATA, "hr.csv line 4: role must be one of"),
    (HR + "E0014,Dai,nfc:04999999\n", EXIT_DATA, "hr.csv line 5: a credential kind is"),
    (HR + 'E0014,"Dai\n', EXIT_DATA, "hr.csv line"),
])
def test_a_bad_row_changes_nothing(door, tmp_path, capsys, text, code, want):
    before = (door / "keys.json").read_bytes()
    csv = write(tmp_path, "hr.csv", text)
    got, out, err = run(capsys, "keys", "import", door, csv)
    assert got == code, err
    assert want in one_line(err)
    assert (door / "keys.json").read_bytes() == before and out == ""


def test_a_csv_that_is_not_text(door, tmp_path, capsys):
    p = tmp_path / "hr.csv"
    p.write_bytes(HR.encode() + b"E0014,D\xe4i,\n")
    code, _, err = run(capsys, "keys", "import", door, p)
    assert code == EXIT_DATA and "hr.csv line 5: not UTF-8 text" in one_line(err)
    code, _, err = run(capsys, "keys", "import", door, tmp_path / "none.csv")
    assert code == EXIT_DATA and "no such file" in one_line(err)


def test_import_card_registered_to_another_user_is_a_conflict(door, tmp_path, capsys):
    assert run(capsys, "keys", "import", door, write(tmp_path, "a.csv", HR))[0] == 0
    before = (door / "keys.json").read_bytes()
    later = "user_code,name,cards\nE0020,Eri New,04999999\nE0021,Fumi New,01014E1F2D3C4B5A\n"
    code, out, err = run(capsys, "keys", "import", door, write(tmp_path, "hr.csv", later))
    assert code == EXIT_CONFLICT
    assert "hr.csv line 3: card felica 01014E1F2D3C4B5A is already registered to E0012 (Ben Ito)" in one_line(err)
    assert (door / "keys.json").read_bytes() == before  # not even line 2's user


# ------------------------------------------------------------------ bundles
def test_bundle_full_then_delta(door, tmp_path, capsys):
    run(capsys, "keys", "import", door, write(tmp_path, "hr.csv", HR))
    secret = P.load_door(door).secret
    out1 = tmp_path / "1.bin"
    code, out, _ = run(capsys, "keys", "bundle", door, "-o", out1)
    assert code == 0 and "full bundle, version 1" in out
    data = out1.read_bytes()
    assert B.parse_header(data, secret, b"front")[1] == 1  # (kind, version, ...) signed with the door's secret
    with pytest.raises(B.BundleError):
        B.parse_header(data, b"x" * 32, b"front")


# ------------------------------------------------------------------ push through a link
class Board:
    """A door's flash (keys + log partitions) in a file; Storage() opens it as a boot would."""

    def __init__(self, path, secret, door_id=b"front"):
        self.path = str(path)
        self.secret = secret
        self.door_id = door_id
        self.dev = NorFlash(KEY_BLOCKS + LOG_BLOCKS, cells=FileCells(self.path, (KEY_BLOCKS + LOG_BLOCKS) * 4096,
                                                                     4096, True))

    def boot(self):
        dev = NorFlash(KEY_BLOCKS + LOG_BLOCKS, cells=FileCells(self.path, (KEY_BLOCKS + LOG_BLOCKS) * 4096, 4096))
        return Storage(Partition(dev, 0, KEY_BLOCKS), Partition(dev, KEY_BLOCKS, LOG_BLOCKS), self.secret,
                       self.door_id)


class FakeLink:
    """The Link API of the spec (call, put, context manager) over lockshell.service on CPython: the
    board's filesystem is a directory, its storage a Board."""

    def __init__(self, board, fsdir):
        self.board = board
        self.fs = str(fsdir)
        self.calls = []
        self.puts = []

    def _path(self, p):
        return os.path.join(self.fs, p.lstrip("/"))

    def __enter__(self):
        service.use(self.board.boot())
        return self

    def __exit__(self, *exc):
        service.use(None)

    def put(self, data, path):
        self.puts.append((path, len(data)))
        with open(self._path(path), "wb") as f:
            f.write(data)

    def call(self, name, *args):
        self.calls.append(name)
        if name == "install":
            args = (self._path(args[0]),) + args[1:]
        return getattr(service, name)(*args)


@pytest.fixture
def link(monkeypatch, tmp_path):
    """Installs a doorkit.link whose open_link(port) opens the in-test board of that port."""
    boards = {}
    links = []
    fsdir = tmp_path / "boardfs"
    fsdir.mkdir()

    def open_link(port, timeout=10):
        if port not in boards:
            raise UserError(4, "no board at %s: no such port" % port)
        ln = FakeLink(boards[port], fsdir)
        links.append(ln)
        return ln

    mod = types.ModuleType("doorkit.link")
    mod.open_link = open_link
    monkeypatch.setitem(sys.modules, "doorkit.link", mod)
    return types.SimpleNamespace(boards=boards, links=links, fs=fsdir)


def test_push_installs_and_the_door_opens_for_the_cards(door, tmp_path, capsys, link):
    secret = P.load_door(door).secret
    board = link.boards["socket://127.0.0.1:8266"] = Board(tmp_path / "flash.nor", secret)
    run(capsys, "keys", "import", door, write(tmp_path, "hr.csv", HR))
    run(capsys, "keys", "add", door, "E0013", "--pin", "4711")
    code, out, err = run(capsys, "keys", "push", door, "--port", "socket://127.0.0.1:8266")
    assert code == 0, err
    assert "full key list version 1 installed (4 credentials on the board)" in out
    assert link.links[-1].calls == ["status", "install", "status"]
    assert link.links[-1].puts[0][0] == "/bundle.bin" and os.listdir(link.fs) == []  # install removes it
    fl = board.boot()  # what the door has after a reboot
    assert fl.keys.version == 1
    assert fl.keys.check(KIND_ISO14443A, "04A1B2C3", None)[0] is not None
    assert fl.keys.check(KIND_FELICA, "01014E1F2D3C4B5A", None)[0] is not None
    assert fl.keys.check(KIND_PIN, "4711", None)[0] is not None
    assert keys_of(door).book.version == 1
    # a card taken away: the next push is a delta, and the card no longer opens
    assert run(capsys, "keys", "remove", door, "--card", "04112233")[0] == 0
    code, out, err = run(capsys, "keys", "push", door, "--port", "socket://127.0.0.1:8266")
    assert code == 0, err
    assert "delta key list version 2 installed (3 credentials on the board)" in out
    fl = board.boot()
    assert fl.keys.version == 2 and fl.keys.check(KIND_ISO14443A, "04112233", None)[0] is None
    assert fl.keys.check(KIND_ISO14443A, "04A1B2C3", None)[0] is not None


def test_push_to_a_door_with_another_secret_is_refused(door, tmp_path, capsys, link):
    board = link.boards["/dev/ttyUSB0"] = Board(tmp_path / "flash.nor", b"\x5a" * 32)  # same id, other secret
    run(capsys, "keys", "import", door, write(tmp_path, "hr.csv", HR))
    code, out, err = run(capsys, "keys", "push", door, "--port", "/dev/ttyUSB0")
    assert code == EXIT_REFUSED
    assert "wrong door secret" in one_line(err) and "[bad_signature]" in err
    assert board.boot().keys.version == 0 and len(board.boot().keys) == 0
    assert keys_of(door).book.version == 0  # not marked installed
    assert out == ""


def test_push_to_another_door_is_refused(door, tmp_path, capsys, link):
    link.boards["/dev/ttyUSB0"] = Board(tmp_path / "flash.nor", P.load_door(door).secret, b"back")
    run(capsys, "keys", "import", door, write(tmp_path, "hr.csv", HR))
    code, _, err = run(capsys, "keys", "push", door, "--port", "/dev/ttyUSB0")
    assert code == EXIT_REFUSED and "is door 'back', not 'front'" in one_line(err)


def test_push_recovers_when_the_book_and_the_board_disagree(door, tmp_path, capsys, link):
    """A delta is only sent when the board has the version the book says; otherwise a full list."""
    secret = P.load_door(door).secret
    board = link.boards["p"] = Board(tmp_path / "flash.nor", secret)
    run(capsys, "keys", "import", door, write(tmp_path, "hr.csv", HR))
    assert run(capsys, "keys", "push", door, "--port", "p")[0] == 0
    board.dev = None
    Board(tmp_path / "flash.nor", secret)  # the board's flash erased (re-flashed without keys)
    run(capsys, "keys", "remove", door, "--card", "04112233")
    code, out, err = run(capsys, "keys", "push", door, "--port", "p")
    assert code == 0, err
    assert "full key list version 2" in out and board.boot().keys.version == 2


def test_a_board_newer_than_the_directory_needs_force(door, tmp_path, capsys, link):
    """Two copies of the door directory: the board took a push from the other; this one's push is
    refused until --force replaces the board's list with this directory's (full, numbered past it)."""
    import shutil
    secret = P.load_door(door).secret
    board = link.boards["p"] = Board(tmp_path / "flash.nor", secret)
    run(capsys, "keys", "import", door, write(tmp_path, "hr.csv", HR))
    copy = tmp_path / "copy"
    shutil.copytree(door, copy)
    assert run(capsys, "keys", "push", copy, "--port", "p")[0] == 0
    run(capsys, "keys", "add", copy, "E0013", "--card", "04999999")
    assert run(capsys, "keys", "push", copy, "--port", "p")[0] == 0  # the board: version 2
    before = (door / "keys.json").read_bytes()
    code, out, err = run(capsys, "keys", "push", door, "--port", "p")
    assert code == EXIT_REFUSED
    assert "the board has key list version 2, this directory knows only 0" in one_line(err) and "--force" in err
    assert (door / "keys.json").read_bytes() == before and board.boot().keys.version == 2
    code, out, err = run(capsys, "keys", "push", door, "--port", "p", "--force")
    assert code == 0, err
    assert "full key list version 3 installed (3 credentials on the board)" in out
    fl = board.boot()
    assert fl.keys.version == 3 and fl.keys.check(KIND_ISO14443A, "04999999", None)[0] is None
    assert keys_of(door).book.version == 3
    run(capsys, "keys", "remove", door, "--card", "04112233")
    code, out, err = run(capsys, "keys", "push", door, "--port", "p")
    assert code == 0 and "delta key list version 4" in out, err


def test_a_forced_push_replaces_the_whole_list_even_after_this_directory_pushed_before(door, tmp_path, capsys,
                                                                                       link):
    import shutil
    board = link.boards["p"] = Board(tmp_path / "flash.nor", P.load_door(door).secret)
    run(capsys, "keys", "import", door, write(tmp_path, "hr.csv", HR))
    assert run(capsys, "keys", "push", door, "--port", "p")[0] == 0  # this directory knows version 1
    copy = tmp_path / "copy"
    shutil.copytree(door, copy)
    run(capsys, "keys", "add", copy, "E0013", "--card", "04999999")
    assert run(capsys, "keys", "push", copy, "--port", "p")[0] == 0  # the board: version 2, one card more
    code, out, err = run(capsys, "keys", "push", door, "--port", "p", "--force")
    assert code == 0, err
    assert "full key list version 3 installed (3 credentials on the board)" in out
    assert board.boot().keys.check(KIND_ISO14443A, "04999999", None)[0] is None  # the copy's card is gone


def test_a_forced_push_that_is_refused_records_nothing(door, tmp_path, capsys, link):
    other = tmp_path / "other"  # another door directory for the same door id: another secret
    P.create_door(other, "front")
    board = link.boards["p"] = Board(tmp_path / "flash.nor", P.load_door(other).secret)
    for d in (other, door):
        run(capsys, "keys", "import", d, write(tmp_path, "hr.csv", HR))
    assert run(capsys, "keys", "push", other, "--port", "p", "--full")[0] == 0
    assert run(capsys, "keys", "push", other, "--port", "p", "--full")[0] == 0
    before = (door / "keys.json").read_bytes()
    code, _, err = run(capsys, "keys", "push", door, "--port", "p", "--force")
    assert code == EXIT_REFUSED and "wrong door secret" in one_line(err)
    assert (door / "keys.json").read_bytes() == before and board.boot().keys.version == 2


def test_push_without_a_board(door, capsys, link):
    code, _, err = run(capsys, "keys", "push", door, "--port", "/dev/ttyUSB9")
    assert code == 4 and "no board at /dev/ttyUSB9" in one_line(err)


def test_keys_help(capsys):
    with pytest.raises(SystemExit):
        cli.main(["keys", "--help"])
    out = capsys.readouterr().out
    assert "doorkit keys import" in out and "5 refused" in out
    assert run(capsys, "keys")[0] == EXIT_USAGE


def test_an_image_of_the_door_then_a_delta_push(door, tmp_path, capsys, link):
    """`doorkit image --door DIR` installs the key book in the keys partition and records it as
    installed: the next push is a delta on that version, and the board takes it."""
    from doorkit import image as I
    from doorkit.provision import door_for_image
    from lockctl import plan as PL
    run(capsys, "keys", "import", door, write(tmp_path, "hr.csv", HR))
    d = door_for_image(door)
    d["commit"]()  # (the image is written)
    keys_part = I.build_keys("4M", d["door_id"], d["secret"], d["bundle"])
    n = PL.blocks("4M", "keys")
    assert len(keys_part) == n * 4096
    path = tmp_path / "board.nor"
    path.write_bytes(keys_part + b"\xff" * (LOG_BLOCKS * 4096))

    class ImageBoard(Board):
        def __init__(self):
            self.path, self.secret, self.door_id = str(path), d["secret"], b"front"

        def boot(self):
            dev = NorFlash(n + LOG_BLOCKS, cells=FileCells(self.path, (n + LOG_BLOCKS) * 4096, 4096))
            return Storage(Partition(dev, 0, n), Partition(dev, n, LOG_BLOCKS), self.secret, self.door_id)

    board = link.boards["p"] = ImageBoard()
    assert board.boot().keys.version == 1 and len(board.boot().keys) == 3
    run(capsys, "keys", "add", door, "E0013", "--card", "04999999")
    code, out, err = run(capsys, "keys", "push", door, "--port", "p")
    assert code == 0, err
    assert "delta key list version 2 installed (4 credentials on the board)" in out
    assert board.boot().keys.check(KIND_ISO14443A, "04999999", None)[0] is not None


def test_push_reports_its_steps(door, tmp_path, capsys, link):
    from doorkit.provision import push
    link.boards["p"] = Board(tmp_path / "flash.nor", P.load_door(door).secret)
    run(capsys, "keys", "import", door, write(tmp_path, "hr.csv", HR))
    seen = []
    push.push(door, "p", on_step=lambda name, n: seen.append((name, n)))
    assert [s[0] for s in seen] == list(push.STEPS)
    assert seen[2][1] == seen[3][1] > 104  # the bundle: header + body


def test_a_push_whose_answer_was_lost_is_recognised_next_time(door, tmp_path, capsys, link, monkeypatch):
    # the board installs the bundle, then the line goes (a power cut after the install, before the
    # host heard "ok"): the next push sees the board holding the bundle this directory built last
    secret = P.load_door(door).secret
    board = link.boards["socket://127.0.0.1:8266"] = Board(tmp_path / "flash.nor", secret)
    run(capsys, "keys", "import", door, write(tmp_path, "hr.csv", HR))
    assert run(capsys, "keys", "push", door, "--port", "socket://127.0.0.1:8266")[0] == 0
    run(capsys, "keys", "add", door, "E0013", "--pin", "4711")
    real = FakeLink.call

    def lost(self, name, *args):
        got = real(self, name, *args)
        if name == "install":
            raise UserError(4, "the board at socket://127.0.0.1:8266 stopped answering")
        return got
    monkeypatch.setattr(FakeLink, "call", lost)
    code, out, err = run(capsys, "keys", "push", door, "--port", "socket://127.0.0.1:8266")
    assert code == 4 and board.boot().keys.version == 2
    monkeypatch.setattr(FakeLink, "call", real)
    code, out, err = run(capsys, "keys", "push", door, "--port", "socket://127.0.0.1:8266")
    assert code == 0, err  # not refused as "newer than this directory knows"
    assert keys_of(door).book.version == 3 and board.boot().keys.version == 3
    assert board.boot().keys.check(KIND_PIN, "4711", None)[0] is not None
