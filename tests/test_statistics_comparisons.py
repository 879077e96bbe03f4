"""Issue 26 items 4 and 9: the stock's rate named for what it is with its 基期数 beside it, and 同比/环比 of
every figure, on a signed return (JSON, workbook cells, PDF text, `verify`) and in the 汇总表.

Hand-made figures, 2021Q1–2022Q3, for two towns (targets from the plan document's annex: 莞城 社保卡 170,478,
石龙 141,867). Every expected figure below is worked out by hand from these tables:

莞城 社保卡 (base 150,478):  2021Q3 152,000 · 2022Q2 158,000 · 2022Q3 123,411
    较基期增长完成率 = (123,411 − 150,478) ÷ (170,478 − 150,478) = −27,067 ÷ 20,000 = −135.335% → −135.3%
    环比 = 123,411 − 158,000 = −34,589, ÷ 158,000 = −21.89…% → −21.8%
    同比 = 123,411 − 152,000 = −28,589, ÷ 152,000 = −18.80…% → −18.8%
莞城 粤菜师傅: 2021Q3 10 · 2022Q2 8 · 2022Q3 12  → 环比 +4, +50.0%; 同比 +2, +20.0%
莞城 南粤家政: 2021Q3 70 · 2022Q2 0 · 2022Q3 70  → 环比 +70, no 增减% (from 0); 同比 0, 0.0%
石龙 社保卡 (base 118,000): 2021Q3 120,000 · 2022Q2 125,000 · 2022Q3 130,000
石龙 粤菜师傅: 2021Q3 5 · 2022Q2 6 · 2022Q3 9
全市 (莞城 + 石龙): 社保卡 123,411 + 130,000 = 253,411 against 158,000 + 125,000 = 283,000 (上季度): −29,589,
    −10.45…% → −10.4% (never −10.5%); against 152,000 + 120,000 = 272,000 (上年同期): −18,589, −6.83…% → −6.8%;
    基期数 150,478 + 118,000 = 268,478
    粤菜师傅 21 against 14: +7, +50.0%; against 15: +6, +40.0%
"""

from __future__ import annotations

import json
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import openpyxl
import pytest

from core.demo import FULL_QUARTER
from core.quarters import Quarter
from reports.layout import FORM_SHEET
from storage.store import Store
from tests.helpers import ROOT, TODAY, run_main, signed_off_profile

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils (pdftotext) is not installed")

Q = Quarter(2022, 3)
SIGNED = ("2021Q3", "2022Q2", "2022Q3")
CARDS = {
    "莞城": {"2021Q1": 151_000, "2021Q2": 151_500, "2021Q3": 152_000, "2021Q4": 153_000,
             "2022Q1": 155_000, "2022Q2": 158_000, "2022Q3": 123_411},
    "石龙": {"2021Q1": 118_500, "2021Q2": 119_000, "2021Q3": 120_000, "2021Q4": 121_000,
             "2022Q1": 123_000, "2022Q2": 125_000, "2022Q3": 130_000},
}  # fmt: skip
BASES = {"莞城": 150_478, "石龙": 118_000}
YUECAI = {"莞城": {"2021Q3": 10, "2022Q2": 8, "2022Q3": 12}, "石龙": {"2021Q3": 5, "2022Q2": 6, "2022Q3": 9}}
NANYUE = {"莞城": {"2022Q2": 0}}
EXPLAIN = "本季度清理重复和注销人员持卡记录三万余张"


def figures(town: str, quarter: str) -> dict[str, int]:
    return dict(
        FULL_QUARTER,
        card_holders=CARDS[town][quarter],
        yuecai_certified=YUECAI[town].get(quarter, 8),
        nanyue_trained=NANYUE.get(town, {}).get(quarter, 70),
    )


def town_db(tmp_path: Path, town: str, city_keys: dict) -> Path:
    db = tmp_path / f"{town} 数据库.sqlite3"
    with Store(db, today=lambda: TODAY) as store:
        store.bind_town(town)
        store.set_profile(signed_off_profile())
        for quarter in CARDS[town]:
            explanations = {"card_holders": EXPLAIN} if (town, quarter) == ("莞城", "2022Q3") else None
            store.save_quarter(Quarter.parse(quarter), figures(town, quarter), explanations)
    assert run_main(db, "base", f"card_holders={BASES[town]}").returncode == 0
    imported = run_main(db, "identity", "import", str(city_keys["p12"][town]), "--passphrase-file", str(city_keys["pw"]))
    assert imported.returncode == 0, imported.stdout + imported.stderr
    return db


@pytest.fixture(scope="module")
def signed(tmp_path_factory, city_keys) -> Path:
    """Both towns' signed returns of 2021Q3, 2022Q2 and 2022Q3 in one folder, as the city collects them."""
    base = tmp_path_factory.mktemp("同比 环比")
    folder = base / "收到的季报"
    for town in ("莞城", "石龙"):
        db = town_db(base, town, city_keys)
        for quarter in SIGNED:
            done = run_main(db, "export", "--quarter", quarter, "--out", str(folder), "--passphrase-file", str(city_keys["pw"]))
            assert done.returncode == 0, done.stdout + done.stderr
    return folder


def run_city(*args: str) -> subprocess.CompletedProcess:
    """The city's command line (verify, consolidate: no database of its own)."""
    import sys

    return subprocess.run([sys.executable, "main.py", *args], cwd=ROOT, capture_output=True, text=True, encoding="utf-8")


def pdftotext(path: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


def squeezed(text: str) -> str:
    return "".join(text.split())


def test_progress_json_gives_each_figures_previous_quarter_and_same_quarter_last_year(tmp_path, city_keys):
    db = town_db(tmp_path, "莞城", city_keys)
    indicators = json.loads(run_main(db, "progress", "--quarter", "2022Q3", "--json").stdout)["indicators"]
    card = indicators["card_holders"]
    assert card["previous_quarter"] == {"value": 158_000, "change": -34_589, "change_percent": round(-34_589 / 158_000, 6)}
    assert card["same_quarter_last_year"] == {"value": 152_000, "change": -28_589, "change_percent": round(-28_589 / 152_000, 6)}
    assert card["base"] == 150_478 and card["completion"] == round(-27_067 / 20_000, 6)
    assert indicators["yuecai_certified"]["previous_quarter"] == {"value": 8, "change": 4, "change_percent": 0.5}
    assert indicators["nanyue_trained"]["previous_quarter"] == {"value": 0, "change": 70, "change_percent": None}
    first = json.loads(run_main(db, "progress", "--quarter", "2021Q1", "--json").stdout)["indicators"]
    assert first["card_holders"]["previous_quarter"] is None  # 2020Q4 never entered: nothing to compare
    assert first["card_holders"]["same_quarter_last_year"] is None
    assert "previous_quarter" not in first["mediation_success_rate"]  # a rate is not a figure


def test_a_signed_return_prints_the_base_the_growth_rate_and_both_comparisons(signed, city_keys):
    files = sorted(signed.glob("2022Q3_莞城_*"))
    verified = run_city("verify", "--trust", str(city_keys["city_cert"]), *map(str, files))
    assert verified.returncode == 0 and verified.stdout.count("有效") == 3, verified.stdout + verified.stderr

    form = openpyxl.load_workbook(signed / "2022Q3_莞城_季报.xlsx")[FORM_SHEET]
    rows = [tuple(c.value for c in row) for row in form.iter_rows()]
    header = next(r for r in rows if r[0] == "指标名称")
    assert (header[4], header[6]) == ("规划累计／基期数", "完成率／较基期增长完成率")
    card = next(r for r in rows if r[0] == "社会保障卡持卡人数（季末数）")
    assert card[2:7] == (123_411, "—", 150_478, 170_478, pytest.approx(-1.353))
    start = next(i for i, r in enumerate(rows) if str(r[0]).startswith("同比、环比"))
    table: dict[str, tuple] = {}
    for r in rows[start + 2 :]:  # the first row of a name: the 附页 after the table names the card figure again
        if r[0]:
            table.setdefault(str(r[0]).strip("　"), r)
    assert table["社会保障卡持卡人数（季末数）"][2:] == (
        123_411, 158_000, -34_589, pytest.approx(-0.218), 152_000, -28_589, pytest.approx(-0.188)
    )  # fmt: skip
    assert table["“粤菜师傅”培训发证人数"][2:] == (12, 8, 4, pytest.approx(0.5), 10, 2, pytest.approx(0.2))
    assert table["“南粤家政”培训人数"][2:] == (70, 0, 70, "—", 70, 0, 0.0)

    text = pdftotext(signed / "2022Q3_莞城_季报.pdf")
    pages = text.split("\f")
    assert "-135.3%" in pages[0] and "-135.4%" not in text
    from pypdf import PdfReader

    first = squeezed(PdfReader(signed / "2022Q3_莞城_季报.pdf").pages[0].extract_text())
    assert "完成率／较基期增长完成率" in first and "规划累计／基期数" in first  # each header wraps in its cell
    assert "本季末低于基期27,067张，故为负数" in first
    assert "同比、环比" in pages[1] and "单位负责人" in pages[0] and "单位负责人" not in pages[1]
    card_line = next(line for line in pages[1].splitlines() if "社会保障卡持卡人数" in line).split()
    assert card_line[-7:] == ["123,411", "158,000", "-34,589", "-21.8%", "152,000", "-28,589", "-18.8%"]
    nanyue_line = next(line for line in pages[1].splitlines() if "南粤家政" in line).split()
    assert nanyue_line[-7:] == ["70", "0", "+70", "—", "70", "0", "0.0%"]
    assert "环比（2022年第2季度）" in pages[1] and "同比（2021年第3季度）" in pages[1]


def test_the_summary_has_the_base_column_and_the_comparisons_of_every_town_and_the_city(signed, city_keys, tmp_path):
    out = tmp_path / "汇总"
    done = run_city("consolidate", "--trust", str(city_keys["city_cert"]), "--quarter", Q.code,
                    str(signed), "--out", str(out), "--json")  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    city = result["city"]["card_holders"]
    assert city["base"] == 268_478 and city["end_of_quarter"] == 253_411
    assert city["previous_quarter"] == {"value": 283_000, "change": -29_589, "change_percent": round(-29_589 / 283_000, 6)}
    assert city["same_quarter_last_year"] == {"value": 272_000, "change": -18_589, "change_percent": round(-18_589 / 272_000, 6)}
    assert result["city"]["yuecai_certified"]["same_quarter_last_year"] == {"value": 15, "change": 6, "change_percent": 0.4}
    assert result["town_comparisons"]["石龙"]["yuecai_certified"]["previous_quarter"] == {
        "value": 6, "change": 3, "change_percent": 0.5
    }  # fmt: skip

    workbook = openpyxl.load_workbook(next(out.glob("*.xlsx")))
    sheet = workbook["汇总表"]
    titles = [c.value for c in sheet[5]]
    at = titles.index("基期数")
    assert titles[at - 1 : at + 3] == ["季末数", "基期数", "目标", "较基期增长完成率"]
    by_town = {row[1].value: [c.value for c in row] for row in sheet.iter_rows(min_row=6) if row[1].value}
    assert by_town["莞城"][at - 1 : at + 3] == [123_411, 150_478, 170_478, pytest.approx(-1.353)]
    assert by_town["石龙"][at] == 118_000
    assert next(v for k, v in by_town.items() if str(k).startswith("全市"))[at] == 268_478
    notes = [c.value for c in workbook["排名与提示"]["A"] if c.value]
    assert any("低于基期数" in str(n) and "莞城" in str(n) for n in notes)

    data = workbook["数据"]
    header = [c.value for c in data[1]]
    card = next(
        dict(zip(header, (c.value for c in row), strict=True))
        for row in data.iter_rows(min_row=2)
        if row[0].value == "莞城" and row[1].value == "card_holders"
    )
    assert (card["本季度／季末数"], card["基期数"], card["上季度"], card["上年同期"]) == (123_411, 150_478, 158_000, 152_000)

    comparison = workbook["同比环比"]
    rows = {row[1].value: [c.value for c in row] for row in comparison.iter_rows(min_row=6) if row[1].value}
    city_row = next(v for k, v in rows.items() if str(k).startswith("全市"))
    assert city_row[2:9] == ["253,411", "283,000", "-29,589", "-10.4%", "272,000", "-18,589", "-6.8%"]
    assert rows["莞城"][2:9] == ["123,411", "158,000", "-34,589", "-21.8%", "152,000", "-28,589", "-18.8%"]

    text = pdftotext(next(out.glob("*.pdf")))
    assert "较基期增长完成率" in text and "268,478" in text and "-135.3%" in text and "-135.4%" not in text
    line = next(line for line in text.splitlines() if line.split()[1:2] == ["莞城"] and "-34,589" in line).split()
    assert line[2:9] == ["123,411", "158,000", "-34,589", "-21.8%", "152,000", "-28,589", "-18.8%"]


def test_without_the_year_before_the_summary_compares_nothing_for_that_town_nor_the_city(signed, city_keys, tmp_path):
    folder = tmp_path / "缺上年"
    shutil.copytree(signed, folder)
    for path in folder.glob("2021Q3_石龙_*"):
        path.unlink()
    done = run_city("consolidate", "--trust", str(city_keys["city_cert"]), "--quarter", Q.code,
                    str(folder), "--json")  # fmt: skip
    result = json.loads(done.stdout)
    assert result["city"]["card_holders"]["same_quarter_last_year"] is None  # 石龙 has no 2021Q3: no like-for-like sum
    assert result["city"]["card_holders"]["previous_quarter"]["value"] == 283_000
    assert result["town_comparisons"]["石龙"]["card_holders"]["same_quarter_last_year"] is None
    assert result["town_comparisons"]["莞城"]["card_holders"]["same_quarter_last_year"]["value"] == 152_000


def test_the_first_quarter_of_a_plan_compares_across_plans_for_the_same_code():
    from core.plan_package import sample_package
    from core.progress import compute_progress

    plan = sample_package().to_plan()
    first = plan.first
    history = {
        first.previous(): dict(FULL_QUARTER, card_holders=160_000),
        Quarter(first.year - 1, first.q): dict(FULL_QUARTER, card_holders=150_000),
        first: {**dict(FULL_QUARTER, card_holders=168_000), **{c: 3 for c in plan.catalogue.indicator_codes
                                                               if c not in FULL_QUARTER and c != "card_holders"}},
    }  # fmt: skip
    progress = compute_progress(plan, "莞城", first, history, catalogue=plan.catalogue)
    previous, year_before = progress.comparisons["card_holders"]
    assert (previous.value, previous.change, previous.change_percent) == (160_000, 8_000, Fraction(1, 20))
    assert (year_before.value, year_before.change) == (150_000, 18_000)
    added = [c for c in plan.catalogue.indicator_codes if c not in FULL_QUARTER and c not in plan.catalogue.carry_codes]
    assert added, "the sample plan adds an indicator the 2021–2025 plan did not have"
    assert all(progress.comparisons[c] == (None, None) for c in added)


def test_a_payload_without_its_comparisons_or_with_other_ones_is_refused(signed, city_keys):
    from reports.identity import load_trust_roots
    from reports.payload import PayloadError, canonical, parse_payload
    from reports.verify import Verifier

    verdict = Verifier(load_trust_roots(city_keys["city_cert"])).verify(signed / "2022Q3_莞城_季报.xlsx")
    assert verdict.valid and verdict.payload is not None
    body = json.loads(verdict.payload.to_bytes())
    assert body["format"] == "town-returns/6" and body["renderer"] == "town-returns-render/3"
    assert body["comparisons"]["previous_quarter"]["card_holders"] == 158_000
    parse_payload(canonical(body))  # as signed: read
    for broken in (
        {k: v for k, v in body.items() if k != "comparisons"},
        {**body, "comparisons": {"previous_quarter": body["comparisons"]["previous_quarter"]}},
        {**body, "comparisons": {**body["comparisons"], "previous_quarter": {"card_holders": -1}}},
        {**body, "format": "town-returns/5", "renderer": "town-returns-render/2"},
    ):
        with pytest.raises(PayloadError):
            parse_payload(canonical(broken))


def test_a_return_comparing_with_a_figure_the_city_never_received_is_named_in_the_summary(tmp_path, city_keys):
    """Attacked from outside: 莞城 signs 2022Q2, then changes that quarter's 社保卡 to 159,000 without sending it
    again (reopened, corrected, never exported), and signs 2022Q3, whose 环比 compares with 159,000. The city holds 158,000 for 2022Q2 and says so."""
    db = town_db(tmp_path, "莞城", city_keys)
    folder = tmp_path / "收件箱"

    def export(quarter: str) -> None:
        done = run_main(db, "export", "--quarter", quarter, "--out", str(folder), "--passphrase-file", str(city_keys["pw"]))
        assert done.returncode == 0, done.stdout + done.stderr

    export("2022Q2")
    assert run_main(db, "reopen", "--quarter", "2022Q2", "--reason", "核对持卡人数后更正").returncode == 0
    assert run_main(db, "enter", "--quarter", "2022Q2", "card_holders=159000").returncode == 0
    export("2022Q3")
    done = run_city("consolidate", "--trust", str(city_keys["city_cert"]), "--quarter", Q.code, str(folder), "--json")
    result = json.loads(done.stdout)
    assert result["town_comparisons"]["莞城"]["card_holders"]["previous_quarter"]["value"] == 158_000  # the city's
    flags = result["town_checks"]["莞城"]
    assert any("2022年第2季度数为 159,000" in f and "2022年第2季度季报为 158,000，不符" in f for f in flags), flags


def test_a_change_is_signed_and_rounded_toward_zero_like_every_percentage():
    from core.comparison import change_percent_text, change_text, compare
    from core.progress import ROUND_TOWARD_ZERO as ZERO

    assert (change_text(compare(12, 8)), change_percent_text(compare(12, 8), ZERO)) == ("+4", "+50.0%")
    assert change_percent_text(compare(123_411, 158_000), ZERO) == "-21.8%"  # −21.89…%: never −21.9%
    assert change_percent_text(compare(100_001, 100_000), ZERO) == "0.0%"  # +0.001%: no sign on a shown zero
    assert change_percent_text(compare(99_999, 100_000), ZERO) == "0.0%"  # never "-0.0%"
    assert (change_text(compare(5, 0)), change_percent_text(compare(5, 0), ZERO)) == ("+5", "—")
    assert compare(5, None) is None and compare(None, 5) is None
    assert (change_text(None), change_percent_text(None, ZERO)) == ("—", "—")
