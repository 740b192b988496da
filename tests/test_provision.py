"""The door directory (doorkit.provision) and `doorkit provision new|set|show`: real files in
tmp_path, the CLI through doorkit.cli.main, exit codes and one-line messages."""
import json
import os
import stat
import tomllib

import pytest

from doorkit import cli
from doorkit import provision as P
from doorkit.errors import EXIT_CONFLICT, EXIT_DATA, EXIT_USAGE, UserError
from lockctl import config as C


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err):
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


# ------------------------------------------------------------------ the directory
def test_create_door_writes_the_three_files(tmp_path):
    d = tmp_path / "front"
    door = P.create_door(d, "front", name="Front door", site="HQ", config={"auto_lock_ms": 10000})
    assert sorted(os.listdir(d)) == ["door.toml", "keys.json", "secret.key"]
    assert stat.S_IMODE(os.stat(d / "secret.key").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(d / "keys.json").st_mode) == 0o600
    secret = (d / "secret.key").read_text()
    assert secret == door.secret.hex() + "\n" and len(door.secret) == 32
    doc = tomllib.loads((d / "door.toml").read_text())
    assert doc["door_id"] == "front" and doc["name"] == "Front door" and doc["site"] == "HQ"
    want = C.defaults()
    want["auto_lock_ms"] = 10000
    assert doc["config"] == want  # every setting by the firmware's own name
    assert door.secret.hex() not in (d / "door.toml").read_text()
    again = P.load_door(d)
    assert (again.door_id, again.secret, again.config) == ("front", door.secret, want)
    assert json.loads((d / "keys.json").read_text())["users"] == {}


def test_two_doors_get_different_secrets(tmp_path):
    a = P.create_door(tmp_path / "a", "a")
    b = P.create_door(tmp_path / "b", "b")
    assert a.secret != b.secret


def test_create_refuses_an_existing_directory(tmp_path):
    (tmp_path / "front").mkdir()
    with pytest.raises(UserError) as e:
        P.create_door(tmp_path / "front", "front")
    assert e.value.code == EXIT_CONFLICT and "already exists" in str(e.value)
    assert os.listdir(tmp_path / "front") == []


@pytest.mark.parametrize("bad", ["", "a" * 17, "front door", "tür", "x/y"])
def test_door_id_is_what_a_bundle_header_holds(tmp_path, bad):
    with pytest.raises(UserError) as e:
        P.create_door(tmp_path / "d", bad)
    assert e.value.code == EXIT_USAGE
    assert not (tmp_path / "d").exists()


def test_config_is_checked_by_the_firmware(tmp_path):
    with pytest.raises(UserError) as e:
        P.create_door(tmp_path / "d", "d", config={"auto_lock_delay": 3})
    assert "unknown setting: auto_lock_delay" in str(e.value)
    P.create_door(tmp_path / "d", "d")
    with pytest.raises(UserError) as e:
        P.set_config(tmp_path / "d", pin_tries=11, auto_lock=False)
    assert "pin_tries must be in 3..10" in str(e.value)
    assert P.load_door(tmp_path / "d").config["auto_lock"] is True  # the whole change refused
    cfg = P.set_config(tmp_path / "d", pin_tries=3, auto_lock=False)
    assert cfg["pin_tries"] == 3 and cfg["auto_lock"] is False
    assert P.load_door(tmp_path / "d").config == cfg


def test_door_for_image(tmp_path):
    d = tmp_path / "front"
    door = P.create_door(d, "front", config={"button_unlock": False})
    got = P.door_for_image(d)
    assert got["door_id"] == "front" and got["secret"] == door.secret
    assert got["config"]["button_unlock"] is False and C.check(got["config"]) == got["config"]
    assert got["bundle"] is None  # no credentials: the keys partition stays blank
    door, keys = P.open_keys(d)
    keys.add_user("E1", "Alice")
    keys.add_credential("E1", "iso14443a", "04a1b2c3")
    P.save_keys(door, keys)
    got = P.door_for_image(d)
    from lockctl import bundle as B
    hdr = B.parse_header(got["bundle"], door.secret, b"front")
    assert got["bundle"][5] == B.FULL and hdr is not None
    # nothing changes in the directory until the image is written (a failed build leaves it as it was)
    assert P.open_keys(d)[1].book.version == 0
    got["commit"]()
    # the image carries version 1: the book counts it as the door's, the next push is a delta on it
    assert P.open_keys(d)[1].book.version == 1


# ------------------------------------------------------------------ corrupt door directories
def _door(tmp_path):
    d = tmp_path / "front"
    P.create_door(d, "front")
    return d


@pytest.mark.parametrize("damage, want", [
    (lambda d: (d / "door.toml").unlink(), "door.toml: no such file"),
    (lambda d: (d / "door.toml").write_text("door_id = [\n"), "door.toml: not valid TOML"),
    (lambda d: (d / "door.toml").write_bytes(b"\xff\xfe"), "door.toml: not UTF-8 text"),
    (lambda d: (d / "door.toml").write_text('format = 1\ndoor_id = "a b"\n'), "door.toml: door_id must be"),
    (lambda d: (d / "door.toml").write_text('format = 2\ndoor_id = "front"\n'), "door.toml: format must be 1"),
    (lambda d: (d / "door.toml").write_text((d / "door.toml").read_text().replace("pin_tries = 5", "pin_tries = 99")),
     "door.toml [config]: pin_tries must be in 3..10"),
    (lambda d: (d / "door.toml").write_text((d / "door.toml").read_text().replace("auto_lock = true",
                                                                                  "auto_lock = 1")),
     "door.toml [config]: auto_lock must be true or false"),
    (lambda d: (d / "secret.key").unlink(), "secret.key: no such file"),
    (lambda d: (d / "secret.key").write_text("abc\n"), "secret.key: expected 64 hex digits"),
    (lambda d: (d / "secret.key").write_text("g" * 64), "secret.key: expected 64 hex digits"),
    (lambda d: (d / "keys.json").write_text("{"), "keys.json: not a JSON key book"),
    (lambda d: (d / "keys.json").write_text('{"format": 1, "users": {}}'), "keys.json: corrupt key book"),
    (lambda d: (d / "keys.json").unlink(), "keys.json: no such file"),
])
def test_a_corrupt_door_directory_is_one_line_and_exit_6(tmp_path, capsys, damage, want):
    d = _door(tmp_path)
    damage(d)
    code, out, err = run(capsys, "keys", "list", d)
    assert code == EXIT_DATA, err
    assert want in one_line(err) and str(d) in err
    assert out == ""


def test_a_missing_directory(tmp_path, capsys):
    code, _, err = run(capsys, "provision", "show", tmp_path / "nope")
    assert code == EXIT_DATA and "no such directory" in one_line(err)


# ------------------------------------------------------------------ the command
def test_provision_new_set_show(tmp_path, capsys):
    d = tmp_path / "front"
    code, out, err = run(capsys, "provision", "new", d, "--door-id", "front", "--name", "Front door",
                         "--auto-lock-delay", "10s", "--button-unlock", "off")
    assert code == 0, err
    assert "door front created" in out
    cfg = P.load_door(d).config
    assert cfg["auto_lock_ms"] == 10000 and cfg["button_unlock"] is False
    code, out, err = run(capsys, "provision", "set", d, "--auto-lock", "off", "--held-open", "2m",
                         "--pin-tries", "4", "--pin-lockout", "1m", "--utc-offset=-05:30", "--dst", "us")
    assert code == 0, err
    cfg = P.load_door(d).config
    assert (cfg["auto_lock"], cfg["held_open_ms"], cfg["pin_tries"], cfg["pin_lockout_s"],
            cfg["utc_offset_min"], cfg["dst_rule"]) == (False, 120000, 4, 60, -330, 2)
    assert cfg["auto_lock_ms"] == 10000  # untouched
    code, out, err = run(capsys, "provision", "set", d, "--held-open", "off", "--auto-lock-delay", "500ms")
    assert code == 0
    assert P.load_door(d).config["held_open_ms"] == 0 and P.load_door(d).config["auto_lock_ms"] == 500
    code, out, err = run(capsys, "provision", "show", d)
    assert code == 0
    assert "door front (Front door)" in out
    assert "held_open_ms    off" in out and "utc_offset_min  UTC-05:30" in out and "dst_rule        us" in out


def test_provision_new_twice_is_a_conflict(tmp_path, capsys):
    d = tmp_path / "front"
    assert run(capsys, "provision", "new", d, "--door-id", "front")[0] == 0
    secret = (d / "secret.key").read_text()
    code, _, err = run(capsys, "provision", "new", d, "--door-id", "other")
    assert code == EXIT_CONFLICT and "already exists" in one_line(err)
    assert (d / "secret.key").read_text() == secret and P.load_door(d).door_id == "front"


@pytest.mark.parametrize("args, want", [
    (["--auto-lock-delay", "11m"], "--auto-lock-delay 11m: auto_lock_ms must be in 0..600000"),
    (["--auto-lock-delay", "soon"], "--auto-lock-delay: a duration is like"),
    (["--pin-tries", "2"], "--pin-tries 2: pin_tries must be in 3..10"),
    (["--pin-lockout", "1500ms"], "not a whole number of seconds"),
    (["--utc-offset", "+15:00"], "utc_offset_min must be in -720..840"),
    (["--utc-offset", "Tokyo"], "a UTC offset is like"),
    (["--auto-lock", "maybe"], "expected on or off"),
    (["--dst", "jp"], "--dst is one of none, eu, us"),
])
def test_provision_set_refuses_bad_settings(tmp_path, capsys, args, want):
    d = _door(tmp_path)
    before = (d / "door.toml").read_bytes()
    code, _, err = run(capsys, "provision", "set", d, "--name", "changed", *args)
    assert code == EXIT_USAGE, err
    assert want in one_line(err)
    assert (d / "door.toml").read_bytes() == before  # nothing written, not even the name


def test_provision_help_has_an_example_and_the_exit_codes(capsys):
    with pytest.raises(SystemExit):
        cli.main(["provision", "--help"])
    out = capsys.readouterr().out
    assert "doorkit provision new" in out and "7 conflict" in out and "6 bad input file" in out


def test_the_installed_command_says_one_line_for_a_corrupt_door_file(tmp_path):
    import subprocess
    import sys
    d = _door(tmp_path)
    (d / "door.toml").write_text("door_id = = 1\n")
    p = subprocess.run([sys.executable, "-m", "doorkit.cli", "provision", "show", str(d)], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == EXIT_DATA and p.stdout == ""
    assert p.stderr.startswith("doorkit provision: %s: not valid TOML" % (d / "door.toml"))
    one_line(p.stderr)
