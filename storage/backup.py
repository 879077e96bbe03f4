"""Backups with SQLite's online backup API, kept in rotation, and checked before a restore."""

from __future__ import annotations

import os
import re
import sqlite3
from datetime import datetime
from pathlib import Path

from storage.migrate import DatabaseDamaged

__all__ = ["DatabaseDamaged"]
KEEP = 30
_STAMP = re.compile(r"_(\d{8}-\d{6}-\d{6})_")


def backup_folder(db_path: Path) -> Path:
    return db_path.parent / "backups"


def copy_database(source: Path, target: Path) -> Path:
    """A consistent copy of a live database (WAL included), written atomically."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(target.name + ".part")
    temp.unlink(missing_ok=True)
    src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(temp)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")  # a backup is one self-contained file
        finally:
            dst.close()
    finally:
        src.close()
    with temp.open("rb+") as f:
        os.fsync(f.fileno())
    os.replace(temp, target)
    return target


def backup_to_rotation(db_path: Path, reason: str, keep: int = KEEP) -> Path | None:
    if not db_path.exists() or db_path.stat().st_size == 0:
        return None
    folder = backup_folder(db_path)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    target = copy_database(db_path, folder / f"{db_path.stem}_{stamp}_{reason}.sqlite3")
    for old in backups_of(db_path)[keep:]:
        old.unlink(missing_ok=True)
    return target


def backups_of(db_path: Path) -> list[Path]:
    """This database's backups, newest first."""
    folder = backup_folder(db_path)
    if not folder.is_dir():
        return []
    found = [p for p in folder.glob(f"{db_path.stem}_*.sqlite3") if _STAMP.search(p.name)]
    return sorted(found, key=lambda p: _STAMP.search(p.name).group(1), reverse=True)  # type: ignore[union-attr]


def has_backup_from(db_path: Path, day: datetime) -> bool:
    prefix = day.strftime("%Y%m%d")
    return any(_STAMP.search(p.name).group(1).startswith(prefix) for p in backups_of(db_path))  # type: ignore[union-attr]


def integrity_problem(path: Path) -> str | None:
    """None when SQLite's integrity check passes, else what it says (read-only, never writes)."""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        return str(exc)
    try:
        rows = [r[0] for r in conn.execute("PRAGMA integrity_check")]
    except sqlite3.DatabaseError as exc:
        return str(exc)
    finally:
        conn.close()
    return None if rows == ["ok"] else "；".join(rows[:3])


def newest_good_backup(db_path: Path) -> Path | None:
    return next((p for p in backups_of(db_path) if integrity_problem(p) is None), None)
