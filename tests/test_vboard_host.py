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
