"""One writer per database: the window and every command that writes take the same lock.

The lock is an operating-system lock (`filelock`: flock on POSIX, msvcrt.locking on Windows) on
`<real path of the database>.lock`, so it is released when its process dies, however it dies, and
a symlink or a second spelling of the path meets the same lock. Who holds it is written beside it
(`.lock.owner`) so a refusal can name the holder.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
from datetime import datetime
from pathlib import Path

from filelock import FileLock, Timeout

from storage.errors import DatabaseInUse, classify

__all__ = ["DatabaseInUse", "DatabaseLock", "describe_holder", "lock_path"]


_held: dict[str, tuple[FileLock, int]] = {}
_guard = threading.Lock()


def lock_path(db_path: Path) -> Path:
    return Path(os.path.realpath(db_path)).with_name(Path(os.path.realpath(db_path)).name + ".lock")


def _owner_path(db_path: Path) -> Path:
    lock = lock_path(db_path)
    return lock.with_name(lock.name + ".owner")


def describe_holder(db_path: Path) -> str:
    try:
        info = json.loads(_owner_path(db_path).read_text(encoding="utf-8"))
        return f"{info['what']}（进程 {info['pid']}，计算机 {info['host']}，自 {info['since']} 起）"
    except (OSError, ValueError, KeyError, TypeError):
        return "另一个窗口或命令"


class DatabaseLock:
    """Held for a window's lifetime or a command's duration; re-entrant within one process."""

    def __init__(self, db_path: Path, what: str):
        self.db_path = Path(db_path)
        self.what = what
        self._key = str(lock_path(self.db_path))
        self._acquired = False

    def acquire(self, timeout: float = 0.2) -> DatabaseLock:
        with _guard:
            if self._key in _held:
                lock, count = _held[self._key]
                _held[self._key] = (lock, count + 1)
                self._acquired = True
                return self
        path = lock_path(self.db_path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            lock = FileLock(str(path))
            lock.acquire(timeout=timeout)
        except Timeout:
            raise DatabaseInUse(
                f"数据库 {self.db_path} 正由{describe_holder(self.db_path)}使用。"
                "为避免两处同时修改造成数据混乱，请先关闭那个窗口或等那个操作结束后再试；查看类命令不受影响。"
            ) from None
        except OSError as exc:
            raise classify(exc, self.db_path) or DatabaseInUse(
                f"无法在 {path.parent} 建立锁文件（{exc.strerror or exc}），请检查该文件夹是否可写"
            ) from None
        with _guard:
            _held[self._key] = (lock, 1)
        self._acquired = True
        self._write_owner()
        return self

    def _write_owner(self) -> None:
        info = {
            "what": self.what,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
            "program": Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "",
        }
        try:
            _owner_path(self.db_path).write_text(json.dumps(info, ensure_ascii=False), encoding="utf-8")
        except OSError:
            pass  # the owner note only improves the message; the lock itself is what protects

    def release(self) -> None:
        if not self._acquired:
            return
        self._acquired = False
        with _guard:
            lock, count = _held[self._key]
            if count > 1:
                _held[self._key] = (lock, count - 1)
                return
            del _held[self._key]
        try:
            _owner_path(self.db_path).unlink(missing_ok=True)
        except OSError:
            pass
        lock.release()

    @property
    def held(self) -> bool:
        return self._acquired

    def __enter__(self) -> DatabaseLock:
        return self if self._acquired else self.acquire()

    def __exit__(self, *_exc: object) -> None:
        self.release()


def is_held_here(db_path: Path) -> bool:
    with _guard:
        return str(lock_path(db_path)) in _held
