"""The database: one front door (`Store`) that takes and returns plain values."""

from storage.migrate import DatabaseError, DatabaseTooNew
from storage.store import (
    AuditRow,
    Profile,
    SaveRefused,
    Store,
    default_db_path,
)

__all__ = ["AuditRow", "DatabaseError", "DatabaseTooNew", "Profile", "SaveRefused", "Store", "default_db_path"]
