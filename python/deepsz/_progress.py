"""Progress of deepsz.compress: a one-line bar on a terminal, a user's
callback, or nothing (a log file or a notebook cell gets no carriage
returns)."""

import sys
import time


class Progress:
    """progress=None: a bar on stderr when it is a terminal; False: none;
    a callable: called as progress(done, total, message)."""

    def __init__(self, progress, stream=None):
        self.stream = stream if stream is not None else sys.stderr
        self.callback = progress if callable(progress) else None
        self.bar = progress is None and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.phase = ""
        self.total = 0
        self.done = 0
        self.t0 = time.monotonic()
        self.width = 0

    def start(self, phase, total):
        self.finish()
        self.phase, self.total, self.done = phase, max(0, int(total)), 0
        self.t0 = time.monotonic()
        self.show("")

    def advance(self, message="", steps=1):
        self.done = min(self.total, self.done + steps) if self.total else self.done + steps
        self.show(message)

    def show(self, message):
        if self.callback is not None:
            self.callback(self.done, self.total, f"{self.phase}: {message}" if message else self.phase)
        if not self.bar:
            return
        total = self.total or 1
        filled = int(20 * self.done / total)
        line = (
            f"\r{self.phase:<13} [{'#' * filled}{'.' * (20 - filled)}] {self.done}/{self.total} "
            f"{time.monotonic() - self.t0:5.1f}s {message}"
        )[:100]
        pad = max(0, self.width - len(line))
        self.width = len(line)
        self.stream.write(line + " " * pad)
        self.stream.flush()

    def finish(self):
        if self.bar and self.width:
            self.stream.write("\n")
            self.stream.flush()
        self.width = 0
