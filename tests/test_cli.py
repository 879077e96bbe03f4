import json
import subprocess
import sys

import pytest

from cli import main
from tests.helpers import ROOT


@pytest.fixture
def db(tmp_path, capsys):
    path = tmp_path / "cli.sqlite3"
    assert main(["--db", str(path), "init", "--town", "莞城"]) == 0
    capsys.readouterr()
    return path


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow
def test_the_real_command_line_runs(tmp_path):
    db = tmp_path / "real.sqlite3"
    done = subprocess.run(
        [sys.executable, "main.py", "init", "--db", str(db), "--town", "石龙", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["town"] == "石龙"


def test_init_refuses_unknown_and_second_town(capsys, tmp_path, db):
    code, _, err = run(capsys, "init", "--db", tmp_path / "n.sqlite3", "--town", "广州")
    assert code == 2 and "莞城、石龙" in err
    code, _, err = run(capsys, "--db", db, "init", "--town", "石龙")
    assert code == 2 and "已绑定莞城" in err


def test_db_can_come_from_the_environment(capsys, tmp_path, monkeypatch):
    path = tmp_path / "env.sqlite3"
    monkeypatch.setenv("TOWN_RETURNS_DB", str(path))
    code, _, _ = run(capsys, "init", "--town", "虎门")
    assert code == 0 and path.exists()


def test_enter_accepts_full_width_and_commas(capsys, db):
    code, out, err = run(
        capsys,
        "--db",
        db,
        "enter",
        "--quarter",
        "2024年第3季度",
        "card_holders=１７０，０００",
        "yuecai_certified=1,234",
        "mediation_cases= 12 ",
    )
    assert code == 0, err
    code, out, _ = run(capsys, "--db", db, "progress", "--quarter", "2024Q3", "--json")
    data = json.loads(out)
    assert data["indicators"]["card_holders"]["actual"] == 170_000
    assert data["indicators"]["yuecai_certified"]["quarter"] == 1_234


def test_enter_with_any_error_saves_nothing(capsys, db):
    code, _, err = run(
        capsys,
        "--db",
        db,
        "enter",
        "--quarter",
        "2024Q3",
        "card_holders=170000",
        "mediation_cases=10",
        "mediation_success=11",
        "nanyue_trained=1.5",
    )
    assert code == 2
    assert "调解成功案件数 11 大于" in err and "小数" in err
    code, out, _ = run(capsys, "--db", db, "progress", "--quarter", "2024Q3", "--json")
    assert json.loads(out)["indicators"]["card_holders"]["actual"] is None


def test_enter_refuses_a_quarter_not_yet_begun(capsys, db):
    code, _, err = run(capsys, "--db", db, "enter", "--quarter", "2099Q1", "card_holders=1")
    assert code == 2 and "尚未开始" in err


def test_enter_with_unknown_code(capsys, db):
    code, _, err = run(capsys, "--db", db, "enter", "--quarter", "2024Q3", "cards=1")
    assert code == 2 and "未知指标代码" in err


def test_check_json_and_exit_code(capsys, db):
    run(capsys, "--db", db, "enter", "--quarter", "2024Q3", "mediation_cases=10", "mediation_success=5")
    code, out, _ = run(capsys, "--db", db, "check", "--quarter", "2024Q3", "--json")
    assert code == 0
    findings = json.loads(out)
    assert all({"level", "rule", "indicator", "message"} <= set(f) for f in findings)
    below = [f for f in findings if f["rule"] == "rate_below_target"]
    assert below and below[0]["level"] == "warning" and below[0]["indicator"] == "mediation_success_rate"


def test_check_exits_1_on_an_error(capsys, db):
    code, out, _ = run(capsys, "--db", db, "check", "--quarter", "2099Q1", "--json")
    assert code == 1
    assert any(f["level"] == "error" and f["rule"] == "quarter_not_begun" for f in json.loads(out))


def test_progress_json_shape(capsys, db):
    run(
        capsys,
        "--db",
        db,
        "enter",
        "--quarter",
        "2021Q1",
        "yuecai_certified=7",
        "mediation_cases=100",
        "mediation_success=78",
        "inspection_carried=0",
        "inspection_received=0",
        "inspection_closed=0",
    )
    code, out, _ = run(capsys, "--db", db, "progress", "--quarter", "2021Q1", "--json")
    data = json.loads(out)
    assert data["town"] == "莞城" and data["quarter"] == "2021Q1" and data["time_progress"] == 0.05
    yuecai = data["indicators"]["yuecai_certified"]
    assert yuecai["target"] == 154 and yuecai["actual"] == 7 and yuecai["status"] == "滞后"  # 4.5% < 5%
    assert yuecai["completion"] == pytest.approx(7 / 154, abs=1e-6)
    mediation = data["indicators"]["mediation_success_rate"]
    assert (
        mediation["numerator"],
        mediation["denominator"],
        mediation["rate"],
        mediation["target"],
        mediation["met"],
    ) == (
        78,
        100,
        0.78,
        0.78,
        True,
    )
    inspection = data["indicators"]["inspection_closure_rate"]
    assert inspection["rate"] is None and inspection["met"] is None and inspection["denominator"] == 0


def test_progress_text_says_no_cases(capsys, db):
    run(capsys, "--db", db, "enter", "--quarter", "2021Q1", "inspection_carried=0", "inspection_received=0", "inspection_closed=0")
    _, out, _ = run(capsys, "--db", db, "progress", "--quarter", "2021Q1")
    assert "无案件" in out and "时间进度 5.0%" in out


def test_history_and_explanations(capsys, db):
    run(
        capsys,
        "--db",
        db,
        "enter",
        "--quarter",
        "2024Q3",
        "card_holders=1000",
        "--explain",
        "card_holders=街道户籍迁出较多",
    )
    run(capsys, "--db", db, "enter", "--quarter", "2024Q3", "card_holders=2000")
    code, out, _ = run(capsys, "--db", db, "history", "--quarter", "2024Q3", "--indicator", "card_holders", "--json")
    rows = json.loads(out)
    assert [(r["action"], r["old_value"], r["new_value"]) for r in rows] == [
        ("set_figure", None, "1000"),
        ("set_explanation", None, "街道户籍迁出较多"),
        ("set_figure", "1000", "2000"),
    ]
    code, out, _ = run(capsys, "--db", db, "history")
    assert code == 0 and "修改数值" in out and "1000 → 2000" in out


def test_targets_import_is_closed_and_targets_list_still_lists(capsys, db, tmp_path):
    source = (ROOT / "resources" / "plans" / "targets_2021_2025.csv").read_text(encoding="utf-8")
    path = tmp_path / "targets_2026_2030.csv"
    path.write_text(source, encoding="utf-8")
    code, out, err = run(capsys, "--db", db, "targets", "import", path, "--name", "十五五规划")
    assert code == 2 and "已停用" in err and "plan import" in err
    code, out, _ = run(capsys, "--db", db, "targets", "list", "--json")
    assert [p["name"] for p in json.loads(out)] == ["东莞市人力资源和社会保障事业发展“十四五”规划"]
    code, out, _ = run(capsys, "--db", db, "targets", "list")
    assert code == 0 and "十四五" in out and "社会保障卡持卡人数（季末数） 10,257,293" in out


def test_audit_verify_exit_codes(capsys, db):
    run(capsys, "--db", db, "enter", "--quarter", "2024Q3", "card_holders=1000")
    assert run(capsys, "--db", db, "audit", "verify")[0] == 0
    import sqlite3

    conn = sqlite3.connect(db)
    conn.execute("UPDATE audit SET new_value='5' WHERE action='set_figure'")
    conn.commit()
    code, out, _ = run(capsys, "--db", db, "audit", "verify")
    assert code == 1 and "改动" in out


def test_newer_database_refused_on_the_command_line(capsys, db):
    import sqlite3

    conn = sqlite3.connect(db)
    conn.execute("UPDATE alembic_version SET version_num='future'")
    conn.commit()
    conn.close()
    code, _, err = run(capsys, "--db", db, "progress")
    assert code == 2 and "更新版本" in err


def test_bad_usage_is_exit_2_in_chinese(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["enter"])
    assert caught.value.code == 2
    assert "命令用法有误" in capsys.readouterr().err


def test_many_commands_in_one_process_keep_one_log_file_open(tmp_path):
    """Issue 23: a handler was added per cli.main() call (316 open log files in one test run)."""
    import logging
    from logging.handlers import RotatingFileHandler

    db = tmp_path / "town.sqlite3"
    for _ in range(5):
        main(["--db", str(db), "status"])
    handlers = [h for h in logging.getLogger().handlers if isinstance(h, RotatingFileHandler)]
    assert len(handlers) == 1
