"""One window per database, and no command-line writer while it is open: the database's own lock."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from actions.database import DatabaseInUse, lock_for_window

if TYPE_CHECKING:
    from actions.database import DatabaseLock

AlreadyOpen = DatabaseInUse


def acquire_instance_lock(db_path: Path) -> DatabaseLock:
    """Held for as long as the window is open; released by the OS if the app dies."""
    return lock_for_window(db_path)
