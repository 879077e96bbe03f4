"""The indicator list comes from the quarter's plan: entry, checks, progress and the year under a signed
package that adds indicators (a flow, a count pair, a stock) and drops one (nanyue_trained)."""

import json
from dataclasses import replace
from fractions import Fraction

import pytest

from cli import main
from core.plan_package import PackageIndicator, PackageKind, PlanPackage, TownSplit, check_package, sample_package
from core.plans import CITY
from core.quarters import Quarter
from reports.plan_file import open_root, write_plan_file
from storage.store import Store
from tests.helpers import SIGN_OFF_FLAGS, TODAY, signed_off_profile
from tests.pki import PASSPHRASE

PLAN_NAME = "测试规划（新增技能人才、基层调处、电子社保卡，取消南粤家政）"
DISPUTES = PackageIndicator(
    "disputes_filed",
    "基层劳动争议受理数",
    "件",
    "基层调处",
    PackageKind.COUNT_PAIR,
    sub_code="disputes_settled",
    sub_name="其中：调处成功数",
    rate_code="disputes_settle_rate",
    rate_name="基层劳动争议调处成功率",
    rate_target=Fraction(80, 100),
)
E_CARDS = PackageIndicator("e_card_holders", "电子社保卡领用人数（季末数）", "人", "电子社保卡", PackageKind.STOCK)
SHIPPED_CODES = [
    "card_holders",
    "yuecai_certified",
    "nanyue_trained",
    "mediation_cases",
    "mediation_success",
    "arbitration_due",
    "arbitration_closed",
    "inspection_cases",
    "inspection_closed",
    "mediation_success_rate",
    "arbitration_closure_rate",
    "inspection_closure_rate",
]


def domain_package() -> PlanPackage:
    base = sample_package()

    def split(s: TownSplit) -> TownSplit:
        targets = {c: v for c, v in s.targets.items() if c != "nanyue_trained"}
        targets[E_CARDS.code] = 1_000 if s.town != CITY else 33_000
        rates = {**s.rates, DISPUTES.rate_code: Fraction(80, 100)}
        return TownSplit(s.town, targets, rates, {})

    package = replace(
        base,
        name=PLAN_NAME,
        sample=False,
        form_number="测试表号",
        approval_number="测试批准文号",
        indicators=(*(i for i in base.indicators if i.code != "nanyue_trained"), DISPUTES, E_CARDS),
        towns=tuple(split(s) for s in base.towns),
        city=split(base.city),
    )
    check_package(package)
    return package


@pytest.fixture(scope="module")
def signed_plan(tmp_path_factory, city_keys):
    """This module's plan, signed by the session's city root (tests/pki.py), and 莞城's identity."""
    base = tmp_path_factory.mktemp("keys")
    (base / "pw.txt").write_text(PASSPHRASE.decode(), encoding="utf-8")
    city_key, town_p12 = city_keys["city_key"], city_keys["town_p12"]
    out = base / "测试 2026-2030.plan"
    write_plan_file(domain_package(), open_root(city_key, PASSPHRASE), out)
    return {"plan": out, "p12": town_p12, "passphrase_file": base / "pw.txt", "city_key": city_key, "base": base}


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def import_into(db, signed_plan, capsys):
    identity = ["identity", "import", signed_plan["p12"], "--passphrase-file", signed_plan["passphrase_file"]]
    assert run(capsys, "--db", db, *identity)[0] == 0
    code, out, err = run(capsys, "--db", db, "plan", "import", signed_plan["plan"])
    assert code == 0, err


@pytest.fixture
def town_db(tmp_path, signed_plan, capsys):
    db = tmp_path / "镇街 数据库.sqlite3"
    assert run(capsys, "--db", db, "init", "--town", "莞城")[0] == 0
    assert run(capsys, "--db", db, "profile", *SIGN_OFF_FLAGS)[0] == 0
    import_into(db, signed_plan, capsys)
    return db


def test_enter_takes_the_new_code_and_refuses_the_dropped_one_naming_the_plan(town_db, capsys):
    code, _, err = run(capsys, "--db", town_db, "enter", "--quarter", "2026Q1", "skilled_trained=120")
    assert code == 0, err
    code, _, err = run(capsys, "--db", town_db, "enter", "--quarter", "2026Q1", "nanyue_trained=5")
    assert code == 2
    assert "nanyue_trained" in err and PLAN_NAME in err and "skilled_trained" in err
    with Store(town_db, today=lambda: TODAY) as store:
        assert store.figures(Quarter(2026, 1)) == {"skilled_trained": 120}
        assert store.quarter_plan(Quarter(2026, 1)).plan_name == PLAN_NAME
        assert store.audit_trail(code="skilled_trained")[-1].new_value == "120"
    code, out, _ = run(capsys, "--db", town_db, "history", "--indicator", "skilled_trained", "--json")
    assert code == 0 and json.loads(out)[-1]["new_value"] == "120"
    code, out, _ = run(capsys, "--db", town_db, "history", "--indicator", "skilled_trained")
    assert code == 0 and "2026Q1 技能人才培养人数  （空） → 120" in out


def test_the_2025_quarters_keep_the_shipped_list(town_db, capsys):
    assert run(capsys, "--db", town_db, "enter", "--quarter", "2025Q4", "nanyue_trained=5")[0] == 0
    code, _, err = run(capsys, "--db", town_db, "enter", "--quarter", "2025Q4", "skilled_trained=5")
    assert code == 2 and "skilled_trained" in err and "十四五" in err
    code, out, _ = run(capsys, "--db", town_db, "progress", "--quarter", "2025Q4", "--json")
    shown = json.loads(out)
    assert list(shown["indicators"]) == SHIPPED_CODES
    assert shown["indicators"]["nanyue_trained"]["quarter"] == 5


def test_a_count_pair_under_new_codes_is_checked_as_a_count_pair(town_db, capsys):
    code, out, err = run(
        capsys, "--db", town_db, "enter", "--quarter", "2026Q1", "disputes_filed=5", "disputes_settled=9", "--json"
    )
    assert code == 2
    errors = [f for f in json.loads(out)["findings"] if f["level"] == "error"]
    assert [(f["rule"], f["indicator"]) for f in errors] == [("sub_exceeds_total", "disputes_settled")]
    assert errors[0]["message"] == "调处成功数 9 大于基层劳动争议受理数 5"
    assert run(capsys, "--db", town_db, "enter", "--quarter", "2026Q1", "disputes_filed=10", "disputes_settled=5")[0] == 0
    code, out, _ = run(capsys, "--db", town_db, "check", "--quarter", "2026Q1", "--json")
    findings = {(f["rule"], f["indicator"]): f for f in json.loads(out)}
    below = findings[("rate_below_target", "disputes_settle_rate")]
    assert "基层劳动争议调处成功率本年累计 50.0%（5/10），未达到目标 80%以上（含本数）" in below["message"]
    not_entered = {i for rule, i in findings if rule == "not_entered"}
    assert "nanyue_trained" not in not_entered and {"skilled_trained", "e_card_holders"} <= not_entered


def test_stock_and_flow_rules_follow_the_kinds_of_the_plan(town_db, capsys):
    enter = ["--db", town_db, "enter", "--quarter"]
    assert run(capsys, *enter, "2026Q1", "e_card_holders=500", "skilled_trained=30")[0] == 0
    assert run(capsys, *enter, "2026Q2", "e_card_holders=400", "skilled_trained=400")[0] == 0
    code, out, _ = run(capsys, "--db", town_db, "check", "--quarter", "2026Q2", "--json")
    findings = {(f["rule"], f["indicator"]): f for f in json.loads(out)}
    decreased = findings[("card_holders_decreased", "e_card_holders")]
    assert decreased["message"].startswith("电子社保卡领用人数（季末数） 400 少于上季度 500（减少 100）")
    assert ("flow_spike", "skilled_trained") in findings
    assert "技能人才培养人数 400 超过此前 1 个非零季度均值" in findings[("flow_spike", "skilled_trained")]["message"]
    base_missing = findings[("base_missing", "e_card_holders")]["message"]
    assert "规划期初的电子社保卡领用人数，即 2025 年末数" in base_missing
    # a 基期数 goes to the plan's stock; a flow of the plan has none
    code, out, _ = run(capsys, "--db", town_db, "base", "e_card_holders=300", "--json")
    assert code == 0 and json.loads(out)["bases"] == {"e_card_holders": 300}
    code, _, err = run(capsys, "--db", town_db, "base", "skilled_trained=3")
    assert code == 2 and "e_card_holders" in err


def test_progress_lists_exactly_the_plans_indicators_with_its_targets_and_pace(town_db, capsys):
    package = domain_package()
    targets = next(s for s in package.towns if s.town == "莞城").targets
    figures = ["skilled_trained=120", "disputes_filed=4", "disputes_settled=4"]
    assert run(capsys, "--db", town_db, "enter", "--quarter", "2026Q1", *figures)[0] == 0
    code, out, _ = run(capsys, "--db", town_db, "progress", "--quarter", "2026Q1", "--json")
    shown = json.loads(out)
    catalogue = package.catalogue()
    assert list(shown["indicators"]) == [*catalogue.indicator_codes, *catalogue.rate_codes]
    assert set(shown["indicators"]) == {c for i in package.indicators for c in i.codes}
    assert "nanyue_trained" not in shown["indicators"]
    assert shown["plan"] == PLAN_NAME and shown["time_progress"] == 0.05
    skilled = shown["indicators"]["skilled_trained"]
    assert skilled["target"] == targets["skilled_trained"] and skilled["actual"] == 120
    assert skilled["completion"] == round(120 / targets["skilled_trained"], 6)
    assert skilled["status"] == ("正常" if 120 / targets["skilled_trained"] >= 0.05 else "严重滞后")
    e_cards = shown["indicators"]["e_card_holders"]
    assert e_cards["target"] == 1_000 and e_cards["base"] is None and "needs_base" in e_cards
    assert shown["indicators"]["disputes_settle_rate"]["rate"] == 1.0
    assert shown["indicators"]["disputes_settle_rate"]["target"] == 0.8
    code, out, _ = run(capsys, "--db", town_db, "progress", "--quarter", "2026Q1")
    assert "技能人才培养人数：本季度 120" in out and "“南粤家政”培训人数" not in out
    code, out, _ = run(capsys, "--db", town_db, "annual", "--year", "2026", "--json")
    year = json.loads(out)
    assert year["totals"]["skilled_trained"] == 120 and "nanyue_trained" not in year["totals"]
    assert year["rates"]["disputes_settle_rate"]["rate"] == 1.0


def test_an_old_database_with_shipped_codes_keeps_working_beside_the_new_plan(tmp_path, signed_plan, capsys):
    db = tmp_path / "旧 数据库.sqlite3"
    with Store(db, today=lambda: TODAY) as store:
        store.bind_town("莞城")
        store.set_profile(signed_off_profile())
        store.save_quarter(Quarter(2025, 3), {"nanyue_trained": 7, "card_holders": 1_000})
    import_into(db, signed_plan, capsys)
    code, out, _ = run(capsys, "--db", db, "progress", "--quarter", "2025Q3", "--json")
    assert code == 0 and json.loads(out)["indicators"]["nanyue_trained"]["quarter"] == 7
    code, out, _ = run(capsys, "--db", db, "history", "--indicator", "nanyue_trained")
    assert code == 0 and "南粤家政" in out
    assert run(capsys, "--db", db, "audit", "verify")[0] == 0
    assert run(capsys, "--db", db, "status")[0] == 0
    assert run(capsys, "--db", db, "check", "--quarter", "2025Q3")[0] == 0


def test_targets_import_is_closed(town_db, tmp_path, capsys):
    source = tmp_path / "targets_2031_2035.csv"
    source.write_text("序号,镇街\n", encoding="utf-8")
    code, out, err = run(capsys, "--db", town_db, "targets", "import", source)
    assert code == 2 and "plan import" in err and "签名" in err and out == ""
    code, out, _ = run(capsys, "--db", town_db, "targets", "list", "--json")
    assert [p["name"] for p in json.loads(out)][-1] == PLAN_NAME


def test_what_blocks_a_return_is_missing_figures_of_the_quarters_plan(town_db, capsys):
    from core.validation import submission_blockers

    assert run(capsys, "--db", town_db, "enter", "--quarter", "2026Q1", "yuecai_certified=3")[0] == 0
    with Store(town_db, today=lambda: TODAY) as store:
        quarter = Quarter(2026, 1)
        blockers = submission_blockers(store.check(quarter), store.figures(quarter))
    assert "技能人才培养人数尚未填写" in blockers and "电子社保卡领用人数（季末数）尚未填写" in blockers
    assert not any("南粤家政" in b or "粤菜师傅" in b for b in blockers)


def corrected(signed_plan, town: str, skilled: int):
    """The city's corrected version of the same plan: one town's skilled_trained target changed."""
    package = domain_package()
    towns = tuple(
        replace(s, targets={**s.targets, "skilled_trained": skilled}) if s.town == town else s for s in package.towns
    )
    difference = skilled - next(s for s in package.towns if s.town == town).targets["skilled_trained"]
    city_total = package.city.targets["skilled_trained"] + difference
    city = replace(package.city, targets={**package.city.targets, "skilled_trained": city_total})
    fixed = replace(package, towns=towns, city=city)
    check_package(fixed)
    out = signed_plan["base"] / f"更正 {skilled}.plan"
    write_plan_file(fixed, open_root(signed_plan["city_key"], PASSPHRASE), out)
    return fixed, out


def test_a_corrected_plan_replaces_the_one_it_corrects_while_nothing_was_submitted(town_db, signed_plan, capsys):
    assert run(capsys, "--db", town_db, "enter", "--quarter", "2026Q1", "skilled_trained=120")[0] == 0
    fixed, path = corrected(signed_plan, "莞城", 2_000)
    code, _, err = run(capsys, "--db", town_db, "plan", "import", path)
    assert code == 0, err
    with Store(town_db, today=lambda: TODAY) as store:
        assert [p.content_hash for p in store.plans()][-1] == fixed.content_hash
        assert [p.id for p in store.plan_packages()] == [fixed.id]
        assert store.quarter_plan(Quarter(2026, 1)).content_hash == fixed.content_hash
        assert store.figures(Quarter(2026, 1)) == {"skilled_trained": 120}
    code, out, _ = run(capsys, "--db", town_db, "progress", "--quarter", "2026Q1", "--json")
    assert json.loads(out)["indicators"]["skilled_trained"]["target"] == 2_000


def test_a_correction_is_refused_once_a_quarter_was_exported_signed_under_the_plan(town_db, signed_plan, capsys):
    assert run(capsys, "--db", town_db, "enter", "--quarter", "2026Q1", "skilled_trained=120")[0] == 0
    with Store(town_db, today=lambda: TODAY) as store:
        store.record_export(Quarter(2026, 1), 1, "0" * 64, ["2026Q1_莞城_季报.pdf"])
        before = store.plan_packages()
    _, path = corrected(signed_plan, "莞城", 2_500)
    code, _, err = run(capsys, "--db", town_db, "plan", "import", path)
    assert code == 2 and "更正版未导入" in err and "2026年第1季度" in err
    with Store(town_db, today=lambda: TODAY) as store:
        assert store.plan_packages() == before
