"""One window per database: a second copy of the app on the same file is refused."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QLockFile

from core.errors import DomainError


class AlreadyOpen(DomainError):
    pass


def acquire_instance_lock(db_path: Path) -> QLockFile:
    lock = QLockFile(str(db_path) + ".lock")
    lock.setStaleLockTime(0)  # a lock left by a crashed copy is cleared by checking its process, not by age
    if not lock.tryLock(200):
        if lock.error() == QLockFile.LockError.LockFailedError:
            pid, host, _app = lock.getLockInfo()
            raise AlreadyOpen(
                f"数据库 {db_path} 已经在另一个窗口中打开（进程 {pid}，计算机 {host}）。"
                "为避免两处同时修改造成数据混乱，请先关闭那个窗口。"
            )
        raise AlreadyOpen(f"无法在 {db_path.parent} 建立锁文件，请检查该文件夹是否可写")
    return lock
