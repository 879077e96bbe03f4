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
