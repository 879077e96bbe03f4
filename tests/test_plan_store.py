"""Issue 14, stored plans (attack of 29 Nov): a package altered in the database is refused and repaired by
importing the genuine file again; `verify/consolidate --db` trust only a city database whose packages'
signatures verify against --trust; a refused import leaves no database; duplicate keys are refused;
figures a new plan does not list are named at import and by `check`."""

import json
import sqlite3
from fractions import Fraction
from pathlib import Path

import pytest

from cli import main
from core.plan_package import canonical_json, package_from_content, sample_package
from reports.identity import issue_town_identity
from reports.plan_file import FORMAT, open_root, plan_file_bytes, write_plan_file
from reports.signing import sign_payload
from tests.helpers import SIGN_OFF_FLAGS
from tests.pki import PASSPHRASE

TOWN = "莞城"
ALTERED = "规划数据已被改动"


@pytest.fixture
def keys(city_keys):
    return city_keys


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def town_database(folder: Path, keys, capsys) -> Path:
    db = folder / "镇街 数据库.sqlite3"
    assert run(capsys, "--db", db, "init", "--town", TOWN)[0] == 0
    assert run(capsys, "--db", db, "profile", *SIGN_OFF_FLAGS)[0] == 0
    assert run(capsys, "--db", db, "identity", "import", keys["town_p12"], "--passphrase-file", keys["pw"])[0] == 0
    assert run(capsys, "--db", db, "plan", "import", keys["plan"])[0] == 0
    return db


def city_database(folder: Path, keys, capsys) -> Path:
    db = folder / "市局 数据库.sqlite3"
    assert run(capsys, "--db", db, "init", "--city", "--trust", keys["city_cert"])[0] == 0
    assert run(capsys, "--db", db, "plan", "import", keys["plan"])[0] == 0
    return db


def rewrite_package(db: Path, consistently: bool) -> None:
    """What someone with sqlite3 does: cut 莞城's 粤菜师傅 target; with `consistently`, fix up the 全市 total,
    the hash and the id too, so the package passes every check but its signature."""
    with sqlite3.connect(db) as con:
        (content,) = con.execute("select content from plan_packages").fetchone()
        c = json.loads(content)
        old = c["towns"][TOWN]["targets"]["yuecai_certified"]
        c["towns"][TOWN]["targets"]["yuecai_certified"] = 10
        if not consistently:
            con.execute("update plan_packages set content=?", (canonical_json(c).decode(),))
            return
        c["city"]["targets"]["yuecai_certified"] -= old - 10
        p = package_from_content(json.loads(canonical_json(c)))
        con.execute(
            "update plan_packages set content=?, content_hash=?, id=?",
            (canonical_json(c).decode(), p.content_hash, p.id),
        )


def test_an_altered_stored_plan_is_named_and_importing_the_genuine_file_repairs_it(keys, tmp_path, capsys):
    db = town_database(tmp_path, keys, capsys)
    assert run(capsys, "--db", db, "enter", "--quarter", "2026Q1", "yuecai_certified=5")[0] == 0
    rewrite_package(db, consistently=False)

    code, out, err = run(capsys, "--db", db, "progress", "--quarter", "2026Q1")
    assert code == 2 and ALTERED in err and "plan import" in err
    assert "请在差额说明中写明" not in err  # not the city's build message
    out_dir = tmp_path / "上报"
    code, _, err = run(
        capsys, "--db", db, "export", "--quarter", "2026Q1", "--out", out_dir, "--passphrase-file", keys["pw"]
    )
    assert code == 2 and ALTERED in err and not out_dir.exists()

    assert run(capsys, "--db", db, "plan", "import", keys["plan"])[0] == 0
    code, out, _ = run(capsys, "--db", db, "progress", "--quarter", "2026Q1")
    target = next(t for t in sample_package().towns if t.town == TOWN).targets["yuecai_certified"]
    assert code == 0 and f"目标 {target:,} 人次" in out


@pytest.mark.parametrize(
    "edit",
    [
        "delete from targets; delete from plans where name like '%十五五%'; delete from plan_packages",
        "update quarter_plans set content_hash='52e76e624f28e8f4fc52c3cb97b143c01f5ded5f2aea1ebc0ff20ffcc75aeca0'",
    ],
    ids=["package deleted", "quarter re-pinned"],
)
def test_a_quarter_whose_recorded_plan_is_gone_is_refused_until_the_plan_is_imported_again(
    keys, tmp_path, capsys, edit
):
    db = town_database(tmp_path, keys, capsys)
    assert run(capsys, "--db", db, "enter", "--quarter", "2026Q1", "yuecai_certified=5")[0] == 0
    with sqlite3.connect(db) as con:
        con.executescript(edit)
    code, _, err = run(capsys, "--db", db, "progress", "--quarter", "2026Q1")
    assert code == 2 and "2026年第1季度录入时依据的规划" in err and ALTERED in err
    assert run(capsys, "--db", db, "plan", "import", keys["plan"])[0] == 0
    assert run(capsys, "--db", db, "progress", "--quarter", "2026Q1")[0] == 0


def test_verify_with_a_town_database_is_refused_and_leaves_it_as_it_was(keys, tmp_path, capsys):
    db = town_database(tmp_path, keys, capsys)
    with sqlite3.connect(db) as con:  # as a database of an older version, which opening would migrate
        con.execute("update alembic_version set version_num='0005'")
        con.execute("alter table plan_packages drop column signature")
    con.close()
    before = db.read_bytes()
    backups = db.parent / "backups"
    backed_up = sorted(backups.iterdir()) if backups.exists() else []  # the town's own commands made the day's
    for command in (
        ["verify", "--trust", keys["city_cert"], "--db", db, tmp_path / "x.xlsx"],
        ["consolidate", "--trust", keys["city_cert"], "--db", db, "--quarter", "2026Q1", tmp_path],
    ):
        code, _, err = run(capsys, *command)
        assert code == 2 and "不是市局汇总用的数据库" in err
    assert db.read_bytes() == before
    assert (sorted(backups.iterdir()) if backups.exists() else []) == backed_up


def test_a_city_database_whose_package_was_rewritten_is_refused(keys, tmp_path, capsys):
    db = city_database(tmp_path, keys, capsys)
    assert run(capsys, "verify", "--trust", keys["city_cert"], "--db", db, tmp_path / "无 此文件.xlsx")[0] == 1
    rewrite_package(db, consistently=True)
    code, _, err = run(capsys, "verify", "--trust", keys["city_cert"], "--db", db, tmp_path / "无 此文件.xlsx")
    assert code == 2 and "核验不通过" in err and "与签名不符" in err and "未导入" not in err


def test_a_city_database_package_without_its_signature_is_refused_until_imported_again(keys, tmp_path, capsys):
    db = city_database(tmp_path, keys, capsys)
    with sqlite3.connect(db) as con:  # as a package imported before signatures were kept
        con.execute("update plan_packages set signature=NULL")
    code, _, err = run(capsys, "verify", "--trust", keys["city_cert"], "--db", db, tmp_path / "x.xlsx")
    assert code == 2 and "没有保存市局根证书的签名" in err
    assert run(capsys, "--db", db, "plan", "import", keys["plan"])[0] == 0
    assert run(capsys, "verify", "--trust", keys["city_cert"], "--db", db, tmp_path / "x.xlsx")[0] == 1


def test_a_refused_import_into_a_missing_database_creates_nothing(keys, tmp_path, capsys):
    folder = tmp_path / "新 文件夹"
    folder.mkdir()
    code, _, err = run(capsys, "--db", folder / "新 库.sqlite3", "plan", "import", keys["plan"])
    assert code == 2 and "找不到数据库" in err
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("where", ["envelope", "content"])
def test_duplicate_keys_are_refused(keys, tmp_path, capsys, where):
    db = town_database(tmp_path, keys, capsys)
    genuine = json.loads(plan_file_bytes(sample_package(), open_root(keys["city_key"], PASSPHRASE)))
    if where == "envelope":
        text = json.dumps(genuine, ensure_ascii=False)[:-1] + ', "format": "' + FORMAT + '"}'
    else:
        content = genuine["content"][:-1] + ',"sample":true}'
        root = open_root(keys["city_key"], PASSPHRASE)
        text = json.dumps({"format": FORMAT, "content": content, "signature": sign_payload(root, content.encode())})
    path = tmp_path / "重复键.plan"
    path.write_text(text, encoding="utf-8")
    code, _, err = run(capsys, "--db", db, "plan", "import", path)
    assert code == 2 and "出现了两次" in err


def test_figures_the_new_plan_does_not_list_are_named(keys, tmp_path, capsys):
    db = tmp_path / "石碣.sqlite3"
    p12 = issue_town_identity(keys["city_key"], PASSPHRASE, "石碣", tmp_path / "石碣.p12", PASSPHRASE)
    assert run(capsys, "--db", db, "init", "--town", "石碣")[0] == 0
    assert run(capsys, "--db", db, "profile", *SIGN_OFF_FLAGS)[0] == 0
    assert run(capsys, "--db", db, "identity", "import", p12, "--passphrase-file", keys["pw"])[0] == 0
    assert run(capsys, "--db", db, "enter", "--quarter", "2026Q1", "nanyue_trained=77", "yuecai_certified=1")[0] == 0
    content = json.loads(sample_package().canonical_bytes())
    content["name"] = "不含南粤家政 示例（非正式目标）"
    content["indicators"] = [i for i in content["indicators"] if i["code"] != "nanyue_trained"]
    for split in [*content["towns"].values(), content["city"]]:
        split["targets"].pop("nanyue_trained")
    dropped = tmp_path / "删指标.plan"
    write_plan_file(package_from_content(content), open_root(keys["city_key"], PASSPHRASE), dropped)

    code, out, _ = run(capsys, "--db", db, "plan", "import", dropped)
    assert code == 0 and "石碣的目标" in out
    assert "2026年第1季度已录入的 “南粤家政”培训人数 77 不在此规划的指标中" in out
    code, out, _ = run(capsys, "--db", db, "check", "--quarter", "2026Q1")
    assert "[提示] 2026年第1季度已录入的 “南粤家政”培训人数 77 不在此季度所依据规划的指标中" in out


# --- the city's workbook: cells a clerk gets wrong in Excel --------------------------------------


def edited_workbook(tmp_path: Path, edit) -> Path:
    import openpyxl

    from reports.plan_workbook import write_workbook

    path = tmp_path / "分解 表.xlsx"
    write_workbook(path, sample_package())
    workbook = openpyxl.load_workbook(path)
    edit(workbook)
    workbook.save(path)
    return path


def column_of(sheet, key: str) -> int:
    return next(c.column for c in sheet[3] if c.value == key)


def workbook_problems(path: Path) -> list[str]:
    from reports.plan_workbook import PlanWorkbookError, read_workbook

    with pytest.raises(PlanWorkbookError) as refused:
        read_workbook(path)
    return refused.value.problems


def test_a_formula_or_a_date_in_the_split_is_refused_at_its_place(tmp_path):
    import datetime as dt

    def edit(workbook):
        split = workbook["分解表"]
        split.cell(5, column_of(split, "yuecai_certified"), "=90+2")
        split.cell(6, column_of(split, "yuecai_certified"), dt.datetime(2026, 1, 1))

    problems = workbook_problems(edited_workbook(tmp_path, edit))
    assert any(
        p.startswith("工作表“分解表”第 5 行") and "是公式，请填写数值（可复制后“粘贴为数值”）" in p for p in problems
    )
    assert any(p.startswith("工作表“分解表”第 6 行") and "是日期，不是" in p for p in problems)
    assert len(problems) == 2  # not also reported as a missing target or a wrong total


def test_a_start_quarter_after_the_end_quarter_names_its_place(tmp_path):
    def edit(workbook):
        header = workbook["规划信息"]
        row = next(c.row for c in header["A"] if c.value == "开始季度")
        header.cell(row, 2, "2031Q1")

    problems = workbook_problems(edited_workbook(tmp_path, edit))
    assert len(problems) == 1 and problems[0].startswith("工作表“规划信息”第") and "早于开始季度" in problems[0]


@pytest.mark.parametrize("bare", [0.5, 1])
def test_a_bare_rate_of_at_most_one_is_refused_as_ambiguous(tmp_path, bare):
    def edit(workbook):
        split = workbook["分解表"]
        split.cell(5, column_of(split, "mediation_success_rate"), bare)

    problems = workbook_problems(edited_workbook(tmp_path, edit))
    assert len(problems) == 1 and "含义不明" in problems[0] and f"“{bare * 100:g}%”" in problems[0]


def test_a_percentage_formatted_rate_cell_reads_as_the_percentage_it_shows(tmp_path):
    from reports.plan_workbook import read_workbook

    def edit(workbook):
        split = workbook["分解表"]
        cell = split.cell(5, column_of(split, "mediation_success_rate"), 0.8)
        cell.number_format = "0%"

    package = read_workbook(edited_workbook(tmp_path, edit))
    second = package.towns[1]  # row 4 is the first town, row 5 the second
    assert second.rates["mediation_success_rate"] == Fraction(4, 5)


def test_output_into_a_closed_pipe_ends_quietly(keys, tmp_path, capsys, monkeypatch):
    import sys

    db = town_database(tmp_path, keys, capsys)

    class ClosedPipe:
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            pass

    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert main(["--db", str(db), "plan", "list"]) == 0
    assert capsys.readouterr().err == ""


def test_a_missing_plan_file_is_named_in_chinese(keys, tmp_path, capsys):
    code, _, err = run(
        capsys, "verify", "--trust", keys["city_cert"], "--plan", tmp_path / "无 此.plan", tmp_path / "x.xlsx"
    )
    assert code == 2 and "找不到规划文件" in err and "No such file" not in err and "未导入" not in err


def test_the_window_offers_to_import_the_plan_again_and_opens_once_repaired(keys, tmp_path, capsys, qtbot, dialogs):
    from PySide6.QtWidgets import QMessageBox

    from core.quarters import Quarter
    from gui.app import make_application, start_session

    make_application()
    db = town_database(tmp_path, keys, capsys)
    assert run(capsys, "--db", db, "enter", "--quarter", "2026Q1", "yuecai_certified=5")[0] == 0
    rewrite_package(db, consistently=False)
    dialogs.expect(ALTERED, answer=QMessageBox.StandardButton.Yes)
    dialogs.expect("选择市局下发的规划文件", answer=(str(keys["plan"]), "规划文件 (*.plan)"))

    session = start_session(db, Quarter(2026, 1)).finish()
    assert session is not None
    try:
        assert session.window.isEnabled() and "莞城" in session.window.windowTitle()
        target = next(t for t in sample_package().towns if t.town == TOWN).targets["yuecai_certified"]
        assert session.store.plan_for(Quarter(2026, 1)).targets_for(TOWN).counts["yuecai_certified"] == target
    finally:
        session.window.close()
        session.close()
    assert run(capsys, "--db", db, "progress", "--quarter", "2026Q1")[0] == 0


def test_the_window_declining_the_repair_closes_and_frees_the_database(keys, tmp_path, capsys, qtbot, dialogs):
    from PySide6.QtWidgets import QMessageBox

    from core.quarters import Quarter
    from gui.app import make_application, start_session

    make_application()
    db = town_database(tmp_path, keys, capsys)
    assert run(capsys, "--db", db, "enter", "--quarter", "2026Q1", "yuecai_certified=5")[0] == 0
    rewrite_package(db, consistently=False)
    dialogs.expect(ALTERED, answer=QMessageBox.StandardButton.No)
    dialogs.expect(ALTERED)  # then the refusal itself, closed with its button

    assert start_session(db, Quarter(2026, 1)).finish() is None
    code, _, err = run(capsys, "--db", db, "progress", "--quarter", "2026Q1")
    assert code == 2 and ALTERED in err  # nothing changed, and the database is free for the command line


def test_missing_files_and_folders_are_told_in_chinese(keys, tmp_path, capsys):
    folder = tmp_path / "一个 文件夹"
    folder.mkdir()
    code, _, err = run(capsys, "verify", "--trust", tmp_path / "无 此.pem", tmp_path / "x.xlsx")
    assert code == 2 and "文件不存在" in err and "No such file" not in err
    code, out, err = run(capsys, "verify", "--trust", keys["city_cert"], folder, tmp_path / "无 此.xlsx")
    assert code == 1 and "是文件夹" in out and "文件不存在" in out and "No such file" not in out + err
