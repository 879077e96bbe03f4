"""Issue 27, found from outside after it landed: receipts and send-backs attacked with odd JSON, odd file
names, a city clock that ran ahead, superseded and already-received revisions, a BOM, a re-indented copy,
the wrong database, a quarter not ended, a row deleted with sqlite3, and a formula typed as a phone."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import openpyxl
import pytest

from core.quarters import Quarter
from core.receipts import RECEIPT, CityAnswer
from tests import test_round_trip
from tests.helpers import needs_faketime, run_main
from tests.test_round_trip import (
    FIXED,
    Q1,
    A,
    B,
    audit_rows,
    city,
    now,
    refused,
    run,
    save_figures,
    signed,
    town_state,
    workbook_of,
)

world = test_round_trip.world  # the same fixture (city, 莞城 and 石龙 with 2026Q1 exported), set up for this module


def a_receipt(world, tmp_path: Path, name: str = "好.receipt") -> Path:
    with sqlite3.connect(world["towns"][A]["db"]) as conn:
        revision, content_hash = conn.execute(
            "SELECT revision, content_hash FROM quarter_status WHERE quarter = ?", (Q1.code,)
        ).fetchone()
    return signed(
        CityAnswer(RECEIPT, A, Q1, revision, content_hash, now(), (), "x.xlsx"), world["city_key"], tmp_path / name
    )


@pytest.mark.parametrize("shape", [["town-returns-receipt/1"], {"a": 1}, 7, True])
def test_a_format_that_is_not_a_string_is_refused_not_a_crash(world, capsys, tmp_path, shape):
    envelope = json.loads(a_receipt(world, tmp_path).read_text(encoding="utf-8"))
    envelope["format"] = shape
    bad = tmp_path / "格式不对.receipt"
    bad.write_text(json.dumps(envelope, ensure_ascii=False), encoding="utf-8")
    err = refused(capsys, world["towns"][A]["db"], bad)
    assert "不是本系统的回执或退回通知" in err and "Traceback" not in err and "程序内部错误" not in err


def test_a_bom_is_accepted_and_a_reindented_copy_is_the_same_answer(world, capsys, tmp_path):
    db = tmp_path / "莞城 副本.sqlite3"
    with sqlite3.connect(world["towns"][A]["db"]) as source, sqlite3.connect(db) as copy:
        source.backup(copy)
    good = a_receipt(world, tmp_path)
    with_bom = tmp_path / "记事本另存.receipt"
    with_bom.write_bytes(b"\xef\xbb\xbf" + good.read_bytes())
    code, out, err = run(capsys, "--db", db, "receipt", "import", with_bom)
    assert code == 0 and "市局已接收" in out, err
    before = audit_rows(db)
    reindented = tmp_path / "重排.receipt"
    reindented.write_text(json.dumps(json.loads(good.read_text(encoding="utf-8")), ensure_ascii=False, indent=4))
    assert reindented.read_bytes() != with_bom.read_bytes()
    code, out, err = run(capsys, "--db", db, "receipt", "import", reindented)
    assert code == 0 and "已导入过" in out and "已有更新的市局答复" not in out, out + err
    assert audit_rows(db) == before


def test_the_wrong_database_is_named(world, capsys, tmp_path):
    receipt = a_receipt(world, tmp_path)
    code, out, err = run(capsys, "--db", world["city_db"], "receipt", "import", receipt)
    assert code == 2 and "市局汇总用的数据库" in err and "init --town" not in err, err
    for args in (["receipt", "import", receipt], ["status", "--json"]):
        missing = tmp_path / "打错的 数据库.sqlite3"
        code, out, err = run(capsys, "--db", missing, *args)
        assert code == 2 and "找不到数据库" in err, err
        assert not missing.exists() and list(tmp_path.glob("打错的*")) == []


def test_city_missing_refuses_a_quarter_not_ended(world, capsys):
    code, out, err = city(capsys, world, "missing", "--quarter", "2099Q1", "--folder", world["inbox"], "--json")
    assert code == 2 and "2099年第1季度尚未结束" in err and out == "", out + err


def test_audit_verify_notices_an_imported_answer_deleted_with_sqlite3(world, capsys, tmp_path):
    db = tmp_path / "莞城 删行.sqlite3"
    with sqlite3.connect(world["towns"][A]["db"]) as source, sqlite3.connect(db) as copy:
        source.backup(copy)
    assert run(capsys, "--db", db, "receipt", "import", a_receipt(world, tmp_path))[0] == 0
    assert town_state(capsys, db)["city"]["state"] == "已接收"
    assert run(capsys, "--db", db, "audit", "verify")[0] == 0
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM city_answers")
    assert town_state(capsys, db)["city"]["state"] is None
    code, out, err = run(capsys, "--db", db, "audit", "verify")
    assert code != 0 and "导入的市局回执" in out + err and "在本软件之外被改动过" in out + err, out + err


def test_a_return_file_name_that_is_not_utf8_is_escaped_in_the_notice_and_the_register(world, capsys, tmp_path):
    folder = tmp_path / "收件箱 怪名"
    folder.mkdir()
    odd = Path(os.fsdecode(bytes(folder) + b"/\xff\xfe.xlsx"))
    try:
        shutil.copyfile(workbook_of(world["towns"][B]["outbox"]), odd)
    except (OSError, UnicodeEncodeError):
        pytest.skip("this file system refuses bytes that are not UTF-8 in a name")
    notice = tmp_path / "退回 怪名.notice"
    code, out, err = city(
        capsys, world, "send-back", "--return", odd, "--reason", "数据与台账不符，请核对", "--root", world["city_key"],
        "--root-passphrase-file", world["pw"], "--out", notice, "--json",
    )  # fmt: skip
    assert code == 0, err
    content = json.loads(json.loads(notice.read_text(encoding="utf-8"))["content"])
    assert content["return_file"] == "\\udcff\\udcfe.xlsx"
    code, out, err = city(capsys, world, "register", "--quarter", Q1.code, "--json")
    assert code == 0, err
    files = [r["file"] for r in json.loads(out)["returns"] if r["issued_file"] == str(notice)]
    assert files == [str(folder) + "/\\udcff\\udcfe.xlsx"]
    code, out, err = city(capsys, world, "register", "--quarter", Q1.code)
    assert code == 0 and "\\udcff" not in err, err


def test_a_send_back_of_a_superseded_revision_is_refused_naming_the_newer_one(world, capsys, tmp_path):
    """莞城 reopens, corrects and exports revision 2 into the inbox; city receipts accepts it. Sending back
    revision 1 is refused and names revision 2; revision 2 has a receipt, so sending it back needs
    --withdraw-receipt; every answer stays in the register."""
    db, towns = world["towns"][A]["db"], world["towns"]
    code, out, err = run(
        capsys, "--db", db, "reopen", "--quarter", Q1.code, "--reason", "发现粤菜师傅人数录错，需要改正"
    )
    assert code == 0, err
    save_figures(db, {**towns[A]["figures"], FIXED: towns[A]["figures"][FIXED] + 2})
    second = world["inbox"] / A / "第2版"
    code, out, err = run(
        capsys, "--db", db, "export", "--quarter", Q1.code, "--out", second, "--passphrase-file", world["pw"]
    )
    assert code == 0, err
    code, out, err = city(
        capsys, world, "receipts", "--quarter", Q1.code, "--folder", world["inbox"], "--root", world["city_key"],
        "--root-passphrase-file", world["pw"], "--out", tmp_path / "回执", "--json",
    )  # fmt: skip
    assert code == 0, err
    assert (A, 2) in [(r["town"], r["revision"]) for r in json.loads(out)["receipts"]]

    def send_back(return_file: Path, out: Path, *extra: str):
        return city(
            capsys, world, "send-back", "--return", return_file, "--reason", "数据与台账不符，请核对",
            "--root", world["city_key"], "--root-passphrase-file", world["pw"], "--out", out, *extra,
        )  # fmt: skip

    old = workbook_of(towns[A]["outbox"])
    code, out, err = send_back(old, tmp_path / "旧版.notice", "--withdraw-receipt")
    assert code == 2 and "第 1 版已被第 2 版取代（2026Q1_莞城_季报_第2版" in err and "请退回第 2 版" in err, err
    assert not (tmp_path / "旧版.notice").exists()
    code, out, err = send_back(workbook_of(second), tmp_path / "新版.notice")
    assert code == 2 and "已于" in err and "签发回执" in err and "--withdraw-receipt" in err, err
    code, out, err = send_back(workbook_of(second), tmp_path / "新版.notice", "--withdraw-receipt")
    assert code == 0, err
    code, out, err = city(capsys, world, "register", "--quarter", Q1.code, "--json")
    rows = [r for r in json.loads(out)["returns"] if (r["town"], r["revision"]) == (A, 2)]
    assert [r["verdict"] for r in rows] == ["accepted", "sent_back"]
    assert rows[0]["answered_later"]["issued"] == "notice" and rows[1]["answered_later"] is None


@needs_faketime
def test_after_a_clock_that_ran_ahead_a_send_back_is_refused_not_signed_to_no_effect(world, tmp_path):
    """The city's PC was 20 hours ahead when it signed the receipts; back at the real time, a send-back
    would be signed before the receipt and never take effect at the town: refused, nothing written."""
    city_db = tmp_path / "市局 新.sqlite3"  # a register of its own: other tests here sent 石龙's return back
    assert run_main(city_db, "init", "--city", "--trust", str(world["city_cert"])).returncode == 0
    assert run_main(city_db, "plan", "import", str(world["plan"])).returncode == 0
    inbox = tmp_path / "收件箱 石龙"
    shutil.copytree(world["towns"][B]["outbox"], inbox)
    out = tmp_path / "回执 超前"
    done = run_main(
        city_db, "city", "receipts", "--quarter", Q1.code, "--folder", str(inbox), "--root",
        str(world["city_key"]), "--root-passphrase-file", str(world["pw"]), "--out", str(out), clock="+72000",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    notice = tmp_path / "退回.notice"
    done = run_main(
        city_db, "city", "send-back", "--return", str(workbook_of(inbox)), "--reason", "数据与台账不符，请核对",
        "--root", str(world["city_key"]), "--root-passphrase-file", str(world["pw"]), "--out", str(notice),
        "--withdraw-receipt",
    )  # fmt: skip
    assert done.returncode == 2 and "晚于现在" in done.stderr and "电脑时间可能超前" in done.stderr, done.stderr
    assert not notice.exists()
    registered = run_main(city_db, "city", "register", "--quarter", Q1.code, "--json")
    assert [r["verdict"] for r in json.loads(registered.stdout)["returns"]] == ["accepted"]


def test_the_missing_list_writes_a_formula_as_text(tmp_path):
    from reports.receipt_sheet import write_missing_workbook

    formula = '=HYPERLINK("http://example.invalid/x","点我")'
    towns = [
        {"town": "莞城", "state": "缺报", "unit": formula, "phone": "+86 769 1234", "revision": None, "reason": ""},
        {"town": "石龙", "state": "已退回未重报", "unit": "@SUM(A1)", "phone": "-1+1", "revision": 1, "reason": "=1+1"},
    ]
    out = write_missing_workbook(Quarter(2026, 1), towns, tmp_path / "催报清单.xlsx")
    sheet = openpyxl.load_workbook(out)["催报清单"]
    cells = [c for row in sheet.iter_rows(min_row=3) for c in row]
    assert sheet["D3"].value == formula and sheet["E3"].value == "+86 769 1234"
    assert sheet["D4"].value == "@SUM(A1)" and sheet["E4"].value == "-1+1"
    assert all(c.data_type != "f" for c in cells), [(c.coordinate, c.value) for c in cells if c.data_type == "f"]
