"""The bytes of a database file (or of its -wal and -shm), read without SQLite and without dropping
SQLite's locks.

On POSIX a process loses every fcntl lock it holds on a file the moment it closes *any* descriptor of
that file. SQLite knows this and never closes a descriptor while another connection in the process
holds a lock on the same file; a plain `open()` … `close()` of the database beside a live connection
does not, and silently drops that connection's shared lock. Another process (a read command run beside
the window) then believes it is the last connection when it closes, checkpoints and deletes the WAL and
its index while the window goes on writing into the deleted WAL: every save from then on vanishes when
the window's process ends (issue 24).

So every byte of a database file read outside SQLite is read here, and on POSIX the descriptor is kept
open (one per file, by device and inode; read with pread), exactly as SQLite keeps its own. A kept
descriptor is closed only once its file is gone from the folder (deleted, or replaced by a restore): no
connection of ours can then need a lock on it. Windows locks belong to a handle, not to the process, so
there a file is opened and closed as usual (and a kept handle would stop a restore from replacing it).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

__all__ = ["copy_bytes", "read_bytes"]

_CHUNK = 1 << 20
_KEEPS_DESCRIPTORS = os.name == "posix"
_kept: dict[tuple[int, int], int] = {}
_guard = threading.Lock()


def read_bytes(path: Path, size: int, offset: int = 0) -> bytes:
    """Up to `size` bytes of the file from `offset` (fewer at its end). Raises OSError as open() would."""
    if not _KEEPS_DESCRIPTORS:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read(size)
    fd = _descriptor(path)
    parts, done = [], 0
    while done < size:
        part = os.pread(fd, min(_CHUNK, size - done), offset + done)
        if not part:
            break
        parts.append(part)
        done += len(part)
    return b"".join(parts)


def copy_bytes(source: Path, target: Path) -> None:
    """The file's bytes into `target` (created or truncated), flushed to disk; the source is read here."""
    with open(target, "wb") as out:
        offset = 0
        while True:
            part = read_bytes(source, _CHUNK, offset)
            if not part:
                break
            out.write(part)
            offset += len(part)
        out.flush()
        os.fsync(out.fileno())


def _descriptor(path: Path) -> int:
    with _guard:
        _close_vanished()
        try:
            known = os.stat(path)
            fd = _kept.get((known.st_dev, known.st_ino))
            if fd is not None:
                return fd
        except FileNotFoundError:
            pass
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        opened = os.fstat(fd)
        key = (opened.st_dev, opened.st_ino)
        if key in _kept:
            # Replaced between stat and open by a file we already hold: keep both, never close one.
            _kept[(opened.st_dev, -fd)] = fd
            return fd
        _kept[key] = fd
        return fd


def _close_vanished() -> None:
    for key, fd in list(_kept.items()):
        try:
            gone = os.fstat(fd).st_nlink == 0
        except OSError:
            gone = True
        if gone:
            del _kept[key]
            try:
                os.close(fd)
            except OSError:
                pass
