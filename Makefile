# Quick start: `make demo` runs the simulated door, `make test` runs the whole suite (CPython + MicroPython).
# Both create (or reuse) the local virtualenv .venv with everything the suite needs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo demo-day demo-hub sim test bench nightly clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/doorkit sim --script sim/scenarios/demo.scn

# an installer's day on a virtual board: provision, factory image, clock, calibrate, enrol, push,
# card, door, auto-lock, PIN, logs (docs/installer-guide.md)
demo-day: $(STAMP)
	$(PY) demo/installer_day.py

# the hub: two virtual boards on an embedded broker, the fleet collector, remote commands, the
# history arriving (docs/network.md)
demo-hub: $(STAMP)
	$(PY) demo/hub_day.py

sim: $(STAMP)
	$(VENV)/bin/doorkit sim

test: $(STAMP)
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) bench/run_all.py

# the property tests with 20x the examples of the default run (thousands per property)
nightly: $(STAMP)
	DOORKIT_PROFILE=nightly $(PY) -m pytest -q tests/test_core_properties.py tests/test_hmac256_vs_cpython.py tests/test_pn532_emulator.py \
		tests/test_scenario_fuzz.py tests/test_fast_forward.py tests/test_bundle_properties.py \
		tests/test_schedule_properties.py tests/test_eventlog_properties.py tests/test_use_counts_properties.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
