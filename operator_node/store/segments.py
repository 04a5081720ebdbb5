"""Append-only segment files holding the chunk bytes; LMDB keeps only where each blob's bytes are.

Why not in LMDB: LMDB writes through the page cache, and copying a batch's megabytes into the
page cache costs more CPU than all the node's other work on the batch. Measured on the 2-core
development VM, writing and fdatasyncing 1.5 MiB: 1.3-2.0 ms of CPU buffered, 0.1 ms with
``O_DIRECT`` (which is also faster: 640-1670 against 430-540 MB/s on one thread). Chunk bytes are
written once and read rarely, so they go to the disk directly and skip the cache.

Layout: ``<store>/segments/<id, 16 hex digits>.seg``. Ids only grow and are never reused. The store
appends to one segment at a time and moves to a new one when it reaches ``segment_size`` or when
the store is reopened, so a segment that is not the current one is never written again. Every
append starts and ends on an ``ALIGN`` boundary (the caller pads it), as ``O_DIRECT`` requires.

Durability: :meth:`SegmentFiles.append` returns after ``fdatasync`` (and, for a new file, an fsync
of the directory). Bytes become part of the store only when the LMDB transaction that refers to
them commits, so a crash in between leaves bytes nothing refers to, never a reference to bytes
that are missing. A segment is deleted once nothing refers to it; segment files that the index
does not know are deleted when the store opens.

Filesystems without ``O_DIRECT`` (or with stricter alignment than ``ALIGN``) get ordinary buffered
writes, with the same fdatasync.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from operator_node.durable import fsync_directory
from operator_node.logging import get_logger

# Copies of segments that held chunks found damaged, beside ``segments/``.
QUARANTINE_DIR = "quarantine"

ALIGN = 4096
MAX_SEGMENT_SIZE = 256 << 20
MIN_SEGMENT_SIZE = 1 << 20
_NAME = re.compile(r"^([0-9a-f]{16})\.seg$")
_DIRECT = getattr(os, "O_DIRECT", 0)

_log = get_logger("store")


def aligned(size: int) -> int:
    """``size`` rounded up to a multiple of ``ALIGN``."""
    return -(-size // ALIGN) * ALIGN


def default_segment_size(max_size: int) -> int:
    """1/16 of the store, within 1-256 MiB.

    Small enough that expiry frees space in steps (a segment goes with its last batch), large
    enough that starting one (a file creation and a directory fsync) is rare.
    """
    return aligned(min(MAX_SEGMENT_SIZE, max(MIN_SEGMENT_SIZE, max_size // 16)))


@dataclass
class _Current:
    """The segment being appended to: its id, write descriptor and end."""

    segment_id: int
    fd: int
    end: int


class SegmentFiles:
    """The segment directory of one store. Appends and removals must be serialised by the caller
    (the store's write lock); reads may run on any thread at any time."""

    def __init__(self, directory: Path, *, segment_size: int) -> None:
        """Open (creating if needed) ``directory``. Raises OSError if it cannot be used."""
        self._directory = directory
        self._segment_size = segment_size
        if not directory.is_dir():
            directory.mkdir(mode=0o700)
            fsync_directory(directory.parent)
        self._sizes = {
            int(match.group(1), 16): entry.stat().st_size
            for entry in directory.iterdir()
            if (match := _NAME.match(entry.name))
        }
        self._next_id = max(self._sizes, default=0) + 1
        self._current: _Current | None = None

    @property
    def total_bytes(self) -> int:
        """The size of every segment file together."""
        return sum(self._sizes.values())

    def ids(self) -> set[int]:
        """The ids of the segment files present."""
        return set(self._sizes)

    def size(self, segment_id: int) -> int | None:
        """The size of a segment file, or None if there is none with that id."""
        return self._sizes.get(segment_id)

    def path(self, segment_id: int) -> Path:
        """Where segment ``segment_id`` lives."""
        return self._directory / f"{segment_id:016x}.seg"

    def append(self, region: memoryview) -> tuple[int, int]:
        """Write ``region`` durably at the end of the current segment; (segment id, offset).

        ``region``'s length must be a multiple of ``ALIGN`` and its buffer page-aligned (an
        mmap). Raises OSError (ENOSPC and the like); then the segment is as it was before.
        """
        if len(region) % ALIGN:
            raise ValueError(f"a segment append must be a multiple of {ALIGN} bytes")
        current = self._writable(len(region))
        start = current.end
        try:
            _write_all(current.fd, region, start)
            os.fdatasync(current.fd)
        except OSError:
            self.take_back(current.segment_id, start)
            raise
        current.end = start + len(region)
        self._sizes[current.segment_id] = current.end
        return current.segment_id, start

    def take_back(self, segment_id: int, offset: int) -> None:
        """Cut the current segment back to ``offset``: undo an append nothing will refer to."""
        current = self._current
        if current is None or current.segment_id != segment_id or offset > current.end:
            return
        try:
            os.ftruncate(current.fd, offset)
        except OSError as exc:  # the bytes stay, unreferenced, until the segment goes
            _log.warning("segment_truncate_failed", segment=segment_id, error=str(exc))
            return
        current.end = offset
        self._sizes[segment_id] = offset

    def read(self, segment_id: int, offset: int, length: int) -> bytes | None:
        """``length`` bytes at ``offset`` of a segment, or None if the segment is gone.

        A segment goes only when nothing refers to it, so None means the data expired between
        the index lookup and this read. Raises OSError for other failures.
        """
        try:
            fd = os.open(self.path(segment_id), os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        try:
            return os.pread(fd, length, offset)
        finally:
            os.close(fd)

    def quarantine(self, segment_id: int) -> Path | None:
        """Copy a segment into ``quarantine/`` beside the segments (one copy per segment: a
        second call keeps the first); the copy's path, or None if the segment is gone. The
        segment itself stays in service: other batches in it may be sound."""
        source = self.path(segment_id)
        target = self._directory.parent / QUARANTINE_DIR / source.name
        if not source.exists():
            return None
        target.parent.mkdir(mode=0o700, exist_ok=True)
        if not target.exists():
            shutil.copyfile(source, target)
        return target

    def remove(self, segment_ids: Iterable[int]) -> None:
        """Delete segments nothing refers to any more (the current one included)."""
        for segment_id in segment_ids:
            if self._current is not None and self._current.segment_id == segment_id:
                os.close(self._current.fd)
                self._current = None
            try:
                self.path(segment_id).unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:  # retried at the next open, which removes unknown files
                _log.warning("segment_remove_failed", segment=segment_id, error=str(exc))
                continue
            self._sizes.pop(segment_id, None)

    def close(self) -> None:
        """Close the current segment's descriptor; later appends open a new segment."""
        if self._current is not None:
            os.close(self._current.fd)
            self._current = None

    def _writable(self, length: int) -> _Current:
        """The segment to append ``length`` bytes to, starting a new one when this one is full."""
        current = self._current
        if current is not None and (current.end == 0 or current.end + length <= self._segment_size):
            return current
        self.close()
        segment_id = self._next_id
        path = self.path(segment_id)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
        try:
            fd = os.open(path, flags | _DIRECT, 0o600)
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
            fd = os.open(path, flags, 0o600)  # no O_DIRECT on this filesystem
            _log.info("segment_direct_io_unavailable", directory=str(self._directory))
        self._next_id += 1
        self._sizes[segment_id] = 0
        self._current = _Current(segment_id, fd, 0)
        try:
            fsync_directory(self._directory)  # the file's entry must outlive a crash too
        except OSError:
            self.remove([segment_id])
            raise
        return self._current


def _write_all(fd: int, region: memoryview, offset: int) -> None:
    """pwrite all of ``region``; falls back to buffered writes if ``O_DIRECT`` refuses it."""
    done = 0
    while done < len(region):
        try:
            done += os.pwritev(fd, [region[done:]], offset + done)
        except OSError as exc:
            flags = fcntl.fcntl(fd, fcntl.F_GETFL)
            if exc.errno != errno.EINVAL or not flags & _DIRECT:
                raise
            # Stricter alignment than ALIGN (or a short direct write): buffered from here on.
            fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~_DIRECT)
            _log.info("segment_direct_io_refused", error=str(exc))
