"""The window's quick start (issue 17): a town's database read with the standard library's sqlite3 before
SQLAlchemy is imported (`storage.glance`) must show exactly what the store shows, write nothing, and
leave every database that needs more than reading to the store."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from core.demo import FULL_QUARTER
from core.quarters import Quarter, quarter_range
from core.submission import STALE, SUBMITTED
from storage.demo import build_demo_database
from storage.glance import glance
from storage.store import Store
from tests.helpers import TODAY, downgrade_database

READS = ("plans", "history", "quarter_statuses", "plan_quarter_statuses", "profile", "town", "mode", "known_codes")
PER_QUARTER = ("plan_for", "catalogue_for", "list_plan_for", "quarter_status", "figures", "explanations")


def rich_database(path: Path) -> Path:
    """The demo town across both plans, with a submitted quarter, a reopened one, one made stale by a
    later change to a quarter it adds up, a 基期数 and a profile."""
    build_demo_database(path, today=TODAY)
    with Store(path, today=lambda: TODAY) as store:
        for quarter in (Quarter(2024, 3), Quarter(2024, 4), Quarter(2025, 2)):
            revision = store.reserve_revision(quarter, "a" * 64)
            store.record_export(quarter, revision, "a" * 64, [f"{quarter.code}.xlsx"])
        store.reopen(Quarter(2024, 4), "发现录入错误，需要更正后重新上报")
        changed = dict(store.figures(Quarter(2025, 1)))
        changed["yuecai_certified"] += 5
        store.save_quarter(Quarter(2025, 1), changed, store.explanations(Quarter(2025, 1)))
        assert store.quarter_status(Quarter(2025, 2)).state == STALE
        assert store.quarter_status(Quarter(2024, 3)).state == SUBMITTED
    return path


def test_the_quick_view_reads_exactly_what_the_store_reads(tmp_path):
    db = rich_database(tmp_path / "镇街 数据库.sqlite3")
    view = glance(db, today=lambda: TODAY)
    assert view is not None
    try:
        with Store(db, today=lambda: TODAY) as store:
            for name in READS:
                assert getattr(view, name)() == getattr(store, name)(), name
            plans = store.plans()
            for quarter in quarter_range(plans[0].first, plans[-1].last):
                for name in PER_QUARTER:
                    assert getattr(view, name)(quarter) == getattr(store, name)(quarter), (name, quarter)
                assert view.stock_bases(store.plan_for(quarter)) == store.stock_bases(store.plan_for(quarter))
            assert view.current_plan() == store.current_plan()
            for code in store.known_codes():
                assert view.indicator_name(code, "2026Q1") == store.indicator_name(code, "2026Q1")
    finally:
        view.close()


def test_the_quick_view_never_changes_the_database(tmp_path):
    db = rich_database(tmp_path / "town.sqlite3")
    before = hashlib.sha256(db.read_bytes()).hexdigest(), db.stat().st_mtime_ns
    assert not Path(f"{db}-wal").exists()  # the store checkpointed and removed it on closing
    view = glance(db, today=lambda: TODAY)
    assert view is not None
    assert view.history() and view.quarter_statuses() and view.plans() and view.profile().unit_name
    view.close()
    assert (hashlib.sha256(db.read_bytes()).hexdigest(), db.stat().st_mtime_ns) == before
    assert not Path(f"{db}-journal").exists()
    # SQLite's own index files of a WAL database may appear beside it, as for any reader; nothing in them.
    assert not Path(f"{db}-wal").exists() or Path(f"{db}-wal").stat().st_size == 0


def test_what_needs_the_store_is_left_to_it(tmp_path):
    assert glance(tmp_path / "none.sqlite3") is None
    assert not (tmp_path / "none.sqlite3").exists()

    Store(tmp_path / "unbound.sqlite3").close()  # first run: the set-up dialog needs the store
    assert glance(tmp_path / "unbound.sqlite3") is None

    with Store(tmp_path / "city.sqlite3") as city:
        city.set_city_mode("-----BEGIN CERTIFICATE-----")
    assert glance(tmp_path / "city.sqlite3") is None

    damaged = rich_database(tmp_path / "damaged.sqlite3")
    data = bytearray(damaged.read_bytes())
    data[8192:12288] = b"\xff" * 4096  # a page in the middle overwritten
    damaged.write_bytes(bytes(data))
    assert glance(damaged) is None

    zeroed = tmp_path / "zeroed.sqlite3"
    zeroed.write_bytes(b"\0" * 8192)
    assert glance(zeroed) is None


def test_the_structure_checked_without_sqlalchemy_is_the_models(tmp_path):
    from storage.models import Base
    from storage.structure import TABLE_COLUMNS

    assert TABLE_COLUMNS == {t.name: frozenset(c.name for c in t.columns) for t in Base.metadata.sorted_tables}


@pytest.mark.parametrize(
    "sql",
    [
        "ALTER TABLE figures DROP COLUMN updated_at",  # a column the quick read never reads
        "DELETE FROM plans",  # a first run the store would complete (here it cannot: damage, backup offered)
    ],
)
def test_what_only_the_store_would_find_is_left_to_it(tmp_path, sql):
    db = rich_database(tmp_path / "town.sqlite3")
    conn = sqlite3.connect(db)
    conn.execute(sql)
    conn.commit()
    conn.close()
    assert glance(db) is None


def test_an_older_structure_is_left_to_the_store_to_migrate(tmp_path):
    db = tmp_path / "old.sqlite3"
    with Store(db, today=lambda: TODAY) as store:
        store.bind_town("莞城")
        store.save_quarter(Quarter(2024, 3), FULL_QUARTER)
    downgrade_database(db, "0004")
    assert glance(db) is None


READ_ONLY_IMPORTS = """
import sys
from pathlib import Path
from actions.database import glance_database
view = glance_database(Path(sys.argv[1]))
assert view is not None and view.figures(view.plans()[0].first)
print(sorted(m for m in sys.modules if m.split(".")[0] in ("sqlalchemy", "alembic") or m == "storage.store"))
"""


def test_the_quick_view_imports_no_sqlalchemy(tmp_path):
    db = rich_database(tmp_path / "town.sqlite3")
    done = subprocess.run(
        [sys.executable, "-c", READ_ONLY_IMPORTS, str(db)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_clerk_types_and_saves_before_the_store_has_loaded(app, qtbot, tmp_path):
    from PySide6.QtCore import Qt

    from gui.app import start_session

    db = rich_database(tmp_path / "镇街 数据库.sqlite3")
    quarter = Quarter(2026, 3)
    with Store(db, today=lambda: TODAY) as store:
        saved_before = store.figures(quarter)
    session = start_session(db, quarter).finish()
    assert session is not None
    window = session.window
    try:
        assert window.isEnabled() and window.database.ready(wait=False) is None  # filled in from the quick view
        field = window.form.value_edits["yuecai_certified"]
        assert field.text() == f"{saved_before['yuecai_certified']:,}"
        field.setFocus()
        field.selectAll()
        qtbot.keyClicks(field, "4321")
        qtbot.keyClick(field, Qt.Key.Key_Tab)
        assert window.save()  # waits for the store, then saves through it
        assert window.database.ready(wait=False) is not None
        with Store(db, today=lambda: TODAY) as store:
            assert store.figures(quarter) == {**saved_before, "yuecai_certified": 4321}
            assert store.audit_trail(quarter, "yuecai_certified")[-1].new_value == "4321"
    finally:
        window.close()
        session.close()


def test_the_store_is_adopted_on_its_own_with_the_start_up_checks(app, qtbot, tmp_path):
    import shutil

    from gui.app import start_session

    db = rich_database(tmp_path / "town.sqlite3")
    shutil.rmtree(tmp_path / "backups", ignore_errors=True)  # no backup made today yet
    session = start_session(db, Quarter(2026, 3)).finish()
    assert session is not None
    try:
        qtbot.waitUntil(lambda: session.window.database.ready(wait=False) is not None, timeout=60_000)
        assert any("每日" in p.name for p in session.store.backups())  # made once the store has opened
        stored, form = session.store.figures(Quarter(2026, 3)), session.window.form
        # the boxes a clerk types hold what is stored; each 应结 (saved here before the split) is shown beside
        assert {c: v for c, v in form.parsed()[0].items() if v is not None} == {
            c: v for c, v in stored.items() if c in form.value_edits
        }
        assert {c: e.text() for c, e in form.computed_edits.items()} == {c: f"{stored[c]:,}" for c in form.computed_edits}
    finally:
        session.window.close()
        session.close()


LEAVE_WAL = """
import os, sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA wal_autocheckpoint=0")
conn.execute("UPDATE figures SET value = 4321 WHERE quarter = '2026Q3' AND code = 'yuecai_certified'")
os._exit(0)  # killed, as it were: the change is only in the -wal file
"""


def test_a_change_still_in_the_write_ahead_log_is_seen(tmp_path):
    db = rich_database(tmp_path / "town.sqlite3")
    done = subprocess.run([sys.executable, "-c", LEAVE_WAL, str(db)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert Path(f"{db}-wal").stat().st_size > 0
    for shared_memory_file in (True, False):
        if not shared_memory_file:
            Path(f"{db}-shm").unlink()
        view = glance(db, today=lambda: TODAY)
        assert view is not None
        try:
            assert view.figures(Quarter(2026, 3))["yuecai_certified"] == 4321
        finally:
            view.close()


# --- what the old start-up caught is still caught when the store opens after the window (attack a1) ---


def quick_session(db: Path, quarter: Quarter | None = None):
    from gui.app import start_session
    from gui.main_window import MainWindow

    session = start_session(db, quarter or Quarter(2026, 3)).finish()
    assert session is not None and isinstance(session.window, MainWindow) and session.window.database.ready(wait=False) is None
    return session


def type_figure(window, qtbot, value: str) -> None:
    from PySide6.QtCore import Qt

    field = window.form.value_edits["yuecai_certified"]
    field.setFocus()
    field.selectAll()
    qtbot.keyClicks(field, value)
    qtbot.keyClick(field, Qt.Key.Key_Tab)


def test_a_database_layer_that_fails_to_load_is_told_not_swallowed(app, qtbot, tmp_path, dialogs, monkeypatch):
    import actions.database

    def quarantined() -> None:
        raise ImportError("No module named 'sqlalchemy.orm'")

    monkeypatch.setattr(actions.database, "load_database_layer", quarantined)
    db = rich_database(tmp_path / "town.sqlite3")
    session = quick_session(db)
    try:
        type_figure(session.window, qtbot, "4321")
        dialogs.expect("数据库模块载入失败")
        assert session.window.save() is False
        dialogs.expect("数据库模块载入失败")
        session.window.tabs.setCurrentIndex(1)  # the progress tab needs the store too: told, not a crash
        assert session.window.form.is_dirty()  # what was typed is still there
    finally:
        dialogs.expect("有未保存的修改", answer="不保存")
        session.window.close()
        session.close()


def test_an_early_save_opens_the_store_once_and_warns_of_a_broken_chain_once(app, qtbot, tmp_path, dialogs):
    db = rich_database(tmp_path / "town.sqlite3")
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE audit SET new_value = '999999' WHERE id = 5")
    conn.close()
    session = quick_session(db)
    try:
        type_figure(session.window, qtbot, "4321")
        opened = []
        import actions.database

        real_open = actions.database.open_database

        def counting_open(*args, **kwargs):
            opened.append(args)
            return real_open(*args, **kwargs)

        import gui.app

        real_checks = gui.app.check_on_start_up

        def checks_showing_a_dialog(store):
            app.processEvents()  # as the warning's own event loop does: the `loaded` signal comes in now
            real_checks(store)

        actions.database.open_database = counting_open
        gui.app.check_on_start_up = checks_showing_a_dialog
        try:
            dialogs.expect("审计记录校验未通过")
            assert session.window.save()
            app.processEvents()
        finally:
            actions.database.open_database = real_open
            gui.app.check_on_start_up = real_checks
        assert len(opened) == 1 and session.window.database.ready(wait=False) is not None
    finally:
        session.window.close()
        session.close()


def test_a_database_swapped_while_the_store_loads_is_not_written_to(app, qtbot, tmp_path, dialogs):
    db = rich_database(tmp_path / "town.sqlite3")
    other = tmp_path / "other" / "石龙.sqlite3"
    other.parent.mkdir()
    with Store(other, today=lambda: TODAY) as store:
        store.bind_town("石龙")
    session = quick_session(db)
    try:
        type_figure(session.window, qtbot, "4321")
        os.replace(other, db)  # a sync tool puts another town's file in its place
        dialogs.expect("被换成了另一个数据库")
        assert session.window.save() is False
    finally:
        dialogs.expect("有未保存的修改", answer="不保存")
        session.window.close()
        session.close()
    with Store(db, today=lambda: TODAY) as store:
        assert store.town() == "石龙" and store.history() == {}


def test_damage_found_when_the_store_opens_is_told_and_nothing_crashes(app, qtbot, tmp_path, dialogs):
    db = rich_database(tmp_path / "town.sqlite3")
    session = quick_session(db)
    try:
        data = bytearray(db.read_bytes())
        data[8192:12288] = b"\xff" * 4096
        db.write_bytes(bytes(data))
        dialogs.expect("重新打开时会提示用备份恢复")
        assert session.window.save() is False
        dialogs.expect("现在不能保存")
        session.window.tabs.setCurrentIndex(2)
        dialogs.expect("现在不能保存")
        assert session.window.backup(tmp_path / "备份.sqlite3") is None
    finally:
        session.window.close()
        session.close()


def test_a_database_the_store_must_complete_opens_through_it(app, qtbot, tmp_path):
    from gui.app import start_session

    db = tmp_path / "town.sqlite3"
    with Store(db, today=lambda: TODAY) as store:
        store.bind_town("莞城")
        store.save_quarter(Quarter(2024, 3), FULL_QUARTER)
    with sqlite3.connect(db) as conn:  # every plan row (and its targets) deleted outside the program
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("DELETE FROM plans")
    conn.close()
    session = start_session(db, Quarter(2026, 4)).finish()
    assert session is not None
    try:  # the store put the built-in plan back before the window was filled in
        assert session.window.database.ready(wait=False) is not None and session.window.quarter_box.findData("2024Q3") >= 0
    finally:
        session.window.close()
        session.close()


GLANCE_AS = """
import os, sys
from pathlib import Path
from storage.glance import glance
from storage.migrate import head_revision
head_revision()  # read while still root: nobody may not list this checkout's migrations (a 0700 clone)
{drop}
print("none" if glance(Path(sys.argv[1])) is None else "opened")
"""


@pytest.mark.skipif(os.name != "posix", reason="file modes")
def test_a_read_only_database_is_left_to_the_store_which_refuses_it_at_once(tmp_path):
    import shutil
    import tempfile

    # A file marked read-only in a folder the clerk may write to (SQLite could still make its -shm there).
    folder = Path(tempfile.mkdtemp(prefix="只读 "))
    try:
        folder.chmod(0o777)
        db = rich_database(folder / "town.sqlite3")
        db.chmod(0o444)
        drop = "os.setgid(65534); os.setuid(65534)" if os.geteuid() == 0 else ""  # root ignores file modes
        done = subprocess.run(
            [sys.executable, "-c", GLANCE_AS.format(drop=drop), str(db)], capture_output=True, text=True, timeout=60
        )
    finally:
        shutil.rmtree(folder)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "none"
