"""Issue 26, items 8 and 11: the 批准机关 and the 指标解释 page come from the plan package (renderer 3).

A signed return under the sample plan prints the 批准机关 in its header and every definition of the package on
its last page (PDF, read back with pdftotext) and in its "指标解释" sheet; the 汇总表 ends with the same page;
the built-in plan's definitions are the plan document's own sentences (read from the seed here); a plan
workbook carries both fields into a package, and bad input gets a Chinese error with its place; a return
whose definitions or 批准机关 are not its trusted plan's is refused.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import openpyxl
import pytest

from cli import main
from core.plan_package import PlanPackage, sample_package, shipped_package
from core.plans import Definition
from core.quarters import Quarter
from reports.payload import PAYLOAD_PROPERTY, PlanNotIssued, builtin_plan, canonical, parse_payload
from reports.plan_workbook import PlanWorkbookError, read_workbook, write_workbook
from tests.helpers import SIGN_OFF_FLAGS
from tests.test_frozen_plan import SHIPPED_CONTENT_HASH

SEED = Path("/work/shared/seed/000_58a726fcff979d0c.txt")
TOWN = "莞城"
Q1 = Quarter(2026, 1)
# A 季报 under the sample plan, on pace in 2026Q1 (5% of the plan's time): the sample's own figures
FIGURES = {
    "card_holders": 160_000,
    "yuecai_certified": 40,
    "nanyue_trained": 400,
    "skilled_trained": 300,
    "mediation_cases": 100,
    "mediation_success": 80,
    "arbitration_carried": 0,
    "arbitration_received": 50,
    "arbitration_closed": 50,
    "inspection_carried": 0,
    "inspection_received": 10,
    "inspection_closed": 10,
}
pdftotext = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils (pdftotext) is not installed")


@pytest.fixture
def keys(city_keys):
    return city_keys


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def flat(text: str) -> str:
    """Text as pdftotext gives it, with the line breaks and spaces a wrapped cell adds taken out."""
    return re.sub(r"\s+", "", text)


def pdf_pages(path: Path) -> list[str]:
    out = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return out.split("\f")[:-1] if out.endswith("\f") else out.split("\f")


@pytest.fixture
def signed_return(keys, tmp_path, capsys) -> list[Path]:
    """The sample plan imported into 莞城's database, 2026Q1 entered, exported signed, as a town does it."""
    db = tmp_path / "镇街 数据库.sqlite3"
    assert run(capsys, "--db", db, "init", "--town", TOWN)[0] == 0
    assert run(capsys, "--db", db, "profile", *SIGN_OFF_FLAGS)[0] == 0
    assert run(capsys, "--db", db, "identity", "import", keys["town_p12"], "--passphrase-file", keys["pw"])[0] == 0
    assert run(capsys, "--db", db, "plan", "import", keys["plan"])[0] == 0
    code, out, err = run(capsys, "--db", db, "enter", "--quarter", Q1.code, *(f"{k}={v}" for k, v in FIGURES.items()))
    assert code == 0, out + err
    outbox = tmp_path / "上报 文件"
    code, out, err = run(capsys, "--db", db, "export", "--quarter", Q1.code, "--out", outbox, "--passphrase-file", keys["pw"])
    assert code == 0, out + err
    return sorted(outbox.iterdir())


# --- the sample plan's return --------------------------------------------------------------------


@pdftotext
def test_the_signed_returns_last_page_holds_every_definition_and_its_header_the_authority(signed_return, keys, capsys):
    package = sample_package()
    assert package.approval_authority and all(i.definition for i in package.indicators)
    pdf = next(p for p in signed_return if p.suffix == ".pdf" and "摘要" not in p.name)
    pages = pdf_pages(pdf)
    last = flat(pages[-1])
    assert "指标解释" in last and package.name.replace(" ", "") in last
    for item in package.indicators:
        assert flat(item.definition) in last, item.code
        assert flat(item.name) in last, item.code
    assert "单位负责人" not in last  # a page of its own, after the figures and the sign-off
    first = flat(pages[0])
    assert f"批准机关：{flat(package.approval_authority)}" in first
    assert "指标解释" not in first

    code, out, _ = run(capsys, "verify", "--trust", keys["city_cert"], "--plan", keys["plan"], *signed_return)
    assert code == 0 and out.count("有效") == len(signed_return), out


def test_the_workbooks_definitions_sheet_reads_back_as_the_plan_wrote_it(signed_return):
    package = sample_package()
    workbook = openpyxl.load_workbook(next(p for p in signed_return if p.suffix == ".xlsx"))
    assert workbook.sheetnames[-1] == "指标解释"
    sheet = workbook["指标解释"]
    assert package.name in sheet["A1"].value
    assert [c.value for c in sheet[3]] == ["序号", "指标", "解释"]
    rows = [tuple(c.value for c in row) for row in sheet.iter_rows(min_row=4)]
    expected = []
    for n, item in enumerate(package.indicators, start=1):
        name = f"{item.name}及{item.rate_name}" if item.rate_name else item.name
        expected.append((str(n), name, item.definition))
    assert rows == expected
    header = [str(c.value) for row in workbook["季报"].iter_rows(max_row=5) for c in row if c.value]
    assert any(f"批准机关：{package.approval_authority}" in text for text in header)


def _payload(signed_return) -> bytes:
    workbook = openpyxl.load_workbook(next(p for p in signed_return if p.suffix == ".xlsx"))
    return workbook.custom_doc_props[PAYLOAD_PROPERTY].value.encode("utf-8")


def test_a_return_whose_definitions_or_authority_are_not_its_plans_is_refused(signed_return, keys):
    from reports.identity import load_trust_roots
    from reports.plan_file import read_plan_file

    plan = read_plan_file(keys["plan"], load_trust_roots(keys["city_cert"])).package.to_plan()
    raw = _payload(signed_return)
    assert parse_payload(raw, [plan]).return_data().definitions == plan.definitions
    body = json.loads(raw)
    body["definitions"][0]["text"] = "季度末持卡人数，含已注销的卡。"
    with pytest.raises(PlanNotIssued, match="指标解释与市局下发的规划不同"):
        parse_payload(canonical(body), [plan])
    body = json.loads(raw)
    body["definitions"].pop()
    with pytest.raises(PlanNotIssued, match="指标解释"):
        parse_payload(canonical(body), [plan])
    body = json.loads(raw)
    body["header"]["approval_authority"] = "东莞市统计局"
    with pytest.raises(PlanNotIssued, match="批准机关"):
        parse_payload(canonical(body), [plan])
    # a plan whose definitions were forged is another plan (another content hash), never the city's
    forged = replace(
        sample_package(),
        indicators=tuple(replace(i, definition=i.definition + "（含注销）") for i in sample_package().indicators),
    )
    assert forged.content_hash != sample_package().content_hash
    with pytest.raises(PlanNotIssued):
        parse_payload(raw, [forged.to_plan()])


@pdftotext
def test_the_city_summary_ends_with_the_definitions_page(signed_return, keys, tmp_path, capsys):
    inbox = signed_return[0].parent
    out = tmp_path / "汇总 表"
    code, text, err = run(
        capsys, "consolidate", "--trust", keys["city_cert"], "--plan", keys["plan"], "--quarter", Q1.code, inbox, "--out", out
    )
    assert code == 0, text + err
    package = sample_package()
    pdf = next(out.glob("*.pdf"))
    last = flat(pdf_pages(pdf)[-1])
    assert last.startswith("指标解释") or "指标解释（" in last
    for item in package.indicators:
        assert flat(item.definition) in last, item.code
    workbook = openpyxl.load_workbook(next(out.glob("*.xlsx")))
    assert workbook.sheetnames[-1] == "指标解释"
    texts = [row[2].value for row in workbook["指标解释"].iter_rows(min_row=3)]
    assert texts == [i.definition for i in package.indicators]


# --- the built-in plan ---------------------------------------------------------------------------


def _sentences(text: str) -> list[str]:
    return [s + "。" for s in re.split(r"。", text) if s.strip()]


def test_the_built_in_plans_definitions_are_the_plan_documents_own_sentences():
    seed = SEED.read_text(encoding="utf-8")
    lines = [line.strip().lstrip("\t") for line in seed.splitlines()]
    sentences = {s.split("\t")[-1].strip() for line in lines for s in _sentences(line)}
    plan = shipped_package().to_plan()
    assert shipped_package().content_hash == SHIPPED_CONTENT_HASH  # the package itself is unchanged
    by_code = {d.code: d for d in plan.definitions}
    assert set(by_code) == {i.code for i in shipped_package().indicators}
    for code, definition in by_code.items():
        assert definition.text.startswith("规划原文：")
        quoted = _sentences(definition.text.removeprefix("规划原文："))
        assert quoted and all(q in sentences for q in quoted), (code, [q for q in quoted if q not in sentences])
    # each indicator's sentence is the one the document writes about it (found here by its own words)
    assert "到2025年，社保卡持卡人数达到1026万。" in by_code["card_holders"].text
    assert "开展“粤菜师傅”培训1万人次以上" in by_code["yuecai_certified"].text
    assert "开展家政职业技能培训5.9万人次" in by_code["nanyue_trained"].text
    annual = next(s for s in sentences if "分别达到78%以上、96%以上、100%" in s)
    for code in ("mediation_cases", "arbitration_due", "inspection_cases"):
        assert annual in by_code[code].text
    five_years = "注：[  ]内为五年累计数。"  # 专栏2's note under its table (专栏1's is numbered 注：1.)
    assert five_years in sentences
    assert five_years in by_code["yuecai_certified"].text and five_years in by_code["nanyue_trained"].text


def test_the_definitions_stay_out_of_every_other_plans_content():
    """The table is keyed to the built-in plan's hash: a plan with the same list but other targets gets none."""
    shipped = shipped_package()
    assert "definition" not in json.dumps(shipped.content(), ensure_ascii=False)
    assert "approval_authority" not in shipped.content()
    other = replace(shipped, name=shipped.name + "（修订）")
    assert other.to_plan().definitions == ()
    assert builtin_plan().definitions == shipped.to_plan().definitions != ()


# --- the plan workbook ---------------------------------------------------------------------------


def _edit(path: Path, edit) -> Path:
    workbook = openpyxl.load_workbook(path)
    edit(workbook)
    workbook.save(path)
    return path


def _column(sheet, title: str) -> int:
    return next(c.column for c in sheet[2] if c.value == title)


def test_a_definition_and_the_authority_typed_in_the_workbook_come_into_the_package(tmp_path):
    plain = replace(
        sample_package(),
        approval_authority="",
        indicators=tuple(replace(i, definition="") for i in sample_package().indicators),
    )
    path = write_workbook(tmp_path / "规划 工作簿.xlsx", plain)
    text = "季度末持有社保卡的人数（季末数，不是累计数）。"

    def fill(workbook):
        listing = workbook["指标清单"]
        listing.cell(3, _column(listing, "指标解释"), text)
        header = workbook["规划信息"]
        row = next(r for r in range(3, header.max_row + 1) if header.cell(r, 1).value == "批准机关")
        header.cell(row, 2, "东莞市统计局")

    package = read_workbook(_edit(path, fill))
    assert package.indicators[0].definition == text and package.approval_authority == "东莞市统计局"
    assert [d.text for d in package.to_plan().definitions] == [text]
    assert package.content_hash != plain.content_hash
    assert read_workbook(write_workbook(tmp_path / "again.xlsx", package)).content_hash == package.content_hash


def test_a_workbook_without_the_authority_row_still_reads(tmp_path):
    plain = replace(sample_package(), approval_authority="")
    path = write_workbook(tmp_path / "旧 工作簿.xlsx", plain)

    def drop(workbook):
        header = workbook["规划信息"]
        row = next(r for r in range(3, header.max_row + 1) if header.cell(r, 1).value == "批准机关")
        header.delete_rows(row)

    assert read_workbook(_edit(path, drop)).content_hash == plain.content_hash


@pytest.mark.parametrize(
    ("value", "fault"),
    [("口" * 301, "指标解释有 301 个字，超过 300 个字"), ("季末数\u202e01", "U+202E")],
    ids=["too long", "hidden character"],
)
def test_a_bad_definition_is_refused_in_chinese_with_its_place(tmp_path, value, fault):
    path = write_workbook(tmp_path / "规划.xlsx", sample_package())

    def spoil(workbook):
        listing = workbook["指标清单"]
        listing.cell(4, _column(listing, "指标解释"), value)

    with pytest.raises(PlanWorkbookError) as caught:
        read_workbook(_edit(path, spoil))
    message = caught.value.message
    assert fault in message, message
    if fault.startswith("指标解释"):
        assert "工作表“指标清单”第 4 行" in message
    assert re.search(r"[\u4e00-\u9fff]", message)


def test_the_command_line_shows_the_authority_and_the_definitions_of_a_plan(keys, tmp_path, capsys):
    db = tmp_path / "镇街 数据库.sqlite3"
    assert run(capsys, "--db", db, "init", "--town", TOWN)[0] == 0
    assert run(capsys, "--db", db, "identity", "import", keys["town_p12"], "--passphrase-file", keys["pw"])[0] == 0
    code, out, err = run(capsys, "--db", db, "plan", "import", keys["plan"])
    assert code == 0, out + err
    package: PlanPackage = sample_package()
    assert f"批准机关：{package.approval_authority}" in out
    for item in package.indicators:
        assert item.definition in out


def test_a_definition_names_a_count_pair_with_its_rate():
    pair = next(i for i in sample_package().indicators if i.code == "mediation_cases")
    assert Definition("mediation_cases", pair.definition_title, pair.definition) in sample_package().to_plan().definitions
    assert pair.definition_title == f"{pair.name}及{pair.rate_name}"


# --- one name per total (item 8) -----------------------------------------------------------------

OTHER_NAMES = ("年度累计", "全年合计")


def test_the_year_to_date_total_has_one_name_wherever_a_user_reads_it():
    """本年累计, as the return prints it: no text a user reads (window, command line, files, messages,
    README) calls the same total 年度累计 or 全年合计. Renderers 1 and 2 keep their spelling (signed returns
    must re-render byte for byte), so reports/returns.py holds the old word once, for them."""
    import io
    import tokenize

    root = Path(__file__).resolve().parent.parent
    found = []
    for path in [root / "cli.py", *(p for d in ("gui", "reports", "actions", "core") for p in (root / d).rglob("*.py"))]:
        for token in tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline):
            if token.type == tokenize.STRING and any(word in token.string for word in OTHER_NAMES):
                found.append(f"{path.relative_to(root)}:{token.start[0]}: {token.string}")
    legacy = [line for line in found if line.startswith("reports/returns.py") and line.endswith(': "年度累计"')]
    assert len(legacy) <= 1
    assert [line for line in found if line not in legacy] == []
    readme = (root / "README.md").read_text(encoding="utf-8")
    assert [line for line in readme.splitlines() if any(w in line for w in OTHER_NAMES) and "不再写" not in line] == []


# --- renderer 2 stays as it was; the window's preview -------------------------------------------


def test_a_renderer_2_return_still_prints_and_verifies_without_the_new_page(signed_return, keys, tmp_path):
    """Returns signed before renderer 3 must re-render byte for byte: renderer 2 has neither the 批准机关 line
    nor the 指标解释 page, and its payload neither key."""
    from datetime import datetime

    from actions.city import issued_plans
    from actions.returns import open_identity
    from reports.export import write_return_files
    from reports.identity import load_trust_roots
    from reports.returns import RENDERER_2, assemble_return
    from reports.verify import Verifier
    from storage.store import Store

    with Store(tmp_path / "镇街 数据库.sqlite3") as store:
        plan = store.plan_for(Q1)
        data = assemble_return(
            TOWN,
            Q1,
            plan,
            store.history(),
            store.explanations(Q1),
            store.check(Q1),
            store.profile().__dict__,
            datetime(2026, 4, 10, 9, 0).astimezone(),
            revision=2,
            signed=True,
            bases=store.stock_bases(plan),
            renderer=RENDERER_2,
        )
        identity = open_identity(store, b"city-secret")
    assert data.definitions == () and not data.prints_authority
    result = write_return_files(data, tmp_path / "renderer 2", identity=identity)
    roots = load_trust_roots(keys["city_cert"])
    verifier = Verifier(roots, plans=issued_plans([keys["plan"]], roots))
    for path in result.paths:
        verdict = verifier.verify(path)
        assert verdict.valid, (path.name, verdict.reason)
        assert verdict.payload.body["renderer"] == RENDERER_2
        assert "definitions" not in verdict.payload.body
        assert "approval_authority" not in verdict.payload.body["header"]
    workbook = next(p for p in result.paths if p.suffix == ".xlsx")
    assert openpyxl.load_workbook(workbook).sheetnames == ["季报", "数据"]
    pdf = next(p for p in result.paths if p.suffix == ".pdf" and "摘要" not in p.name)
    from pypdf import PdfReader

    text = "".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert "指标解释" not in text and "批准机关" not in text


def test_the_plan_preview_shows_the_authority_and_the_definitions(qtbot):
    from actions.plan_packages import preview, summarize
    from gui.plan_dialogs import PlanPreviewDialog

    package = sample_package()
    dialog = PlanPreviewDialog(None, preview(package, summarize(package, "signed"), TOWN), "导入", town=TOWN)
    qtbot.addWidget(dialog)
    facts = dialog.facts.text()
    assert f"批准机关：{package.approval_authority}" in facts
    assert f"指标解释：{len(package.indicators)} 项" in facts
    for item in package.indicators:
        assert item.definition in dialog.facts.toolTip()
    plain = replace(package, approval_authority="", indicators=tuple(replace(i, definition="") for i in package.indicators))
    dialog = PlanPreviewDialog(None, preview(plain, summarize(plain, "signed"), TOWN), "导入", town=TOWN)
    qtbot.addWidget(dialog)
    assert "批准机关：（无）" in dialog.facts.text() and "指标解释：规划未给出" in dialog.facts.text()
