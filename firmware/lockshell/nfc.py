# NFC polling policy on top of the non-blocking PN532 engine (drivers/pn532.py). Design: docs/pn532.md.
#
# NfcReader(engine).poll(now_ms) is called from the main loop as often as it likes. Each call does at
# most one engine.poll() plus, when that finished a step, the start of the next command: it never
# waits. It returns None or one event tuple:
#   ("card", kind, ident)  once per presentation; kind (lockctl.codes KIND_*) KIND_ISO14443A (ident:
#                          UID hex, upper case), KIND_FELICA (IDm hex; .sys_code holds the system
#                          code) or KIND_ISO_DEP (a phone:
#                          ISO14443-4 with a random 08 xx xx xx UID; the UID identifies nothing).
#                          With phone_auth, such a target gets the phone-as-key protocol instead
#                          (lockctl/phone.py, docs/phone.md) and is reported ("card", KIND_PHONE, phone
#                          id hex) when its answer verifies
#   ("refused", KIND_PHONE, ident, reason)  the protocol said no: reason (R_*) from PhoneAuth (no-app,
#                          bad-answer, unknown-phone, bad-mac) or "no-answer" (an exchange failed or
#                          the time limit passed); ident: the phone id hex when known, else the UID hex
#   ("down", code)         K consecutive failures (code: the last engine error, or E_FIRMWARE)
#   ("up",)                the reader works again after a "down"
#
# Start-up: SAMConfiguration (first: the chip boots in LowVbat), GetFirmwareVersion (IC 0x32),
# RFConfiguration MaxRetries with a finite PassiveActivation (no card -> NbTg 0, not a timeout).
# Then every interval_ms (default 100) one wake: InListPassiveTarget 106 kbps type A, InRelease when
# a target was listed, InListPassiveTarget FeliCa 212 (system code FFFF, request code 01), InRelease
# likewise, then PowerDown until the next wake (the engine sends the HSU wake preamble first).
# pair=False lists one technology per wake instead, alternating (the policy before issue 6: with
# 250 ms a card waited up to 500 ms; docs/benchmarks.md "Tap-to-unlock latency" has the figures).
# A card that stays in the field is reported once; it counts as gone after `absent` consecutive
# polls of its technology without it. Any engine error re-initialises from SAMConfiguration after a back-off that doubles
# up to backoff_max_ms. Nothing is allocated per poll while no card is presented.
#
# Phone (phone_auth given): after the list, each APDU (SELECT, CHALLENGE) is one InDataExchange,
# step_ms at most each, phone_ms for all of them (past it the running one is aborted), then InRelease.
# A phone's UID may change whenever the field goes off (PowerDown), so while a random-UID ISO-DEP
# target stays in the type A slot it counts as the same phone: one decision per presentation.
from micropython import const

from drivers.ticks import ticks_diff as _since, ticks_add

from drivers import pn532 as P
from lockctl.codes import KIND_ISO14443A, KIND_FELICA, KIND_PHONE, KIND_ISO_DEP, R_NO_ANSWER

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
_XCHG = const(8)  # phone: an InDataExchange of phone_auth.tx

NO_ANSWER = R_NO_ANSWER

TECH_A = const(0)
TECH_F = const(1)

UP = ("up",)



def _hex(buf, n):
    # upper-case hex of buf[:n] (allocates: only when a card is reported)
    return "".join(["%02X" % buf[i] for i in range(n)])


class NfcReader:
    def __init__(self, engine, interval_ms=100, absent=2, fail_limit=3, backoff_ms=100,
                 backoff_max_ms=5000, felica=True, power_down=True, passive=1, phone_auth=None,
                 rand=None, step_ms=500, phone_ms=1500, pair=True):
        # phone_auth: a lockctl.phone.PhoneAuth, or a (keys, door_id) pair to build one with rand
        # (default os.urandom); rand given with a PhoneAuth replaces its random source
        if type(phone_auth) is tuple:
            from lockctl.phone import PhoneAuth
            if rand is None:
                import os
                rand = os.urandom
            phone_auth = PhoneAuth(phone_auth[0], phone_auth[1], rand)
        elif phone_auth is not None and rand is not None:
            phone_auth.rand = rand
        self.auth = phone_auth
        self.step_ms = step_ms  # phone: one exchange at most
        self.phone_ms = phone_ms  # phone: all of its exchanges
        self.eng = engine
        self.interval_ms = interval_ms
        self.absent = absent  # polls of a technology without its card before it counts as gone
        self.fail_limit = fail_limit  # consecutive failures before "down"
        self.backoff_ms = backoff_ms
        self.backoff_max_ms = backoff_max_ms
        self.felica = felica
        self.pair = pair  # both technologies in each wake: type A, then FeliCa, then PowerDown
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
        self.kind = None  # the last card reported: its KIND_* code
        self.tg = 0  # its target number (iso-dep: for InDataExchange)
        self.sys_code = -1  # FeliCa: the system code of the last card reported
        self._step = _INIT
        self._running = False
        self._due = 0
        self._started = False
        self._phone = False  # the type A slot holds a phone (random-UID ISO-DEP, with phone_auth)
        self._go = False  # start the phone protocol after this list
        self._t_ph = 0
        self._n = 0  # length of the APDU in auth.tx
        self._pend = None  # an event held back for the next poll

    # -- the loop --

    def poll(self, now):
        if not self._started:
            self._started = True
            self._due = now
        if self._pend is not None:
            ev = self._pend
            self._pend = None
            return ev
        if self._running:
            if self._step == _XCHG and _since(now, self._t_ph) >= self.phone_ms:
                self.eng.abort()
                self._running = False
                return self._lost(P.E_ABORTED, now)
            r = self.eng.poll(now)
            if r == P.BUSY:
                return None
            self._running = False
            if r != P.DONE:
                if self._step == _XCHG:
                    return self._lost(r, now)
                return self._fail(r, now)
            ev = self._done(now)
            if ev is None and not self._running and self._step != _WAIT and self._step != _INIT:
                if self._step == _XCHG:
                    return self._lost(self.error, now)  # still one decision for the phone
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
            self._due = ticks_add(self._due, self.interval_ms)
            self._start(now, _LIST)
        else:  # a step whose start was refused: start it again
            self._start(now, step)
        if not self._running and self._step != _WAIT:
            return self._fail(self.error, now)
        return None

    def next_deadline(self):
        # when poll() next has something to do (None: now, a command is running)
        if self._running or self._pend is not None:
            return None
        return self._due

    @property
    def running(self):
        """A command of the conversation is in flight (poll often: the chip may answer any ms)."""
        return self._running

    def command_deadline(self):
        """While a command runs: the tick at which poll() acts with no new byte from the chip (the
        engine's time-out or gap, or the phone's overall limit); None otherwise."""
        if not self._running:
            return None
        d = self.eng.next_deadline()
        if self._step == _XCHG:
            p = ticks_add(self._t_ph, self.phone_ms)
            if d is None or _since(p, d) < 0:
                d = p
        return d

    @property
    def waiting(self):
        """Up and idle between two wakes (the next starts at next_deadline()): not starting up,
        backing off or running a command."""
        return self._step == _WAIT and not self._running and self._pend is None

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
        elif step == _XCHG:
            r = e.start_exchange(now, self.tg, self.auth.tx, self._n, timeout_ms=self.step_ms)
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
            if self._go:
                self._go = False
                self._t_ph = now
                self._n = self.auth.begin()
                self._start(now, _XCHG)
            elif e.nbtg:
                self._start(now, _RELEASE)
            else:
                self._next(now)
            return ev
        elif step == _RELEASE:
            self._next(now)
        elif step == _XCHG:
            a = self.auth
            n = a.answer(memoryview(e.rx)[1:e.rx_len])
            if n and _since(now, self._t_ph) < self.phone_ms:
                self._n = n
                self._start(now, _XCHG)
                return None
            pid, why = a.result()
            if n:
                why = NO_ANSWER
            self._start(now, _RELEASE)
            if why is None:
                self.kind = KIND_PHONE
                return ("card", KIND_PHONE, _hex(pid, len(pid)))
            return self._refused(why)
        else:
            self._step = _WAIT
        return None

    def _next(self, now):
        # after a list (and its release): FeliCa follows type A in the same wake when pairing
        if self.pair and self.felica and self.tech == TECH_F:
            self._start(now, _LIST)
        else:
            self._after(now)

    def _after(self, now):
        if self.power_down:
            self._start(now, _PDOWN)
        else:
            self._step = _WAIT

    def _refused(self, why):
        pid = self.auth.phone_id
        if pid is None:
            ident = _hex(self.ids[0], self.id_len[0])
        else:
            ident = _hex(pid, len(pid))
        return ("refused", KIND_PHONE, ident, why)

    def _lost(self, code, now):
        # an exchange failed (the phone left or did not answer, the time limit passed, or the link)
        ev = self._refused(NO_ANSWER)
        if code == P.E_STATUS or code == P.E_ABORTED:
            self._start(now, _RELEASE)  # the chip itself is fine
            if self._running:
                return ev
            code = self.error
        self._pend = self._fail(code, now)
        return ev

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
        self._due = ticks_add(now, d)
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
        phone = t == TECH_A and e.sak & 0x20 and n == 4 and src[0] == 0x08
        if phone and self._phone and self.id_len[t]:
            return None  # the same phone, its UID perhaps changed
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
        if t == TECH_A:
            self._phone = phone and self.auth is not None
            if self._phone:
                self._go = True
                return None
        if t == TECH_F:
            self.sys_code = e.sys_code
            kind = KIND_FELICA
        elif phone:
            kind = KIND_ISO_DEP
        else:
            kind = KIND_ISO14443A
        self.kind = kind
        return ("card", kind, _hex(src, n))
