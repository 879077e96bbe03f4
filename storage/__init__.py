"""The database: one front door (`Store`) that takes and returns plain values.

The names below are loaded on first use, so importing `storage.lock` or `storage.basics` does not
import SQLAlchemy (the command line and the window's first paint do not wait for it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from storage.migrate import DatabaseError, DatabaseTooNew
    from storage.store import AuditRow, Profile, SaveRefused, Store, default_db_path

__all__ = ["AuditRow", "DatabaseError", "DatabaseTooNew", "Profile", "SaveRefused", "Store", "default_db_path"]


def __getattr__(name: str) -> Any:
    if name in ("DatabaseError", "DatabaseTooNew"):
        from storage import migrate

        return getattr(migrate, name)
    if name in __all__:
        from storage import store

        return getattr(store, name)
    raise AttributeError(f"module 'storage' has no attribute {name!r}")
