"""The interactive door (host/doorkit/simui.py) through its Session and screen functions: the 80x24
layout, colours, feedback for keys that do nothing, timers, scrolling, and saving a session as a
scenario that replays to the same log. No terminal needed (one pty test at the end)."""
import curses
import os
import subprocess
import sys

import pytest
from conftest import examples
from hypothesis import HealthCheck, given, settings, strategies as st

import doorkit  # noqa: F401
from doorkit import simui
from lockctl.record import state_name
from doorkit.sim import scenario

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def text_rows(s, w=80, h=24):
    return ["".join(t for t, _ in row) for row in s.rows(w, h)]


def log_of(s):
    return s.door.lines()


# ---------------------------------------------------------------- layout
def test_every_key_has_its_help_on_an_80x24_screen():
    s = simui.Session(seed=1)
    s.advance(500)
    for _ in range(12):
        s.key("a")
        s.advance(10)
    rows = s.rows(80, 24)
    assert len(rows) == 24
    assert all(len("".join(t for t, _ in row)) <= 79 for row in rows)
    keys_shown = set(t for row in rows for t, style in row if style == "key")
    for key, label in simui.KEYS.items():
        assert label in keys_shown, key
    text = text_rows(s)
    for h in simui.HELP:
        assert h in text
    # the log gets the rest: at least 8 rows, its newest line last
    log_rows = text[text.index(next(x for x in text if x.startswith(" --- event log"))) + 1:]
    assert len(log_rows) >= 8 and log_rows[-1] == " " + list(s.lines)[-1]


def test_a_taller_screen_gives_the_log_more_rows():
    s = simui.Session(seed=1)
    for k in "12345" + "a" * 30:
        s.key(k)
        s.advance(12000 if k != "a" else 10)
    small, tall = text_rows(s, 80, 24), text_rows(s, 120, 40)
    assert len(tall) == 40 and len(small) == 24
    assert tall[-1] == small[-1] == " " + list(s.lines)[-1]


@pytest.mark.parametrize("w,h", [(79, 24), (80, 23), (40, 10), (10, 2), (1, 1)])
def test_below_80x24_it_says_the_terminal_is_too_small(w, h):
    s = simui.Session()
    rows = text_rows(s, w, h)
    assert 1 <= len(rows) <= h
    assert all(len(r) <= max(0, w - 1) for r in rows)
    if w >= 30:
        assert rows[0] == "terminal too small: %dx%d" % (w, h)
        assert "needs 80x24" in rows[1]
    assert s.key("q") is False  # q still quits


class FakeScreen:
    """What curses' stdscr does with addstr: cells in a grid, curses.error past its edge (also in the
    bottom-right cell, which curses cannot write without scrolling)."""

    def __init__(self, h, w):
        self.h, self.w = h, w
        self.errors = 0
        self.attrs = set()
        self.erase()

    def getmaxyx(self):
        return self.h, self.w

    def erase(self):
        self.grid = [[" "] * self.w for _ in range(self.h)]

    def addstr(self, y, x, text, attr=0):
        if y >= self.h or x + len(text) > self.w or (y == self.h - 1 and x + len(text) >= self.w):
            self.errors += 1
            raise curses.error("addstr past the edge")
        self.grid[y][x:x + len(text)] = list(text)
        if text:
            self.attrs.add(attr)

    def refresh(self):
        pass

    def lines(self):
        return ["".join(r).rstrip() for r in self.grid]


def test_draw_at_80x24_writes_inside_the_screen_with_every_help_row():
    s = simui.Session(seed=1)
    s.key("o")
    s.advance(100)
    scr = FakeScreen(24, 80)
    simui.draw(scr, s, simui.plain_styles())
    assert scr.errors == 0
    lines = scr.lines()
    for h in simui.HELP:
        assert h in lines
    assert lines[0].startswith("doorkit sim - virtual door")
    assert curses.A_BOLD in scr.attrs and curses.A_REVERSE in scr.attrs  # no colour: bold and reverse
    scr = FakeScreen(20, 60)
    simui.draw(scr, s, simui.plain_styles())
    assert scr.errors == 0 and scr.lines()[0] == "terminal too small: 60x20"


def test_styles_mark_state_alarms_and_denials():
    s = simui.Session(seed=1)
    s.advance(500)
    styles = dict((t.strip(), style) for row in s.rows(80, 24) for t, style in row if t.strip())
    assert styles["LOCKED"] == "good"
    s.key("2")  # a stranger's card
    s.advance(2000)
    rows = s.rows(80, 24)
    denied = [(t, style) for row in rows for t, style in row if "DENIED" in t]
    assert denied and all(style == "bad" for _, style in denied)
    assert s.message.startswith("the lock said no: DENIED unknown") and s.style == "bad"
    s.key("F")  # forced entry: the alarm
    s.advance(500)
    styles = dict((t.strip(), style) for row in s.rows(80, 24) for t, style in row if t.strip())
    assert styles["ON"] == "bad"  # alarm: ON
    assert any(style == "dim" for row in s.rows(80, 24) for t, style in row if t.startswith(" # "))


def test_no_colour_without_colours_or_with_no_color(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    assert simui.colour_styles() == simui.plain_styles()
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setattr(curses, "has_colors", lambda: False)
    assert simui.colour_styles() == simui.plain_styles()


def test_keynames():
    assert simui.keyname(ord("o")) == "o"
    assert simui.keyname(curses.KEY_PPAGE) == "PGUP" and simui.keyname(curses.KEY_NPAGE) == "PGDN"
    assert simui.keyname(curses.KEY_HOME) == "HOME" and simui.keyname(curses.KEY_END) == "END"
    assert simui.keyname(curses.KEY_RESIZE) is None
    assert simui.keyname(curses.KEY_F1) == "KEY_%d" % curses.KEY_F1


# ---------------------------------------------------------------- feedback
@pytest.mark.parametrize("key,words", [
    ("x", "'x' does nothing here"),
    ("KEY_265", "that key does nothing here"),
    ("c", "the door is already closed: nothing to do"),
    ("r", "the strike is not broken: nothing to repair"),
])
def test_a_key_that_does_nothing_says_so(key, words):
    s = simui.Session(seed=1)
    s.advance(500)
    before = list(s.actions)
    assert s.key(key)
    assert words in s.message and s.style == "warn", s.message
    assert s.actions == before


def test_the_world_says_why_nothing_happened():
    s = simui.Session(seed=1)
    s.advance(500)
    s.key("o")  # the bolt is thrown
    assert s.message == "nothing happens: the bolt is thrown: the door does not open" and s.style == "warn"
    assert [a for _, a in s.actions] == ["door open"]  # an attempt is an action: it replays


def test_speed_limits_say_so():
    s = simui.Session(speed=32.0)
    s.key("+")
    assert s.speed == 64.0 and s.message == "speed x64"
    s.key("+")
    assert s.speed == 64.0 and "already x64" in s.message and s.style == "warn"
    s = simui.Session(speed=1 / 16.0)
    s.key("-")
    assert "already x1/16" in s.message


def test_a_refused_button_shows_the_refusal():
    s = simui.Session(seed=1)
    s.key("p")
    assert s.message == "button unlock off"
    s.key("b")
    assert s.message == "button pressed"
    s.advance(500)
    assert s.message == "the lock said no: REFUSED button-off" and s.style == "bad"


# ---------------------------------------------------------------- timers and countdowns
def test_countdowns_of_the_pending_timers():
    s = simui.Session(seed=1)
    assert [ms for _, ms in s.timers()] == [None, None, None, None]
    s.key("1")
    s.advance(2000)
    assert state_name(s.door.core.state) == "unlocked"
    label, left = s.timers()[0]
    t_unlock = int(list(s.lines)[-1].split()[0])
    assert label == "relock" and left == t_unlock + 10000 - s.door.now
    assert "relock in %.1f s" % (left / 1000.0) in text_rows(s)[1]
    s.key("o")
    s.advance(1000)
    held = dict(s.timers())["held-open"]
    assert held is not None and 58000 < held <= 60000
    assert dict(s.timers())["auto-lock"] is None
    s.key("c")
    s.advance(1000)
    label, left = s.timers()[0]
    assert label == "auto-lock" and 0 < left < 3000
    assert "auto-lock in " in text_rows(s)[1] and dict(s.timers())["held-open"] is None
    s.advance(5000)
    assert s.timers()[0][1] is None and state_name(s.door.core.state) == "locked"
    s.key("j")
    s.key("U")  # a jammed move: the jam check and then the retry show up
    s.advance(100)
    assert 1300 < dict(s.timers())["jam check"] < 1500
    assert "jam check 1." in text_rows(s)[6]
    while not list(s.lines)[-1].endswith("RETRY stall bob"):
        s.advance(10)
    assert dict(s.timers())["jam check"] is None and 0 < dict(s.timers())["retry"] <= 200


# ---------------------------------------------------------------- scrolling
def test_scrolling_back_through_the_log():
    s = simui.Session(seed=1)
    for _ in range(12):
        for k in "ab":
            s.key(k)
            s.advance(300)
    s.rows(80, 24)
    page = s.page
    lines = list(s.lines)
    assert len(lines) > 2 * page

    def shown():
        t = text_rows(s)
        i = next(i for i, x in enumerate(t) if x.startswith(" --- event log"))
        return [x[1:] for x in t[i + 1:]]
    assert shown() == lines[-page:]
    s.key("[")
    assert s.scroll == page and shown() == lines[-2 * page:-page]
    assert "scrolled back" in text_rows(s)[[i for i, x in enumerate(text_rows(s)) if "event log" in x][0]]
    s.key("PGUP")
    s.key("HOME")
    assert shown() == lines[:page] and s.message.startswith("log: lines 1-%d of %d" % (page, len(lines)))
    s.key("PGDN")
    assert shown() == lines[page:2 * page]
    s.key("a")  # new lines come in: the view stays where it is
    s.advance(100)
    assert shown() == lines[page:2 * page]
    s.key("END")
    assert s.scroll == 0 and shown() == list(s.lines)[-page:]
    s.key("]")
    assert s.scroll == 0


# ---------------------------------------------------------------- saving and replaying
def replay(s, tmp_path, name="saved.scn"):
    path = tmp_path / name
    s.save(str(path))
    scn = scenario.load(str(path))
    return scn, scenario.run(scn)


def test_a_saved_session_replays_to_the_same_log(tmp_path):
    s = simui.Session(seed=3)
    # a card, a door cycle, the button, a stranger, settings, a hand, a jam, a reboot, the reader
    # failing, a forced entry, calibration, a phone, the door held open, a remote unlock
    steps = [("1", 2000), ("o", 1500), ("c", 5000), ("b", 1200), ("o", 800), ("c", 4000), ("2", 1500),
             ("a", 10), ("p", 10), ("b", 800), ("p", 0), ("u", 900), ("j", 20), ("L", 3500), ("j", 0),
             ("l", 1500), ("R", 1000), ("5", 2500), ("d", 4000), ("d", 6000), ("a", 0), ("L", 2000),
             ("F", 300), ("r", 100), ("u", 900), ("c", 5000), ("C", 12000), ("6", 3000), ("o", 65000),
             ("c", 5000), ("3", 2000), ("U", 12000)]
    for k, ms in steps:
        assert s.key(k)
        s.advance(ms)
    log = log_of(s)
    names = set(x.split()[1] for x in log)
    assert {"UNLOCK", "DOOR_OPEN", "DOOR_CLOSE", "LOCK", "DENIED", "REFUSED", "MANUAL_UNLOCK", "JAM",
            "JAM_CLEAR", "MANUAL_LOCK", "BOOT", "READER_DOWN", "READER_UP", "FORCED_OPEN", "CONFIG",
            "CALIBRATED", "HELD_OPEN", "RETRY"} <= names, names
    assert log.count("%d BOOT locked #1" % 0) == 1 and sum(x.split()[1] == "BOOT" for x in log) == 2
    scn, res = replay(s, tmp_path)
    assert res.ok, res.report()
    assert res.log == log
    text = (tmp_path / "saved.scn").read_text()
    body = [x for x in text.splitlines() if x and not x.startswith("#")]
    assert body[:3] == ["seed 3", "calibrated yes", "nfc on"]
    ats = [x for x in body if x.startswith("at ")]
    assert ats == ["at %d %s" % a for a in s.actions] and len(ats) == len(steps)
    assert "at %d tap mifare 1000" % s.actions[0][0] == ats[0]
    assert body[body.index("expect") - 1] == "run until %d" % s.door.now
    assert [x.strip() for x in body[body.index("expect") + 1:]] == log
    r = subprocess.run([os.path.join(os.path.dirname(sys.executable), "doorkit"), "sim", "--script",
                        str(tmp_path / "saved.scn"), "--log-only"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == log


def test_save_here_picks_a_free_name_and_never_overwrites(tmp_path):
    s = simui.Session()
    s.key("b")
    s.advance(500)
    (tmp_path / "doorkit-sim-1.scn").write_text("mine\n")
    p = s.save_here(str(tmp_path))
    assert p == str(tmp_path / "doorkit-sim-2.scn")
    assert (tmp_path / "doorkit-sim-1.scn").read_text() == "mine\n"
    assert s.message == "saved %s: doorkit sim --script %s replays it" % (p, p)
    assert scenario.run(scenario.load(p)).ok
    assert s.save_here(str(tmp_path / "no" / "such" / "dir")) is None
    assert s.message.startswith("cannot save ") and s.style == "bad"


def test_the_s_key_saves_in_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = simui.Session()
    s.key("s")
    assert os.path.exists("doorkit-sim-1.scn") and "doorkit-sim-1.scn" in s.message
    assert scenario.run(scenario.load("doorkit-sim-1.scn")).ok


KEYS = "ocFblujdLUapCRr123456x[]"


@settings(max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 5), steps=st.lists(st.tuples(st.sampled_from(KEYS), st.sampled_from(
    [0, 0, 1, 2, 5, 30, 150, 600, 2000, 9000])), min_size=1, max_size=25))
def test_any_session_replays_to_the_same_log(tmp_path, seed, steps):
    s = simui.Session(seed=seed)
    for k, ms in steps:
        s.key(k)
        s.advance(ms)
    s.advance(100)
    p = tmp_path / "any.scn"
    if p.exists():
        p.unlink()
    scn, res = replay(s, tmp_path, "any.scn")
    assert res.ok, res.report()
    assert res.log == log_of(s)


# ---------------------------------------------------------------- in a terminal
def _pty_run(rows, cols, keys, until, cwd):
    from ptyio import run_door
    env = dict(os.environ, TERM="xterm")
    env.pop("NO_COLOR", None)
    return run_door(os.path.join(os.path.dirname(sys.executable), "doorkit"), rows, cols, keys, until, cwd, env)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pty test written for Linux")
def test_in_a_pty_at_80x24_save_then_quit(tmp_path):
    rc, text = _pty_run(24, 80, [(b"b", b"UNLOCK button"), (b"s", b"saved"), (b"q", None)], b"virtual",
                        str(tmp_path))
    assert rc == 0
    assert "\x1b[3" in text  # xterm has colours: they are used
    saved = tmp_path / "doorkit-sim-1.scn"
    assert saved.exists()
    res = scenario.run(scenario.load(str(saved)))
    assert res.ok and any(x.endswith("UNLOCK button") for x in res.log)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pty test written for Linux")
def test_in_a_pty_below_80x24_it_says_too_small(tmp_path):
    rc, text = _pty_run(20, 60, [(b"q", None)], b"small", str(tmp_path))
    assert rc == 0 and "terminal" in text and "small" in text


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pty test written for Linux")
@pytest.mark.parametrize("term,why", [("no-such-terminal", "could not find terminal"),
                                      ("dumb", "it cannot move the cursor")])
def test_a_terminal_that_cannot_show_the_door_gets_one_line_and_exit_2(term, why):
    from ptyio import Pty
    t = Pty()
    env = dict(os.environ, TERM=term)
    p = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "doorkit"), "sim"], stdin=t.slave,
                         stdout=t.slave, stderr=t.slave, env=env, close_fds=True)
    t.child_started()
    try:
        p.wait(timeout=30)
        t.drain()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        t.close()
    text = t.text()
    assert p.returncode == 2
    assert "doorkit sim: this terminal cannot show the door (TERM=%s: " % term in text and why in text
    assert "Traceback" not in text


def test_scrolled_back_past_what_is_kept_the_view_stays_full(monkeypatch):
    monkeypatch.setattr(simui, "LOG_KEEP", 20)
    s = simui.Session(seed=1)
    for _ in range(15):
        s.key("a")
        s.advance(10)
    s.rows(80, 24)
    s.key("HOME")
    for _ in range(10):  # the oldest lines fall out of the kept 20 while the view is at the top
        s.key("a")
        s.advance(10)
    t = text_rows(s)
    i = next(i for i, x in enumerate(t) if x.startswith(" --- event log"))
    shown = [x[1:] for x in t[i + 1:]]
    assert len(shown) == s.page and shown == list(s.lines)[:s.page]


def test_keypad_clock_and_power_cut_keys_replay_to_the_same_log(tmp_path):
    s = simui.Session(seed=4)
    for k, ms in [("k", 13000), ("K", 3000), ("t", 500), ("P", 1000), ("k", 3000)]:
        assert s.key(k)
        s.advance(ms)
    log = log_of(s)
    body = [x.split(" ", 1)[1] for x in log]
    assert "UNLOCK pin frank" in body and "DENIED unknown pin" in body
    assert any(x.startswith("CLOCK_SET ") for x in body) and "BOOT locked #2" in body
    assert all(simui.PIN not in x and simui.WRONG_PIN not in x for x in log)  # no PIN in the log
    scn, res = replay(s, tmp_path)
    assert res.ok, res.report()
    assert res.log == log
