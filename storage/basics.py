"""What a command needs before (or without) opening a database: where the database is and what the
profile's fields are called. Nothing here imports SQLAlchemy, so `--help`, `verify` and the city's
commands start quickly."""

from __future__ import annotations

import os
from pathlib import Path

from core.profile import PROFILE_LABELS

APP_NAME = "town-returns"
DB_FILE_NAME = "town_returns.sqlite3"
DB_ENV = "TOWN_RETURNS_DB"

__all__ = ["APP_NAME", "DB_ENV", "DB_FILE_NAME", "PROFILE_LABELS", "data_dir"]


def data_dir() -> Path:
    import platformdirs

    return platformdirs.user_data_path(APP_NAME, appauthor=False)


def default_db_path() -> Path:
    chosen = os.environ.get(DB_ENV)
    return Path(chosen) if chosen else data_dir() / DB_FILE_NAME
