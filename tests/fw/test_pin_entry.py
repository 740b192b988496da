# PinEntry (lockshell/keypad.py): digits, '#' submits 4..8 digits, refusals, '*', the entry timeout,
# the buffer wiped, feedback, the port protocol, and no allocation while idle or typing.
from fakes import FakeMatrix, alloc_bytes
from drivers.keypad import MatrixKeypad
from lockshell.keypad import (PinEntry, REFUSED, FB_DIGIT, FB_FULL, FB_CLEAR, FB_TIMEOUT, FB_SUBMIT,
                              FB_REFUSED)
from lockctl.codes import EV_CREDENTIAL, KIND_PIN, R_UNKNOWN

KEYS = "123456789*0#"


class Keys:
    # a scripted keypad: each queued key is reported by the first poll at or after its time
    def __init__(self):
        self.q = []
        self.settling = False
        self.deadline = None
        self.polls = 0

    def at(self, t, keys, gap=100):
        for i in range(len(keys)):
            self.q.append((t + i * gap, keys[i]))

    def poll(self, t):
        self.polls += 1
        if self.q and self.q[0][0] <= t:
            return self.q.pop(0)[1]
        return None

    def next_deadline(self):
        return self.deadline


def run(entry, t0, t1, step=1):
    out = []
    t = t0
    while t <= t1:
        arg = entry.step(t)
        if arg is not None:
            out.append((t, arg))
        t += step
    return out


def typed(keys, **kw):
    k = Keys()
    k.at(100, keys)
    e = PinEntry(k, **kw)
    return e, run(e, 0, 100 + 100 * len(keys))


def test_hash_submits_4_to_8_digits():
    for pin in ("1234", "00000", "987654", "1029384", "55555555"):
        e, out = typed(pin + "#")
        assert out == [(100 + 100 * len(pin), (KIND_PIN, pin))], (pin, out)
        assert e.submitted == 1 and e.refused == 0 and e.pending == 0
        assert e.keys_seen == len(pin) + 1


def test_nine_digits_refused():
    e, out = typed("123456789#")
    assert out == [(1000, (KIND_PIN, "", R_UNKNOWN))]
    assert out[0][1] is REFUSED
    assert e.refused == 1 and e.submitted == 0 and e.pending == 0
    e, out = typed("12345678901234#")  # far too long: still one refusal
    assert out == [(1500, REFUSED)]


def test_short_entries_refused_and_lone_hash_ignored():
    for pin in ("1", "12", "123"):
        e, out = typed(pin + "#")
        assert out == [(100 + 100 * len(pin), REFUSED)], (pin, out)
        assert e.refused == 1
    e, out = typed("#")
    assert out == [] and e.refused == 0 and e.keys_seen == 1
    e, out = typed("##1234#")
    assert out == [(700, (KIND_PIN, "1234"))]


def test_min_digits_setting():
    e, out = typed("123456#", min_digits=6)
    assert out == [(700, (KIND_PIN, "123456"))]
    e, out = typed("12345#", min_digits=6)
    assert out == [(600, REFUSED)]
    for bad in (0, 9):
        try:
            PinEntry(Keys(), min_digits=bad)
            assert False, bad
        except ValueError:
            pass
    try:
        PinEntry(Keys(), entry_ms=0)
        assert False
    except ValueError:
        pass


def test_star_clears():
    e, out = typed("12*3456#")
    assert out == [(800, (KIND_PIN, "3456"))]
    e, out = typed("123456789*2580#")  # '*' also forgives an entry already too long
    assert out == [(1500, (KIND_PIN, "2580"))]
    e, out = typed("1234*#")
    assert out == [] and e.refused == 0 and e.submitted == 0


def test_other_keys_ignored():
    e, out = typed("12A34D#")
    assert out == [(700, (KIND_PIN, "1234"))]
    assert e.keys_seen == 7


def test_entry_timeout_clears_silently():
    k = Keys()
    e = PinEntry(k, entry_ms=10000)
    k.at(100, "12")  # last digit at 200
    k.at(10200, "3456#")  # 10 s after the last digit: a new entry
    out = run(e, 0, 11000, 10)
    assert out == [(10600, (KIND_PIN, "3456"))]
    assert e.timeouts == 1 and e.refused == 0
    # each digit restarts the wait: a digit 1 ms before the timeout keeps the entry
    k = Keys()
    e = PinEntry(k, entry_ms=10000)
    k.at(100, "12")
    k.at(10199, "34")
    k.at(20198, "#", 0)
    assert run(e, 0, 20300) == [(20198, (KIND_PIN, "1234"))]
    assert e.timeouts == 0
    # a timeout alone feeds nothing
    k = Keys()
    e = PinEntry(k, entry_ms=500)
    k.at(0, "99")
    assert run(e, 0, 5000) == [] and e.timeouts == 1 and e.pending == 0


def test_next_deadline_and_busy():
    k = Keys()
    e = PinEntry(k, entry_ms=10000)
    assert e.next_deadline() is None and e.busy() is False
    k.deadline = 555
    k.settling = True
    assert e.next_deadline() == 555 and e.busy() is True
    k.deadline = None
    k.settling = False
    k.at(100, "7", 0)
    run(e, 0, 100)
    assert e.pending == 1
    assert e.next_deadline() == 10100  # the entry's timeout
    k.deadline = 130
    assert e.next_deadline() == 130  # the earlier of the two
    k.deadline = 20000
    assert e.next_deadline() == 10100
    k.deadline = None
    run(e, 101, 10100)
    assert e.pending == 0 and e.next_deadline() is None
    # wrap-safe: a digit just before ticks_ms() wraps
    k = Keys()
    e = PinEntry(k, entry_ms=1000)
    k.at(0x3FFFFFFF - 10, "1", 0)
    e.step(0x3FFFFFFF - 10)
    assert e.next_deadline() == 989
    assert e.step(988) is None and e.pending == 1
    assert e.step(989) is None and e.pending == 0 and e.timeouts == 1


def test_buffer_wiped_after_submit_and_every_clear():
    buf = bytearray(8)
    k = Keys()
    e = PinEntry(k, buf=buf)
    k.at(100, "2468")
    run(e, 0, 400)
    assert bytes(buf[:4]) == b"2468"  # the entry under way lives only here
    k.at(500, "#", 0)
    assert run(e, 401, 500) == [(500, (KIND_PIN, "2468"))]
    assert buf == bytearray(8)
    for keys, how in (("1357*", "star"), ("13579246813#", "long"), ("135#", "short"), ("1357", "timeout")):
        k.q = []
        k.at(1000, keys)
        run(e, 1000, 1000 + 100 * len(keys) - 100)
        assert e.pending == 0 or how == "timeout"
        run(e, 1000 + 100 * len(keys), 30000, 50)
        assert buf == bytearray(8), (how, buf)
        assert e.pending == 0
    # a digit past the eighth is never stored anywhere
    k.q = []
    k.at(40000, "123456789")
    run(e, 40000, 40900)
    assert bytes(buf) == b"12345678" and e.pending == 9
    e.clear()
    assert buf == bytearray(8)


def test_feedback_codes_never_carry_a_digit():
    seen = []
    e, out = typed("12*123456789#1234#", feedback=seen.append)
    assert out[-1][1] == (KIND_PIN, "1234")
    assert seen == ([FB_DIGIT] * 2 + [FB_CLEAR] + [FB_DIGIT] * 8 + [FB_FULL, FB_REFUSED]
                    + [FB_DIGIT] * 4 + [FB_SUBMIT])
    seen = []
    k = Keys()
    e = PinEntry(k, entry_ms=300, feedback=seen.append)
    k.at(0, "12")
    run(e, 0, 1000)
    assert seen == [FB_DIGIT, FB_DIGIT, FB_TIMEOUT]

    def boom(code):
        raise OSError("buzzer")

    e, out = typed("1234#", feedback=boom)
    assert out == [(500, (KIND_PIN, "1234"))] and e.feedback_errors == 5


class FakeApp:
    def __init__(self):
        self.fed = []

    def feed(self, now, kind, arg):
        self.fed.append((now, kind, arg))


def test_port_protocol():
    k = Keys()
    e = PinEntry(k)
    assert e.kind == EV_CREDENTIAL
    app = FakeApp()
    k.at(10, "4321#")
    t = 0
    while t <= 1000:
        e.poll(app, t + 7, t)  # the App's clock and the drivers' tick may differ
        t += 10
    assert app.fed == [(417, EV_CREDENTIAL, (KIND_PIN, "4321"))]
    k.at(2000, "98")
    t = 2000
    while t <= 2200:
        e.poll(app, t, t)
        t += 10
    assert e.pending == 2
    e.lost(app, 2200)  # the keypad failed: the entry is gone, nothing fed
    assert e.pending == 0 and len(app.fed) == 1


def test_over_a_real_keypad():
    m = FakeMatrix(4, 3)
    kp = MatrixKeypad(m.rows, m.cols, 0)
    e = PinEntry(kp)
    out = []
    t = 0
    for ch in "2580#":
        i = KEYS.index(ch)
        for dt in range(200):
            m.set(i, 3 <= dt < 120 or dt == 1)  # a bounce, then held ~120 ms
            arg = e.step(t)
            if arg is not None:
                out.append(arg)
            t += 1
    assert out == [(KIND_PIN, "2580")]
    assert e.keys_seen == 5 and kp.presses == 5


def test_idle_and_typing_do_not_allocate():
    m = FakeMatrix(4, 3)
    kp = MatrixKeypad(m.rows, m.cols, 0)
    e = PinEntry(kp)

    def idle():
        t = 0
        while t < 1000:
            e.step(t)
            e.next_deadline()
            e.busy()
            t += 1

    used = alloc_bytes(idle)
    assert used is None or used == 0, used

    def digits():
        t = 1000
        while t < 3000:  # ten digits, the last two past the eighth, and a timeout at the end
            if t % 200 == 0:
                m.close(((t // 200) % 9))
            elif t % 200 == 100:
                m.release_all()
            e.step(t)
            e.next_deadline()
            t += 1

    used = alloc_bytes(digits)
    assert e.pending == 9 and e.keys_seen == 10
    assert used is None or used == 0, used
