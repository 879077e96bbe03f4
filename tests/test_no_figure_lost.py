"""Issue 11: first run, restore, two writers and the audit trail never lose or silently change a figure."""

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from cli import main as cli_main
from core.quarters import Quarter
from storage.backup import backups_of, identity_file, newest_good_backup
from storage.errors import DatabaseDamaged, DatabaseLocked, DiskFull
from storage.store import FiguresChangedElsewhere, RestoreRefused, Store, restore_database
from tests.helpers import FULL_QUARTER, SIGN_OFF_FLAGS, TODAY, signed_off_profile

Q = Quarter(2024, 3)
POSIX = os.name == "posix"


def cli(*args: str) -> int:
    return cli_main(list(args))


def child(code: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def ready_store(path: Path, town: str = "莞城") -> Store:
    store = Store(path, today=lambda: TODAY)
    store.bind_town(town)
    store.set_profile(signed_off_profile())
    store.save_quarter(Q, FULL_QUARTER)
    return store


# --- 1. first run ---------------------------------------------------------------------------------


def half_made_database(path: Path) -> None:
    """What an older version left when killed right after its migration committed: schema, no seed."""
    from alembic import command
    from sqlalchemy import create_engine

    from storage.migrate import alembic_config

    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    engine.dispose()


def test_a_first_run_killed_after_its_migration_is_completed_at_the_next_start(tmp_path, capsys):
    db = tmp_path / "town.sqlite3"
    half_made_database(db)
    assert cli("--db", str(db), "init", "--town", "莞城") == 0
    assert cli("--db", str(db), "profile", *SIGN_OFF_FLAGS) == 0
    assert cli("--db", str(db), "enter", "--quarter", Q.code, "yuecai_certified=12") == 0
    capsys.readouterr()
    assert cli("--db", str(db), "targets", "list", "--json") == 0
    assert "十四五" in capsys.readouterr().out
    assert cli("--db", str(db), "audit", "verify") == 0


def test_a_new_database_appears_whole_or_not_at_all(tmp_path):
    db = tmp_path / "新建 文件夹" / "town.sqlite3"
    db.parent.mkdir()
    leftover = db.with_name(f".{db.name}.new-99999")
    leftover.write_bytes(b"half a database")
    Path(f"{leftover}-journal").write_bytes(b"a journal")
    with Store(db) as store:
        assert store.plans() and store.db_id()
    assert not leftover.exists() and not Path(f"{leftover}-journal").exists()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert identity_file(db).exists()


@pytest.mark.parametrize(
    "damage", [b"", b"\x00" * 8192, b"SQLite format 3"], ids=["0 bytes", "zeroed", "truncated header"]
)
def test_an_empty_zeroed_or_truncated_file_is_damage_not_a_new_database(tmp_path, damage):
    db = tmp_path / "town.sqlite3"
    db.write_bytes(damage)
    with pytest.raises(DatabaseDamaged):
        Store(db)
    assert db.read_bytes() == damage


# --- 2 and 3. restore ----------------------------------------------------------------------------

WRITE_AND_DIE = """
import os, signal
from core.quarters import Quarter
from storage.store import Store
store = Store({db!r})
store.save_quarter(Quarter(2024, 3), {{"yuecai_certified": 777}})
os.kill(os.getpid(), signal.SIGKILL)  # the commit lives only in the WAL now
"""

RESTORE_AND_DIE = """
import os, signal
from pathlib import Path
from storage.store import restore_database
def step(name):
    if name == {step!r}:
        os.kill(os.getpid(), signal.SIGKILL)
restore_database(Path({db!r}), Path({backup!r}), on_step=step)
"""


@pytest.mark.slow
@pytest.mark.skipif(not POSIX, reason="SIGKILL")
@pytest.mark.parametrize("step", ["checked", "prepared", "kept", "checkpointed", "replaced"])
def test_a_restore_killed_at_any_step_keeps_every_committed_figure(tmp_path, step):
    db = tmp_path / "town.sqlite3"
    with ready_store(db) as store:
        backup = store.backup_to_rotation("测试")
    writer = child(WRITE_AND_DIE.format(db=str(db)))
    writer.communicate(timeout=60)
    assert Path(f"{db}-wal").stat().st_size > 0
    killed = child(RESTORE_AND_DIE.format(db=str(db), backup=str(backup), step=step))
    killed.communicate(timeout=60)
    assert killed.returncode == -signal.SIGKILL
    with Store(db) as store:
        restored = store.audit_trail()[-1].action == "restore"
        value = store.figures(Q).get("yuecai_certified")
        assert store.verify_audit().ok
    if restored:
        assert value == FULL_QUARTER["yuecai_certified"]
    else:
        assert value == 777  # the commit that lived only in the WAL is still there
    assert restored == (step == "replaced")


def corrupt_pages(path: Path) -> None:
    data = bytearray(path.read_bytes())
    for offset in range(4096 + 100, min(len(data), 4096 * 6), 7):
        data[offset] = 0xA5
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["empty", "zeroed", "truncated", "corrupted"])
def test_a_damaged_live_file_is_kept_byte_for_byte_and_restored_on_the_command_line(tmp_path, capsys, damage):
    db = tmp_path / "town.sqlite3"
    with ready_store(db) as store:
        store.backup_to_rotation("测试")
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = db.stat().st_size
    if damage == "empty":
        db.write_bytes(b"")
    elif damage == "zeroed":
        db.write_bytes(b"\x00" * size)
    elif damage == "truncated":
        db.write_bytes(db.read_bytes()[: size // 3])
    else:
        corrupt_pages(db)
    damaged = db.read_bytes()
    good = newest_good_backup(db)
    assert good is not None
    assert cli("--db", str(db), "status") == 2
    capsys.readouterr()
    assert cli("--db", str(db), "restore", str(good)) == 0
    out = capsys.readouterr().out
    kept = [p for p in (db.parent / "backups").glob("损坏_*") if p.is_dir()]
    assert len(kept) == 1 and (kept[0] / db.name).read_bytes() == damaged
    assert str(kept[0]) in out
    with Store(db) as store:
        assert store.figures(Q) == FULL_QUARTER


@pytest.fixture
def zeroed_with_a_backup(qapp, tmp_path, monkeypatch):
    """A zeroed database with a good backup, and the questions and notices the app shows, answered Yes."""
    from PySide6.QtWidgets import QMessageBox

    db = tmp_path / "town.sqlite3"
    with ready_store(db) as store:
        store.backup_to_rotation("测试")
    db.write_bytes(b"\x00" * 16384)
    asked, told = [], []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.Yes)
    monkeypatch.setattr(QMessageBox, "information", lambda *a, **k: told.append(a[2]))
    return db, asked, told


def test_the_app_offers_the_newest_good_backup_for_a_zeroed_file(zeroed_with_a_backup):
    from gui.app import open_or_recover

    db, asked, told = zeroed_with_a_backup
    recovered = open_or_recover(db)
    assert recovered is not None and "已损坏" in asked[0] and "原样另存" in told[0]
    assert recovered.figures(Q) == FULL_QUARTER
    recovered.close()


# --- 4. a backup belongs to one database ----------------------------------------------------------


def test_backups_belong_to_their_own_database_by_the_id_inside(tmp_path, capsys):
    ours = tmp_path / "town_returns.sqlite3"
    theirs = tmp_path / "town_returns_东城.sqlite3"
    with ready_store(ours) as a, ready_store(theirs, "东城") as b:
        mine = a.backup_to_rotation("莞城")
        for _ in range(3):
            b.backup_to_rotation("东城")
        assert backups_of(ours) == [mine]
        assert len(backups_of(theirs)) == 3
        for _ in range(31):
            a.backup_to_rotation("轮换")
        assert len(backups_of(theirs)) == 3  # rotation of one database never deletes another's
    other = backups_of(theirs)[0]
    ours.write_bytes(b"\x00" * 8192)  # damaged: its town cannot be read from it any more
    assert newest_good_backup(ours) in backups_of(ours)
    assert cli("--db", str(ours), "restore", str(other)) == 2
    assert "属于另一个数据库（东城）" in capsys.readouterr().err
    assert ours.read_bytes() == b"\x00" * 8192


# --- 5. two writers -------------------------------------------------------------------------------

HOLD_WINDOW_LOCK = """
import time
from pathlib import Path
from gui.instance_lock import acquire_instance_lock
lock = acquire_instance_lock(Path({db!r}))
print("locked", flush=True)
time.sleep(60)
"""


@pytest.fixture
def window_holding(tmp_path):
    db = tmp_path / "town.sqlite3"
    ready_store(db).close()
    holder = child(HOLD_WINDOW_LOCK.format(db=str(db)))
    assert holder.stdout.readline().strip() == "locked"
    yield db
    holder.kill()
    holder.wait()


@pytest.mark.slow
def test_every_writing_command_is_refused_while_the_window_is_open(window_holding, tmp_path, capsys):
    db = window_holding
    backup = tmp_path / "备份.sqlite3"
    shutil.copy(db, backup)
    writers = [
        ["enter", "--quarter", Q.code, "yuecai_certified=1"],
        ["reopen", "--quarter", Q.code, "--reason", "测试退回修改"],
        ["restore", str(backup)],
        ["export", "--quarter", Q.code, "--out", str(tmp_path / "out"), "--unsigned"],
        ["identity", "import", str(backup), "--passphrase-file", str(backup)],
        ["plan", "import", str(backup)],
        ["profile", "--preparer", "王五"],
        ["backup", "--out", str(tmp_path / "b.sqlite3")],
    ]
    for args in writers:
        assert cli("--db", str(db), *args) == 4, args
        err = capsys.readouterr().err
        assert "正由填报软件窗口（进程" in err, args
    for args in (["status"], ["check", "--quarter", Q.code], ["progress", "--quarter", Q.code], ["audit", "verify"]):
        assert cli("--db", str(db), *args) in (0, 1), args
    with Store(db) as store:
        assert store.figures(Q) == FULL_QUARTER


@pytest.mark.skipif(not POSIX, reason="symlinks need privileges on Windows")
def test_a_symlink_to_the_database_meets_the_same_lock(window_holding, tmp_path, capsys):
    link = tmp_path / "另一个 名字.sqlite3"
    link.symlink_to(window_holding)
    assert cli("--db", str(link), "enter", "--quarter", Q.code, "yuecai_certified=1") == 4
    from gui.instance_lock import AlreadyOpen, acquire_instance_lock

    with pytest.raises(AlreadyOpen):
        acquire_instance_lock(link)


def test_a_save_never_overwrites_figures_changed_since_the_form_was_loaded(tmp_path):
    db = tmp_path / "town.sqlite3"
    with ready_store(db) as form_store, Store(db) as elsewhere:
        loaded = form_store.figures(Q)
        elsewhere.save_quarter(Q, {"yuecai_certified": 99})
        with pytest.raises(FiguresChangedElsewhere, match="粤菜师傅"):
            form_store.save_quarter(Q, {**loaded, "nanyue_trained": 71}, loaded=loaded, loaded_explanations={})
        assert form_store.figures(Q)["yuecai_certified"] == 99
        assert form_store.figures(Q)["nanyue_trained"] == FULL_QUARTER["nanyue_trained"]


def test_the_window_asks_before_overwriting_a_figure_changed_elsewhere(qapp, qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from gui.main_window import MainWindow

    db = tmp_path / "town.sqlite3"
    store = ready_store(db)
    window = MainWindow(store, Q)
    qtbot.addWidget(window)
    with Store(db) as elsewhere:
        elsewhere.save_quarter(Q, {"yuecai_certified": 99})
    edit = window.form.value_edits["nanyue_trained"]
    edit.setText("71")
    shown = []

    def cancel(box):
        shown.append(box.text())
        box.reject()

    monkeypatch.setattr(QMessageBox, "exec", lambda box: cancel(box))
    assert window.save() is False
    assert shown and "已在别处" in shown[0]
    assert store.figures(Q)["yuecai_certified"] == 99


# --- 6. locked, read-only, full -----------------------------------------------------------------


@pytest.mark.slow
def test_a_database_locked_by_another_program_is_not_called_damaged(tmp_path):
    db = tmp_path / "town.sqlite3"
    ready_store(db).close()
    other = sqlite3.connect(db)
    other.execute("PRAGMA locking_mode=EXCLUSIVE")
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(DatabaseLocked, match="正被其他程序占用"):
            Store(db, busy_timeout_ms=100)
    finally:
        other.rollback()
        other.close()


@pytest.mark.slow
def test_the_app_offers_no_restore_for_a_locked_database(qapp, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from gui.app import open_or_recover

    db = tmp_path / "town.sqlite3"
    with ready_store(db) as store:
        store.backup_to_rotation("测试")
    other = sqlite3.connect(db)
    other.execute("PRAGMA locking_mode=EXCLUSIVE")
    other.execute("BEGIN EXCLUSIVE")
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: pytest.fail("a restore was offered"))
    try:
        with pytest.raises(DatabaseLocked):
            open_or_recover(db)
    finally:
        other.rollback()
        other.close()


READ_ONLY_ENTER = """
import importlib, os, pkgutil
from cli import main
# Everything the command may import as it runs, loaded while still root: nobody may not be able to read
# root's Python or this checkout (a clone in a 0700 temp folder). Whole packages, so that a module added
# to them later is loaded too.
for package in ("core", "storage", "actions"):
    for info in pkgutil.walk_packages(importlib.import_module(package).__path__, package + "."):
        if ".migrations" not in info.name:  # Alembic runs those itself, from their files
            importlib.import_module(info.name)
import sqlalchemy.dialects.sqlite, platformdirs, filelock, logging.handlers, json
{drop}
raise SystemExit(main(["--db", {db!r}, "enter", "--quarter", "2024Q3", "yuecai_certified=5"]))
"""


@pytest.mark.skipif(not POSIX, reason="file modes")
def test_a_read_only_database_says_so_and_keeps_its_figures(tmp_path):
    folder = tmp_path / "只读"
    folder.mkdir()
    db = folder / "town.sqlite3"
    ready_store(db).close()
    drop = ""
    if os.geteuid() == 0:  # root ignores file modes: run the command as nobody, as a clerk without rights would
        drop = "os.setgid(65534); os.setuid(65534)"
        os.chmod(tmp_path, 0o755)
    for path in folder.iterdir():
        path.chmod(0o444)
    folder.chmod(0o555)
    try:
        env = dict(os.environ, XDG_DATA_HOME=str(folder / "data"))
        run = subprocess.run(
            [sys.executable, "-c", READ_ONLY_ENTER.format(drop=drop, db=str(db))],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
    finally:
        folder.chmod(0o755)
        for path in folder.iterdir():
            path.chmod(0o644)
    assert run.returncode == 2, run.stderr
    assert "只读" in run.stderr and "已损坏" not in run.stderr and "内部错误" not in run.stderr
    with Store(db) as store:
        assert store.figures(Q) == FULL_QUARTER


def test_a_full_disk_is_its_own_message_and_loses_nothing_committed(tmp_path, capsys):
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    db = tmp_path / "town.sqlite3"
    ready_store(db).close()

    def no_more_pages(dbapi_connection, _record):
        pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
        dbapi_connection.execute(f"PRAGMA max_page_count={pages}")

    # Every engine opened while the listener is on sees a full disk (no reaching into Store's internals).
    event.listen(Engine, "connect", no_more_pages)
    try:
        long_text = "本季度集中开班，" * 60  # 480 characters, under the 说明 limit; nine of them need new pages
        notes = [arg for code in FULL_QUARTER for arg in ("--explain", f"{code}={long_text}")]
        code = cli("--db", str(db), "enter", "--quarter", Q.code, "yuecai_certified=30", *notes)
        err = capsys.readouterr().err
        assert code == 2 and "磁盘空间不足" in err and "内部错误" not in err
        with pytest.raises(DiskFull):
            with Store(db) as store:
                store.save_quarter(Q, {"yuecai_certified": 30}, dict.fromkeys(FULL_QUARTER, long_text))
    finally:
        event.remove(Engine, "connect", no_more_pages)
    with Store(db) as store:
        assert store.figures(Q) == FULL_QUARTER and store.verify_audit().ok


# --- 7. the audit trail covers the figures --------------------------------------------------------


def test_a_figure_changed_outside_the_app_fails_the_audit_and_blocks_the_export(store, tmp_path, capsys):
    store.save_quarter(Q, FULL_QUARTER)
    with sqlite3.connect(store.path) as conn:
        conn.execute("UPDATE figures SET value = 8523 WHERE code = 'yuecai_certified' AND quarter = '2024Q3'")
    assert cli("--db", str(store.path), "audit", "verify") == 1
    out = capsys.readouterr().out
    assert "2024年第3季度" in out and "粤菜师傅" in out
    assert cli("--db", str(store.path), "export", "--quarter", Q.code, "--out", str(tmp_path), "--unsigned") == 2
    assert "修改记录校验未通过" in capsys.readouterr().err


def test_one_flipped_bit_in_a_stored_explanation_is_caught(store):
    store.save_quarter(Q, FULL_QUARTER, {"card_holders": "辖区企业外迁"})
    with sqlite3.connect(store.path) as conn:
        conn.execute("UPDATE explanations SET text = '辖区企业外迂' WHERE code = 'card_holders'")
    result = store.verify_audit()
    assert not result.ok and "说明" in result.message


def test_cutting_off_the_newest_audit_rows_is_caught_by_a_backup_or_an_export(store):
    store.save_quarter(Q, FULL_QUARTER)
    store.backup_to_rotation("测试")
    with sqlite3.connect(store.path) as conn:
        last = conn.execute("SELECT max(id) FROM audit").fetchone()[0]
        conn.execute("DELETE FROM audit WHERE id = ?", (last,))
        conn.execute("DELETE FROM figures WHERE code = 'inspection_closed'")
    result = store.verify_audit()
    assert not result.ok and "末尾" in result.message
    for path in backups_of(store.path):
        path.unlink()
    assert store.verify_audit().ok  # with no backup left, a cut tail cannot be seen: stated in docs
    store.save_quarter(Q, {"inspection_closed": 12})
    store.record_export(Q, store.reserve_revision(Q, "h"), "h", ["a.xlsx"])
    for path in backups_of(store.path):
        path.unlink()
    with sqlite3.connect(store.path) as conn:
        last = conn.execute("SELECT max(id) FROM audit").fetchone()[0]
        conn.execute("DELETE FROM audit WHERE id = ?", (last,))
    result = store.verify_audit()
    assert not result.ok and "上报" in result.message


def test_a_restore_does_not_make_older_backups_look_like_a_cut_tail(store):
    store.save_quarter(Q, FULL_QUARTER)
    early = store.backup_to_rotation("早")
    store.save_quarter(Q, {"yuecai_certified": 9})
    store.backup_to_rotation("晚")
    store.close()
    restore_database(store.path, early)
    with Store(store.path) as restored:
        check = restored.verify_audit()
        assert check.ok, check.message
        assert restored.figures(Q) == FULL_QUARTER


# --- 8. revisions and temp files ------------------------------------------------------------------


def test_a_revision_handed_to_a_killed_export_is_never_reused_for_other_content(store):
    store.save_quarter(Q, FULL_QUARTER)
    assert store.reserve_revision(Q, "content-a") == 1  # files written, then the process died
    assert store.quarter_status(Q).state == "draft"
    assert store.reserve_revision(Q, "content-a") == 1  # the same content may carry it again
    assert store.reserve_revision(Q, "content-b") == 2  # other content never does
    assert store.reserve_revision(Q, "content-a") == 3


def test_leftover_temp_files_are_removed_at_the_next_write(store, tmp_path):
    from actions.returns import export_return

    out = tmp_path / "上报 文件夹"
    out.mkdir()
    leftovers = [out / ".2024Q3_莞城_季报.pdf.abc123.part", out / ".2024Q3_莞城_季报.pdf.abc123.part.unsigned"]
    for path in leftovers:
        path.write_bytes(b"half")
    folder = store.path.parent / "backups"
    folder.mkdir(exist_ok=True)
    backup_part = folder / "town_20241001-000000-000000_每日.sqlite3.part"
    backup_part.write_bytes(b"half")
    from tests.helpers import on_pace_history

    for quarter, values in on_pace_history(last=Q).items():
        store.save_quarter(quarter, values)
    export_return(store, Q, out)
    assert not any(p.exists() for p in leftovers)
    cli("--db", str(store.path), "enter", "--quarter", Q.code, "yuecai_certified=8")
    assert not backup_part.exists()


# --- 9. a backup is a file anybody can hand you ---------------------------------------------------


@pytest.mark.parametrize(
    "addition",
    [
        "CREATE TRIGGER sneaky AFTER INSERT ON figures BEGIN UPDATE figures SET value = 0; END",
        "CREATE VIEW totals AS SELECT sum(value) FROM figures",
        "CREATE TABLE extra (x)",
        "CREATE INDEX figures_by_value ON figures (value)",
    ],
    ids=["trigger", "view", "table", "index"],
)
def test_a_backup_whose_schema_is_not_the_apps_is_refused(store, tmp_path, addition):
    store.save_quarter(Q, FULL_QUARTER)
    backup = tmp_path / "别人给的备份.sqlite3"
    store.backup(backup)
    with sqlite3.connect(backup) as conn:
        conn.execute(addition)
    store.close()
    before = store.path.read_bytes()
    with pytest.raises(RestoreRefused, match="数据库结构与本软件建立的不一致"):
        restore_database(store.path, backup)
    assert store.path.read_bytes() == before


def test_the_app_warns_at_start_up_when_a_figure_was_changed_outside_it(qapp, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from gui.app import open_session

    db = tmp_path / "town.sqlite3"
    ready_store(db).close()
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE figures SET value = 8523 WHERE code = 'yuecai_certified'")
    warned = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: warned.append(a[2]))
    session = open_session(db)
    try:
        assert warned and "粤菜师傅" in warned[0] and "本软件之外" in warned[0]
    finally:
        session.window.close()
        session.close()


# --- found by attacking the above from outside ----------------------------------------------------


def test_a_byte_that_is_not_utf8_is_reported_by_the_audit_not_a_crash(store, capsys):
    store.save_quarter(Q, FULL_QUARTER, {"card_holders": "辖区企业外迁"})
    with sqlite3.connect(store.path) as conn:
        conn.execute("UPDATE explanations SET text = CAST(X'E8BE96FF' AS TEXT) WHERE code = 'card_holders'")
    assert cli("--db", str(store.path), "audit", "verify") == 1
    assert "说明" in capsys.readouterr().out
    assert cli("--db", str(store.path), "history") == 0


def test_a_deleted_or_changed_database_id_does_not_hide_a_cut_tail(store):
    store.save_quarter(Q, FULL_QUARTER)
    store.backup_to_rotation("每日")
    with sqlite3.connect(store.path) as conn:
        last = conn.execute("SELECT max(id) FROM audit").fetchone()[0]
        conn.execute("DELETE FROM audit WHERE id = ?", (last,))
        conn.execute("DELETE FROM figures WHERE code = 'inspection_closed'")
        conn.execute("DELETE FROM meta WHERE key = 'db.id'")
    store.close()
    with Store(store.path) as reopened:  # the id comes back from the trail, and with it the backups
        assert not reopened.verify_audit().ok
    with sqlite3.connect(store.path) as conn:
        conn.execute("UPDATE meta SET value = 'town-returns-db:' || printf('%032d', 0) WHERE key = 'db.id'")
    with Store(store.path) as reopened:
        result = reopened.verify_audit()
        assert not result.ok and "数据库编号" in result.message


def test_a_submitted_quarter_cannot_be_unlocked_by_deleting_its_status(store):
    store.save_quarter(Q, FULL_QUARTER)
    store.record_export(Q, store.reserve_revision(Q, "h"), "h", ["a.xlsx"])
    with sqlite3.connect(store.path) as conn:
        conn.execute("DELETE FROM quarter_status")
    result = store.verify_audit()
    assert not result.ok and "上报状态" in result.message


def test_a_revision_given_out_before_a_restore_is_not_given_again(store, tmp_path):
    store.save_quarter(Q, FULL_QUARTER)
    before = tmp_path / "before.sqlite3"
    store.backup(before)
    store.record_export(Q, store.reserve_revision(Q, "first"), "first", ["a.xlsx"])
    store.close()
    restore_database(store.path, before)
    with Store(store.path) as restored:
        assert restored.quarter_status(Q).state == "draft"
        assert restored.reserve_revision(Q, "other content") == 2


@pytest.mark.skipif(not POSIX, reason="symlinks need privileges on Windows")
def test_a_restore_through_a_symlink_replaces_the_real_file(tmp_path):
    real = tmp_path / "real dir" / "town.sqlite3"
    real.parent.mkdir()
    with ready_store(real) as store:
        backup = store.backup_to_rotation("测试")
        store.save_quarter(Q, {"yuecai_certified": 99})
    link = tmp_path / "桌面" / "镇街数据.sqlite3"
    link.parent.mkdir()
    link.symlink_to(real)
    restore_database(link, backup)
    assert link.is_symlink()
    with Store(real) as store:
        assert store.figures(Q)["yuecai_certified"] == FULL_QUARTER["yuecai_certified"]


def test_an_empty_file_keeps_its_wal_when_it_is_kept_aside(tmp_path):
    db = tmp_path / "town.sqlite3"
    with ready_store(db) as store:
        backup = store.backup_to_rotation("测试")
    Path(f"{db}-wal").write_bytes(b"committed frames" * 500)
    db.write_bytes(b"")
    wal = Path(f"{db}-wal").read_bytes()
    kept = restore_database(db, backup)
    assert kept is not None and (kept / f"{db.name}-wal").read_bytes() == wal


def test_the_identity_note_does_not_outvote_the_id_inside_a_damaged_file(tmp_path, capsys):
    ours, theirs = tmp_path / "a.sqlite3", tmp_path / "b.sqlite3"
    ready_store(ours).close()
    with ready_store(theirs, "南城") as other:
        their_backup = other.backup_to_rotation("南城")
    data = bytearray(ours.read_bytes())
    data[:100] = b"\x00" * 100
    ours.write_bytes(bytes(data))
    identity_file(ours).write_text(identity_file(theirs).read_text(encoding="utf-8"), encoding="utf-8")
    assert cli("--db", str(ours), "restore", str(their_backup)) == 2
    assert "另一个数据库" in capsys.readouterr().err


def test_a_copy_bound_to_another_town_gets_its_own_id(tmp_path):
    first = tmp_path / "a.sqlite3"
    Store(first).close()
    second = tmp_path / "b.sqlite3"
    shutil.copy(first, second)
    with Store(first) as a, Store(second) as b:
        a.bind_town("莞城")
        a.set_profile(signed_off_profile())
        b.bind_town("南城")
        b.set_profile(signed_off_profile())
        assert a.db_id() != b.db_id()


def test_a_missing_database_with_its_identity_note_is_damage_and_restorable(tmp_path, capsys):
    db = tmp_path / "town.sqlite3"
    with ready_store(db) as store:
        store.backup_to_rotation("测试")
    db.rename(tmp_path / "moved.sqlite3")
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    assert cli("--db", str(db), "status") == 2
    err = capsys.readouterr().err
    assert "不见了" in err and "restore" in err
    assert not db.exists()
    good = newest_good_backup(db)
    assert cli("--db", str(db), "restore", str(good)) == 0
    with Store(db) as store:
        assert store.figures(Q) == FULL_QUARTER


def test_a_folder_as_the_database_path_says_so(tmp_path, capsys):
    assert cli("--db", str(tmp_path), "status") == 2
    assert "是一个文件夹" in capsys.readouterr().err


def test_a_base_changed_outside_the_app_fails_the_audit(store):
    plan = store.plan_for(Q)
    store.set_stock_base(plan, "card_holders", 140_000)
    assert store.verify_audit().ok
    with sqlite3.connect(store.path) as conn:
        conn.execute("UPDATE stock_bases SET value = 100000")
    result = store.verify_audit()
    assert not result.ok and "基期数" in result.message


def test_the_skeleton_window_offers_the_newest_good_backup_too(zeroed_with_a_backup):
    """Start-up paints the window first and opens the database after: the restore offer still comes."""
    from gui.app import make_application, start_session

    make_application()
    db, asked, told = zeroed_with_a_backup
    starting = start_session(db)
    assert not starting.skeleton.isEnabled()
    session = starting.finish()
    assert session is not None and "已损坏" in asked[0] and "原样另存" in told[0]
    try:
        assert session.store.figures(Q) == FULL_QUARTER and session.window.isEnabled()
    finally:
        session.window.close()
        session.close()
