"""The host's line to a board: stock mpremote's serial transport, which opens a USB serial port
(/dev/ttyUSB0, COM3) and a virtual board's socket://127.0.0.1:PORT alike.

    with open_link("socket://127.0.0.1:8266") as ln:
        ln.call("status")                  # lockshell.service.status() on the board
        ln.put(data, "/bundle.bin")        # a file, sent in pieces, verified by its SHA-256
        ln.call("install", "/bundle.bin")  # -> "ok" or the refusal's name

Opening stops the firmware (Ctrl-C), soft-resets into the raw REPL (a clean interpreter; main.py is
not run there) and stays there for every call; closing soft-resets in the friendly REPL, so the
board runs its firmware again (restart=False leaves it at the REPL). Every failure is a
doorkit.errors.UserError: EXIT_BOARD for a missing, busy or silent board, EXIT_REFUSED for an
exception the board raised.
"""
from __future__ import annotations

import ast
import binascii
import contextlib
import io
import hashlib
from typing import Callable, Optional

from doorkit.errors import EXIT_BOARD, EXIT_REFUSED, UserError

PIECE = 2048  # bytes of a file per exec (base64 on the wire: about 2.7 KB)
Progress = Optional[Callable[[int, int], None]]


def _last_line(text) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    lines = [x.strip() for x in str(text).strip().splitlines() if x.strip()]
    return lines[-1] if lines else "no answer"


class Link:
    """An open line to one board (see the module doc); use open_link()."""

    def __init__(self, port: str, baudrate: int = 115200, timeout: float = 10):
        from mpremote.transport import TransportError
        from mpremote.transport_serial import SerialTransport
        self.port = port
        self.timeout = timeout
        self._TransportError = TransportError
        try:
            self.t = SerialTransport(port, baudrate=baudrate)
        except (TransportError, OSError, ValueError) as e:
            raise UserError(EXIT_BOARD, "no board at %s: the port is missing or busy (%s)" % (port, _last_line(str(e))))
        for attempt in range(3):  # a board that is just resetting drops what it is sent: ask again
            try:
                with contextlib.redirect_stdout(io.StringIO()):  # (mpremote prints what it got instead)
                    self.t.enter_raw_repl(soft_reset=True, timeout_overall=timeout)
                break
            except (TransportError, OSError) as e:
                if attempt == 2:
                    self._close()
                    raise UserError(EXIT_BOARD, "no board answers at %s (%s)" % (port, _last_line(str(e))))

    # ------------------------------------------------------------------ running code
    def exec(self, code: str, timeout: Optional[float] = None) -> bytes:
        """Run code in the board's raw REPL; -> what it printed. UserError for a board exception."""
        from mpremote.transport import TransportExecError
        try:
            out, err = self.t.exec_raw(code, timeout=timeout or self.timeout)
        except TransportExecError as e:
            raise self._board_error(_last_line(e.error_output))
        except (self._TransportError, OSError) as e:
            raise UserError(EXIT_BOARD, "the board at %s stopped answering (%s)" % (self.port, _last_line(str(e))))
        if err:
            raise self._board_error(_last_line(err))
        return out

    def _board_error(self, last):
        if "no module named 'lockshell" in last or "no module named 'lockctl" in last:
            return UserError(EXIT_REFUSED, "the board at %s runs MicroPython without doorkit's firmware: "
                                           "doorkit deploy --port %s (or flash a factory image)" % (self.port, self.port))
        return UserError(EXIT_REFUSED, "board: %s" % last)

    def eval(self, expr: str, timeout: Optional[float] = None):
        """The value of a Python literal expression evaluated on the board."""
        out = self.exec("print(repr(%s))" % expr, timeout)
        try:
            return ast.literal_eval(out.decode().strip())
        except (ValueError, SyntaxError, UnicodeDecodeError):
            raise UserError(EXIT_BOARD, "the board at %s answered %r, not a value" % (self.port, out[-80:]))

    def call(self, name: str, *args, timeout: Optional[float] = None):
        """lockshell.service.<name>(*args) on the board (args and result are Python literals)."""
        if not name.isidentifier():
            raise ValueError("not a service function name: %r" % (name,))
        return self.eval("__import__('lockshell.service').service.%s(%s)" % (name, ", ".join(repr(a) for a in args)),
                         timeout)

    # ------------------------------------------------------------------ files
    def put(self, data: bytes, path: str, on_progress: Progress = None) -> None:
        """Write data to path on the board: into path + ".part" in pieces, checked by its SHA-256,
        then renamed over path (a cut line leaves the old file whole)."""
        part = path + ".part"
        self.exec("import binascii\n_f = open(%r, 'wb')" % part)
        try:
            done = 0
            for i in range(0, len(data), PIECE):
                chunk = binascii.b2a_base64(data[i:i + PIECE], newline=False).decode()
                self.exec("_f.write(binascii.a2b_base64(%r))" % chunk)
                done = min(len(data), i + PIECE)
                if on_progress:
                    on_progress(done, len(data))
        finally:
            self.exec("_f.close()\ndel _f")
        got = self.sha256(part)
        if got != hashlib.sha256(data).hexdigest():
            self.remove(part)
            raise UserError(EXIT_BOARD, "%s on the board does not match what was sent (line noise?)" % path)
        self.exec("import os\ntry:\n os.remove(%r)\nexcept OSError:\n pass\nos.rename(%r, %r)" % (path, part, path))

    def sha256(self, path: str) -> Optional[str]:
        """Hex SHA-256 of a file on the board, None when there is none."""
        self._helpers()
        return self.eval("_dk_sha(%r)" % path)

    def _helpers(self):
        if getattr(self, "_have_helpers", False):
            return
        self.exec("import hashlib, binascii, os\n"
                  "def _dk_sha(p):\n"
                  " try:\n  f = open(p, 'rb')\n except OSError:\n  return None\n"
                  " h = hashlib.sha256()\n b = bytearray(512)\n m = memoryview(b)\n"
                  " while True:\n  n = f.readinto(b)\n  if not n:\n   break\n  h.update(m[:n])\n"
                  " f.close()\n return binascii.hexlify(h.digest()).decode()\n"
                  "def _dk_rm(p):\n"
                  " try:\n  os.remove(p)\n  return True\n except OSError:\n  return False\n")
        self._have_helpers = True

    def ls(self, path: str = "/") -> list:
        """[(name, size)] of a directory on the board (size -1 for a directory)."""
        return self.eval("[(e[0], e[3] if e[1] & 0x8000 else -1) for e in __import__('os').ilistdir(%r)]" % path)

    def remove(self, path: str) -> bool:
        """Remove a file; -> whether there was one."""
        self._helpers()
        return self.eval("_dk_rm(%r)" % path)

    # ------------------------------------------------------------------ resets
    def soft_reset(self) -> None:
        """A soft reset back into the raw REPL (a fresh interpreter, the firmware not running)."""
        self._have_helpers = False
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                self.t.enter_raw_repl(soft_reset=True, timeout_overall=self.timeout)
        except (self._TransportError, OSError) as e:
            raise UserError(EXIT_BOARD, "the board at %s did not come back from a soft reset (%s)" % (
                self.port, _last_line(str(e))))

    def reset(self) -> None:
        """A hard reset (machine.reset()); the link is closed afterwards."""
        try:
            self.t.exec_raw_no_follow("import machine\nmachine.reset()")
        except (self._TransportError, OSError):
            pass
        self._close()

    # ------------------------------------------------------------------ closing
    def close(self, restart: bool = True) -> None:
        """Leave the raw REPL; restart: soft-reset so the firmware (main.py) runs again."""
        if getattr(self, "t", None) is None:
            return
        try:
            self.t.exit_raw_repl()
            if restart:
                self.t.serial.write(b"\x04")
                self.t.serial.flush()
        except (self._TransportError, OSError):
            pass
        self._close()

    def _close(self):
        t, self.t = getattr(self, "t", None), None
        if t is not None:
            try:
                t.close()
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def open_link(port: str, timeout: float = 10, baudrate: int = 115200) -> Link:
    """An open Link to the board at port (a serial device or socket://HOST:PORT)."""
    if not port:
        raise UserError(EXIT_BOARD, "no board port given (--port /dev/ttyUSB0 or socket://127.0.0.1:8266)")
    return Link(port, baudrate=baudrate, timeout=timeout)
