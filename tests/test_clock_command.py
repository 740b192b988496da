"""`doorkit clock`: set / show the board's RTC through a fake link that runs the firmware's
lockshell.service in-process (its RtcClock over a fake machine.RTC)."""
import ast
import sys
import types

import pytest

import doorkit  # noqa: F401  (firmware/ on sys.path)
from doorkit import cli
from doorkit.commands import clock as K
from doorkit.errors import EXIT_HELP, EXIT_MISMATCH, EXIT_USAGE, UserError
from lockshell import service
from test_clock import FakeRTC


class Link:
    def __init__(self, rtc, calls):
        self.rtc = rtc
        self.calls = calls

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def call(self, name, *args):
        args = ast.literal_eval(repr(args))
        self.calls.append((name,) + args)
        return ast.literal_eval(repr(getattr(service, name)(*args, rtc=self.rtc)))


@pytest.fixture
def board(monkeypatch):
    rtc = FakeRTC()
    calls = []
    mod = types.ModuleType("doorkit.link")
    mod.open_link = lambda port, timeout=10: Link(rtc, calls)
    monkeypatch.setitem(sys.modules, "doorkit.link", mod)
    return rtc, calls


def test_set_a_given_time_and_show_it(board, capsys):
    rtc, calls = board
    assert cli.main(["clock", "show", "--port", "p"]) == 0
    assert capsys.readouterr().out == "board clock: not set since power-up (doorkit clock set --port p)\n"
    assert cli.main(["clock", "set", "--port", "p", "--time", "2026-12-02T09:30:00+09:00"]) == 0
    assert capsys.readouterr().out == "board clock set to 2026-12-02T00:30:00Z; it reads back 2026-12-02T00:30:00Z\n"
    assert calls[1] == ("set_clock", 1796171400)
    assert rtc.dt[:3] == (2026, 12, 2) and rtc.dt[4:7] == (0, 30, 0)
    assert cli.main(["clock", "show", "--port", "p"]) == 0
    assert capsys.readouterr().out.startswith("board clock: 2026-12-02T00:30:00Z (")


def test_set_now_uses_the_host_clock(board, monkeypatch, capsys):
    rtc, calls = board
    monkeypatch.setattr(K.time, "time", lambda: 1767225600.7)
    assert cli.main(["clock", "set", "--port", "p"]) == 0
    assert calls == [("set_clock", 1767225600)]
    assert "2026-01-01T00:00:00Z" in capsys.readouterr().out
    assert cli.main(["clock", "show", "--port", "p"]) == 0
    assert capsys.readouterr().out == "board clock: 2026-01-01T00:00:00Z (+0 s from this computer)\n"


def test_a_clock_that_does_not_take_the_time_is_a_failed_check(monkeypatch, capsys):
    class Stuck(FakeRTC):
        def datetime(self, dt=None):
            return self.dt  # ignores the set
    rtc = Stuck()
    mod = types.ModuleType("doorkit.link")
    mod.open_link = lambda port, timeout=10: Link(rtc, [])
    monkeypatch.setitem(sys.modules, "doorkit.link", mod)
    assert cli.main(["clock", "set", "--port", "p", "--time", "2026-12-02T00:00:00Z"]) == EXIT_MISMATCH
    assert capsys.readouterr().err == "doorkit clock: board clock set to 2026-12-02T00:00:00Z but it reads back unset\n"


@pytest.mark.parametrize("text,what", [("tomorrow", "not an ISO 8601"), ("2026-12-02T09:30:00", "UTC offset"),
                                       ("1999-01-01T00:00:00Z", "2024-01-01"), ("2100-01-01T00:00:00Z", "2099")])
def test_bad_times_are_one_line_usage_errors(board, capsys, text, what):
    rtc, calls = board
    assert cli.main(["clock", "set", "--port", "p", "--time", text]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("doorkit clock: --time ") and what in err and err.count("\n") == 1
    assert calls == []  # nothing was sent to the board


def test_parse_time():
    assert K.parse_time("2026-01-01T00:00:00Z") == 1767225600
    assert K.parse_time("2026-01-01T09:00:00+09:00") == 1767225600
    assert K.parse_time("now", now=1767225600.9) == 1767225600
    with pytest.raises(UserError):
        K.parse_time("now", now=100)


def test_clock_help(capsys):
    assert cli.main(["clock"]) == EXIT_USAGE
    assert "give an action" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["clock", "set", "--help"])
    out = capsys.readouterr().out
    assert "doorkit clock set --port" in out and EXIT_HELP in out
