# The maintenance API the host toolkit calls in the raw REPL once Ctrl-C stopped main.py
# (host/doorkit/link.py): `import lockshell.service as S; S.status()` and so on. Every function
# returns plain values (dicts, tuples, ints, strings) whose repr() the host can eval.
# Heap-frugal: a bundle file is streamed into the key store in pieces, log records are read one
# at a time from flash and at most n of them are returned.
from lockctl.codes import (R_BAD_SIGNATURE, R_WRONG_DOOR, R_OLD_VERSION, R_BASE_MISMATCH, R_CORRUPT,
                           R_NO_ROOM, R_FORMAT, LOG_BUNDLE, LOG_BUNDLE_REFUSED, LOG_CLOCK_SET)

_PIECE = 512
_fl = None  # the open Storage (opened on first use; use() sets another, e.g. in tests)

# outcome names of install() (the host maps them to its messages)
REFUSALS = {R_BAD_SIGNATURE: "bad_signature", R_WRONG_DOOR: "wrong_door", R_OLD_VERSION: "old_version",
            R_BASE_MISMATCH: "base_mismatch", R_CORRUPT: "corrupt", R_NO_ROOM: "no_room", R_FORMAT: "format"}


def storage():
    """lockshell.flash.Storage on the "keys" and "log" partitions, or None on a board without
    them or without a provisioned identity (then no credential opens)."""
    try:
        import esp32
        from lockshell.flash import Storage, read_identity, board_partitions
    except ImportError:
        return None
    ident = read_identity("/door.json")
    keys, log = board_partitions(esp32)
    if ident is None or keys is None or log is None:
        return None
    return Storage(keys, log, ident[1], ident[0])


def use(fl):
    """Serve this Storage (None: open the board's again on next use)."""
    global _fl
    _fl = fl


def _storage():
    global _fl
    if _fl is None:
        _fl = storage()
        if _fl is None:
            raise OSError(19)  # ENODEV: no partitions or no identity (status() says which)
    return _fl


def status():
    """{"door": door id text or None, "keys_version", "keys_count", "next_seq", "cursor", "boots",
    "faults"} of the board's storage ({"door": None} when it has none)."""
    try:
        fl = _storage()
    except OSError:
        return {"door": None}
    ks = fl.keys
    door = getattr(ks, "door_id", None)
    d = {"door": bytes(door).decode() if door is not None else None,
         "keys_version": ks.version, "keys_count": len(ks), "boots": fl.boots, "faults": list(fl.faults)}
    if fl.log is not None:
        d["next_seq"] = fl.log.next_seq
        d["cursor"] = fl.log.cursor
    return d


def _note(code, arg):
    """Append a record of what the host did to the event log, as the App would have logged it
    (time: the RTC when it is set, else 0 ms since this boot). A log that cannot take it is not an
    error of the maintenance call itself."""
    try:
        fl = _storage()
        if fl.log is None:
            return
        try:
            w = clock()
        except (ImportError, AttributeError):  # (no machine.RTC: a test of the service off the board)
            w = None
        rec = (0, code, arg, None)
        if w is None:
            fl.log.append(rec, 0, False)
        else:
            fl.log.append(rec, w, True)
    except (OSError, ValueError):
        pass


def install(path, remove=True):
    """Install the bundle file at `path` into the key store, fed in pieces; the file is removed
    afterwards (either way). -> "ok" or the refusal's name (REFUSALS, "io" for a flash error)."""
    import os
    from lockctl.bundle import BundleError, HEADER
    import gc
    fl = _storage()
    gc.collect()  # the install takes one flash-block buffer: give it the heap's largest gap
    buf = bytearray(_PIECE)
    out = "ok"
    try:
        with open(path, "rb") as f:
            hdr = f.read(HEADER)
            try:
                if len(hdr) < HEADER:
                    raise BundleError(R_CORRUPT, "short")
                inst = fl.keys.begin(hdr)
                del hdr
                while True:
                    n = f.readinto(buf)
                    if not n:
                        break
                    inst.feed(memoryview(buf)[:n])
                    while inst.busy():
                        inst.step()
                inst.finish()
                _note(LOG_BUNDLE, (fl.keys.version, len(fl.keys)))
            except BundleError as e:
                out = REFUSALS.get(e.reason, "refused_%d" % e.reason)
                _note(LOG_BUNDLE_REFUSED, e.reason)
            except OSError:
                out = "io"
    finally:
        if remove:
            try:
                os.remove(path)
            except OSError:
                pass
    return out


def _rtc(rtc):
    from lockshell.clock import RtcClock
    if rtc is None:
        import machine
        rtc = machine.RTC()
    return RtcClock(rtc)


def set_clock(unix, rtc=None):
    """Set the board's RTC (UTC) to Unix seconds; -> what the RTC reads back."""
    c = _rtc(rtc)
    c.set(unix)
    if rtc is None:
        _note(LOG_CLOCK_SET, (int(unix), 0))
    return c.read()


def clock(rtc=None):
    """The RTC in Unix seconds, None when it was not set since power-up."""
    return _rtc(rtc).read()


def log(since_seq=0, n=32):
    """Up to n records with seq >= since_seq: (seq, boot, wall, t, code, arg, who) tuples."""
    fl = _storage()
    out = []
    if fl.log is None or n <= 0:
        return out
    for r in fl.log.records(since_seq):
        out.append(r)
        if len(out) >= n:
            break
    return out


def ack(seq):
    """Acknowledge the records up to seq (durable); -> the cursor."""
    fl = _storage()
    if fl.log is None:
        return 0
    fl.log.ack(seq)
    return fl.log.cursor


# ---------------------------------------------------------------------- calibration
# The App calibrates the way the firmware always does (lockctl core: EV_CALIBRATE "auto" sweeps to
# the unlock end stop and then to the lock end stop; "manual" waits for two "mark"s, at the locked
# and at the unlocked position), on the board make_board() composes, its result saved by the App's
# own A_SAVE sink into the store (/lock.json, JsonStore) and its records appended to the event log.
# A manual calibration spans two calls (the installer turns the knob in between): the App waits
# in _cal meanwhile. Nothing else runs in the raw REPL, so nothing else moves the bolt.
_cal = None  # the App of a manual calibration waiting for its second mark, and its clock
_MODES = ("auto", "manual-lock", "manual-unlock", "cancel")
SETTLE_MS = 2000  # after the calibration ended: at most this long for the brake's release


def _now(c):
    return c[0].ticks_diff(c[0].ticks_ms(), c[1])


class _Watch:
    """An App record sink keeping the outcome of the calibration: (code, arg) of the first
    CALIBRATED, CAL_FAIL or REFUSED record."""

    def __init__(self):
        self.got = None

    def __call__(self, rec):
        from lockctl.codes import LOG_CALIBRATED, LOG_CAL_FAIL, LOG_REFUSED
        if self.got is None and (rec[1] == LOG_CALIBRATED or rec[1] == LOG_CAL_FAIL or rec[1] == LOG_REFUSED):
            self.got = (rec[1], rec[2])


def _cal_app(machine, store, clock, log):
    from lockshell import board as _board
    from lockshell.app import App
    from lockshell.clock import RtcClock
    if machine is None:
        import machine
    if store is None:
        from lockshell.store import JsonStore
        store = JsonStore("/lock.json")
    if clock is None:
        import time as clock
    rtc = None
    if hasattr(machine, "RTC"):
        rtc = RtcClock(machine.RTC())
    b = _board.make_board(machine, clock.ticks_ms(), nfc=False)
    app = App(b, store, None, clock=rtc)
    c = (clock, clock.ticks_ms())
    app.start(0)
    if log:
        try:
            fl = _storage()
        except OSError:
            fl = None
        if fl is not None and fl.log is not None:
            from lockshell.flash import LogSink
            app.sinks.append(LogSink(app, fl.log))  # (after start(): no BOOT record for this App)
    w = _Watch()
    app.sinks.append(w)
    return app, c, w


def _run(app, c, w, limit_ms, until_done):
    """Poll the App as run() does until the calibration ended (until_done) and the App is quiet,
    at most limit_ms from now. -> False when the time was up first."""
    from lockshell.app import PERIOD_MS, IDLE_MS
    from lockctl.codes import CALIBRATING
    end = _now(c) + limit_ms
    while True:
        now = _now(c)
        app.poll(now)
        done = w.got is not None or (not until_done and app.core.state != CALIBRATING)
        if done and not app.busy():
            return True
        if now >= end:
            return False
        wait = PERIOD_MS
        if not app.busy():
            wait = IDLE_MS
            d = app.next_deadline()
            if d is not None and d - now < wait:
                wait = d - now if d > now else 0
        c[0].sleep_ms(wait)


def _outcome(w, app):
    from lockctl.codes import LOG_CALIBRATED
    from lockctl.record import reason_name
    if w.got is None:
        return {"ok": False, "reason": "timeout"}
    code, arg = w.got
    if code == LOG_CALIBRATED:
        return {"ok": True, "lock": arg[0], "unlock": arg[1]}
    return {"ok": False, "reason": reason_name(arg)}


def _stop(app):
    m = app.board.motor
    if m.running:
        m.brake()
    m.coast()


def calibrate(mode="auto", timeout_ms=60000, machine=None, store=None, clock=None, log=True):
    """Calibrate the thumb-turn's two ends and save them where the firmware keeps them.

    "auto": the motor sweeps to the unlock end stop, then to the lock end stop (the door must be
    closed); -> {"ok": True, "lock": pos, "unlock": pos} or {"ok": False, "reason": name} (the
    core's reason: door-open, no-end-stop, span, ...; "timeout" if timeout_ms passed first).
    Manual, in two calls: the installer turns the knob to locked, then "manual-lock" -> {"ok":
    True, "step": "lock", "lock": pos}; turns it to unlocked, then "manual-unlock" -> the result as
    for "auto" (the core's manual_cal_ms bounds the time between the two). "cancel" drops a manual
    calibration under way (-> {"ok": False, "reason": "cancelled"}).
    machine, store, clock (ticks_ms / ticks_diff / sleep_ms): the board's, /lock.json and time
    unless given (tests). log: the records go to the event log too."""
    global _cal
    from lockctl.codes import EV_CALIBRATE
    if mode not in _MODES:
        raise ValueError("calibrate takes %s, not %r" % (", ".join(_MODES), mode))
    if mode == "manual-unlock" or mode == "cancel":
        if _cal is None:
            return {"ok": False, "reason": "not-calibrating"}
        app, c, w = _cal
        _cal = None
        try:
            app.poll(_now(c))  # the knob as it is now (the core's time limit may have passed too)
            if w.got is None:
                app.submit(_now(c), EV_CALIBRATE, "mark" if mode == "manual-unlock" else "cancel")
            _run(app, c, w, SETTLE_MS, True)
            return _outcome(w, app)
        finally:
            _stop(app)
    if _cal is not None:  # a manual calibration left waiting: cancelled by this new one
        app, c, w = _cal
        _cal = None
        app.submit(_now(c), EV_CALIBRATE, "cancel")
        _stop(app)
        del app, c, w
    import gc
    gc.collect()
    app, c, w = _cal_app(machine, store, clock, log)
    if mode == "auto":
        try:
            app.submit(_now(c), EV_CALIBRATE, "auto")
            _run(app, c, w, timeout_ms, True)
            if w.got is None:  # (the core bounds each sweep by cal_ms: only a too short timeout_ms)
                app.submit(_now(c), EV_CALIBRATE, "cancel")
                return {"ok": False, "reason": "timeout"}
            return _outcome(w, app)
        finally:
            _stop(app)
    app.submit(_now(c), EV_CALIBRATE, "manual")
    app.poll(_now(c))
    if w.got is None:
        app.submit(_now(c), EV_CALIBRATE, "mark")
    if w.got is not None:  # refused (busy, no position) or failed
        _stop(app)
        return _outcome(w, app)
    _cal = (app, c, w)
    return {"ok": True, "step": "lock", "lock": app.core.pos}


# ---------------------------------------------------------------------- enrolment
READER_DOWN = "the door's card reader does not answer"  # read_card()'s error text (the host looks for it)


def read_card(timeout_ms=10000, machine=None, clock=None, uart=None):
    """Read one card on the door's own PN532 (NfcReader's polling, as the lock polls: type A and
    FeliCa every 100 ms; no phone protocol: a phone is an "iso-dep" target). -> (kind name,
    ident hex) ("iso14443a" UID, "felica" IDm, "iso-dep" UID), or None when no card came within
    timeout_ms. A reader that does not answer raises OSError(READER_DOWN ...).
    machine / clock / uart: the board's machine, time and the reader's UART unless given (tests)."""
    from drivers.pn532 import PN532, HsuLink
    from lockshell.nfc import NfcReader
    from lockctl.record import kind_name
    if clock is None:
        import time as clock
    if uart is None:
        from lockshell import board as _board
        if machine is None:
            import machine
        uart = machine.UART(_board.NFC_UART, baudrate=115200, tx=_board.NFC_TX, rx=_board.NFC_RX, timeout=0)
    rd = NfcReader(PN532(HsuLink(uart)))
    t0 = clock.ticks_ms()
    while True:
        t = clock.ticks_ms()
        ev = rd.poll(t)
        if ev is not None:
            if ev[0] == "card":
                return (kind_name(ev[1]), ev[2])
            if ev[0] == "down":
                raise OSError("%s (error %d)" % (READER_DOWN, ev[1]))
        left = timeout_ms - clock.ticks_diff(t, t0)
        if left <= 0:
            return None
        wait = 1  # a command in flight: the chip may answer any ms
        if not rd.running:
            d = rd.next_deadline()
            wait = clock.ticks_diff(d, t) if d is not None else 1
            if wait > left:
                wait = left
        if wait > 0:
            clock.sleep_ms(wait)
