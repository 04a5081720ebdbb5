"""A one-line byte progress bar on stderr, for ``disperse`` (send) and ``retrieve`` (fetch).

Drawn only when stderr is a terminal and the command was not asked for ``--json``: a log file
or a pipe gets no carriage-return noise. Redraws are throttled so that a fast stream of small
updates costs nothing; :meth:`ProgressLine.finish` draws the last one and ends the line.

Standard library only, no dependency: the line is ``send [#####.....] 12.0/40.0 MiB 30%``.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

_WIDTH = 30
_MIN_INTERVAL = 0.1  # seconds between redraws
_MiB = 1024 * 1024


class ProgressLine:
    """Draws ``step``'s bytes done out of a total on ``stream``; call it as a progress hook
    ``(step, done, total)``, and :meth:`finish` when the work is over. A total of 0 means not
    known yet; a total may grow (a retrieval learns each reply's size as it starts)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._last_draw = 0.0
        self._state: tuple[str, int, int] | None = None  # the last report, drawn or not

    def __call__(self, step: str, done: int, total: int) -> None:
        """Note ``done`` of ``total`` bytes of ``step``; redraw unless one was just drawn."""
        if self._state is not None and self._state[0] != step:
            self.finish()
        self._state = (step, done, total)
        now = time.monotonic()
        if now - self._last_draw >= _MIN_INTERVAL:
            self._last_draw = now
            self._draw()

    def finish(self) -> None:
        """Draw the last report and end the line (nothing if nothing was reported)."""
        if self._state is None:
            return
        self._draw()
        self._stream.write("\n")
        self._stream.flush()
        self._state = None
        self._last_draw = 0.0

    def _draw(self) -> None:
        assert self._state is not None
        self._stream.write("\r" + format_progress(*self._state))
        self._stream.flush()


def format_progress(step: str, done: int, total: int) -> str:
    """``step [####......] 12.0/40.0 MiB 30%`` (without the total when it is 0)."""
    if total <= 0:
        return f"{step} [{'.' * _WIDTH}] {done / _MiB:.1f} MiB"
    filled = _WIDTH * min(done, total) // total
    return (
        f"{step} [{'#' * filled}{'.' * (_WIDTH - filled)}] "
        f"{done / _MiB:.1f}/{total / _MiB:.1f} MiB {100 * min(done, total) // total:3d}%"
    )


def progress_for(json_output: bool) -> ProgressLine | None:
    """A progress line on stderr when it is a terminal and no JSON was asked for, else None."""
    if json_output or not sys.stderr.isatty():
        return None
    return ProgressLine(sys.stderr)
