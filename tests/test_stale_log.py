"""Issue 24: a write-ahead log left by a crash is replayed into its own file, and set aside — never
replayed — when the file beside it was replaced by another copy of the database."""

import shutil
import subprocess
import sys
from pathlib import Path

from core.quarters import Quarter
from storage.store import Store
from tests.helpers import FULL_QUARTER, TODAY

Q = Quarter(2024, 3)
PROJECT = Path(__file__).resolve().parent.parent

SAVE_AND_DIE = """
import os, sys
from pathlib import Path
from core.quarters import Quarter
from storage.lock import DatabaseLock
from storage.store import Store
db = Path(sys.argv[1])
lock = DatabaseLock(db, "测试").acquire()
store = Store(db)
store.save_quarter(Quarter(2024, 3), {sys.argv[2]: int(sys.argv[3])})
os._exit(9)  # killed with the save only in the write-ahead log
"""


def save_and_die(db: Path, code: str, value: int) -> None:
    finished = subprocess.run([sys.executable, "-c", SAVE_AND_DIE, str(db), code, str(value)], cwd=PROJECT)
    assert finished.returncode == 9
    assert Path(f"{db}-wal").stat().st_size > 0, "the killed writer left its save in the log"


def make_town(db: Path) -> None:
    with Store(db, today=lambda: TODAY) as store:
        store.bind_town("莞城")
        store.save_quarter(Q, FULL_QUARTER)


def test_a_log_left_by_a_crash_is_replayed_into_its_own_file(tmp_path):
    db = tmp_path / "镇街 数据库.sqlite3"
    make_town(db)
    save_and_die(db, "yuecai_certified", 36)
    with Store(db, today=lambda: TODAY) as store:
        assert store.set_aside is None
        assert store.figures(Q)["yuecai_certified"] == 36
        assert store.verify_audit().ok
    assert not list((tmp_path / "backups").glob("未并入的日志_*"))


def test_a_log_beside_a_copy_from_another_pc_is_set_aside_not_replayed(tmp_path):
    db = tmp_path / "镇街 数据库.sqlite3"
    make_town(db)
    other_pc = tmp_path / "另一台电脑" / "镇街 数据库.sqlite3"
    other_pc.parent.mkdir()
    shutil.copy(db, other_pc)
    with Store(other_pc, today=lambda: TODAY) as store:  # three changes made on the other PC
        store.save_quarter(Q, {"card_holders": 210000, "nanyue_trained": 80, "mediation_cases": 55})
    save_and_die(db, "yuecai_certified", 36)  # this PC crashes with a save only in its log
    crashed_log = Path(f"{db}-wal").read_bytes()
    shutil.copy(other_pc, db)  # the clerk copies the up-to-date file from the other PC into the folder

    with Store(db, today=lambda: TODAY) as store:
        assert store.set_aside is not None
        figures = store.figures(Q)
        assert (figures["card_holders"], figures["nanyue_trained"], figures["mediation_cases"]) == (210000, 80, 55)
        assert figures["yuecai_certified"] == FULL_QUARTER["yuecai_certified"]
        assert store.verify_audit().ok
    aside = store.set_aside
    assert aside.parent == tmp_path / "backups"
    # The crashed save is kept byte for byte, beside the file it was found with: nothing of either copy is lost.
    assert (aside / f"{db.name}-wal").read_bytes() == crashed_log
    assert (aside / db.name).read_bytes() == other_pc.read_bytes()


def test_a_read_command_beside_a_crashed_writer_s_log_keeps_its_save(tmp_path):
    db = tmp_path / "town.sqlite3"
    make_town(db)
    save_and_die(db, "yuecai_certified", 36)
    finished = subprocess.run(
        [sys.executable, "main.py", "--db", str(db), "status"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        encoding="utf-8",
    )
    assert finished.returncode == 0, finished.stderr
    with Store(db, today=lambda: TODAY) as store:
        assert store.figures(Q)["yuecai_certified"] == 36


def test_a_log_beside_an_older_copy_of_the_same_database_is_set_aside(tmp_path):
    """Found from outside: an older copy (a backup, a copy kept on a USB stick) put back over the file
    after a crash took the newer state's log, and SQLite wrote its pages over the older file."""
    db = tmp_path / "镇街 数据库.sqlite3"
    make_town(db)
    older = tmp_path / "older.sqlite3"
    shutil.copy(db, older)
    with Store(db, today=lambda: TODAY) as store:
        for year in (2021, 2022, 2023):
            for q in (1, 2, 3, 4):
                store.save_quarter(Quarter(year, q), FULL_QUARTER)
        store.save_quarter(Q, {"nanyue_trained": 80}, {"nanyue_trained": "培训班次比上季度增加"})
    save_and_die(db, "yuecai_certified", 111)
    shutil.copy(older, db)

    with Store(db, today=lambda: TODAY) as store:
        assert store.set_aside is not None
        assert store.figures(Q) == FULL_QUARTER
        assert store.figures(Quarter(2022, 1)) == {}
        assert store.verify_audit().ok


def test_a_log_left_beside_a_backup_is_never_read_into_it(tmp_path):
    """Found from outside: a crashed writer's log copied beside a backup made `audit verify` call the
    intact database's tail cut, and a restore read the log into the backup."""
    db = tmp_path / "town.sqlite3"
    make_town(db)
    with Store(db, today=lambda: TODAY) as store:
        backup = store.backup_to_rotation("上报前")
        store.save_quarter(Q, {"nanyue_trained": 80})
    assert backup is not None
    save_and_die(db, "yuecai_certified", 111)
    shutil.copy(Path(f"{db}-wal"), Path(f"{backup}-wal"))
    before = backup.read_bytes()
    with Store(db, today=lambda: TODAY) as store:
        assert store.verify_audit().ok
        assert store.figures(Q)["yuecai_certified"] == 111
    finished = subprocess.run(
        [sys.executable, "main.py", "--db", str(db), "restore", str(backup)], cwd=PROJECT, capture_output=True, text=True
    )
    assert finished.returncode == 0, finished.stderr
    with Store(db, today=lambda: TODAY) as store:
        assert store.figures(Q) == FULL_QUARTER  # the backup as it was made, not the log beside it
        assert store.verify_audit().ok
    assert backup.read_bytes() == before
    assert not Path(f"{backup}-shm").exists()
