"""Run the CLI on a real pseudo-terminal (``pty``), as an operator at a shell would.

Used where the CLI behaves differently on a terminal: the ``deregister`` confirmation and the
progress bars. The child's stdin, stdout and stderr are all the terminal.
"""

from __future__ import annotations

import os
import pty
import select
import sys
import time
from collections.abc import Sequence

CLI = (sys.executable, "-m", "operator_node")


def run_on_terminal(
    argv: Sequence[str],
    answers: Sequence[tuple[bytes, str]] = (),
    env: dict[str, str] | None = None,
    timeout: float = 120.0,
) -> tuple[int, str]:
    """Run ``operator-node ARGV`` on a new terminal, typing each answer once its prompt (the
    bytes before it) has appeared; (exit code, everything the terminal showed)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the pty is its controlling terminal
        os.execve(CLI[0], [*CLI, *argv], {**os.environ, **(env or {})})
    seen = b""
    try:
        for prompt, answer in answers:
            seen = read_until(fd, seen, prompt, timeout)
            os.write(fd, answer.encode() + b"\n")
        seen = read_until(fd, seen, None, timeout)
    finally:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), seen.decode(errors="replace")


def read_until(fd: int, seen: bytes, marker: bytes | None, timeout: float) -> bytes:
    """Read the terminal until ``marker`` appears after what was ``seen`` (or until it closes)."""
    start, deadline = len(seen), time.monotonic() + timeout
    while marker is None or marker not in seen[start:]:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            raise AssertionError(f"timed out waiting for {marker!r}; got {seen!r}")
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            chunk = b""
        if not chunk:
            if marker is None:
                return seen
            raise AssertionError(f"terminal closed before {marker!r}; got {seen!r}")
        seen += chunk
    return seen
