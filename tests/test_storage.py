import sqlite3

import pytest

from core.errors import DomainError, PlanError, TownError
from core.plans import load_shipped_plan
from core.quarters import Quarter
from storage.migrate import DatabaseError, DatabaseTooNew, head_revision
from storage.store import Profile, SaveRefused, Store
from tests.helpers import FULL_QUARTER, TODAY

Q = Quarter(2024, 3)


def test_a_new_database_is_created_at_head_with_the_shipped_plan(db_path):
    with Store(db_path, today=lambda: TODAY) as store:
        assert store.town() is None
        assert [p.name for p in store.plans()] == [load_shipped_plan().name]
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] == head_revision()
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"meta", "towns", "plans", "targets", "figures", "explanations", "audit"} <= tables
    assert conn.execute("SELECT count(*) FROM towns").fetchone()[0] == 33
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_connection_settings(store):
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_a_database_from_a_newer_app_is_refused_and_left_untouched(db_path):
    Store(db_path).close()
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE alembic_version SET version_num = '9999_future'")
    conn.commit()
    conn.close()
    before = db_path.read_bytes()
    with pytest.raises(DatabaseTooNew) as caught:
        Store(db_path)
    assert "更新版本" in caught.value.message
    assert db_path.read_bytes() == before


def test_a_file_that_is_not_a_database_is_refused(tmp_path):
    path = tmp_path / "notes.sqlite3"
    path.write_text("这不是数据库" * 100, encoding="utf-8")
    before = path.read_bytes()
    with pytest.raises(DatabaseError):
        Store(path)
    assert path.read_bytes() == before


def test_a_foreign_sqlite_database_is_refused(tmp_path):
    path = tmp_path / "other.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE x (a)")
    conn.commit()
    conn.close()
    with pytest.raises(DatabaseError, match="不是本系统"):
        Store(path)


def test_binding_is_once(store):
    assert store.bind_town("莞城") == "莞城"  # the same town again is fine
    with pytest.raises(TownError, match="已绑定莞城"):
        store.bind_town("石龙")
    with pytest.raises(TownError, match="可选"):
        Store(store.path.parent / "x.sqlite3").bind_town("广州")


def test_saving_needs_a_town(db_path):
    with Store(db_path) as store, pytest.raises(TownError, match="尚未绑定"):
        store.save_quarter(Q, {"card_holders": 1})


def test_save_and_read_back(store):
    store.save_quarter(Q, FULL_QUARTER, {"mediation_success_rate": "说明文字六个字以上"})
    assert store.figures(Q) == FULL_QUARTER
    assert store.explanations(Q) == {"mediation_success_rate": "说明文字六个字以上"}
    assert store.history() == {Q: FULL_QUARTER}


def test_a_bad_value_among_good_ones_saves_nothing(store):
    store.save_quarter(Q, {"card_holders": 150_000, "mediation_cases": 10, "mediation_success": 5})
    audit_before = len(store.audit_trail())
    with pytest.raises(SaveRefused) as caught:
        store.save_quarter(Q, {"card_holders": 160_000, "yuecai_certified": 30, "mediation_success": 11})
    assert "调解成功案件数" in caught.value.message
    assert store.figures(Q) == {"card_holders": 150_000, "mediation_cases": 10, "mediation_success": 5}
    assert len(store.audit_trail()) == audit_before


def test_unknown_codes_are_refused(store):
    with pytest.raises(DomainError, match="未知指标"):
        store.save_quarter(Q, {"card_holder": 1})


def test_blank_clears_a_figure_and_is_audited(store):
    store.save_quarter(Q, {"yuecai_certified": 12})
    store.save_quarter(Q, {"yuecai_certified": None})
    assert "yuecai_certified" not in store.figures(Q)
    last = store.audit_trail(Q, "yuecai_certified")[-1]
    assert (last.old_value, last.new_value) == ("12", None)


def test_every_change_is_audited_with_who_and_old_and_new(store):
    store.set_profile(Profile(unit_name="莞城街道人社分局", preparer="李四"))
    store.save_quarter(Q, {"card_holders": 150_000})
    store.save_quarter(Q, {"card_holders": 151_000, "yuecai_certified": 3})
    store.save_quarter(Q, {"card_holders": 151_000})  # no change, no row
    rows = store.audit_trail(Q, "card_holders")
    assert [(r.old_value, r.new_value) for r in rows] == [(None, "150000"), ("150000", "151000")]
    assert all(r.clerk == "李四" and r.os_user and r.at.startswith("20") for r in rows)
    assert store.verify_audit().ok


def test_audit_chain_reports_the_first_row_altered_outside_the_app(store):
    for n in range(5):
        store.save_quarter(Q, {"card_holders": 150_000 + n})
    assert store.verify_audit().ok
    conn = sqlite3.connect(store.path)
    conn.execute("UPDATE audit SET new_value = '999999' WHERE id = 5")
    conn.commit()
    result = store.verify_audit()
    assert not result.ok and result.first_bad_id == 5 and "改动" in result.message


def test_audit_chain_reports_a_deleted_row(store):
    for n in range(4):
        store.save_quarter(Q, {"card_holders": 150_000 + n})
    conn = sqlite3.connect(store.path)
    conn.execute("DELETE FROM audit WHERE id = 3")
    conn.commit()
    result = store.verify_audit()
    assert not result.ok and result.first_bad_id == 4


def test_importing_a_plan_for_another_period(store):
    shipped = load_shipped_plan()
    from dataclasses import replace

    next_plan = replace(shipped, name="十五五", first=Quarter(2026, 1), last=Quarter(2030, 4))
    assert store.import_plan(next_plan) is False
    assert store.plan_for(Quarter(2027, 2)).name == "十五五"
    assert store.plan_for(Quarter(2024, 2)).name == shipped.name
    assert store.plan_for(Quarter(2031, 1)) is None
    assert store.import_plan(next_plan) is True  # the same name again replaces it
    overlapping = replace(shipped, name="别的规划", first=Quarter(2025, 1), last=Quarter(2026, 4))
    with pytest.raises(PlanError, match="重叠"):
        store.import_plan(overlapping)


def test_profile_round_trip(store):
    profile = Profile("莞城街道人社分局", "张三", "王五", "李四", "0769-12345678")
    store.set_profile(profile)
    assert store.profile() == profile


def test_revision_ids_match_alembic():
    from alembic.script import ScriptDirectory

    from storage.migrate import alembic_config, head_revision, known_revisions

    scripts = ScriptDirectory.from_config(alembic_config())
    assert head_revision() == scripts.get_current_head()
    assert known_revisions() == {s.revision for s in scripts.walk_revisions()}


# --- a database edited outside the program is told in words, never a crash (found by an outside attack)


def edited(tmp_path, sql: str):
    db = tmp_path / "town.sqlite3"
    with Store(db, today=lambda: TODAY) as store:
        store.bind_town("莞城")
        store.save_quarter(Quarter(2024, 3), FULL_QUARTER, {"card_holders": "已核实"})
    conn = sqlite3.connect(db)
    conn.execute(sql)
    conn.commit()
    conn.close()
    return db


@pytest.mark.parametrize(
    ("sql", "named"),
    [
        ("DROP TABLE explanations", "缺少数据表 explanations"),
        ("ALTER TABLE figures DROP COLUMN updated_at", "数据表 figures 缺少列 updated_at"),
        ("DELETE FROM plans", "数据前后不一致"),  # its targets left behind (sqlite3 enforces no foreign keys)
    ],
)
def test_a_table_or_column_dropped_outside_the_program_is_damage(tmp_path, capsys, sql, named):
    from cli import main
    from storage.errors import DatabaseDamaged

    db = edited(tmp_path, sql)
    with pytest.raises(DatabaseDamaged, match=named):
        Store(db, today=lambda: TODAY)
    assert main(["--db", str(db), "status"]) != 0
    err = capsys.readouterr().err
    assert named in err and "Traceback" not in err


def test_a_town_edited_to_no_town_of_the_city_is_refused_in_words(tmp_path, capsys):
    from cli import main

    db = edited(tmp_path, "UPDATE meta SET value = '火星' WHERE key = 'town'")
    with Store(db, today=lambda: TODAY) as store, pytest.raises(TownError, match="“火星”不是本市的镇街"):
        store.require_town()
    assert main(["--db", str(db), "status"]) == 2
    assert "不是本市的镇街" in capsys.readouterr().err


def test_a_status_row_edited_outside_the_program_does_not_hide_a_change_since_the_export(tmp_path):
    db = tmp_path / "town.sqlite3"
    with Store(db, today=lambda: TODAY) as store:
        store.bind_town("莞城")
        store.save_quarter(Quarter(2024, 1), FULL_QUARTER)
        store.save_quarter(Quarter(2024, 2), FULL_QUARTER)
        revision = store.reserve_revision(Quarter(2024, 2), "a" * 64)
        store.record_export(Quarter(2024, 2), revision, "a" * 64, ["2024Q2.xlsx"])
        store.save_quarter(Quarter(2024, 1), dict(FULL_QUARTER, yuecai_certified=FULL_QUARTER["yuecai_certified"] + 5))
        assert store.quarter_status(Quarter(2024, 2)).state == "stale"
    conn = sqlite3.connect(db)
    conn.execute("UPDATE quarter_status SET audit_id = NULL, audit_hash = NULL")
    conn.commit()
    conn.close()
    with Store(db, today=lambda: TODAY) as store:
        assert store.quarter_status(Quarter(2024, 2)).state == "stale"
