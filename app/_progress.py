"""Progress lines on stderr for long commands (style.md item 34).

Progress is shown only when stderr is a terminal and ``--quiet`` was not
given; it never goes to stdout, which may carry JSON.  No library code
prints: the CLI creates a :class:`Progress` and passes its ``update`` method
as a callback.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

__all__ = ["Progress", "process_age", "progress_enabled"]


def process_age() -> float:
    """Seconds since this process started (Linux ``/proc``; else 0).

    ``bnconvex train --time-limit`` counts its budget from the process start,
    so that the interpreter start and the imports are charged to it too.
    """
    try:
        with open("/proc/self/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        with open("/proc/uptime") as fh:
            uptime = float(fh.read().split()[0])
        return max(0.0, uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return 0.0


def progress_enabled(quiet: bool, stream: TextIO | None = None) -> bool:
    """Whether to show progress: not quiet and the stream is a terminal."""
    stream = sys.stderr if stream is None else stream
    return not quiet and bool(getattr(stream, "isatty", lambda: False)())


class Progress:
    """A one-line ``[k/N] message`` counter rewritten in place on stderr.

    Parameters
    ----------
    total
        Number of steps expected.
    enabled
        When false every method is a no-op.
    stream
        Where to write (stderr by default).
    """

    def __init__(self, total: int, *, enabled: bool, stream: TextIO | None = None):
        self.total = total
        self.done = 0
        self.enabled = enabled
        self.stream = sys.stderr if stream is None else stream
        self._start = time.perf_counter()

    def update(self, message: str, step: int = 1) -> None:
        """Advance by ``step`` and show ``message``."""
        self.done += step
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self._start
        line = f"[{self.done}/{self.total}] {elapsed:6.1f}s {message}"
        self.stream.write("\r\x1b[2K" + line[:120])
        self.stream.flush()

    def close(self) -> None:
        """End the progress line."""
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
