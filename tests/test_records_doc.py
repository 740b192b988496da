"""docs/records.md is the one table of the stable record format: every table on it matches the code,
both ways (a code missing from the doc, or a number in the doc the code does not have, fails)."""
import os
import re

import doorkit  # noqa: F401
from lockctl import codes as C
from lockctl import record as R
from lockctl.config import SETTINGS
from drivers import pn532 as P
from lockshell import nfc

from conftest import ROOT

DOC = os.path.join(ROOT, "docs", "records.md")


def tables():
    """{section title: [(code, name), ...]} for every table on the page whose first column is a code."""
    out = {}
    section = None
    for line in open(DOC).read().splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
            continue
        m = re.match(r"^\| (-?\d+) \| ([\w-]+) \|", line)
        if m and section:
            out.setdefault(section, []).append((int(m.group(1)), m.group(2)))
    return out


def section(title_start):
    t = tables()
    (key,) = [k for k in t if k.startswith(title_start)]
    return t[key]


def consts(prefix, skip=("_LAST",)):
    return {v: k for k, v in vars(C).items() if k.startswith(prefix) and not k.endswith(skip) and type(v) is int}


def test_record_codes():
    assert dict(section("Record codes")) == {k: R.LOG_NAMES[k] for k in range(1, len(R.LOG_NAMES))}
    assert set(consts("LOG_")) == {k for k, _ in section("Record codes")}


def test_states():
    assert dict(section("States")) == dict(enumerate(R.STATE_NAMES))
    assert [C.UNCALIBRATED, C.LOCKED, C.UNLOCKING, C.UNLOCKED, C.LOCKING, C.JAMMED, C.CALIBRATING] == list(range(7))


def test_sources_and_kinds():
    doc = dict(section("Sources"))
    code = {k: R.source_name(k) for k in list(consts("KIND_")) + list(consts("SRC_"))}
    assert doc == code


def test_reasons():
    assert dict(section("Reasons")) == {k: R.REASON_NAMES[k] for k in consts("R_")}


def test_faults_and_events():
    assert dict(section("Faults")) == {k: R.FAULT_NAMES[k] for k in consts("F_")}
    assert dict(section("Events")) == {k: R.EVENT_NAMES[k] for k in consts("EV_")}


def test_settings():
    assert dict(section("Settings")) == {v[0]: k for k, v in SETTINGS.items()}


def test_reader_error_codes():
    code = {v: k for k, v in vars(P).items() if k.startswith("E_") and type(v) is int}
    code[nfc.E_FIRMWARE] = "E_FIRMWARE"
    assert dict(section("Reader error codes")) == code


def test_the_format_is_versioned():
    assert C.RECORD_VERSION == 2 and "record format version %d" % C.RECORD_VERSION in open(DOC).read()


def test_command_ops():
    assert dict(section("Command ops")) == {k: R.OP_NAMES[k] for k in consts("OP_")}
    assert len(R.OP_NAMES) == C.OP_LAST + 1


def test_link_status():
    from lockshell import hub
    assert dict(section("Link status")) == dict(enumerate(R.LINK_NAMES))
    assert [getattr(hub, "LINK_" + n.upper().replace("-", "_")) for n in R.LINK_NAMES] == list(range(len(R.LINK_NAMES)))
