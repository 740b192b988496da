"""A byte-exact PN532 emulator (CPython) for the simulator and the tests.

The chip sits behind a virtual HSU UART (`emu.uart`: write, read(n), in_waiting, reset_input_buffer,
any, readinto: pyserial- and machine.UART-like) and a virtual I2C bus (`emu.i2c`: try_lock, unlock,
writeto, readfrom_into in Adafruit busio style, also callable MicroPython-style). The frame format is
implemented here from the protocol reference, on purpose sharing no code with
firmware/drivers/pn532.py: the two are checked against each other and against Adafruit's client.

Behaviour (from the reference; docs/pn532.md "Start-up" gives the sources): the chip boots in LowVbat,
asleep. Cold, any byte on HSU_RX wakes it (that byte is lost) and it answers every command;
SAMConfiguration leaves LowVbat (lowvbat="sam-first" models a stricter chip that ignores everything
else until then). After PowerDown only a 0x55 wakes the HSU (what precedes it is lost). Each command frame is ACKed after ack_ms and answered exec_ms later with code + 1. A host
ACK aborts the running command; a host NACK gets the last frame sent again; a frame with a bad
checksum is ignored; an unknown command or bad parameters get the application error frame. A new
command replaces a running one. RFConfiguration MaxRetries: PassiveActivation 0xFF (the default)
makes InListPassiveTarget wait for a card for ever; a finite n answers NbTg = 0 after n + 1 tries of
try_ms. Over I2C every read starts with the status byte (01 ready) followed by the oldest frame not
yet read; a read longer than the status byte consumes that frame.

Cards: TypeA (4/7/10-byte UID, SENS_RES, SAK, optional ATS and an APDU callback for ISO-DEP), Felica
(IDm, PMm, system codes; a polling request is answered only for a matching system code, FF bytes
being wildcards). Cards enter() and leave() the field. Faults: inject() spoils the next frame(s)
(noise, dropped bytes, bad DCS or LCS, truncation, muted), noise() puts bytes on the line now, chaos
spoils frames at random, silent makes the reader dead (no answer; I2C NACKs its address).

Time is virtual milliseconds from `clock` (Clock() for stepped tests; real monotonic by default).
"""
import errno
import random
import time

ACK = bytes.fromhex("0000ff00ff00")
NACK = bytes.fromhex("0000ffff0000")
ERROR_FRAME = bytes.fromhex("0000ff01ff7f8100")

DEP_MAX = 262  # InDataExchange data per frame
# SetSerialBaudRate BR codes 00..08 (UM0701-02)
BAUDS = (9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600, 1288000)
# RFConfiguration items and their ConfigurationData sizes: 02 various timings, 04 MaxRtyCOM, 0A/0B/0C/0D
# analog settings (106A, 212/424, type B, 14443-4 212/424/848); 01 and 05 are handled on their own
RF_ITEM_LEN = {0x02: 3, 0x04: 1, 0x0A: 11, 0x0B: 8, 0x0C: 3, 0x0D: 9}
# Register values after reset for the CIU (PN512-type contactless unit at 6301..633F) registers that
# hosts read first; every other address reads 00 until written. An estimate from the PN512-family
# register map, not read from a chip.
REG_RESET = {0x6301: 0x3F, 0x6304: 0x80, 0x6306: 0x10, 0x6307: 0x84, 0x6308: 0x84, 0x6309: 0x4D,
             0x630C: 0x62, 0x6311: 0xFF, 0x6312: 0xFF, 0x6313: 0x88, 0x6314: 0x26, 0x6315: 0x87,
             0x6316: 0x48, 0x6317: 0x88, 0x6318: 0x20, 0x6319: 0x20, 0x6331: 0x20, 0x6332: 0x80,
             0x6334: 0x14, 0x633B: 0x08, 0x633C: 0x10, 0x633E: 0x80}
FAULTS = ("noise", "drop", "dcs", "lcs", "truncate", "mute")


def wrap(tfi, data=b""):
    """An information frame: normal up to 255 bytes of TFI + data, else extended."""
    payload = bytes([tfi]) + bytes(data)
    size = len(payload)
    if size > 255:
        hi, lo = divmod(size, 256)
        header = b"\x00\x00\xff\xff\xff" + bytes([hi, lo, -(hi + lo) % 256])
    else:
        header = b"\x00\x00\xff" + bytes([size, -size % 256])
    return header + payload + bytes([-sum(payload) % 256, 0])


def monotonic_ms():
    return int(time.monotonic() * 1000)


class Clock:
    """Virtual milliseconds: call it for the time, move it with advance() or by setting t."""

    def __init__(self, t=0):
        self.t = t

    def __call__(self):
        return self.t

    def advance(self, ms):
        self.t += ms

    def run(self, driver, start):
        """Run one command of a PN532 driver (firmware/drivers/pn532.py's engine, through its
        public start_*/poll API) to its end, 1 ms at a time: start(now) begins it; returns the
        engine's final status (DONE or an E_* code)."""
        from drivers.pn532 import BUSY
        st = start(self.t)
        while st == BUSY:
            self.advance(1)
            st = driver.poll(self.t)
        return st


class SyntaxErr(Exception):
    """Bad command parameters: the chip answers with its application error frame."""


# --- cards -----------------------------------------------------------------------------------------

class TypeA:
    """An ISO14443A card at 106 kbps. sak & 0x20 (ISO14443-4) with `ats`: an ISO-DEP target whose
    APDUs go to apdu(bytes) -> bytes (None: no answer, status 01 timeout). `memory`: NTAG-style
    pages for READ (0x30). random_uid: a new 08 xx xx xx UID each time it enters (phone HCE)."""
    kind = "A"

    def __init__(self, uid, sens_res=b"\x00\x04", sak=0x08, ats=None, apdu=None, memory=None,
                 random_uid=False, name=""):
        if len(uid) not in (4, 7, 10):
            raise ValueError("UID of 4, 7 or 10 bytes")
        if ats is not None and (not ats or ats[0] != len(ats)):
            raise ValueError("ATS starts with TL, its own length")
        self.uid = bytes(uid)
        self.sens_res = bytes(sens_res)
        self.sak = sak
        self.ats = bytes(ats) if ats is not None else None
        self.apdu = apdu
        self.memory = bytearray(memory) if memory is not None else None
        self.random_uid = random_uid
        self.name = name or "A:" + self.uid.hex()
        self.authenticated = False

    def entered(self, rng):
        self.authenticated = False
        if self.random_uid:
            self.uid = bytes([0x08]) + bytes(rng.randrange(256) for _ in range(3))

    def target(self, auto_rats):
        out = self.sens_res + bytes([self.sak, len(self.uid)]) + self.uid
        if self.sak & 0x20 and self.ats is not None and auto_rats:
            out += self.ats
        return out

    def raw(self, data):
        """(status, response) for InCommunicateThru: the bytes as they go over the air. An ISO-DEP
        card answers RATS (E0) with its ATS and I-blocks (PCB 02/03, CID bit 08 allowed) with the
        APDU's answer in an I-block of the same PCB; S(DESELECT) C2 is echoed. Other cards: as
        InDataExchange (the PN532 adds nothing for them)."""
        if self.sak & 0x20 and self.ats is not None and data:
            pcb = data[0]
            if pcb == 0xE0 and len(data) >= 2:
                return 0x00, self.ats
            if pcb & 0xE2 == 0x02:
                head = 2 if pcb & 0x08 else 1
                st, rest = self.exchange(data[head:])
                return (st, bytes(data[:head]) + rest) if not st else (st, b"")
            if pcb & 0xF7 == 0xC2:
                return 0x00, bytes(data[:1 + (pcb >> 3 & 1)])
            return 0x01, b""
        return self.exchange(data)

    def exchange(self, data):
        """(status, response bytes) for InDataExchange."""
        if self.sak & 0x20 and self.apdu is not None:
            r = self.apdu(bytes(data))
            return (0x01, b"") if r is None else (0x00, bytes(r))
        if self.memory is None or not data:
            return 0x01, b""
        cmd = data[0]
        if cmd in (0x60, 0x61):  # MIFARE Classic authentication: block, key (6), UID (4)
            ok = len(data) >= 12 and bytes(data[2:8]) == b"\xff" * 6 and bytes(data[8:12]) == self.uid[:4]
            self.authenticated = ok
            return (0x00, b"") if ok else (0x14, b"")
        if cmd == 0x30 and len(data) >= 2:  # READ: 16 bytes (NTAG: 4 pages; Classic: a block)
            if self.sak & 0x08 and not self.authenticated:
                return 0x14, b""
            unit = 16 if self.sak & 0x08 else 4
            start = data[1] * unit
            if start >= len(self.memory):
                return 0x01, b""
            mem = bytes(self.memory)
            return 0x00, (mem + mem)[start:start + 16]
        return 0x01, b""


class Felica:
    """A FeliCa card. systems: its system codes in order; the IDm of system k has k in the upper
    nibble of its first byte (as multi-system cards such as Suica do). rates: 1 = 212, 2 = 424."""
    kind = "F"

    def __init__(self, idm, pmm, systems=(0x0003, 0xFE00), rates=(1, 2), name=""):
        if len(idm) != 8 or len(pmm) != 8:
            raise ValueError("IDm and PMm are 8 bytes")
        self.idm = bytes(idm)
        self.pmm = bytes(pmm)
        self.systems = tuple(systems)
        self.rates = tuple(rates)
        self.name = name or "F:" + self.idm.hex()

    def entered(self, rng):
        pass

    def idm_for(self, k):
        return bytes([(self.idm[0] & 0x0F) | (k << 4)]) + self.idm[1:]

    def match(self, hi, lo):
        """Index of the first system matching the requested code (FF bytes match anything)."""
        for k, sc in enumerate(self.systems):
            if hi in (0xFF, sc >> 8) and lo in (0xFF, sc & 0xFF):
                return k
        return None

    def exchange(self, data):
        """FeliCa commands carry their own length byte first: Polling (00) and Request Response
        (04, IDm) are answered; anything else times out (no reads of services modelled)."""
        if len(data) >= 6 and data[0] == len(data) and data[1] == 0x00:
            k = self.match(data[2], data[3])
            if k is None:
                return 0x01, b""
            body = b"\x01" + self.idm_for(k) + self.pmm
            if data[4] == 1:
                sc = self.systems[k]
                body += bytes([sc >> 8, sc & 0xFF])
            return 0x00, bytes([len(body) + 1]) + body
        if len(data) == 10 and data[0] == 10 and data[1] == 0x04:
            if any(bytes(data[2:10]) == self.idm_for(k) for k in range(len(self.systems))):
                return 0x00, bytes([11, 0x05]) + bytes(data[2:10]) + b"\x00"
        return 0x01, b""


def mifare_classic(uid=bytes.fromhex("deadbeef")):
    """MIFARE Classic 1K: 4-byte UID, ATQA 0004, SAK 08; key FF..FF opens every block."""
    return TypeA(uid, b"\x00\x04", 0x08, memory=bytes(1024), name="classic")


def ntag215(uid=bytes.fromhex("04512a1a7c5d80")):
    """NTAG215: 7-byte UID, ATQA 0044, SAK 00, 540 bytes of pages."""
    mem = bytearray(540)
    mem[0:3] = uid[0:3]
    mem[4:8] = uid[3:7]
    return TypeA(uid, b"\x00\x44", 0x00, memory=mem, name="ntag215")


def triple_uid_card(uid=bytes.fromhex("01020304050607080910")):
    """A card with a 10-byte (triple size) UID: ATQA 0084, SAK 00."""
    return TypeA(uid, b"\x00\x84", 0x00, memory=bytes(64), name="triple")


def suica(idm=bytes.fromhex("01014e1f2d3c4b5a"), pmm=bytes.fromhex("100b4b428485d0ff")):
    """A Suica-like transit card: system 0003 (transit) then FE00 (common area), 212 kbps."""
    return Felica(idm, pmm, (0x0003, 0xFE00), rates=(1,), name="suica")


def phone(apdu, uid=None):
    """A phone in host card emulation: ISO-DEP, SAK 20, an ATS, a random 08 xx xx xx UID per entry
    (or the given uid), APDUs answered by apdu(bytes) -> bytes or None."""
    return TypeA(uid or b"\x08\x00\x00\x00", b"\x00\x04", 0x20, ats=bytes.fromhex("0578807002"),
                 apdu=apdu, random_uid=uid is None, name="phone")


# --- the chip --------------------------------------------------------------------------------------

class PN532Emulator:
    def __init__(self, clock=None, *, firmware=(0x32, 0x01, 0x06, 0x07), ack_ms=1, exec_ms=2, try_a_ms=3.0,
                 try_f_ms=4.0, guard_a_ms=5.0, guard_f_ms=20.0, wire=True, seed=0, address=0x24,
                 i2c_busy_nack=False, lowvbat="answer"):
        if lowvbat not in ("answer", "sam-first"):
            raise ValueError("lowvbat: 'answer' (the C106 as hosts find it) or 'sam-first' (stricter)")
        self.clock = clock or monotonic_ms
        # LowVbat (docs/pn532.md, "Start-up"): "answer" executes any command once the chip is awake,
        # SAMConfiguration leaves LowVbat; "sam-first" ignores every other command until it, the
        # strict reading some hosts' comments give (kept to check the driver copes with either)
        self.lowvbat_mode = lowvbat
        self.firmware = bytes(firmware)
        self.ack_ms = ack_ms
        self.exec_ms = exec_ms
        # radio timing (docs/pn532.md "Radio timing": estimates unless a source is given there): one
        # passive activation try with no card, per technology; the unmodulated field a technology
        # needs before its first command (guard time); wire: HSU bytes take 10 bit times each
        self.try_ms = {0: try_a_ms, 1: try_f_ms, 2: try_f_ms, 3: try_a_ms, 4: try_a_ms}
        self.guard_ms = {0: guard_a_ms, 1: guard_f_ms, 2: guard_f_ms, 3: guard_a_ms, 4: guard_a_ms}
        self.wire = wire
        self.field_total = 0.0  # ms the RF field has been on (before field_since)
        self.field_since = None  # when the field went on, None while it is off
        self.rng = random.Random(seed)
        self.i2c_busy_nack = i2c_busy_nack  # NACK the address while a command runs
        self.field = []  # cards in the RF field, in order of entry
        self.silent = False  # dead reader: hears nothing, says nothing
        self.chaos = 0.0  # probability that a frame gets a random fault
        self.faults = []  # pending (fault, on, params) for the next frames
        self.commands = []  # command codes accepted (ACKed)
        self.ignored = []  # command codes ignored (LowVbat, asleep)
        self.host_acks = 0
        self.host_nacks = 0
        self.uart = VirtualUart(self)
        self.i2c = VirtualI2C(self, address)
        self.power_on()

    # -- the outside world --

    def power_on(self):
        """Power-up or reset: LowVbat, asleep, defaults back (registers, HSU at 115200 baud)."""
        self.asleep = True
        self.cold = True  # asleep since power-up (not since a PowerDown)
        self.wake_enable = 0xFF
        self.lowvbat = True  # left by SAMConfiguration
        self.sam = False
        self.sam_mode = 0x01
        self.baud = 115200  # the chip's HSU rate (SetSerialBaudRate)
        self.new_baud = None  # a SetSerialBaudRate answered, waiting for the host's ACK
        self.regs = dict(REG_RESET)
        self.rf_items = {}  # RFConfiguration items other than 01 and 05, as last written
        self.auto_rfca = False
        self.last_error = 0  # GetGeneralStatus Err: the last error status reported
        self.echo_loop = False  # Diagnose 05: the chip echoes at the RF side until reset
        self.max_retries = [0xFF, 0x01, 0xFF]  # ATR, PSL, PassiveActivation
        self.flags = 0x14  # SetParameters: AutoRATS and AutoATR_RES
        self.rf_on = False  # RFConfiguration 01 bit 0 as last written: the field on now (polling
        # commands switch it on themselves whatever it says: nfcpy switches it off, 01 02, and lists)
        if getattr(self, "field_since", None) is not None:
            self._field(False, self.clock())
        self.targets = {}
        self.running = None
        self.chain_in = b""
        self.chain_out = b""
        self.out = []  # [ready_at, bytes] not yet delivered
        self.history = []  # (sent_at, clean frame): what a NACK sends again
        self.host_rx = bytearray()
        self.mode = "hsu"

    def enter(self, card):
        self._sync()
        if card not in self.field:
            card.entered(self.rng)
            self.field.append(card)
        self._sync()

    def leave(self, card):
        self._sync()
        if card in self.field:
            self.field.remove(card)

    def inject(self, fault, on="resp", **params):
        """Spoil the next frame of kind `on` ("resp", "ack" or "any"). Faults: noise (data=bytes
        before it), drop (index=, count=1: bytes lost), dcs / lcs (wrong checksum), truncate (keep=:
        only the first bytes), mute (not sent)."""
        if fault not in FAULTS:
            raise ValueError(fault)
        self.faults.append((fault, on, params))

    def noise(self, data):
        """Bytes on the HSU line now, between frames."""
        self.uart._rx += bytes(data)

    # -- the RF field (for the duty cycle) and the wire --

    def _field(self, on, t):
        if on and self.field_since is None:
            self.field_since = t
        elif not on and self.field_since is not None:
            self.field_total += max(0.0, t - self.field_since)
            self.field_since = None

    def field_ms(self, now=None):
        """How long the RF field has been on in total, in ms, up to now."""
        now = self.clock() if now is None else now
        extra = 0.0 if self.field_since is None else max(0.0, now - self.field_since)
        return self.field_total + extra

    def byte_ms(self):
        """Time one byte takes on the HSU line at the chip's rate (10 bit times), 0 without wire."""
        return 10000.0 / self.baud if self.wire else 0.0

    # -- frames out --

    def _spoil(self, frame, fault, params):
        f = bytearray(frame)
        if fault == "noise":
            return bytes(params.get("data", b"\x13\x37")) + bytes(f)
        if fault == "drop":
            i = params.get("index", len(f) // 2) % len(f)
            del f[i:i + params.get("count", 1)]
        elif fault == "dcs":
            f[-2] ^= 0x5A
        elif fault == "lcs":
            f[4] ^= 0x21
        elif fault == "truncate":
            del f[params.get("keep", len(f) // 2):]
        elif fault == "mute":
            return None
        return bytes(f)

    def _random_fault(self):
        fault = self.rng.choice(FAULTS)
        params = {}
        if fault == "noise":
            params["data"] = bytes(self.rng.choice((0x00, 0xFF, self.rng.randrange(256)))
                                   for _ in range(self.rng.randrange(1, 12)))
        elif fault == "drop":
            params = {"index": self.rng.randrange(64), "count": self.rng.randrange(1, 3)}
        elif fault == "truncate":
            params["keep"] = self.rng.randrange(1, 12)
        return fault, params

    def _emit(self, frame, kind, at):
        data = frame
        for i, (fault, on, params) in enumerate(self.faults):
            if on in (kind, "any"):
                del self.faults[i]
                data = self._spoil(frame, fault, params)
                break
        else:
            if self.chaos and self.rng.random() < self.chaos:
                data = self._spoil(frame, *self._random_fault())
        if self.mode == "hsu" and data is not None:
            at += len(data) * self.byte_ms()  # the host has it when its last byte is in
        self.history.append((at, frame))
        del self.history[:-4]
        if data is not None:
            self.out.append([at, data])

    def _respond(self, cmd, data, at):
        self._emit(wrap(0xD5, bytes([cmd + 1]) + bytes(data)), "resp", at)

    # -- time --

    def _sync(self, now=None):
        now = self.clock() if now is None else now
        if self.running is not None:
            self._list_poll(now)
        if self.mode == "hsu":
            while self.out and self.out[0][0] <= now:
                self.uart._rx += self.out.pop(0)[1]
        return now

    def busy(self):
        now = self._sync()
        return self.running is not None or any(at > now for at, _ in self.out)

    def next_event(self):
        """The earliest whole ms after now at which the host could see something new without sending
        anything: a frame landing on its line, or the next try of a running list (which may find a
        card that is in the field by then). None when nothing is pending."""
        now = self._sync()
        best = None
        for at, _ in self.out:
            if at > now and (best is None or at < best):
                best = at
        r = self.running
        if r is not None:
            t = r.get("next") if r.get("cmd") == 0x4A else None
            if t is None or t <= now:
                t = now + 1  # InAutoPoll and the like: look every ms
            if best is None or t < best:
                best = t
        if best is None:
            return None
        b = int(best)
        return b if b == best else b + 1  # frames land at fractional ms: seen at the next whole one

    # -- frames in --

    def _host_bytes(self, data, via):
        now = self._sync()
        if self.silent:
            return
        self.mode = via
        if via == "hsu" and self.uart.baudrate != self.baud:
            return  # the host talks at another rate: framing errors, nothing the chip can parse
        if self.asleep:
            if via == "hsu":
                if self.cold:
                    # cold chip (LowVbat): any byte on HSU_RX wakes it; that first byte is lost while
                    # the oscillator starts (what hosts without a 55 preamble rely on; estimate)
                    data = data[1:]
                else:
                    # PowerDown: only 55 wakes the HSU (the manual's wake-up condition; a 00 preamble
                    # alone does not, as hosts found); what came before the 55, and the 55, is lost
                    if not self.wake_enable & 0x10 or 0x55 not in data:
                        return
                    data = data[data.index(0x55) + 1:]
            elif not self.wake_enable & 0x80:
                return
            self.asleep = False
        self.host_rx += data
        if via == "hsu":  # frames in this write are complete when its last byte is in
            now += len(data) * self.byte_ms()
        self._parse(now)

    def _parse(self, now):
        buf = self.host_rx
        while True:
            i = buf.find(b"\x00\xff")
            if i < 0:
                del buf[:-1 if buf.endswith(b"\x00") else len(buf)]
                return
            del buf[:i]
            if len(buf) < 4:
                return
            code = bytes(buf[2:4])
            if code == b"\x00\xff":
                del buf[:4]
                self._host_ack(now)
                continue
            if code == b"\xff\x00":
                del buf[:4]
                self._host_nack(now)
                continue
            if code == b"\xff\xff":
                if len(buf) < 7:
                    return
                if sum(buf[4:7]) % 256:
                    del buf[:2]
                    continue
                size, head = buf[4] * 256 + buf[5], 7
            else:
                if sum(buf[2:4]) % 256:
                    del buf[:2]
                    continue
                size, head = buf[2], 4
            if size == 0:
                del buf[:2]
                continue
            if len(buf) < head + size + 1:
                return
            body = bytes(buf[head:head + size])
            if (sum(body) + buf[head + size]) % 256:
                del buf[:2]  # a broken frame is not answered
                continue
            del buf[:head + size + 1]
            self._host_frame(body, now)

    def _host_ack(self, now):
        self.host_acks += 1
        if self.new_baud is not None:  # SetSerialBaudRate: the new rate from the host's ACK on
            self.baud, self.new_baud = self.new_baud, None
        self.echo_loop = False
        self.running = None
        self.out.clear()  # what was due is already on the line (HSU); the rest is dropped

    def _host_nack(self, now):
        self.host_nacks += 1
        sent = [f for at, f in self.history if at <= now]
        if sent:
            self._emit(sent[-1], "resp" if sent[-1] != ACK else "ack", now)

    def _host_frame(self, body, now):
        if body[0] != 0xD4 or len(body) < 2:
            return
        cmd, params = body[1], body[2:]
        if self.lowvbat and self.lowvbat_mode == "sam-first" and cmd != 0x14:
            self.ignored.append(cmd)  # the strict model: SAMConfiguration must come first
            return
        self.new_baud = None  # a SetSerialBaudRate not confirmed by an ACK is dropped
        self.commands.append(cmd)
        self.running = None
        self.out.clear()  # what was due is already on the line (HSU); the rest is dropped
        t_ack = now + self.ack_ms
        self._emit(ACK, "ack", t_ack)
        handler = getattr(self, "_cmd_%02x" % cmd, None)
        try:
            if handler is None:
                raise SyntaxErr(cmd)
            data = handler(params, t_ack)
        except SyntaxErr:
            self.last_error = 0x27  # "not acceptable in the current context / wrong parameters"
            self._emit(ERROR_FRAME, "resp", t_ack + self.exec_ms)
            return
        if data is not None:
            if cmd in (0x40, 0x42, 0x52) and data and data[0] & 0x3F:
                self.last_error = data[0] & 0x3F
            self._respond(cmd, data, t_ack + self.exec_ms)
            if cmd == 0x16:  # PowerDown: asleep (and the field off) once the answer is out
                self.asleep = True
                self.cold = False
                self._field(False, t_ack + self.exec_ms)
                self.wake_enable = params[0]

    # -- commands: params -> response data, or None when the answer comes later --

    def _cmd_02(self, p, t):  # GetFirmwareVersion
        return self.firmware

    def _cmd_00(self, p, t):  # Diagnose NumTst [InParam]
        if not p:
            raise SyntaxErr()
        num = p[0]
        if num == 0x00:  # communication line test: InParam (up to 262 bytes) comes back after NumTst
            if len(p) > 1 + DEP_MAX:
                raise SyntaxErr()
            return bytes(p)
        if num in (0x01, 0x02):  # ROM / RAM self test: 00 = good
            return b"\x00"
        if num == 0x04:  # polling test to a FeliCa target at BR (01 212, 02 424): failures out of 128
            if len(p) < 2 or p[1] not in (1, 2):
                raise SyntaxErr()
            self._field(True, t)
            seen = any(c.kind == "F" and p[1] in c.rates for c in self.field)
            return b"\x00" if seen else b"\x80"
        if num == 0x05:  # echo back test (ReplyDelay TxMode RxMode): the chip echoes at the RF side
            if len(p) < 4:  # and sends no answer; a host ACK (or a reset) ends it
                raise SyntaxErr()
            self.echo_loop = True
            return None
        if num == 0x06:  # ISO14443-4 card presence: 00 present, 01 gone (timeout), 27 no such target
            card = self.targets.get(1)
            if card is None or not (card.kind == "A" and card.sak & 0x20):
                return b"\x27"
            return b"\x00" if card in self.field else b"\x01"
        if num == 0x07:  # antenna self test (threshold): 00 = antenna detected as expected
            if len(p) < 2:
                raise SyntaxErr()
            return b"\x00"
        raise SyntaxErr()

    def _cmd_04(self, p, t):  # GetGeneralStatus -> Err Field NbTg [Tg BrRx BrTx Type]... SAMstatus
        out = bytes([self.last_error, 0x00, len(self.targets)])
        for tg in sorted(self.targets):
            card = self.targets[tg]
            if card.kind == "A":
                out += bytes([tg, 0x00, 0x00, 0x00])  # 106 kbps both ways, type A / MIFARE
            else:
                br = 0x01 if 1 in card.rates else 0x02
                out += bytes([tg, br, br, 0x10])  # FeliCa
        return out + b"\x00"  # SAM status: no SAM signal seen

    def _cmd_06(self, p, t):  # ReadRegister ADR_H ADR_L ... -> one value per address
        if not p or len(p) % 2:
            raise SyntaxErr()
        return bytes(self.regs.get(p[i] << 8 | p[i + 1], 0) for i in range(0, len(p), 2))

    def _cmd_08(self, p, t):  # WriteRegister (ADR_H ADR_L VAL)... -> nothing
        if not p or len(p) % 3:
            raise SyntaxErr()
        for i in range(0, len(p), 3):
            self.regs[p[i] << 8 | p[i + 1]] = p[i + 2]
        return b""

    def _cmd_10(self, p, t):  # SetSerialBaudRate BR: answered at the old rate, the new one after ACK
        if len(p) != 1 or p[0] >= len(BAUDS):
            raise SyntaxErr()
        self.new_baud = BAUDS[p[0]]
        return b""

    def _cmd_14(self, p, t):  # SAMConfiguration
        if not p or not 1 <= p[0] <= 4:
            raise SyntaxErr()
        self.sam = True
        self.lowvbat = False
        self.sam_mode = p[0]
        return b""

    def _cmd_12(self, p, t):  # SetParameters
        if not p:
            raise SyntaxErr()
        self.flags = p[0]
        return b""

    def _cmd_32(self, p, t):  # RFConfiguration
        if not p:
            raise SyntaxErr()
        if p[0] == 0x05:
            if len(p) < 4:
                raise SyntaxErr()
            self.max_retries = list(p[1:4])
        elif p[0] == 0x01:
            # ConfigurationData: bit 0 RF field on/off, bit 1 Auto RFCA (UM0701-02, RFConfiguration)
            if len(p) < 2:
                raise SyntaxErr()
            self.rf_on = bool(p[1] & 0x01)
            self.auto_rfca = bool(p[1] & 0x02)
            self._field(self.rf_on, t)
        elif p[0] in RF_ITEM_LEN:
            if len(p) != 1 + RF_ITEM_LEN[p[0]]:
                raise SyntaxErr()
            self.rf_items[p[0]] = bytes(p[1:])
        else:
            raise SyntaxErr()
        return b""

    def _cmd_16(self, p, t):  # PowerDown
        if not p:
            raise SyntaxErr()
        return b"\x00"

    def _cmd_52(self, p, t):  # InRelease
        if not p:
            raise SyntaxErr()
        if p[0] == 0:
            self.targets.clear()
        elif self.targets.pop(p[0], None) is None:
            return b"\x27"
        return b"\x00"

    def _cmd_4a(self, p, t):  # InListPassiveTarget
        if len(p) < 2 or not 1 <= p[0] <= 2:
            raise SyntaxErr()
        brty = p[1]
        poll = None
        if brty in (1, 2):
            if len(p) < 7 or p[2] != 0x00:
                raise SyntaxErr()
            poll = bytes(p[2:7])
        elif brty == 3:  # 106 kbps type B: AFI [polling method]; no type B card is modelled
            if len(p) < 3:
                raise SyntaxErr()
        elif brty not in (0, 4):  # 04: Innovision Jewel, none modelled either
            raise SyntaxErr()
        self.targets.clear()
        n = self.max_retries[2]
        self.running = {"cmd": 0x4A, "max_tg": p[0], "brty": brty, "poll": poll,
                        "next": self._rf_start(brty, t), "left": None if n == 0xFF else n + 1}
        self._list_poll(self.clock())
        return None

    def _rf_start(self, brty, t):
        """The field goes on at t (if it was off); the first try waits out the technology's guard time."""
        self._field(True, t)
        return max(t, self.field_since + self.guard_ms[brty])

    def _find_ms(self, card):
        """RF time from the start of a try to a card's complete answer (estimates: anticollision and
        select per cascade level, RATS/ATS for ISO-DEP, one FeliCa polling slot)."""
        if card.kind == "F":
            return 3.0
        levels = {4: 1, 7: 2, 10: 3}[len(card.uid)]
        ats = 2.0 if card.sak & 0x20 and card.ats is not None and self.flags & 0x10 else 0.0
        return 1.0 + levels + ats

    def _list_poll(self, now):
        r = self.running
        if r.get("cmd") == 0x60:
            return self._auto_poll(now)
        while r["left"] is None or r["left"] > 0:
            t_try = r["next"]
            if now < t_try:
                return
            found = self._find(r)
            if found:
                done = t_try + max(self._find_ms(c) for _, c, _ in found)
                if now < done:
                    return
                self.running = None
                data = bytes([len(found)])
                for tg, card, desc in found:
                    self.targets[tg] = card
                    data += bytes([tg]) + desc
                self._respond(0x4A, data, done)
                return
            r["next"] = t_try + self.try_ms[r["brty"]]
            if r["left"] is not None:
                r["left"] -= 1
        if now >= r["next"]:
            self.running = None
            self._respond(0x4A, b"\x00", r["next"])

    # InAutoPoll types (UM0701-02): 00/10/20 type A 106 (generic, MIFARE, ISO14443-4A), 01/11 FeliCa 212,
    # 02/12 FeliCa 424; the others (type B, Jewel, DEP) are accepted but nothing answers them here
    AUTO_BRTY = {0x00: 0, 0x10: 0, 0x20: 0, 0x01: 1, 0x11: 1, 0x02: 2, 0x12: 2}

    def _cmd_60(self, p, t):  # InAutoPoll PollNr Period Type1..TypeN
        if len(p) < 3 or len(p) > 17 or p[0] == 0 or not 1 <= p[1] <= 0x0F:
            raise SyntaxErr()
        self.targets.clear()
        self.running = {"cmd": 0x60, "polls": None if p[0] == 0xFF else p[0], "period": p[1] * 150.0,
                        "types": bytes(p[2:]), "slot": t, "k": 0, "next": None}
        self._auto_poll(self.clock())
        return None

    def _auto_poll(self, now):
        # each type in turn gets a slot of Period x 150 ms, tried again and again (its guard time
        # first when the field has to come on); PollNr rounds of all the types, or for ever (FF). The
        # first answer ends the command with NbTg Type1 Len TargetData; the field stays on throughout.
        # (Period per type: how libnfc reads it, e.g. nfc-poll's "20 pollings of 300 ms for 6
        # modulations"; the manual's wording, "polling period in units of 150 ms", allows both.)
        r = self.running
        while True:
            if r["polls"] == 0:
                if now >= r["slot"]:
                    self.running = None
                    self._respond(0x60, b"\x00", r["slot"])
                return
            typ = r["types"][r["k"]]
            brty = self.AUTO_BRTY.get(typ)
            b = 0 if brty is None else brty
            end = r["slot"] + r["period"]
            if r["next"] is None:
                if now < r["slot"]:
                    return
                r["next"] = self._rf_start(b, r["slot"])
            while r["next"] < end:
                t_try = r["next"]
                if now < t_try:
                    return
                found = []
                if brty is not None:
                    poll = b"\x00\xff\xff\x00\x00" if brty else None
                    found = self._find({"max_tg": 1, "brty": brty, "poll": poll})
                    if typ == 0x20:
                        found = [f for f in found if f[1].sak & 0x20]
                    elif typ == 0x10:
                        found = [f for f in found if not f[1].sak & 0x20]
                if found:
                    tg, card, desc = found[0]
                    done = t_try + self._find_ms(card)
                    if now < done:
                        return
                    self.running = None
                    self.targets[tg] = card
                    target = bytes([tg]) + desc
                    self._respond(0x60, bytes([1, typ, len(target)]) + target, done)
                    return
                r["next"] = t_try + self.try_ms[b]
            if now < end:
                return
            r["slot"], r["next"] = end, None
            r["k"] += 1
            if r["k"] == len(r["types"]):
                r["k"] = 0
                if r["polls"] is not None:
                    r["polls"] -= 1

    def _cmd_44(self, p, t):  # InDeselect Tg (00: all): the target stays known, deselected
        if not p:
            raise SyntaxErr()
        if p[0] and p[0] not in self.targets:
            return b"\x27"
        return b"\x00"

    def _cmd_42(self, p, t):  # InCommunicateThru DataOut: raw frames to whatever answers in the field
        card = self.targets.get(1)
        if not p or card is None or card not in self.field:
            return b"\x01"  # nothing answered (time-out)
        status, rest = card.raw(bytes(p)) if card.kind == "A" else card.exchange(bytes(p))
        return bytes([status]) + rest

    def _find(self, r):
        found = []
        for card in self.field:
            if len(found) == r["max_tg"]:
                break
            tg = len(found) + 1
            if r["brty"] == 0 and card.kind == "A":
                found.append((tg, card, card.target(self.flags & 0x10)))
            elif r["brty"] in (1, 2) and card.kind == "F" and r["brty"] in card.rates:
                _, hi, lo, rc, _tsn = r["poll"]
                k = card.match(hi, lo)
                if k is None:
                    continue
                pol = b"\x01" + card.idm_for(k) + card.pmm
                if rc == 1:
                    sc = card.systems[k]
                    pol += bytes([sc >> 8, sc & 0xFF])
                elif rc == 2:
                    pol += b"\x00\x83"
                found.append((tg, card, bytes([len(pol) + 1]) + pol))
        return found

    def _cmd_40(self, p, t):  # InDataExchange
        if not p:
            raise SyntaxErr()
        tg, more, data = p[0] & 0x3F, p[0] & 0x40, bytes(p[1:])
        card = self.targets.get(tg)
        if card is None:
            return b"\x27"
        if card not in self.field:
            return b"\x2b"
        if more:
            self.chain_in += data
            return b"\x00"
        if not data and self.chain_out:
            rest, self.chain_out = self.chain_out, b""
        else:
            status, rest = card.exchange(self.chain_in + data)
            self.chain_in = b""
            if status:
                return bytes([status])
        if len(rest) > DEP_MAX:
            self.chain_out = rest[DEP_MAX:]
            return b"\x40" + rest[:DEP_MAX]
        return b"\x00" + rest

    # -- I2C reads --

    def _i2c_read(self, n):
        now = self._sync()
        head = self.out[0] if self.out and self.out[0][0] <= now else None
        if head is None:
            return bytes(n)
        if n > 1:
            self.out.pop(0)
        return (b"\x01" + head[1] + bytes(n))[:n]


class VirtualUart:
    """The host's side of the HSU line."""

    def __init__(self, emu):
        self._emu = emu
        self._rx = bytearray()
        self.baudrate = 115200
        self.timeout = 0

    def write(self, buf):
        data = bytes(buf)
        self._emu._host_bytes(data, "hsu")
        return len(data)

    @property
    def in_waiting(self):
        self._emu._sync()
        return len(self._rx)

    def any(self):
        return self.in_waiting

    def read(self, n=1):
        self._emu._sync()
        out = bytes(self._rx[:n])
        del self._rx[:n]
        return out

    def readinto(self, buf, nbytes=None):
        self._emu._sync()
        n = len(buf) if nbytes is None else min(nbytes, len(buf))
        k = min(n, len(self._rx))
        buf[:k] = self._rx[:k]
        del self._rx[:k]
        return k or None

    def reset_input_buffer(self):
        self._emu._sync()
        self._rx.clear()

    def flush(self):
        pass


class VirtualI2C:
    """The I2C bus with the PN532 at `address`."""

    def __init__(self, emu, address=0x24):
        self._emu = emu
        self.address = address
        self._locked = False

    def try_lock(self):
        if self._locked:
            return False
        self._locked = True
        return True

    def unlock(self):
        self._locked = False

    def scan(self):
        return [] if self._emu.silent else [self.address]

    def _select(self, address):
        if address != self.address or self._emu.silent:
            raise OSError(errno.ENODEV, "no I2C device at 0x%02x" % address)
        if self._emu.i2c_busy_nack and self._emu.busy():
            raise OSError(errno.EIO, "address NACK (busy)")

    def writeto(self, address, buffer, stop=True, *, start=0, end=None):
        self._select(address)
        data = bytes(buffer[start:end])
        if data:
            self._emu._host_bytes(data, "i2c")

    def readfrom_into(self, address, buffer, stop=True, *, start=0, end=None):
        self._select(address)
        end = len(buffer) if end is None else end
        buffer[start:end] = self._emu._i2c_read(end - start)

    def writeto_then_readfrom(self, address, out_buffer, in_buffer, *, out_start=0, out_end=None,
                              in_start=0, in_end=None):
        self.writeto(address, out_buffer, start=out_start, end=out_end)
        self.readfrom_into(address, in_buffer, start=in_start, end=in_end)
