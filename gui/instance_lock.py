"""One window per database, and no command-line writer while it is open: the database's own lock."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from actions.database import DatabaseInUse, lock_for_window

if TYPE_CHECKING:
    from actions.database import DatabaseLock

AlreadyOpen = DatabaseInUse

# The holder as the lock names it for the command line: who, its process id and computer, since when.
_HOLDER = re.compile(r"正由(?P<what>.+?)（进程 \d+，计算机 .*?，自 (?P<since>.+?) 起）使用")


def acquire_instance_lock(db_path: Path) -> DatabaseLock:
    """Held for as long as the window is open; released by the OS if the app dies. Refused in the
    clerk's words: who holds the database and since when, no process id or computer name."""
    try:
        return lock_for_window(db_path)
    except DatabaseInUse as exc:
        found = _HOLDER.search(exc.message)
        if found is None:
            raise
        raise AlreadyOpen(
            f"这个数据库（{db_path}）已由{found['what']}打开（自 {found['since']} 起），同一个数据库只能在一处修改。"
            "请切换到已打开的那个窗口（看任务栏），或等那个操作结束后再打开。"
        ) from None
