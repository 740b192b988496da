"""Hypothesis property tests of the event log and its tally (CPython): random records round-trip
through the 20-byte slot exactly when an independent size oracle says they fit; random sequences of
appends, acks, reboots and power cuts against a simple model never lose a record that returned
(beyond the oldest-sector policy), never repeat a seq, keep the cursor old or new, and pending() is
what follows it."""
from hypothesis import given, settings, strategies as st, HealthCheck

from conftest import examples
from sim.nor import NorFlash, Partition
from lockctl import codes as C
from lockctl.tally import Tally
from lockctl.eventlog import EventLog, encode_slot, decode_slot, correct_times, SLOTS

# ------------------------------------------------------------------------------ round trip
ints = st.one_of(st.integers(-200, 200), st.integers(-2 ** 40, 2 ** 40), st.integers(0, 2 ** 32 - 1))
args = st.one_of(st.none(), ints, st.tuples(ints, ints), st.tuples(ints, st.booleans()))
whos = st.one_of(
    st.none(),
    st.integers(0, 2 ** 35),
    st.tuples(st.integers(0, 255), st.binary(max_size=16).map(lambda b: b.hex())),
    st.tuples(st.integers(0, 255), st.binary(max_size=12).map(lambda b: b.hex().upper())),
    st.tuples(st.just(C.KIND_PIN), st.sampled_from(["", "1234", "99999999"])),
)


def _vlen(u):
    n = 1
    while u >= 128:
        u >>= 7
        n += 1
    return n


def _zz(n):
    return 2 * n if n >= 0 else -2 * n - 1


def _oracle(arg, who):
    """-> (fits, who as decoded) from the format's rules, computed independently."""
    size = 1
    if isinstance(arg, tuple):
        size += _vlen(_zz(int(arg[0]))) + _vlen(_zz(int(arg[1])))
    elif arg is not None:
        size += _vlen(_zz(arg))
    if who is None:
        return size <= 13, None
    if not isinstance(who, tuple):
        size += _vlen(who)
        return size <= 13, who
    size += 1  # kind
    if size > 13:
        return False, None
    if who[0] == C.KIND_PIN:
        return True, (who[0], "")
    ident = bytes.fromhex(who[1])
    room = 13 - size
    if len(ident) <= room:
        return True, (who[0], ident.hex().upper())
    return True, (who[0], ident[:room].hex().upper() + "...")


@settings(max_examples=examples(500), deadline=None)
@given(st.integers(1, 126), args, whos, st.integers(0, 2 ** 32 - 1), st.booleans())
def test_random_records_round_trip_exactly_when_they_fit(code, arg, who, t, wall):
    fits, dwho = _oracle(arg, who)
    buf = bytearray(20)
    try:
        encode_slot(buf, (0, code, arg, who), t, wall)
    except ValueError:
        assert not fits
        return
    assert fits
    assert decode_slot(buf) == (wall, t, code, arg, dwho)
    if isinstance(arg, tuple):
        assert type(decode_slot(buf)[3][1]) is type(arg[1])


@settings(max_examples=examples(200), deadline=None)
@given(st.integers(1_500_000_000, 2_000_000_000), st.integers(0, 2 ** 32 - 1),
       st.lists(st.integers(-2 ** 31 + 1, 2 ** 31 - 1), max_size=10))
def test_correct_times_is_the_clock_set_plus_the_elapsed_ms(unix, ms, deltas):
    recs = [(1, 5, False, 0, C.LOG_BOOT, (C.LOCKED, 5), None),
            (2, 5, True, unix, C.LOG_CLOCK_SET, (unix, ms), None)]
    recs += [(3 + i, 5, False, (ms + d) % 2 ** 32, C.LOG_DOOR_OPEN, None, None) for i, d in enumerate(deltas)]
    out = correct_times(recs)
    back = -ms % 2 ** 32  # the boot record's t (0) minus the set's ms, as a signed 32-bit difference
    assert out[0][2] and out[0][3] == unix + (back - 2 ** 32 if back >= 2 ** 31 else back) // 1000
    for r, d in zip(out[2:], deltas):
        assert r[2] is True and r[3] == unix + d // 1000


# ------------------------------------------------------------------------------ the model
ops = st.lists(st.one_of(
    st.tuples(st.just("append"), st.integers(1, 260)),
    st.tuples(st.just("ack"), st.floats(0, 1.2)),
    st.tuples(st.just("reboot")),
    st.tuples(st.just("cut"), st.integers(0, 6), st.sampled_from([0, 1, 7, 12, 16, 19, 20, -1]),
              st.sampled_from(["append", "ack"])),
), max_size=14)


class World:
    def __init__(self, sectors):
        self.sectors = sectors
        self.dev = NorFlash(2 + sectors)
        self.boot = 0
        self.returned = {}  # seq -> content of every append that returned
        self.maybe = set()  # contents of appends that raised
        self.top = 0  # highest seq ever returned or seen on flash
        self.cursor = 0
        self.n = 0
        self.mount()

    def mount(self):
        self.boot += 1
        self.tally = Tally(Partition(self.dev, 0, 2))
        self.log = EventLog(Partition(self.dev, 2, self.sectors), self.tally, self.boot)
        assert self.log.next_seq > self.top  # never repeats, also after a cut
        self.check()

    def reboot(self):
        self.dev = self.dev.power_cycle()
        self.mount()

    def append(self):
        self.n += 1
        rec = (self.n, C.LOG_CONFIG, (1, self.n), None)
        try:
            s = self.log.append(rec)
        except OSError:
            self.maybe.add(rec[1:])
            raise
        assert s > self.top
        self.top = s
        self.returned[s] = rec[1:]

    def ack(self, frac):
        seq = int(self.top * frac)
        old = self.cursor
        new = max(old, min(seq, self.log.next_seq - 1))  # beyond the last issued: clamped
        try:
            self.log.ack(seq)
        except OSError:
            self.cursor = None  # old or new, known after the next mount
            self.acking = (old, new)
            raise
        self.cursor = new
        assert self.log.cursor == self.cursor

    def check(self):
        log = self.log
        if self.cursor is None:
            assert log.cursor in self.acking
        self.cursor = log.cursor
        seqs = []
        for r in log.records():
            s = r[0]
            assert not seqs or s > seqs[-1]
            seqs.append(s)
            content = (r[4], r[5], r[6])
            if s in self.returned:
                assert content == self.returned[s]
            elif r[4] == C.LOG_DROPPED:
                assert r[5] > 0
            else:
                assert content in self.maybe, r
        if seqs:
            self.top = max(self.top, seqs[-1])
            on = set(seqs)
            for s in self.returned:
                if s >= seqs[0] or s > self.top - log.capacity:
                    assert s in on, (s, seqs[0], self.top)
        else:
            for s in self.returned:
                assert s <= self.top - log.capacity
        assert [r[0] for r in log.pending()] == [s for s in seqs if s > self.cursor]


@settings(max_examples=examples(120), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([2, 3]), ops)
def test_random_appends_acks_reboots_and_cuts_keep_the_log_consistent(sectors, steps):
    w = World(sectors)
    for op in steps:
        if op[0] == "append":
            for _ in range(op[1]):
                w.append()
        elif op[0] == "ack":
            w.ack(op[1])
        elif op[0] == "reboot":
            w.reboot()
            continue
        else:
            w.dev.cut_at(w.dev.ops + op[1], op[2])
            try:
                for _ in range(SLOTS + 2):  # reaches the cut (a sector opens at most this far)
                    if op[3] == "append":
                        w.append()
                    else:
                        w.ack(1.0)
                        w.append()
            except OSError:
                pass
            w.reboot()
            continue
        w.check()
