"""docs/keys.md's partition-plan table says what lockctl/plan.py computes from the formats."""
import os
import re

import doorkit  # noqa: F401
from lockctl import plan

from conftest import ROOT


def row(name):
    for line in open(os.path.join(ROOT, "docs", "keys.md")).read().splitlines():
        if line.startswith("| " + name):
            return [int(x.replace(",", "")) for x in re.findall(r"\| \**([0-9][0-9,]*)\**(?= [|(])", line + " |")]
    raise AssertionError("no row %r" % name)


def test_plan_capacities_match_the_doc():
    assert row("credentials") == [plan.capacities("4M")["credentials"], plan.capacities("8M")["credentials"]]
    assert row("event-log records") == [plan.capacities("4M")["records"], plan.capacities("8M")["records"]]
    assert plan.capacities("8M")["credentials"] >= 100000  # the target, with atomic replacement


def test_plans_fit_their_flash_and_do_not_overlap():
    for name, parts in plan.PLANS.items():
        spans = sorted((p[3], p[3] + p[4]) for p in parts)
        assert spans[-1][1] <= plan.FLASH_SIZES[name]
        for (a, b), (c, d) in zip(spans, spans[1:]):
            assert b <= c, (name, hex(b), hex(c))
        for p in parts:
            assert p[3] % plan.BLOCK == 0 and p[4] % plan.BLOCK == 0
        assert plan.partition(name, "factory")[3] % 0x10000 == 0
