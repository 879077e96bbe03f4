"""What can be wrong with a database file, each with its own message: damaged, locked, read-only, full.

Only damage is mended by restoring a backup; the others are mended by closing another program,
fixing permissions or freeing disk space, and a restore there would throw away good data.
"""

from __future__ import annotations

import errno
import logging
import re
import shutil
import sqlite3
from pathlib import Path

from core.errors import DomainError, os_reason

log = logging.getLogger(__name__)


class DatabaseError(DomainError):
    """A database file that cannot be used as it is."""


class DatabaseInUse(DomainError):
    """Another window or command is writing to this database (storage.lock refuses with it)."""


class DatabaseDamaged(DatabaseError):
    """The file is not a whole SQLite database any more; it is not opened for writing."""


class DatabaseTooNew(DatabaseError):
    """A database written by a newer version of the app; it is left untouched."""


class DatabaseLocked(DatabaseError):
    """Another program holds SQLite's lock on the file."""


class DatabaseReadOnly(DatabaseError):
    """The file or its folder cannot be written."""


class DiskFull(DatabaseError):
    """No space left: the change was not saved; what was committed before is intact."""


class DiskIOError(DatabaseError):
    """The operating system reported a read or write error."""


def lenient_text(raw: bytes) -> str:
    """Text as stored, with bytes that are not UTF-8 shown as U+FFFD: a flipped byte must reach the
    audit check (which then reports it), not stop the program with a decoding error."""
    return raw.decode("utf-8", errors="replace")


# SQLite's own words (English) for what it found, as the clerk reads them; a detail not listed here
# is shown by its kind only (sqlite_detail), and the original goes to the log.
SQLITE_DETAILS = (
    ("database disk image is malformed", "文件内部结构已损坏"),
    ("file is not a database", "不是数据库文件"),
    ("file is encrypted or is not a database", "不是数据库文件"),
    ("disk i/o error", "磁盘读写出错"),
    ("database or disk is full", "磁盘空间不足"),
    ("unable to open database file", "无法打开数据库文件"),
    ("database is locked", "数据库正被占用"),
    ("attempt to write a readonly database", "数据库是只读的"),
    ("no such table", "缺少数据表"),
    ("no such column", "缺少数据列"),
    ("malformed", "文件内部结构已损坏"),
    ("corrupt", "文件内部结构已损坏"),
    ("out of memory", "内存不足"),
)


def sqlite_detail(detail: str) -> str:
    """`detail` in Chinese: SQLite's and the system's English replaced by what it means (a detail
    already in Chinese, as the app's own checks write them, is kept)."""
    if not any("a" <= ch.lower() <= "z" for ch in detail):
        return detail
    lowered = detail.lower()
    for english, chinese in SQLITE_DETAILS:
        if english in lowered:
            return chinese
    if not re.search(r"[A-Za-z]{3,} [A-Za-z]{2,}", detail):  # a name or a code, not an English sentence
        return detail
    log.info("database problem described as: %s", detail)
    return "详情已写入日志文件"


def damaged(path: Path, detail: str) -> DatabaseDamaged:
    detail = sqlite_detail(detail)
    return DatabaseDamaged(
        f"数据库 {path} 已损坏（{detail}），为保护数据未打开。损坏的文件会原样另存一份；"
        "可以用最近的完好备份恢复：restore 备份文件（软件里会自动提示）"
    )


def locked(path: Path) -> DatabaseLocked:
    return DatabaseLocked(
        f"数据库 {path} 正被其他程序占用（例如用数据库工具打开着，或杀毒软件正在扫描），本次操作未完成，"
        "已保存的数据没有变化。请关闭那个程序后再试。"
    )


def read_only(path: Path) -> DatabaseReadOnly:
    return DatabaseReadOnly(
        f"数据库 {path} 或它所在的文件夹是只读的，无法保存，已保存的数据没有变化。"
        "请检查文件属性和文件夹权限（或是否在只读的 U 盘、光盘上），或用 --db 指定可写的位置。"
    )


def disk_full(path: Path) -> DiskFull:
    return DiskFull(
        f"磁盘空间不足（{path.parent}），本次修改未保存；此前已保存的数据完好。请清理磁盘后再试。"
    )


def io_error(path: Path, detail: str) -> DiskIOError:
    # Not "bad sectors": a write refused for lack of space reaches SQLite as an I/O error too.
    return DiskIOError(
        f"读写 {path} 时磁盘出错（{sqlite_detail(detail)}），本次操作未完成；此前已保存的数据完好。"
        "请检查 U 盘是否已拔出、磁盘空间是否足够，再试一次；仍然出错时请检查磁盘。"
    )


def file_failure(path: Path, exc: OSError) -> DatabaseError:
    """A file operation that failed for another reason than the situations above, said in Chinese."""
    where = exc.filename or path
    return DatabaseError(f"文件操作未完成（{where}）：{os_reason(exc)}；此前已保存的数据完好。")


def _nearly_full(path: Path) -> bool:
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        return shutil.disk_usage(folder).free < (1 << 20)
    except OSError:
        return False


def classify(exc: BaseException, path: Path) -> DatabaseError | None:
    """The situation an sqlite3 or OS error stands for, or None when an sqlite3 error is none of the
    known ones (an OS error is always one: at worst file_failure, its errno said in Chinese)."""
    if isinstance(exc, OSError) and not isinstance(exc, sqlite3.Error):
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            return disk_full(path)
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            return read_only(path)
        if exc.errno == errno.EIO:
            return disk_full(path) if _nearly_full(path) else io_error(path, f"错误代码 {exc.errno}")
        return file_failure(path, exc)
    if not isinstance(exc, sqlite3.Error):
        return None
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    text = str(exc).lower()
    if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or "database is locked" in text:
        return locked(path)
    if primary == sqlite3.SQLITE_READONLY or "readonly database" in text or "read-only" in text:
        return read_only(path)
    if primary == sqlite3.SQLITE_FULL or "disk is full" in text:
        return disk_full(path)
    if primary == sqlite3.SQLITE_IOERR or "disk i/o error" in text:
        # SQLite reports a write that ran out of space in its WAL or shared memory as an I/O error.
        return disk_full(path) if _nearly_full(path) else io_error(path, str(exc))
    if primary == sqlite3.SQLITE_CANTOPEN or "unable to open database file" in text:
        return read_only(path) if path.exists() else None
    if primary in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB) or "malformed" in text or "not a database" in text:
        return damaged(path, str(exc))
    return None
