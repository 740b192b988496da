"""Every doorkit command and sub-action answers --help with examples and the exit codes."""
import pytest

from doorkit import cli


def leaves(parser, path=()):
    subs = getattr(parser, "subcommands", [])
    if not subs:
        yield path
    for action in subs:
        for name, sp in action.choices.items():
            yield from leaves(sp, path + (name,))


PATHS = sorted(set(leaves(cli._parser())))


def test_there_are_many_sub_actions():
    assert len(PATHS) > 30 and ("keys", "user", "add") in PATHS and ("vboard", "tap") in PATHS


@pytest.mark.parametrize("path", PATHS, ids=" ".join)
def test_help_has_an_example_and_the_exit_codes(path, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(list(path) + ["--help"])
    out = capsys.readouterr().out
    assert e.value.code == 0
    assert "doorkit " + path[0] in out.split("examples:", 1)[1], out  # an example of this command
    assert "exit status" in out and "130 interrupted" in out
