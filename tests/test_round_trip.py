"""Issue 27: the city's signed receipts and send-backs, end to end on the command line.

City root → two towns' identities → each exports 2026Q1 under the sample plan → city receipts → 莞城
imports its receipt → the city sends 石龙's return back with a reason on one indicator → 石龙 imports
it, corrects, exports revision 2 → a second city receipts accepts revision 2 → 石龙 imports it → the
register and the 催报 list show the history. Then forgeries and malformed files against real databases.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

import openpyxl
import pytest

from cli import main
from core.demo import town_figures
from core.plan_package import sample_package
from core.plans import TOWNS
from core.quarters import Quarter
from core.receipts import BEIJING, NOTICE, RECEIPT, CityAnswer, Reason
from reports.identity import open_identity
from reports.plan_file import open_root
from reports.receipt import answer_file_bytes
from storage.store import Store
from tests.pki import PASSPHRASE

PASS = PASSPHRASE  # the session's root and identities (tests/pki.py)
Q1 = Quarter(2026, 1)
A, B = "莞城", "石龙"
FIXED = "yuecai_certified"


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def save_figures(db: Path, figures: dict[str, int] | None = None) -> dict[str, int]:
    """Plausible 2026Q1 figures under the sample plan (the demo's), saved with a 说明 wherever one is needed."""
    with Store(db) as store:
        town = store.require_town()
        if figures is None:
            plan = store.plan_for(Q1)
            assert plan is not None and plan.content_hash == sample_package().content_hash
            figures = town_figures(plan, town, [Q1], seed=27)[Q1]
        needed = {f.indicator for f in store.check(Q1, figures) if f.needs_explanation and f.indicator}
        store.save_quarter(Q1, figures, {code: "已核实，数据准确无误" for code in needed})
    return figures


def town_state(capsys, db: Path) -> dict:
    code, out, err = run(capsys, "--db", db, "status", "--json")
    assert code == 0, err
    return next(item for item in json.loads(out) if item["quarter"] == Q1.code)


def audit_rows(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT COUNT(*) FROM audit").fetchone()[0]


@pytest.fixture(scope="module")
def world(tmp_path_factory, city_keys):
    """The city (the session's root, a database with the sample plan) and 莞城 and 石龙, each with 2026Q1
    exported once."""
    base = tmp_path_factory.mktemp("市局 回执 测试")
    pw = base / "口令.txt"
    pw.write_text(PASS.decode(), encoding="utf-8")
    city_cert, city_key, plan_file = city_keys["city_cert"], city_keys["city_key"], city_keys["plan"]
    city_db = base / "市局.sqlite3"
    assert main(["--db", str(city_db), "init", "--city", "--trust", str(city_cert)]) == 0
    assert main(["--db", str(city_db), "plan", "import", str(plan_file)]) == 0
    inbox = base / "收件箱"
    towns = {}
    for town in (A, B):
        p12 = city_keys["p12"][town]
        db = base / f"{town} 数据库.sqlite3"
        assert main(["--db", str(db), "init", "--town", town]) == 0
        assert main(["--db", str(db), "identity", "import", str(p12), "--passphrase-file", str(pw)]) == 0
        assert main(["--db", str(db), "plan", "import", str(plan_file)]) == 0
        profile = [
            "--unit-name",
            f"{town}人社分局",
            "--phone",
            "0769-22220000",
            "--head",
            "王五",
            "--stats-head",
            "赵六",
        ]
        assert main(["--db", str(db), "profile", *profile, "--preparer", "李四"]) == 0
        figures = save_figures(db)
        out = inbox / town
        assert (
            main(["--db", str(db), "export", "--quarter", Q1.code, "--out", str(out), "--passphrase-file", str(pw)])
            == 0
        )
        towns[town] = {"db": db, "p12": p12, "figures": figures, "outbox": out}
    return {
        "base": base,
        "pw": pw,
        "city_cert": city_cert,
        "city_key": city_key,
        "city_db": city_db,
        "plan": plan_file,
        "inbox": inbox,
        "towns": towns,
    }


def city(capsys, world, *args):
    return run(capsys, "--db", world["city_db"], "city", *args)


def receipts(capsys, world, out: Path):
    code, stdout, err = city(
        capsys, world, "receipts", "--quarter", Q1.code, "--folder", world["inbox"], "--root", world["city_key"],
        "--root-passphrase-file", world["pw"], "--out", out, "--json",
    )  # fmt: skip
    assert code == 0, err
    return json.loads(stdout)


def workbook_of(folder: Path) -> Path:
    return next(p for p in sorted(folder.iterdir()) if p.suffix == ".xlsx")


def test_the_round_trip_end_to_end(world, capsys):
    base, towns = world["base"], world["towns"]
    a_db, b_db = towns[A]["db"], towns[B]["db"]
    first = base / "回执 第一轮"

    # the city signs a receipt for each counted return; nothing refused
    result = receipts(capsys, world, first)
    assert result["refused"] == []
    assert sorted((r["town"], r["quarter"], r["revision"]) for r in result["receipts"]) == [
        (B, "2026Q1", 1),
        (A, "2026Q1", 1),
    ]
    a_receipt = first / "回执_莞城_2026年第1季度_第1版.receipt"
    b_receipt = first / "回执_石龙_2026年第1季度_第1版.receipt"
    assert {Path(r["file"]) for r in result["receipts"]} == {a_receipt, b_receipt}

    # 莞城 imports its receipt: 市局已接收, revision 1, with the time
    assert town_state(capsys, a_db)["city"]["state"] is None
    code, out, err = run(capsys, "--db", a_db, "receipt", "import", a_receipt)
    assert code == 0, err
    assert "市局已接收2026年第1季度第 1 版" in out
    state = town_state(capsys, a_db)
    assert state["state"] == "已上报" and state["city"]["state"] == "已接收" and state["city"]["revision"] == 1
    assert dt.datetime.fromisoformat(state["city"]["at"]).tzinfo is not None
    code, out, _ = run(capsys, "--db", a_db, "status")
    assert "2026年第1季度：已上报（第 1 版）；市局已接收（第 1 版，" in out

    # 石龙 first learns its receipt, then the city changes its mind and sends revision 1 back
    assert run(capsys, "--db", b_db, "receipt", "import", b_receipt)[0] == 0
    notice = base / "退回 石龙.notice"
    send_back = [
        "send-back", "--return", workbook_of(towns[B]["outbox"]), "--reason", "粤菜师傅人数与台账不符，请核对",
        "--indicator", FIXED, "--reason", "应为台账上的人数（多 1 人）", "--root", world["city_key"],
        "--root-passphrase-file", world["pw"], "--out", notice, "--json",
    ]  # fmt: skip
    # revision 1 has a receipt: taking it back is said, not done by the way
    code, out, err = city(capsys, world, *send_back)
    assert code == 2 and "已于" in err and "签发回执（回执_石龙_2026年第1季度_第1版.receipt）" in err, err
    assert "--withdraw-receipt" in err and not notice.exists()
    code, out, err = city(capsys, world, *send_back, "--withdraw-receipt")
    assert code == 0, err
    sent = json.loads(out)
    assert (sent["town"], sent["quarter"], sent["revision"]) == (B, "2026Q1", 1)
    assert sent["reasons"] == [
        {"indicator": None, "reason": "粤菜师傅人数与台账不符，请核对"},
        {"indicator": FIXED, "reason": "应为台账上的人数（多 1 人）"},
    ]

    # the city's 催报 list names 石龙 as sent back, not resubmitted, with the phone of its return
    code, out, err = city(capsys, world, "missing", "--quarter", Q1.code, "--folder", world["inbox"], "--json")
    assert code == 0, err
    late = {t["town"]: t for t in json.loads(out)["missing"]}
    assert (
        late[B]["state"] == "已退回未重报" and late[B]["phone"] == "0769-22220000" and late[B]["unit"] == f"{B}人社分局"
    )
    assert A not in late and late["虎门"]["state"] == "缺报" and len(late) == 32

    # a second run of city receipts issues none for the sent-back return
    again = receipts(capsys, world, first)
    assert [r["town"] for r in again["receipts"]] == [A]
    assert len(again["refused"]) == 1 and "已退回" in again["refused"][0]["reason"]

    # 石龙 imports the notice: 市局退回, the quarter open again (退回修改), the reason beside the figure
    before = audit_rows(b_db)
    code, out, err = run(capsys, "--db", b_db, "receipt", "import", notice)
    assert code == 0, err
    assert "已退回修改" in out
    state = town_state(capsys, b_db)
    assert state["state"] == "已退回修改" and state["city"]["state"] == "已退回" and state["city"]["revision"] == 1
    assert {"indicator": FIXED, "reason": "应为台账上的人数（多 1 人）"} in state["city"]["reasons"]
    code, out, _ = run(capsys, "--db", b_db, "history", "--quarter", Q1.code, "--json")
    rows = json.loads(out)
    reopen = [r for r in rows if r["action"] == "reopen"]
    import hashlib

    notice_hash = hashlib.sha256(notice.read_bytes()).hexdigest()
    assert len(reopen) == 1 and notice_hash in reopen[0]["new_value"]
    assert audit_rows(b_db) == before + 2  # the notice and the reopen
    code, out, _ = run(capsys, "--db", b_db, "audit", "verify")
    assert code == 0, out

    # the same file twice changes nothing
    code, out, _ = run(capsys, "--db", b_db, "receipt", "import", notice)
    assert code == 0 and "已导入过" in out and audit_rows(b_db) == before + 2

    # 石龙 corrects the figure and exports revision 2
    save_figures(b_db, {**towns[B]["figures"], FIXED: towns[B]["figures"][FIXED] + 1})
    resubmitted = world["inbox"] / B / "重报"
    code, out, err = run(
        capsys, "--db", b_db, "export", "--quarter", Q1.code, "--out", resubmitted, "--passphrase-file", world["pw"]
    )
    assert code == 0, err
    assert any("第2版" in line for line in out.splitlines())
    state = town_state(capsys, b_db)
    assert state["state"] == "已上报" and state["revision"] == 2
    assert state["city"]["state"] == "已退回" and state["city"]["revision"] == 1  # the city has not answered rev 2 yet

    # the second round: revision 2 accepted
    second = base / "回执 第二轮"
    result = receipts(capsys, world, second)
    assert sorted((r["town"], r["revision"]) for r in result["receipts"]) == [(B, 2), (A, 1)], result
    assert result["refused"] == []
    b_receipt_2 = second / "回执_石龙_2026年第1季度_第2版.receipt"
    code, out, err = run(capsys, "--db", b_db, "receipt", "import", b_receipt_2)
    assert code == 0, err
    state = town_state(capsys, b_db)
    assert state["city"] == {"state": "已接收", "revision": 2, "at": state["city"]["at"], "reasons": []}

    # the replayed notice of revision 1 changes nothing now, and says so
    code, out, err = run(capsys, "--db", b_db, "receipt", "import", notice)
    assert code == 0 and "已导入过" in out
    replay = base / "退回 石龙 重发.notice"
    replay.write_bytes(notice.read_bytes() + b"\n")  # other bytes (a copy re-saved), the same signed notice
    code, out, err = run(capsys, "--db", b_db, "receipt", "import", replay)
    assert code == 0 and "未作改动" in out, out + err
    assert town_state(capsys, b_db)["city"]["revision"] == 2 and town_state(capsys, b_db)["state"] == "已上报"

    # the register shows the history: which receipt for which revision, the send-back, the superseded one
    code, out, err = city(capsys, world, "register", "--quarter", Q1.code, "--json")
    assert code == 0, err
    register = json.loads(out)["returns"]
    mine = {(r["town"], r["revision"]): r for r in register}  # the last answer of each return
    assert mine[(A, 1)]["verdict"] == "accepted" and mine[(A, 1)]["issued"] == "receipt"
    assert mine[(B, 1)]["verdict"] == "sent_back" and mine[(B, 1)]["issued"] == "notice"
    # every answer stays: 石龙's withdrawn receipt, then the notice that replaced it
    b_1 = [r for r in register if (r["town"], r["revision"]) == (B, 1)]
    assert [(r["verdict"], Path(r["issued_file"]).name) for r in b_1] == [
        ("accepted", b_receipt.name),
        ("sent_back", notice.name),
    ]
    assert b_1[0]["answered_later"] == {"issued": "notice", "issued_at": b_1[1]["issued_at"]}
    assert mine[(B, 1)]["issued_file"] == str(notice) and mine[(B, 1)]["superseded_by"] == 2
    assert mine[(B, 2)]["verdict"] == "accepted" and mine[(B, 2)]["issued_file"] == str(b_receipt_2)
    code, out, _ = city(capsys, world, "register", "--quarter", Q1.code)
    assert "石龙 第 1 版：已退回，已发退回通知" in out and "已被第 2 版取代" in out

    # and nobody of the two is late any more; the list is a workbook too
    sheet_path = base / "催报清单.xlsx"
    code, out, err = city(
        capsys, world, "missing", "--quarter", Q1.code, "--folder", world["inbox"], "--out", sheet_path, "--json"
    )
    assert code == 0, err
    late = json.loads(out)["missing"]
    assert len(late) == 31 and {A, B}.isdisjoint(t["town"] for t in late)
    sheet = openpyxl.load_workbook(sheet_path)["催报清单"]
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=3)]
    others = [t for t in TOWNS if t not in (A, B)]
    assert [r[:3] for r in rows] == [[n, t, "缺报"] for n, t in enumerate(others, start=1)]
    assert sheet["A1"].value == "2026年第1季度 催报清单（共 31 个镇街）"
    assert {r[1] for r in rows}.isdisjoint({A, B})


def test_a_damaged_copy_in_the_folder_is_refused_without_touching_the_accepted_return(world, capsys, tmp_path):
    """A copy of 莞城's workbook changed after signing sits beside the genuine one: city receipts lists it
    as refused with the verifier's reason, still signs the genuine one, and the register keeps 莞城's
    revision 1 accepted (the damaged copy is entered by its file)."""
    import shutil

    inbox = tmp_path / "收件箱 副本"
    shutil.copytree(world["inbox"], inbox)
    genuine = workbook_of(inbox / A)
    damaged = inbox / A / "改过" / genuine.name
    damaged.parent.mkdir()
    damaged.write_bytes(genuine.read_bytes() + b"x")
    code, out, err = city(
        capsys, world, "receipts", "--quarter", Q1.code, "--folder", inbox, "--root", world["city_key"],
        "--root-passphrase-file", world["pw"], "--out", tmp_path / "回执", "--json",
    )  # fmt: skip
    assert code == 0, err
    result = json.loads(out)
    assert [(r["town"], r["revision"]) for r in result["receipts"] if r["town"] == A] == [(A, 1)], result
    refused = {Path(r["file"]): r["reason"] for r in result["refused"]}
    assert damaged in refused and "签名后文件被修改" in refused[damaged]
    code, out, _ = city(capsys, world, "register", "--quarter", Q1.code, "--json")
    rows = json.loads(out)["returns"]
    # each receipt signed for it is kept (one per output folder), all of them accepted
    assert {r["verdict"] for r in rows if r["town"] == A and r["revision"] == 1 and r["content_hash"]} == {"accepted"}
    assert any(r["verdict"] == "refused" and r["file"] == str(damaged) for r in rows)


# --- forgeries ------------------------------------------------------------------------------------


def signed(answer: CityAnswer, p12: Path, out: Path) -> Path:
    identity = open_root(p12, PASS) if p12.name == "city_root.p12" else open_identity(p12.read_bytes(), PASS)
    out.write_bytes(answer_file_bytes(answer, identity))
    return out


def a_return(world) -> tuple[int, str]:
    """莞城's exported revision 1 and its content hash, from its database."""
    with sqlite3.connect(world["towns"][A]["db"]) as conn:
        return conn.execute(
            "SELECT revision, content_hash FROM quarter_status WHERE quarter = ?", (Q1.code,)
        ).fetchone()


def refused(capsys, db: Path, file: Path) -> str:
    before = audit_rows(db)
    with sqlite3.connect(db) as conn:
        answers = conn.execute("SELECT COUNT(*) FROM city_answers").fetchone()[0]
    code, out, err = run(capsys, "--db", db, "receipt", "import", file)
    assert code == 2, out + err
    assert audit_rows(db) == before
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM city_answers").fetchone()[0] == answers
    return err


def now() -> dt.datetime:
    return dt.datetime.now(BEIJING)


def test_forged_receipts_are_refused_and_record_nothing(world, capsys, tmp_path, foreign_root):
    db = world["towns"][A]["db"]
    revision, content_hash = a_return(world)
    genuine = CityAnswer(RECEIPT, A, Q1, revision, content_hash, now(), (), "x.xlsx")
    root_key = world["city_key"]

    # edited after signing: the revision in the signed content changed
    good = signed(genuine, root_key, tmp_path / "好.receipt")
    edited = tmp_path / "改过.receipt"
    edited.write_text(
        good.read_text(encoding="utf-8").replace('\\"revision\\":1', '\\"revision\\":2'), encoding="utf-8"
    )
    assert edited.read_bytes() != good.read_bytes()
    assert "签名后被改动" in refused(capsys, db, edited)

    # signed by a town's key, not the root
    assert "莞城的签名证书签名，不是市局根证书" in refused(
        capsys, db, signed(genuine, world["towns"][A]["p12"], tmp_path / "镇街签.receipt")
    )

    # a foreign root
    _, foreign = foreign_root
    assert "不是由本镇街导入证书时固定的市局根证书签名" in refused(
        capsys, db, signed(genuine, foreign, tmp_path / "外来.receipt")
    )

    # for another town (石龙's return, genuinely signed by the city)
    other = CityAnswer(RECEIPT, B, Q1, revision, content_hash, now(), (), "x.xlsx")
    assert "这是给石龙的回执" in refused(capsys, db, signed(other, root_key, tmp_path / "别的镇.receipt"))

    # for a revision this database never exported
    never = CityAnswer(RECEIPT, A, Q1, 7, content_hash, now(), (), "x.xlsx")
    assert "没有导出过2026年第1季度第 7 版" in refused(capsys, db, signed(never, root_key, tmp_path / "第7版.receipt"))

    # for another database's return (the same revision number, other content)
    foreign_return = CityAnswer(RECEIPT, A, Q1, revision, "0" * 64, now(), (), "x.xlsx")
    assert "内容不同" in refused(capsys, db, signed(foreign_return, root_key, tmp_path / "别的库.receipt"))

    # a send-back for 莞城 signed before the receipt it already has: older, nothing changes
    assert run(capsys, "--db", db, "receipt", "import", good)[0] == 0
    state = town_state(capsys, db)["city"]
    assert state["state"] == "已接收"
    old_notice = CityAnswer(NOTICE, A, Q1, revision, content_hash, dt.datetime.fromisoformat(state["at"]) - dt.timedelta(hours=1),
                            (Reason(None, "旧的退回通知不应生效"),), "x.xlsx")  # fmt: skip
    before = audit_rows(db)
    code, out, err = run(capsys, "--db", db, "receipt", "import", signed(old_notice, root_key, tmp_path / "旧.notice"))
    assert code == 0 and "未作改动" in out, out + err
    assert audit_rows(db) == before and town_state(capsys, db)["state"] == "已上报"


def test_a_row_written_or_changed_outside_the_program_does_not_count(world, capsys, tmp_path):
    """sqlite3 from outside: an answer row without its audit row, and a genuine receipt's row turned into a
    send-back with a reason, change nothing the town sees (the chain row no longer says what the row says)."""
    db = tmp_path / "莞城 副本.sqlite3"
    with sqlite3.connect(world["towns"][A]["db"]) as source, sqlite3.connect(db) as copy:
        source.backup(copy)
    before = town_state(capsys, db)["city"]
    assert before["state"] == "已接收"
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO city_answers (town, quarter, revision, kind, content_hash, signed_at, reasons, file_sha256, "
            "content, signature, imported_at, audit_id) VALUES (?, '2025Q4', 1, 'receipt', ?, ?, '[]', ?, '{}', '', ?, 1)",
            (A, "1" * 64, now().isoformat(), "f" * 64, now().isoformat()),
        )
        forged = json.dumps([{"indicator": None, "reason": "伪造的退回原因"}], ensure_ascii=False)
        conn.execute(
            "UPDATE city_answers SET kind = 'notice', reasons = ? WHERE town = ? AND quarter = ?", (forged, A, Q1.code)
        )
    code, out, _ = run(capsys, "--db", db, "status", "--json")
    states = {item["quarter"]: item["city"] for item in json.loads(out)}
    assert states["2025Q4"]["state"] is None
    assert states[Q1.code]["state"] is None and states[Q1.code]["reasons"] == []


MALFORMED = {
    "截断": lambda good: good[: len(good) // 2],
    "重复的键": lambda good: good.replace(b'{\n "format"', b'{\n "format": "x",\n "format"', 1),
    "格式标识": lambda good: good.replace(b"town-returns-receipt/1", b"town-returns-receipt/9", 1),
    "代理码位": lambda good: good.replace(b'{\n "format"', b'{\n "note": "\\ud800",\n "format"', 1),
    "过大": lambda good: good + b" " * (300 * 1024),
    "空": lambda good: b"",
    "不是 UTF-8": lambda good: b"\xff\xfe" + good,
    "嵌套": lambda good: b"[" * 100_000 + b"]" * 100_000,
}


@pytest.mark.parametrize("damage", sorted(MALFORMED))
def test_a_malformed_file_is_refused_with_a_chinese_reason(world, capsys, tmp_path, damage):
    db = world["towns"][A]["db"]
    revision, content_hash = a_return(world)
    good = signed(
        CityAnswer(RECEIPT, A, Q1, revision, content_hash, now(), (), "x.xlsx"),
        world["city_key"],
        tmp_path / "好.receipt",
    )
    bad = tmp_path / f"坏 {damage}.receipt"
    bad.write_bytes(MALFORMED[damage](good.read_bytes()))
    err = refused(capsys, db, bad)
    assert "未导入" in err and "Traceback" not in err
    assert any("\u4e00" <= ch <= "\u9fff" for ch in err.split("未导入：", 1)[1])


# --- the windows ----------------------------------------------------------------------------------


def test_the_windows_send_back_and_import_a_return(world, qtbot, dialogs, monkeypatch, tmp_path):
    """The city window sends 莞城's return back from its register, a second 生成回执 issues no receipt for
    it and the 催报 list names it; 莞城's window imports the notice through 文件 → 导入市局回执…, the quarter
    list and 关于 say 市局退回, and the reason stands in the findings list, a click away from its figure."""
    from PySide6.QtCore import QSettings, Qt, QTimer
    from PySide6.QtWidgets import QApplication, QDialogButtonBox, QLineEdit, QMessageBox

    import gui.city_window as city_window_module
    from gui.app import make_application
    from gui.city_register import SendBackDialog
    from gui.city_window import CityWindow
    from gui.main_window import MainWindow

    make_application()
    ok = QMessageBox.StandardButton.Ok
    monkeypatch.setattr(city_window_module, "ask_root_passphrase", lambda parent, name: PASS)
    QSettings().setValue("city/folder", str(world["inbox"]))
    QSettings().remove("city/crl")
    city_store = Store(world["city_db"])
    window = CityWindow(city_store)
    qtbot.addWidget(window)
    window.show()
    try:
        qtbot.waitUntil(lambda: window.collection is not None, timeout=60000)
        window.quarter_box.setCurrentIndex(window.quarter_box.findData(Q1.code))
        window.tabs.setCurrentWidget(window.register_page)
        page = window.register_page
        shown = [
            [page.table.item(r, c).text() for c in range(page.table.columnCount())]
            for r in range(page.table.rowCount())
        ]
        a_row = next(i for i, r in enumerate(shown) if r[0] == A and r[1] == "1" and r[2] == "已接收")
        b_old = [r for r in shown if r[0] == B and r[1] == "1"][-1]  # its last answer: the notice
        assert shown[a_row][2] == "已接收" and shown[a_row][3].startswith("回执 回执_莞城_2026年第1季度_第1版")
        assert b_old[2] == "已退回" and "已被第 2 版取代" in b_old[6] and b_old[3].startswith("退回通知")
        assert "莞城" not in page.missing_text.toPlainText()

        # 退回…: the clerk picks 莞城's row, types a reason beside one figure, signs
        page.table.selectRow(a_row)
        notice = tmp_path / "退回 莞城 窗口.notice"

        def fill_in() -> None:
            dialog = QApplication.activeModalWidget()
            assert isinstance(dialog, SendBackDialog)
            qtbot.keyClicks(dialog.findChild(QLineEdit, f"reason_{FIXED}"), "Recount against the ledger")
            box = dialog.findChild(QDialogButtonBox)
            assert box is not None
            qtbot.mouseClick(box.button(QDialogButtonBox.StandardButton.Ok), Qt.MouseButton.LeftButton)

        QTimer.singleShot(0, fill_in)
        dialogs.expect("选择市局根证书", answer=(str(world["city_key"]), ""))
        dialogs.expect("保存退回通知", answer=(str(notice), ""))
        dialogs.expect("撤回回执", answer=QMessageBox.StandardButton.Yes)  # 莞城's revision 1 has its receipt
        dialogs.expect("已签发退回通知", answer=ok)
        qtbot.mouseClick(page.send_back_button, Qt.MouseButton.LeftButton)
        assert notice.is_file()
        shown = [
            [page.table.item(r, c).text() for c in range(page.table.columnCount())]
            for r in range(page.table.rowCount())
        ]
        a_rows = [r for r in shown if r[0] == A]
        assert a_rows[-1][2] == "已退回" and a_rows[-1][3].startswith("退回通知")
        assert all("签发退回通知，本答复已不再有效" in r[6] for r in a_rows[:-1] if r[2] == "已接收")

        # 生成回执…: no receipt for the return sent back; the 催报 list names 莞城
        out = tmp_path / "窗口 回执"
        out.mkdir()
        dialogs.expect("选择市局根证书", answer=(str(world["city_key"]), ""))
        dialogs.expect("选择保存回执的文件夹", answer=str(out))
        dialogs.expect("已生成回执", answer=ok)
        qtbot.mouseClick(page.receipts_button, Qt.MouseButton.LeftButton)
        assert [p.name for p in out.iterdir()] == ["回执_石龙_2026年第1季度_第2版.receipt"]
        assert "莞城：已退回未重报（第 1 版：" in page.missing_text.toPlainText()
        sheet_path = tmp_path / "催报 清单.xlsx"
        dialogs.expect("保存催报清单", answer=(str(sheet_path), ""))
        qtbot.mouseClick(page.missing_button, Qt.MouseButton.LeftButton)
        rows = [[c.value for c in row] for row in openpyxl.load_workbook(sheet_path)["催报清单"].iter_rows(min_row=3)]
        assert [A, "已退回未重报"] in [r[1:3] for r in rows] and len(rows) == 32
    finally:
        window.close()
        city_store.close()

    # 莞城's window: 文件 → 导入市局回执…
    town_store = Store(world["towns"][A]["db"])
    town = MainWindow(town_store, initial_quarter=Q1)
    qtbot.addWidget(town)
    town.show()
    qtbot.waitExposed(town)
    town.activateWindow()
    qtbot.waitActive(town)
    try:
        index = town.quarter_box.findData(Q1.code)
        assert "市局已接收（第 1 版" in town.quarter_box.itemText(index)
        dialogs.expect("选择市局的回执或退回通知", answer=([str(notice)], ""))
        dialogs.expect("导入市局回执", answer=ok)
        town.menus.receipt_action.trigger()
        assert "市局退回" in dialogs.texts()[-1] and "已退回修改" in dialogs.texts()[-1]
        index = town.quarter_box.findData(Q1.code)
        assert "已退回修改" in town.quarter_box.itemText(index) and "市局退回（第 1 版" in town.quarter_box.itemText(
            index
        )
        items = [town.findings_list.item(i) for i in range(town.findings_list.count())]
        reason = next(i for i in items if "Recount against the ledger" in i.text())
        assert reason.text().startswith("【市局退回·第 1 版】") and reason.data(Qt.ItemDataRole.UserRole) == FIXED
        town.activateWindow()
        qtbot.waitUntil(town.isActiveWindow)
        town.findings_list.scrollToItem(reason)
        rect = town.findings_list.visualItemRect(reason)
        qtbot.mouseClick(town.findings_list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        assert QApplication.focusWidget() is town.form.value_edits[FIXED]
        assert town.form.value_edits[FIXED].isEnabled() and not town.form.value_edits[FIXED].isReadOnly()
        assert "市局回执：\n　2026年第1季度：市局退回（第 1 版" in town.database.about_text()
    finally:
        town.close()
        town_store.close()
