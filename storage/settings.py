"""The database's key/value settings (its id, town, mode, profile, signing identity)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from storage.models import Meta


def read_setting(session: Session, key: str) -> str | None:
    row = session.get(Meta, key)
    return row.value if row else None


def write_setting(session: Session, key: str, value: str) -> None:
    row = session.get(Meta, key)
    if row is None:
        session.add(Meta(key=key, value=value))
    else:
        row.value = value


def now_text() -> str:
    """The moment a row is written, as stored: local time with its offset, to the second."""
    return datetime.now().astimezone().isoformat(timespec="seconds")
