import os
from pathlib import Path

import pytest

# The window fixtures and the dialog guard live in tests/helpers.py and tests/dialogs.py.
pytest_plugins = ("tests.helpers", "tests.dialogs", "tests.pki")

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.pop("TOWN_RETURNS_DB", None)


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
    from storage.store import Store
    from tests.helpers import TODAY, signed_off_profile

    s = Store(db_path, today=lambda: TODAY)
    s.bind_town("莞城")
    s.set_profile(signed_off_profile())
    yield s
    s.close()
