"""Making file-system changes durable: what the store and the keystores share."""

from __future__ import annotations

import os
from pathlib import Path


def fsync_directory(directory: Path) -> None:
    """fsync ``directory`` itself, so the entries created or renamed in it survive a crash.

    ``fsync`` of a file covers its data only, not the directory entry naming it. Raises OSError.
    """
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
