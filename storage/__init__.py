"""The database: one front door (`Store`) that takes and returns plain values."""

from storage.store import (
    AuditRow,
    DatabaseError,
    DatabaseTooNew,
    Profile,
    SaveRefused,
    Store,
    default_db_path,
)

__all__ = ["AuditRow", "DatabaseError", "DatabaseTooNew", "Profile", "SaveRefused", "Store", "default_db_path"]
