"""What several test files share: the test day, the standard figures and the window fixtures.

Registered as a pytest plugin by conftest.py, so its fixtures are available to every test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from core.demo import FULL_QUARTER, on_pace_history
from core.quarters import Quarter

__all__ = ["FULL_QUARTER", "ROOT", "TODAY", "downgrade_database", "on_pace_history", "app", "window"]

ROOT = Path(__file__).resolve().parent.parent
TODAY = date(2026, 11, 28)
FAKETIME = shutil.which("faketime") or ""
needs_faketime = pytest.mark.skipif(not FAKETIME, reason="libfaketime (Debian's faketime) is not installed")


def run_main(db: Path, *args: str, clock: str | None = None) -> subprocess.CompletedProcess:
    """The command line as a clerk runs it, in its own process; the PC's clock at `clock` (a faketime
    spec: "+1h", "@2020-03-01 10:00:00") when given."""
    command = [sys.executable, "main.py", "--db", str(db), *args]
    if clock is not None:
        command = [FAKETIME, "-f", clock, *command]
    env = {key: value for key, value in os.environ.items() if key not in ("FAKETIME", "LD_PRELOAD")}
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, encoding="utf-8", env=env)
# A profile with every name a signed return's sign-off prints (a signed export refuses without them).
SIGN_OFF_NAMES = {"head": "王五", "stats_head": "赵六", "preparer": "李四"}
SIGN_OFF_FLAGS = ["--head", "王五", "--stats-head", "赵六", "--preparer", "李四"]


def signed_off_profile():
    from storage.store import Profile

    return Profile(unit_name="莞城街道人社分局", phone="0769-12345678", **SIGN_OFF_NAMES)


# The quarter the window tests open on; the quarter before it holds last quarter's figures.
WINDOW_QUARTER = Quarter(2024, 3)


@pytest.fixture
def app(qapp):
    from gui.app import make_application

    return make_application()


@pytest.fixture
def window(app, qtbot, store, dialogs):
    """The clerk's window on WINDOW_QUARTER, with a profile and last quarter's figures saved.

    A test that leaves edits unsaved meets the unsaved-changes question when pytest-qt closes the
    window at teardown; the fixture declares it then (answered 不保存), and only then.
    """
    from gui.main_window import MainWindow
    from storage.store import Profile

    store.set_profile(Profile(unit_name="莞城街道人社分局", preparer="李四"))
    store.save_quarter(WINDOW_QUARTER.previous(), dict(FULL_QUARTER, card_holders=150_000))
    win = MainWindow(store, initial_quarter=WINDOW_QUARTER)

    def discard_unsaved_edits(win: MainWindow) -> None:
        if win.form.is_dirty():
            dialogs.expect("有未保存的修改", answer="不保存")

    qtbot.addWidget(win, before_close_func=discard_unsaved_edits)
    win.show()
    qtbot.waitExposed(win)
    return win


def downgrade_database(db: Path, revision: str) -> None:
    """Take a database back to an older structure with Alembic, as an older version left it."""
    from alembic import command
    from sqlalchemy import create_engine

    from storage.migrate import alembic_config

    engine = create_engine(f"sqlite:///{db}")
    with engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
    engine.dispose()
