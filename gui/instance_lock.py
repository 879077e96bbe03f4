"""One window per database, and no command-line writer while it is open: the database's own lock."""

from __future__ import annotations

from pathlib import Path

from storage.lock import DatabaseInUse, DatabaseLock

AlreadyOpen = DatabaseInUse


def acquire_instance_lock(db_path: Path) -> DatabaseLock:
    """Held for as long as the window is open; released by the OS if the app dies."""
    return DatabaseLock(db_path, "填报软件窗口").acquire()
