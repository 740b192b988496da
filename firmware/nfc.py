# NFC polling policy on top of the non-blocking PN532 engine (drivers/pn532.py). Design: docs/pn532.md.
#
# NfcReader(engine).poll(now_ms) is called from the main loop as often as it likes. Each call does at
# most one engine.poll() plus, when that finished a step, the start of the next command: it never
# waits. It returns None or one event tuple:
#   ("card", kind, ident)  once per presentation; kind "iso14443a" (ident: UID hex, upper case),
#                          "felica" (IDm hex; .sys_code holds the system code) or "iso-dep" (a phone:
#                          ISO14443-4 with a random 08 xx xx xx UID; the UID identifies nothing)
#   ("down", code)         K consecutive failures (code: the last engine error, or E_FIRMWARE)
#   ("up",)                the reader works again after a "down"
#
# Start-up: SAMConfiguration (first: the chip boots in LowVbat), GetFirmwareVersion (IC 0x32),
# RFConfiguration MaxRetries with a finite PassiveActivation (no card -> NbTg 0, not a timeout).
# Then every interval_ms one InListPassiveTarget, alternating 106 kbps type A and FeliCa 212
# (system code FFFF, request code 01), InRelease when a target was listed, PowerDown until the next
# poll (the engine sends the HSU wake preamble before the next command). A card that stays in the
# field is reported once; it counts as gone after `absent` consecutive polls of its technology
# without it. Any engine error re-initialises from SAMConfiguration after a back-off that doubles
# up to backoff_max_ms. Nothing is allocated per poll while no card is presented.
from micropython import const

from drivers import pn532 as P

E_FIRMWARE = const(-20)  # GetFirmwareVersion answered, but not a PN532 (IC != 0x32)

# steps
_INIT = const(0)  # due: start SAMConfiguration
_SAM = const(1)
_FW = const(2)
_RF = const(3)
_WAIT = const(4)  # due: start the next list
_LIST = const(5)
_RELEASE = const(6)
_PDOWN = const(7)

TECH_A = const(0)
TECH_F = const(1)

UP = ("up",)

_MASK = const(0x3FFFFFFF)
_HALF = const(0x20000000)


def _since(now, t0):
    return ((now - t0 + _HALF) & _MASK) - _HALF


def _hex(buf, n):
    # upper-case hex of buf[:n] (allocates: only when a card is reported)
    return "".join(["%02X" % buf[i] for i in range(n)])


class NfcReader:
    def __init__(self, engine, interval_ms=250, absent=2, fail_limit=3, backoff_ms=100,
                 backoff_max_ms=5000, felica=True, power_down=True, passive=1):
        self.eng = engine
        self.interval_ms = interval_ms
        self.absent = absent  # polls of a technology without its card before it counts as gone
        self.fail_limit = fail_limit  # consecutive failures before "down"
        self.backoff_ms = backoff_ms
        self.backoff_max_ms = backoff_max_ms
        self.felica = felica
        self.power_down = power_down
        self.passive = passive  # MaxRetries PassiveActivation
        self.down = False
        self.fails = 0  # consecutive failures
        self.error = 0  # the last engine error
        self.errors = 0  # engine errors in total
        self.inits = 0  # start-ups completed
        self.polls = 0  # lists completed
        self.tech = TECH_A  # technology of the next (or running) list
        # what is in the field, per technology: identity bytes, length, misses
        self.ids = (bytearray(10), bytearray(8))
        self.id_len = [0, 0]
        self.miss = [0, 0]
        self.kind = None  # the last card reported: kind string
        self.tg = 0  # its target number (iso-dep: for InDataExchange)
        self.sys_code = -1  # FeliCa: the system code of the last card reported
        self._step = _INIT
        self._running = False
        self._due = 0
        self._release = False
        self._started = False

    # -- the loop --

    def poll(self, now):
        if not self._started:
            self._started = True
            self._due = now
        if self._running:
            r = self.eng.poll(now)
            if r == P.BUSY:
                return None
            self._running = False
            if r != P.DONE:
                return self._fail(r, now)
            ev = self._done(now)
            if ev is None and not self._running and self._step != _WAIT and self._step != _INIT:
                return self._fail(self.error, now)  # the next step's start was refused
            return ev
        if _since(now, self._due) < 0:
            return None
        step = self._step
        if step == _INIT:
            self._start(now, _SAM)
        elif step == _WAIT:
            if _since(now, self._due) >= self.interval_ms:
                self._due = now  # far behind (a long stall): no burst of polls to catch up
            self._due = (self._due + self.interval_ms) & _MASK
            self._start(now, _LIST)
        else:  # a step whose start was refused: start it again
            self._start(now, step)
        if not self._running and self._step != _WAIT:
            return self._fail(self.error, now)
        return None

    def next_deadline(self):
        # when poll() next has something to do (None: now, a command is running)
        if self._running:
            return None
        return self._due

    # -- steps --

    def _start(self, now, step):
        e = self.eng
        self._step = step
        if step == _SAM:
            r = e.start_sam_configuration(now)
        elif step == _FW:
            r = e.start_firmware_version(now)
        elif step == _RF:
            r = e.start_max_retries(now, passive=self.passive)
        elif step == _LIST:
            if self.tech == TECH_A:
                r = e.start_list_a(now)
            else:
                r = e.start_list_felica(now, 0xFFFF, 1)
        elif step == _RELEASE:
            r = e.start_release(now, 0)
        else:
            r = e.start_power_down(now)
        if r == P.BUSY:
            self._running = True
        else:
            self._running = False
            self.error = r

    def _done(self, now):
        step = self._step
        e = self.eng
        if step == _SAM:
            self._start(now, _FW)
        elif step == _FW:
            if e.ic != 0x32:
                return self._fail(E_FIRMWARE, now)
            self._start(now, _RF)
        elif step == _RF:
            self.inits += 1
            self.fails = 0
            self.tech = TECH_A
            self._step = _WAIT
            self._due = now
            if self.down:
                self.down = False
                return UP
        elif step == _LIST:
            self.polls += 1
            self.fails = 0
            ev = self._seen(e)
            if self.felica:
                self.tech ^= 1
            if e.nbtg:
                self._start(now, _RELEASE)
            else:
                self._after(now)
            return ev
        elif step == _RELEASE:
            self._after(now)
        else:
            self._step = _WAIT
        return None

    def _after(self, now):
        if self.power_down:
            self._start(now, _PDOWN)
        else:
            self._step = _WAIT

    def _fail(self, code, now):
        self._running = False
        self.error = code
        self.errors += 1
        self.fails += 1
        self._step = _INIT
        k = self.fails - 1
        if k > 6:
            k = 6
        d = self.backoff_ms << k
        if d > self.backoff_max_ms:
            d = self.backoff_max_ms
        self._due = (now + d) & _MASK
        if not self.down and self.fails >= self.fail_limit:
            self.down = True
            self.id_len[0] = self.id_len[1] = 0  # nothing known about the field any more
            return ("down", code)
        return None

    # -- presentations --

    def _seen(self, e):
        t = self.tech
        if t == TECH_A:
            ok = e.nbtg and e.kind == P.KIND_A
            src = e.uid
            n = e.uid_len
        else:
            ok = e.nbtg and e.kind == P.KIND_FELICA
            src = e.idm
            n = 8
        if not ok:
            if self.id_len[t]:
                self.miss[t] += 1
                if self.miss[t] >= self.absent:
                    self.id_len[t] = 0
            return None
        ids = self.ids[t]
        self.miss[t] = 0
        if n == self.id_len[t]:
            i = 0
            while i < n and ids[i] == src[i]:
                i += 1
            if i == n:
                return None  # held in the field
        i = 0
        while i < n:
            ids[i] = src[i]
            i += 1
        self.id_len[t] = n
        self.tg = e.tg
        if t == TECH_F:
            self.sys_code = e.sys_code
            kind = "felica"
        elif e.sak & 0x20 and n == 4 and src[0] == 0x08:
            kind = "iso-dep"
        else:
            kind = "iso14443a"
        self.kind = kind
        return ("card", kind, _hex(src, n))
