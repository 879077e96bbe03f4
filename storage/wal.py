"""A write-ahead log (`-wal`) left beside a database file it does not belong to is set aside, never
replayed.

SQLite replays whatever valid WAL lies beside a database file. If a PC crashed with a save only in its
WAL and the clerk then copied another copy of the database into the folder (from another PC, a USB
stick), SQLite would write the old log's pages over the newer file: changes gone, or a mix of the two.
SQLite cannot tell; this module asks, before SQLite opens the file, whether the log extends this very
file. Every write the app makes raises a commit number in the file's header (storage.engine.count_commit),
so each commit's pages in the log carry it: the file's own number must lie where the log began or within
it (an older copy, such as a backup put back, lies before; a newer or another copy elsewhere). Then,
replayed on a scratch copy, the result must pass SQLite's integrity check and still hold the file's own
last audit row, unchanged (the hash-chained trail only grows). Anything else moves the log and its index
aside, with a copy of the file they were found beside, into the backup folder; the database file is
then opened as it is.

The check runs only where nobody else is using the database: in a process that holds the database's
write lock (the window, a writing command), or when a reading command can take that lock for a moment.
A log beside an open window is the window's own and is never touched.
"""

from __future__ import annotations

import shutil
import sqlite3
import struct
import tempfile
from datetime import datetime
from pathlib import Path

from storage.backup import backup_folder, fsync_folder
from storage.errors import DatabaseError, classify
from storage.lock import DatabaseLock, is_held_here
from storage.rawfile import copy_bytes, read_bytes

__all__ = ["set_aside_foreign_log", "take_set_aside"]

_WAL_HEADER = 32
_checked: set[tuple[int, int]] = set()
_set_aside: dict[str, Path] = {}


def take_set_aside(db_path: Path) -> Path | None:
    """Where this process set a foreign log of the database aside, once (for the first opener to tell)."""
    return _set_aside.pop(str(db_path), None)


def set_aside_foreign_log(db_path: Path) -> Path | None:
    """Where the log that did not belong to the file was put, or None (no log, it belongs, or the
    database is in use elsewhere)."""
    wal = Path(f"{db_path}-wal")
    try:
        if wal.stat().st_size < _WAL_HEADER or not db_path.is_file():
            return None
        key = _file_key(db_path)
    except OSError:
        return None
    if key in _checked:
        return None  # checked when this process first opened it; the log is ours since
    if is_held_here(db_path):
        return _settle(db_path, key)
    try:
        lock = DatabaseLock(db_path, "检查数据库日志").acquire(timeout=0)
    except Exception:  # held by a window or a command: the log is theirs and live
        return None
    try:
        return _settle(db_path, key)
    finally:
        lock.release()


def _settle(db_path: Path, key: tuple[int, int]) -> Path | None:
    if log_belongs(db_path):
        _checked.add(key)
        return None
    moved = _move_aside(db_path)
    _set_aside[str(db_path)] = moved
    return moved


def _file_key(path: Path) -> tuple[int, int]:
    status = path.stat()
    return status.st_dev, status.st_ino


def log_belongs(db_path: Path) -> bool:
    """Whether the `-wal` beside the file continues this file (see the module's docstring)."""
    with tempfile.TemporaryDirectory(prefix="town-returns-wal-") as scratch:
        alone, with_log = Path(scratch) / "alone.sqlite3", Path(scratch) / "with-log.sqlite3"
        try:
            copy_bytes(db_path, alone)
            copy_bytes(db_path, with_log)
            copy_bytes(Path(f"{db_path}-wal"), Path(f"{with_log}-wal"))
        except OSError:
            return True  # cannot look: leave it to SQLite as before rather than move a log we could not read
        counted = commit_numbers(Path(f"{with_log}-wal"))
        if counted and not min(counted) - 1 <= file_commit_number(alone) <= max(counted):
            return False  # the file is an older or a newer state than the one the log was written on
        try:
            conn = sqlite3.connect(f"{alone.as_uri()}?mode=ro&immutable=1", uri=True)
            try:
                own_head = conn.execute("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
            finally:
                conn.close()
        except sqlite3.Error:
            return True  # the file alone is no readable database: damage, which the store names and mends
        try:
            conn = sqlite3.connect(with_log)
            try:
                if conn.execute("PRAGMA integrity_check").fetchall() != [("ok",)]:
                    return False
                if own_head is None:
                    return True
                # The trail only grows (binding a town gives a new db.id, so the id is no test of lineage).
                # Whether the figures agree with it is `audit verify`'s question: an edit made with a
                # database tool is told there, never hidden by moving its log away.
                row = conn.execute("SELECT hash FROM audit WHERE id = ?", (own_head[0],)).fetchone()
                return row is not None and row[0] == own_head[1]
            finally:
                conn.close()
        except sqlite3.Error:
            return False


_HEADER = struct.Struct(">IIIIIIII")
_FRAME = struct.Struct(">IIIIII")
_USER_VERSION_AT = 60


def file_commit_number(path: Path) -> int:
    """The commit number (user_version, see storage.engine.count_commit) in a database file's header."""
    return int.from_bytes(read_bytes(path, 4, _USER_VERSION_AT), "big")


def commit_numbers(wal: Path) -> list[int]:
    """The commit numbers on the page-1 images of a WAL's current frames (those carrying the header's
    salts; frames of an earlier generation left further on carry others)."""
    data = read_bytes(wal, 64 << 20)
    if len(data) < _HEADER.size:
        return []
    _magic, _version, page_size, _seq, salt1, salt2, _c1, _c2 = _HEADER.unpack_from(data)
    if not 512 <= page_size <= 65536:
        return []
    numbers, offset = [], _HEADER.size
    while offset + _FRAME.size + page_size <= len(data):
        page, _size, frame_salt1, frame_salt2, _c1, _c2 = _FRAME.unpack_from(data, offset)
        if (frame_salt1, frame_salt2) != (salt1, salt2):
            break
        if page == 1:
            start = offset + _FRAME.size + _USER_VERSION_AT
            numbers.append(int.from_bytes(data[start : start + 4], "big"))
        offset += _FRAME.size + page_size
    return numbers


def _move_aside(db_path: Path) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    folder = backup_folder(db_path) / f"未并入的日志_{db_path.stem}_{stamp}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        copy_bytes(db_path, folder / db_path.name)  # the file the log was found beside, to read them together
        for suffix in ("-wal", "-shm"):
            source = Path(f"{db_path}{suffix}")
            if source.exists():
                shutil.move(str(source), str(folder / (db_path.name + suffix)))
        fsync_folder(folder)
        fsync_folder(db_path.parent)
    except OSError as exc:
        raise classify(exc, folder / db_path.name) or DatabaseError(
            f"数据库旁的日志文件 {db_path.name}-wal 不属于这个数据库文件（数据库文件在上次异常退出后被换过），"
            f"但无法把它移到 {folder}，为免旧日志覆盖数据库中的数据，未打开数据库。请关闭其他使用它的程序后重试。"
        ) from exc
    return folder
