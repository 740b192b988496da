"""sim/vboard/world.py WorldHost.handle(): the RPC the unix-port interpreter's machine shim uses."""
import doorkit  # noqa: F401  (firmware/ on sys.path)
from sim.vboard.world import WorldHost
from lockshell import board as fw


def test_factory_and_calls():
    h = WorldHost(seed=1)
    pin, skip, now = h.handle([0, 0, "Pin", [fw.BUTTON, 1, 2, None]])
    assert isinstance(pin, int) and skip is None and now == 0
    assert h.handle([0, pin, "value", []])[0] == 1  # pull-up, not pressed
    h.button(300)
    assert h.handle([100, pin, "value", []])[0] == 0  # pressed, settled
    assert h.handle([1000, pin, "value", []])[0] == 1  # released
    assert h.status()["now_ms"] == 1000
    h.handle([10, pin, "value", []])  # older t: never backwards
    assert h.status()["now_ms"] == 1000


def test_motor_turns_knob_and_pot_reads_it():
    h = WorldHost()
    a = h.handle([0, 0, "PWM", [{"h": h.handle([0, 0, "Pin", [fw.MOTOR_A]])[0]}, 20000, 0]])[0]
    b = h.handle([0, 0, "PWM", [{"h": h.handle([0, 0, "Pin", [fw.MOTOR_B]])[0]}, 20000, 0]])[0]
    pot = h.handle([0, 0, "ADC", [{"h": h.handle([0, 0, "Pin", [fw.KNOB_POT]])[0]}]])[0]
    p0 = h.handle([0, pot, "read_u16", []])[0]
    h.handle([0, a, "duty_u16", [65535]])
    assert h.status()["motor_running"]
    h.handle([2000, b, "duty_u16", [0]])
    assert h.status()["angle"] == 90.0
    assert h.handle([2000, pot, "read_u16", []])[0] > p0


def test_errors_come_back_as_text():
    h = WorldHost()
    r = h.handle([0, 0, "UART", [1]])
    assert r[0] is None and r[3].startswith("OSError:")
    r = h.handle([0, 99, "value", []])
    assert r[3].startswith("ValueError:")
    pin = h.handle([0, 0, "Pin", [fw.LED, 3]])[0]
    assert h.handle([0, pin, "_level", []])[3].startswith("AttributeError:")


def test_uart_bytes_and_advance():
    h = WorldHost()
    u = h.handle([0, 0, "UART", [fw.NFC_UART, 115200, fw.NFC_TX, fw.NFC_RX, 0]])[0]
    # wake-up + GetFirmwareVersion
    frame = bytes.fromhex("5555000000000000000000000000ff00ff00" "0000ff02fed4022a00")
    assert h.handle([0, u, "write", [{"b": frame.hex()}]])[0] == len(frame)
    got = h.handle([50, u, "readinto", [64]])[0]
    assert bytes.fromhex(got["b"]).startswith(bytes.fromhex("0000ff00ff00"))  # ACK
    assert h.advance(500) == {"skip_to": 550}
    assert h.handle([100, 0, "now", []]) == [100, 550, 100]
    assert h.handle([550, 0, "now", []]) == [550, None, 550]
    assert h.tap("mifare")["ident"] == ["iso14443a", "DEADBEEF"]
    assert h.status()["in_field"] == ["mifare"]
    h.handle([1551, 0, "now", []])
    assert h.status()["in_field"] == []


def test_an_answer_carries_the_requests_id():
    h = WorldHost()
    assert h.handle([0, 0, "now", [], 7])[3:] == [None, 7]
    err = h.handle([0, 0, "nosuch", [], 8])
    assert err[0] is None and err[3] and err[4] == 8


def test_the_interpreters_rpc_reads_past_answers_of_interrupted_calls(tmp_path):
    """sim/vboard/mp/_vbrpc.py in the unix port: the world answers each request with the torn tail
    of an earlier answer and a whole answer to an earlier (interrupted) call first; every call still
    gets its own answer (a Ctrl-C between a request and its answer must not shift them)."""
    import json
    import os
    import socket
    import subprocess
    import threading
    from conftest import micropython_binary, ROOT
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    seen = []

    def world():
        c, _ = srv.accept()
        f = c.makefile("rwb")
        for line in f:
            if not line.strip():
                continue
            req = json.loads(line)
            seen.append(req)
            n = req[4]
            f.write(b'0, 5, null, 3]\n' + json.dumps([n * 100 - 1, None, 5, None, n - 1]).encode() + b"\n"
                    + json.dumps([n * 100, None, 5, None, n]).encode() + b"\n")
            f.flush()
        c.close()
    th = threading.Thread(target=world, daemon=True)
    th.start()
    env = dict(os.environ, DOORKIT_VB_RPC=str(srv.getsockname()[1]),
               MICROPYPATH=os.path.join(ROOT, "sim", "vboard", "mp") + ":.frozen")
    out = subprocess.run([micropython_binary(), "-c", "import _vbrpc\nprint([_vbrpc.call(0, 'now') for _ in range(3)])"],
                         env=env, capture_output=True, text=True, timeout=60)
    srv.close()
    assert out.stdout.strip() == "[100, 200, 300]", out.stdout + out.stderr
    assert [r[4] for r in seen] == [1, 2, 3]
