# MatrixKeypad: scan, key map, debounce of press and release, one event per press, several keys,
# deadlines, wrap safety, no allocation. WiegandKeypad: 4- and 8-bit bursts, bad bursts, no allocation.
from fakes import FakeMatrix, FakePin, Lcg, alloc_bytes
from drivers.keypad import MatrixKeypad, WiegandKeypad

KEYS = "123456789*0#"


def make(debounce_ms=30, t0=0):
    m = FakeMatrix(4, 3)
    return m, MatrixKeypad(m.rows, m.cols, t0, debounce_ms=debounce_ms)


def run(kp, m, edges, t0, t1, step=1):
    # replay edges [(t, contact, closed), ...] while polling every `step` ms over [t0, t1];
    # returns the reported keys as [(t, key), ...]
    out = []
    k = 0
    t = t0
    while t <= t1:
        while k < len(edges) and edges[k][0] <= t:
            m.set(edges[k][1], edges[k][2])
            k += 1
        key = kp.poll(t)
        if key is not None:
            out.append((t, key))
        t += step
    return out


def test_idle_rows_low_and_an_idle_poll_reads_only_the_columns():
    m, kp = make()
    for r in m.rows:
        assert r.level == 0  # idle: all rows low, so any key pulls its column low
    for t in range(0, 200, 10):
        assert kp.poll(t) is None
        for r in m.rows:
            assert r.level == 0
    assert m.col_reads == 3 * 21  # no key: one read a column a poll (and the constructor's scan)
    assert kp.next_deadline() is None
    assert kp.settling is False and kp.down is False


def test_a_key_down_is_scanned_one_row_low_at_a_time():
    m, kp = make()
    m.lows_seen = 0
    ev = run(kp, m, [(10, 4, 1), (100, 4, 0)], 0, 200)
    assert ev == [(40, KEYS[4])]
    for r in m.rows:
        assert r.level == 0  # back to idle after every scan


def test_every_key_maps():
    for i in range(12):
        m, kp = make()
        ev = run(kp, m, [(10, i, 1), (100, i, 0)], 0, 200)
        assert ev == [(40, KEYS[i])], (i, ev)
    # another key map, another shape (4x4 with letters)
    m = FakeMatrix(4, 4)
    kp = MatrixKeypad(m.rows, m.cols, 0, keymap="123A456B789C*0#D", debounce_ms=5)
    assert run(kp, m, [(0, 7, 1), (50, 7, 0)], 0, 100) == [(5, "B")]
    assert kp.keymap == "123A456B789C*0#D"


def test_bad_arguments():
    m = FakeMatrix(4, 3)
    for km in ("123", "123456789*0#X", ""):
        try:
            MatrixKeypad(m.rows, m.cols, 0, keymap=km)
            assert False, km
        except ValueError:
            pass
    try:
        MatrixKeypad(m.rows, m.cols, 0, debounce_ms=-1)
        assert False
    except ValueError:
        pass


def test_clean_press_timing_and_held_key_does_not_repeat():
    m, kp = make()
    assert run(kp, m, [(100, 4, 1)], 0, 129) == []
    assert kp.settling is True and kp.next_deadline() == 130
    assert kp.poll(130) == "5"
    assert kp.down is True and kp.settling is False
    assert kp.next_deadline() is None  # held: only a poll can see the release
    assert run(kp, m, [], 131, 5000) == []  # held for seconds: no repeat
    assert kp.presses == 1
    m.open(4)
    assert kp.poll(5001) is None
    assert kp.settling is True and kp.next_deadline() == 5031
    assert run(kp, m, [], 5002, 5031) == []
    assert kp.down is False and kp.next_deadline() is None
    # the same key again is a new press
    assert run(kp, m, [(5100, 4, 1), (5200, 4, 0)], 5032, 5400) == [(5130, "5")]
    assert kp.presses == 2


def test_bounce_on_press():
    m, kp = make()
    # a make that chatters 25 ms: closed/open gaps all shorter than 30 ms
    edges = [(100, 0, 1), (103, 0, 0), (105, 0, 1), (112, 0, 0), (113, 0, 1), (125, 0, 0), (126, 0, 1),
             (400, 0, 0)]
    assert run(kp, m, edges, 0, 600) == [(156, "1")]  # 30 ms after the last bounce


def test_bounce_on_release_is_one_release():
    m, kp = make()
    # released at 300, but the contact re-makes for a few ms at 310 and 325: still one press
    edges = [(100, 8, 1), (300, 8, 0), (310, 8, 1), (314, 8, 0), (325, 8, 1), (327, 8, 0)]
    assert run(kp, m, edges, 0, 356) == [(130, "9")]
    assert kp.down is True  # 356 - 327 < 30: not released yet
    assert kp.poll(357) is None
    assert kp.down is False
    # a re-make that lasts past debounce_ms is still the same press held (no second event)
    m, kp = make()
    edges = [(100, 8, 1), (300, 8, 0), (310, 8, 1), (400, 8, 0)]
    assert run(kp, m, edges, 0, 600) == [(130, "9")]


def test_glitches_shorter_than_debounce_yield_nothing():
    for length in range(1, 30):
        m, kp = make()
        assert run(kp, m, [(50, 2, 1), (50 + length, 2, 0)], 0, 300) == [], length
        assert kp.down is False and kp.settling is False


def test_second_key_while_one_is_held_is_ignored():
    m, kp = make()
    edges = [(100, 0, 1), (200, 1, 1),  # "1" held, "2" pressed too
             (300, 0, 0),  # "1" let go, "2" still down: nothing, all must be released first
             (500, 1, 0),
             (700, 1, 1), (800, 1, 0)]  # "2" again, alone: reported
    assert run(kp, m, edges, 0, 1000) == [(130, "1"), (730, "2")]


def test_two_keys_at_once_report_nothing_until_all_released():
    m, kp = make()
    edges = [(100, 3, 1), (101, 5, 1),  # "4" and "6" together
             (300, 3, 0),  # "6" left alone: still nothing
             (400, 5, 0),
             (500, 5, 1), (600, 5, 0)]
    assert run(kp, m, edges, 0, 800) == [(530, "6")]


def test_quick_roll_over_counts_as_the_key_left_down():
    m, kp = make()
    # "7" pressed, "8" pressed 10 ms later, "7" let go 10 ms after that (before either settled)
    edges = [(100, 6, 1), (110, 7, 1), (120, 6, 0), (300, 7, 0)]
    assert run(kp, m, edges, 0, 500) == [(150, "8")]


def test_key_down_at_power_up_is_not_reported():
    m = FakeMatrix(4, 3)
    m.close(10)
    kp = MatrixKeypad(m.rows, m.cols, 0)
    assert kp.down is True
    assert run(kp, m, [(500, 10, 0), (700, 10, 1), (800, 10, 0)], 0, 1000) == [(730, "0")]


def test_coarse_polling():
    # the shell polls every 10 ms while settling and every 50 ms when idle: one event per press
    for step in (3, 7, 10, 11):
        m, kp = make()
        edges = [(100, 11, 1), (104, 11, 0), (106, 11, 1), (250, 11, 0), (253, 11, 1), (255, 11, 0)]
        ev = run(kp, m, edges, 0, 600, step)
        assert len(ev) == 1 and ev[0][1] == "#", (step, ev)
        assert 130 <= ev[0][0] < 136 + 2 * step, (step, ev)  # bounces may go unseen; seen up to a step late


def test_debounce_values():
    for deb in (0, 1, 5, 50):
        m, kp = make(debounce_ms=deb)
        assert run(kp, m, [(10, 9, 1), (200, 9, 0)], 0, 300) == [(10 + deb, "*")]
        assert kp.debounce_ms == deb


def test_random_bouncy_presses_one_event_each():
    rng = Lcg(77)
    m, kp = make()
    t = 0
    for n in range(120):
        key = rng.next(0, 11)
        edges = []
        tt = t
        level = 1
        for b in range(2 * rng.next(0, 3)):  # make bounce: gaps 1..8 ms
            edges.append((tt, key, level))
            level = 1 - level
            tt += rng.next(1, 8)
        edges.append((tt, key, 1))
        last_make = tt
        tt += rng.next(40, 300)  # held
        level = 0
        for b in range(2 * rng.next(0, 3)):  # release bounce
            edges.append((tt, key, level))
            level = 1 - level
            tt += rng.next(1, 8)
        edges.append((tt, key, 0))
        t_end = tt + rng.next(35, 200)
        ev = run(kp, m, edges, t, t_end)
        assert ev == [(last_make + 30, KEYS[key])], (n, ev, edges)
        assert kp.down is False
        t = t_end + 1
    assert kp.presses == 120


def test_wraps_with_ticks_ms():
    mask = 0x3FFFFFFF
    start = mask - 10
    m, kp = make(t0=start)
    m.close(1)
    t = start
    got = None
    for i in range(100):
        key = kp.poll(t)
        if key is not None:
            got = (i, t, key)
            break
        t = (t + 1) & mask
    assert got == (30, 19, "2")
    assert kp.next_deadline() is None


def test_poll_does_not_allocate():
    m, kp = make()
    count = [0]

    def idle():
        t = 0
        while t < 1000:
            kp.poll(t)
            kp.next_deadline()
            t += 1

    used = alloc_bytes(idle)
    assert used is None or used == 0, used

    def presses():
        # presses and releases, keys reported (the key strings were made by the constructor)
        t = 1000
        n = 0
        while t < 3000:
            if t % 200 == 0:
                m.close((t // 200) % 12)
            elif t % 200 == 100:
                m.release_all()
            if kp.poll(t) is not None:
                n += 1
            kp.next_deadline()
            t += 1
        count[0] = n

    used = alloc_bytes(presses)
    assert count[0] == 10
    assert used is None or used == 0, used


def wiegand(gap_ms=25):
    d0, d1 = FakePin(1, record=False), FakePin(1, record=False)
    return d0, d1, WiegandKeypad(d0, d1, 0, gap_ms=gap_ms, hard=False)


def send(d0, d1, value, nbits):
    # one burst, MSB first: a low pulse on D1 for a 1, on D0 for a 0
    for i in range(nbits - 1, -1, -1):
        p = d1 if (value >> i) & 1 else d0
        p.set(0)
        p.set(1)


def test_wiegand_4_and_8_bit_keys():
    d0, d1, kp = wiegand()
    assert d0.trigger == FakePin.IRQ_FALLING and d0.handler is not None and d1.handler is not None
    assert kp.poll(0) is None and kp.next_deadline() is None and kp.settling is False
    got = []
    t = 0
    for code in range(12):
        for nbits in (4, 8):
            v = code if nbits == 4 else ((15 - code) << 4) | code
            send(d0, d1, v, nbits)
            assert kp.settling is True
            for dt in range(0, 60, 10):  # the shell's 10 ms steps while settling
                key = kp.poll(t + dt)
                if key is not None:
                    got.append((dt, key))
            t += 100
    assert "".join(k for dt, k in got) == "".join(c + c for c in "0123456789*#")
    assert [dt for dt, k in got] == [30] * 24  # seen at 0, unchanged at 10, 20; quiet for 25 ms at 30
    assert kp.presses == 24 and kp.errors == 0 and kp.settling is False


def test_wiegand_bad_bursts_dropped():
    d0, d1, kp = wiegand()
    for v, n in ((12, 4), (15, 4), (0xE2, 8), (0x11, 8), (0x1FFFFFF, 26), (1, 1), (0x5A5, 12)):
        send(d0, d1, v, n)
        for t in (0, 10, 40):
            assert kp.poll(t) is None, (v, n)
    assert kp.errors == 7 and kp.presses == 0
    # a burst still arriving when polled restarts the wait: 2 bits of 0xE1, a poll, the other 6
    send(d0, d1, 0b11, 2)
    assert kp.poll(100) is None and kp.next_deadline() == 125
    send(d0, d1, 0b100001, 6)
    assert kp.poll(110) is None and kp.next_deadline() == 135
    assert kp.poll(134) is None
    assert kp.poll(135) == "1"
    assert kp.errors == 7 and kp.presses == 1 and kp.next_deadline() is None
    # bits=8: a 4-bit burst (an 8-bit one that lost half its bits) is an error, not a key
    d0, d1 = FakePin(1, record=False), FakePin(1, record=False)
    kp = WiegandKeypad(d0, d1, 0, bits=8)
    send(d0, d1, 5, 4)
    assert kp.poll(0) is None and kp.poll(30) is None and kp.errors == 1
    send(d0, d1, 0xA5, 8)
    assert kp.poll(40) is None and kp.poll(70) == "5"
    try:
        WiegandKeypad(d0, d1, 0, bits=26)
        assert False
    except ValueError:
        pass


def test_wiegand_pin_entry_and_no_allocation():
    from lockshell.keypad import PinEntry
    from lockctl.codes import KIND_PIN
    d0, d1, kp = wiegand()
    e = PinEntry(kp)
    out = []
    t = 0
    for ch in "2580#":
        send(d0, d1, "0123456789*#".index(ch), 4)
        for dt in range(0, 100, 10):
            a = e.step(t + dt)
            if a is not None:
                out.append(a)
        t += 100
    assert out == [(KIND_PIN, "2580")]
    count = [0]

    def loop():
        n = 0
        t = 1000
        while t < 3000:
            if t % 100 == 0:
                send(d0, d1, 0xE1, 8)  # the IRQ side: stores bits, allocates nothing
            if kp.poll(t) is not None:
                n += 1
            kp.next_deadline()
            t += 5
        count[0] = n

    used = alloc_bytes(loop)
    assert count[0] == 20
    assert used is None or used == 0, used
