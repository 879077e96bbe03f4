"""Issue 24: a wrong clock on the office PC never costs a figure, never raises a false tamper alarm and
never decides which backup is the newest. Time is set for a whole process with libfaketime (the
`faketime` command) where the scenario runs the command line, or injected where it runs in-process."""

import sqlite3
from datetime import datetime
from pathlib import Path

import pytest

import storage.backup as backup_module
from core.quarters import Quarter
from storage.backup import backup_folder, backup_to_rotation, backups_of, newest_good_backup
from storage.store import Store
from tests.helpers import FULL_QUARTER, TODAY, needs_faketime, run_main

Q = Quarter(2024, 3)
PROJECT = Path(__file__).resolve().parent.parent
def figure(db: Path, code: str, quarter: Quarter = Q) -> int | None:
    conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT value FROM figures WHERE quarter = ? AND code = ?", (quarter.code, code)).fetchone()
        return row[0] if row else None
    finally:
        conn.close()


@pytest.fixture
def town(tmp_path):
    db = tmp_path / "镇街 数据" / "town.sqlite3"
    db.parent.mkdir()
    with Store(db, today=lambda: TODAY) as store:
        store.bind_town("莞城")
        store.save_quarter(Q, FULL_QUARTER)
    return db


class FixedClock(datetime):
    moment = datetime(2020, 3, 1, 10, 0, 0)

    @classmethod
    def now(cls, tz=None):
        return cls.moment if tz is None else cls.moment.astimezone(tz)


@needs_faketime
def test_a_restore_with_the_clock_behind_keeps_the_replaced_database(town):
    for _ in range(30):
        backup_to_rotation(town, "测试")
    oldest = backups_of(town)[-1]
    assert run_main(town, "enter", "--quarter", Q.code, "yuecai_certified=36", "nanyue_trained=71").returncode == 0

    restored = run_main(town, "restore", str(oldest), clock="@2020-03-01 10:00:00")
    assert restored.returncode == 0, restored.stderr
    kept = [path for path in backups_of(town) if "恢复前" in path.name]
    assert len(kept) == 1, "the copy made before the restore was removed by rotation"
    assert str(kept[0].name) in restored.stdout, "the restore names the copy it kept"
    assert figure(kept[0], "yuecai_certified") == 36 and figure(kept[0], "nanyue_trained") == 71
    # Later backups in rotation never push the kept copy out.
    for _ in range(35):
        backup_to_rotation(town, "测试")
    assert kept[0].exists()


@needs_faketime
def test_saving_with_the_clock_ahead_then_restoring_raises_no_false_tamper_alarm(town):
    early = backup_to_rotation(town, "测试")
    assert early is not None
    assert run_main(town, "enter", "--quarter", Q.code, "yuecai_certified=36", clock="+1h").returncode == 0
    assert run_main(town, "enter", "--quarter", Q.code, "nanyue_trained=71", clock="+1h").returncode == 0
    assert run_main(town, "restore", str(early)).returncode == 0  # the clock is right again
    checked = run_main(town, "audit", "verify")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert run_main(town, "enter", "--quarter", Q.code, "yuecai_certified=40").returncode == 0
    assert run_main(town, "audit", "verify").returncode == 0


def test_cutting_the_tail_is_still_caught_after_the_ordering_by_sequence(town):
    backup_to_rotation(town, "测试")
    with Store(town, today=lambda: TODAY) as store:
        store.save_quarter(Q, {"yuecai_certified": 36})
    backup_to_rotation(town, "测试")
    conn = sqlite3.connect(town)
    with conn:
        last = conn.execute("SELECT max(id) FROM audit").fetchone()[0]
        conn.execute("DELETE FROM audit WHERE id = ?", (last,))
        conn.execute(
            "UPDATE figures SET value = ? WHERE quarter = ? AND code = 'yuecai_certified'",
            (FULL_QUARTER["yuecai_certified"], Q.code),
        )
    conn.close()
    with Store(town, today=lambda: TODAY) as store:
        check = store.verify_audit()
    assert not check.ok and "末尾被删除" in check.message


def test_the_newest_backup_is_the_latest_state_not_the_latest_name(town, monkeypatch):
    monkeypatch.setattr(backup_module, "datetime", type("AYearAhead", (FixedClock,), {"moment": datetime(2027, 12, 1)}))
    ahead = backup_to_rotation(town, "每日")
    monkeypatch.undo()
    with Store(town, today=lambda: TODAY) as store:
        store.save_quarter(Q, {"yuecai_certified": 36})
    latest = backup_to_rotation(town, "每日")
    assert ahead is not None and latest is not None and ahead.name > latest.name
    assert newest_good_backup(town) == latest
    assert backups_of(town)[0] == latest


def test_backups_made_with_the_clock_behind_are_not_rotated_away(town, monkeypatch):
    for _ in range(30):
        backup_to_rotation(town, "测试")
    with Store(town, today=lambda: TODAY) as store:
        store.save_quarter(Q, {"yuecai_certified": 36})
    monkeypatch.setattr(backup_module, "datetime", FixedClock)
    daily = backup_to_rotation(town, "每日")
    before_submission = backup_to_rotation(town, "上报前")
    assert daily is not None and daily.exists()
    assert before_submission is not None and before_submission.exists()
    assert len(backups_of(town)) == 30
    assert figure(backups_of(town)[0], "yuecai_certified") == 36


def test_a_long_chinese_database_name_still_gets_its_backups(tmp_path):
    db = tmp_path / ("东莞市人力资源和社会保障局莞城分局镇街人社指标填报系统数据库" * 3)[:75]
    db = db.with_name(db.name + ".sqlite3")
    with Store(db, today=lambda: TODAY) as store:
        store.bind_town("莞城")
        store.save_quarter(Q, FULL_QUARTER)
        made = store.backup_to_rotation("每日")
        again = store.backup_to_rotation("每日")
    assert made is not None and made.exists() and again is not None and again.exists()
    assert made.parent == backup_folder(db)
    assert len(made.name.encode()) < 255
    assert made.name.split("_")[0] == again.name.split("_")[0], "a stable short name for the same database"
    assert set(backups_of(db)) == {made, again}
