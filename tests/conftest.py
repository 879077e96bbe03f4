import os
import sys
from datetime import date
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.pop("TOWN_RETURNS_DB", None)

from core.quarters import Quarter  # noqa: E402
from storage.store import Store  # noqa: E402

TODAY = date(2026, 11, 28)


@pytest.fixture(autouse=True)
def _private_data_dir(tmp_path_factory, monkeypatch):
    """Logs, settings and default databases go to a temp folder, never the user's."""
    home = tmp_path_factory.mktemp("userdata")
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.delenv("TOWN_RETURNS_DB", raising=False)


@pytest.fixture
def db_path(tmp_path) -> Path:
    return tmp_path / "town.sqlite3"


@pytest.fixture
def store(db_path):
    s = Store(db_path, today=lambda: TODAY)
    s.bind_town("莞城")
    yield s
    s.close()


FULL_QUARTER = {
    "card_holders": 160_000,
    "yuecai_certified": 8,
    "nanyue_trained": 70,
    "mediation_cases": 50,
    "mediation_success": 40,
    "arbitration_due": 25,
    "arbitration_closed": 25,
    "inspection_cases": 12,
    "inspection_closed": 12,
}


PLAN_START = Quarter(2021, 1)


def on_pace_history(first: Quarter = PLAN_START, last: Quarter | None = None) -> dict:
    """Figures for 莞城 that keep every planned indicator on pace and every rate above target."""
    last = last or Quarter(2024, 3)
    history = {}
    q = first
    n = 0
    while q <= last:
        n += 1
        history[q] = dict(FULL_QUARTER, card_holders=150_000 + 1_000 * n)
        q = q.next()
    return history
