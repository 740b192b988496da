"""A pseudo-terminal for the tests that run `doorkit sim` as a user at a terminal would (Linux)."""
import os
import select
import subprocess
import time


class Pty:
    """A pty pair; the child gets the slave end. out collects what the child wrote to it."""

    def __init__(self, rows=None, cols=None):
        import pty
        self.master, self.slave = pty.openpty()
        if rows is not None:
            import fcntl
            import struct
            import termios
            fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.out = b""

    def child_started(self):
        """Call once the child has the slave end: the test keeps only the master."""
        os.close(self.slave)
        self.slave = None

    def _read(self, wait_s):
        r, _, _ = select.select([self.master], [], [], wait_s)
        if not r:
            return None
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # the child closed its end
            return b""
        self.out += chunk
        return chunk

    def read_until(self, needle, seconds=20):
        """Read until needle has been written (True) or seconds pass (a safety net, not a timing)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end and needle not in self.out:
            if self._read(0.05) == b"":
                break
        return needle in self.out

    def drain(self, quiet_s=0.2):
        """Read whatever is left, until the child's end is closed or quiet for quiet_s."""
        while self._read(quiet_s):
            pass
        return self.out

    def write(self, data):
        os.write(self.master, data)

    def close(self):
        if self.slave is not None:
            os.close(self.slave)
        os.close(self.master)

    def text(self):
        return self.out.decode("utf-8", "replace")


def run_door(exe, rows, cols, keys, until, cwd=None, env=None):
    """Run `exe sim` (the interactive door) in a pty of rows x cols: wait for until, then send each
    (key, wait_for) and wait for wait_for (None: do not wait); returns (exit code, screen text)."""
    t = Pty(rows, cols)
    e = dict(os.environ, TERM="xterm") if env is None else env
    p = subprocess.Popen([exe, "sim"], stdin=t.slave, stdout=t.slave, stderr=t.slave, env=e, cwd=cwd,
                         close_fds=True)
    t.child_started()
    try:
        assert t.read_until(until), t.out[-2000:]
        for k, wait in keys:
            t.write(k)
            if wait:
                assert t.read_until(wait), t.out[-2000:]
        p.wait(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        t.close()
    return p.returncode, t.text()

