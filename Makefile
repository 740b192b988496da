# Quick start: `make demo` runs the simulated door, `make test` runs the whole suite (CPython + MicroPython).
# Both create (or reuse) the local virtualenv .venv with everything the suite needs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo sim test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/doorkit sim --script sim/scenarios/demo.scn

sim: $(STAMP)
	$(VENV)/bin/doorkit sim

test: $(STAMP)
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
