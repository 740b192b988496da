"""The progress bar every long `doorkit` command shows: rich, on stderr, only when stderr is a
terminal (nothing at all in CI or a pipe), gone when the work is done.

    with Bar("doorkit deploy", kind="count") as bar:      # kind: "steps", "count" or "bytes"
        bar.update(done, total, "romfs")
"""
import sys


def on_terminal(stream=None):
    """Whether stream (default stderr) is a terminal."""
    s = sys.stderr if stream is None else stream
    try:
        return s.isatty()
    except (AttributeError, ValueError, OSError):
        return False


class Bar:
    def __init__(self, label, kind="steps", total=None, enabled=None, width=24):
        self.progress = None
        if on_terminal() if enabled is None else enabled:
            from rich.console import Console
            from rich.progress import BarColumn, DownloadColumn, MofNCompleteColumn, Progress, TextColumn
            cols = [TextColumn("%s: {task.description:<%d}" % (label, width)), BarColumn()]
            if kind == "bytes":
                cols.append(DownloadColumn())
            elif kind == "count":
                cols.append(MofNCompleteColumn())
            self.progress = Progress(*cols, console=Console(stderr=True), transient=True)
            self.task = self.progress.add_task("", total=total)

    def __enter__(self):
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *exc):
        if self.progress is not None:
            self.progress.stop()

    def update(self, done=None, total=None, what=None):
        if self.progress is not None:
            kw = {}
            if done is not None:
                kw["completed"] = done
            if total is not None:
                kw["total"] = total
            if what is not None:
                kw["description"] = what
            self.progress.update(self.task, **kw)
