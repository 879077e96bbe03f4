"""Signed plan packages: the city's workbook, the signed .plan file, import into a town's database."""

import json
import sqlite3
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import openpyxl
import pytest

from cli import main
from core.errors import PlanError
from core.indicators import SHIPPED
from core.plan_package import (
    SAMPLE_MARK,
    PackageIndicator,
    PackageKind,
    PlanPackage,
    StatedDifference,
    TownSplit,
    canonical_json,
    check_no_overlap,
    check_package,
    package_from_content,
    sample_package,
    shipped_package,
)
from core.plans import CITY, TOWNS, load_shipped_plan
from core.quarters import Quarter
from reports.identity import load_trust_roots, open_identity
from reports.plan_file import FORMAT, PlanPackageError, open_root, read_plan_file, write_plan_file
from reports.plan_workbook import (
    SHEET_HEADER,
    SHEET_LIST,
    SHEET_SPLIT,
    SHEETS,
    SPLIT_FIRST_TOWN_ROW,
    SPLIT_KEY_ROW,
    PlanWorkbookError,
    read_workbook,
    write_template,
    write_workbook,
)
from storage.store import Store
from tests.helpers import SIGN_OFF_FLAGS, TODAY, signed_off_profile
from tests.pki import PASSPHRASE


@pytest.fixture(scope="module")
def keys(tmp_path_factory, city_keys, foreign_root):
    """The session's city root and 莞城's identity (tests/pki.py), a foreign root, and a folder of this module's own."""
    base = tmp_path_factory.mktemp("keys")
    (base / "pw.txt").write_text(PASSPHRASE.decode(), encoding="utf-8")
    city_cert, city_key, town_p12 = city_keys["city_cert"], city_keys["city_key"], city_keys["town_p12"]
    foreign_key = foreign_root[1]
    return {
        "base": base,
        "passphrase_file": base / "pw.txt",
        "city_cert": city_cert,
        "city_key": city_key,
        "foreign_key": foreign_key,
        "town_p12": town_p12,
    }


@pytest.fixture(scope="module")
def sample_plan(keys):
    out = keys["base"] / "示例 2026-2030.plan"
    write_plan_file(sample_package(), open_root(keys["city_key"], PASSPHRASE), out)
    return out


def import_identity(db: Path, keys) -> None:
    """The town's identity imported into `db`, which pins the city root."""
    args = ["--db", str(db), "identity", "import", str(keys["town_p12"]), "--passphrase-file", str(keys["passphrase_file"])]
    assert main(args) == 0


@pytest.fixture
def town_db(tmp_path, keys, capsys):
    """A town's database with its identity imported, so the city root is pinned."""
    db = tmp_path / "镇街 数据库.sqlite3"
    assert main(["--db", str(db), "init", "--town", "莞城"]) == 0
    assert main(["--db", str(db), "profile", *SIGN_OFF_FLAGS]) == 0
    import_identity(db, keys)
    capsys.readouterr()
    return db


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def recorded(db: Path) -> tuple[list, int, int]:
    """What an import would change: the packages, the plans and the audit trail's length."""
    with Store(db, today=lambda: TODAY) as store:
        return store.plan_packages(), len(store.plans()), len(store.audit_trail())


# --- the model ------------------------------------------------------------------------------------


def test_the_shipped_plan_as_a_package_is_todays_list_and_split():
    package = shipped_package()
    assert package.catalogue() == SHIPPED
    plan, annex = package.to_plan(), load_shipped_plan()
    assert (plan.name, plan.first, plan.last, plan.towns, plan.city) == (
        annex.name,
        annex.first,
        annex.last,
        annex.towns,
        annex.city,
    )
    assert (plan.plan_id, plan.content_hash, plan.catalogue) == (package.id, package.content_hash, SHIPPED)
    assert not package.sample and package.first == Quarter(2021, 1) and package.last == Quarter(2025, 4)


def test_canonical_content_is_sorted_compact_utf8_and_round_trips():
    package = sample_package()
    raw = package.canonical_bytes()
    assert raw == json.dumps(json.loads(raw), ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    assert "示例（非正式目标）".encode() in raw  # UTF-8, not \\u escapes
    again = package_from_content(json.loads(raw))
    assert again.content_hash == package.content_hash and again.id == package.id
    assert package.id.startswith("2026-2030-") and package.content_hash.startswith(package.id[-8:])


def test_a_count_pair_maps_onto_a_figure_its_sub_count_and_a_rate():
    pair = PackageIndicator(
        "appeal_cases",
        "信访案件数",
        "件",
        "信访",
        PackageKind.COUNT_PAIR,
        sub_code="appeal_settled",
        sub_name="其中：办结数",
        rate_code="appeal_settled_rate",
        rate_name="信访办结率",
        rate_target=Fraction(90, 100),
    )
    catalogue = replace(sample_package(), indicators=(*sample_package().indicators, pair)).catalogue()
    parent, child = catalogue.by_code["appeal_cases"], catalogue.by_code["appeal_settled"]
    assert child.parent == "appeal_cases" and not parent.has_plan_target
    rate = catalogue.rate_by_code["appeal_settled_rate"]
    assert (rate.numerator, rate.denominator, rate.default_target) == (
        "appeal_settled",
        "appeal_cases",
        Fraction(9, 10),
    )
    assert catalogue.display_name("appeal_settled") == "办结数"
    assert "信访" in catalogue.groups and catalogue.is_known_code("appeal_settled_rate")


def test_the_sample_is_marked_and_changes_the_list():
    package = sample_package()
    check_package(package)
    assert package.sample and SAMPLE_MARK in package.name
    assert package.first == Quarter(2026, 1) and package.last == Quarter(2030, 4)
    assert "skilled_trained" in package.catalogue().planned_codes
    assert set(SHIPPED.indicator_codes) < set(package.catalogue().indicator_codes)


def _without_town(package: PlanPackage, town: str) -> PlanPackage:
    return replace(package, towns=tuple(t for t in package.towns if t.town != town))


def _with_target(package: PlanPackage, town: str, code: str, value: int) -> PlanPackage:
    towns = tuple(replace(t, targets={**t.targets, code: value}) if t.town == town else t for t in package.towns)
    return replace(package, towns=towns)


def _with_rate(package: PlanPackage, town: str, code: str, rate: Fraction) -> PlanPackage:
    towns = tuple(replace(t, rates={**t.rates, code: rate}) if t.town == town else t for t in package.towns)
    return replace(package, towns=towns)


CHECKS = {
    "a town missing": (lambda p: _without_town(p, "虎门"), "缺少这些镇街：虎门"),
    "a town extra": (
        lambda p: replace(p, towns=(*p.towns, replace(p.towns[0], town="广州"))),
        "这些不是东莞的镇街：广州",
    ),
    "sum mismatch": (lambda p: _with_target(p, "莞城", "yuecai_certified", 1), "与全市合计"),
    "duplicate code": (
        lambda p: replace(p, indicators=(*p.indicators, p.indicators[1])),
        "指标代码“yuecai_certified”重复",
    ),
    "rate 120%": (
        lambda p: _with_rate(p, "石龙", "mediation_success_rate", Fraction(12, 10)),
        "石龙“劳动人事争议调解成功率”的目标 120% 不在 0 到 100% 之间",
    ),
    "first after last": (
        lambda p: replace(p, first=Quarter(2031, 1)),
        "早于开始季度",
    ),
    "bad code": (
        lambda p: replace(p, indicators=(replace(p.indicators[0], code="Card-Holders"), *p.indicators[1:])),
        "指标代码“Card-Holders”不合规",
    ),
}


@pytest.mark.parametrize("case", CHECKS, ids=list(CHECKS))
def test_each_check_refuses_with_its_reason(case):
    change, reason = CHECKS[case]
    with pytest.raises(PlanError) as refused:
        check_package(change(sample_package()))
    assert reason in refused.value.message


def test_a_stated_difference_allows_the_towns_to_fall_short_of_the_total():
    short = _with_target(sample_package(), "莞城", "yuecai_certified", 0)
    gap = sample_package().city.targets["yuecai_certified"] - sum(t.targets["yuecai_certified"] for t in short.towns)
    check_package(replace(short, differences=(StatedDifference("yuecai_certified", gap, "市级直接承担"),)))
    with pytest.raises(PlanError, match="与说明的差额"):
        check_package(replace(short, differences=(StatedDifference("yuecai_certified", gap + 1, "算错了"),)))


def test_overlapping_periods_are_found():
    sample = sample_package()
    check_no_overlap([shipped_package(), sample, sample])  # the same package twice is not an overlap
    other = replace(sample, name="另一个规划", first=Quarter(2025, 4))
    with pytest.raises(PlanError, match="规划期重叠"):
        check_no_overlap([shipped_package(), other])


# --- the workbook ---------------------------------------------------------------------------------


def fill_template(path: Path, package: PlanPackage) -> None:
    """Fill the template as the city's statistician would: header, one added indicator, every target."""
    book = openpyxl.load_workbook(path)
    header = book[SHEET_HEADER]
    values = {
        "规划名称": package.name,
        "开始季度": "2026Q1",
        "结束季度": "2030Q4",
        "表号": "人社季报1表",
        "批准文号": "东统字〔2026〕1号",
        "有效期至": "2030年12月",
        "是否示例": "是",
    }
    for row in header.iter_rows(min_row=3):
        if row[0].value in values:
            row[1].value = values[row[0].value]
    listing = book[SHEET_LIST]
    listing.insert_rows(6)  # after the three plan targets, as the package's order has it
    for column, value in enumerate(
        [4, "skilled_trained", "技能人才培养人数", "技能人才培养", "人次", "技能人才", "流量"], 1
    ):
        listing.cell(6, column, value)
    split = book[SHEET_SPLIT]
    split.insert_cols(6)
    split.cell(2, 6, "技能人才培养人数（人次）")
    split.cell(SPLIT_KEY_ROW, 6, "skilled_trained")
    keys = {c: split.cell(SPLIT_KEY_ROW, c).value for c in range(2, split.max_column + 1)}
    by_town = {t.town: t for t in (*package.towns, package.city)}
    for r in range(SPLIT_FIRST_TOWN_ROW, SPLIT_FIRST_TOWN_ROW + len(TOWNS) + 1):
        town = by_town[split.cell(r, 1).value]
        for c, key in keys.items():
            if key in town.rates:
                split.cell(r, c, float(town.rates[key] * 100))
            elif key in town.targets:
                split.cell(r, c, town.targets[key])
    book.save(path)


def test_template_fill_build_import_list_round_trip(tmp_path, keys, town_db, capsys):
    template = tmp_path / "规划 模板.xlsx"
    assert run(capsys, "plan", "template", "--out", template)[0] == 0
    book = openpyxl.load_workbook(template)
    assert book.sheetnames == list(SHEETS)
    towns = [book[SHEET_SPLIT].cell(r, 1).value for r in range(SPLIT_FIRST_TOWN_ROW, SPLIT_FIRST_TOWN_ROW + 34)]
    assert towns == [*TOWNS, CITY]

    fill_template(template, sample_package())
    out = tmp_path / "2026-2030.plan"
    code, printed, err = run(
        capsys,
        "plan",
        "build",
        template,
        "--root",
        keys["city_key"],
        "--root-passphrase-file",
        keys["passphrase_file"],
        "--out",
        out,
        "--json",
    )
    assert code == 0, err
    built = json.loads(printed)["plan"]
    assert [i["code"] for i in built["indicators"]][:4] == [
        "card_holders",
        "yuecai_certified",
        "nanyue_trained",
        "skilled_trained",
    ]
    assert built["approval_number"] == "东统字〔2026〕1号" and built["sample"] is True
    assert json.loads(out.read_text(encoding="utf-8"))["format"] == FORMAT

    code, printed, err = run(capsys, "--db", town_db, "plan", "import", out)
    assert code == 0, err
    assert "已导入规划" in printed and "技能人才培养人数" in printed and "目标不是正式目标" in printed
    code, printed, _ = run(capsys, "--db", town_db, "plan", "import", out, "--json")
    assert code == 0 and json.loads(printed)["imported"] is False  # same content again: nothing changes

    code, printed, _ = run(capsys, "--db", town_db, "plan", "list", "--json")
    listed = json.loads(printed)
    assert [(p["first"], p["last"], p["origin"]) for p in listed] == [
        ("2021Q1", "2025Q4", "built_in"),
        ("2026Q1", "2030Q4", "signed"),
    ]
    assert listed[1]["id"] == built["id"] and listed[1]["content_hash"] == built["content_hash"]

    with Store(town_db, today=lambda: TODAY) as store:
        assert (
            store.plan_for(Quarter(2026, 1)).city.counts["skilled_trained"]
            == sample_package().city.targets["skilled_trained"]
        )
        store.save_quarter(Quarter(2026, 1), {"yuecai_certified": 12})
        pinned = store.quarter_plan(Quarter(2026, 1))
        assert (pinned.plan_id, pinned.content_hash) == (built["id"], built["content_hash"])
        assert any(r.action == "plan_import" and built["id"] in (r.new_value or "") for r in store.audit_trail())
        assert store.verify_audit().ok


def test_workbook_errors_name_sheet_row_and_column_and_all_are_collected(tmp_path):
    path = tmp_path / "split.xlsx"
    write_workbook(path, sample_package())
    book = openpyxl.load_workbook(path)
    split = book[SHEET_SPLIT]
    split["C6"] = "一百"  # 虎门 (row 6), the second column
    split["H7"] = 120  # 东城's 调解成功率
    split.delete_rows(10)  # 中堂's row
    book[SHEET_HEADER]["B4"] = "2026年第五季度"
    book[SHEET_LIST]["G5"] = "存量"
    book.save(path)
    with pytest.raises(PlanWorkbookError) as refused:
        read_workbook(path)
    problems = refused.value.problems
    assert any(p.startswith("工作表“分解表”第 6 行 C 列：") for p in problems), problems
    assert any(p.startswith("工作表“分解表”第 7 行 H 列：") and "100%" in p for p in problems), problems
    assert any(p.startswith("工作表“规划信息”第 4 行 B 列：") for p in problems), problems
    assert any(p.startswith("工作表“指标清单”第 5 行 G 列：") and "存量" in p for p in problems), problems
    assert any("缺少这些镇街：中堂" in p for p in problems), problems


def test_a_sum_that_does_not_add_up_points_at_the_city_row(tmp_path):
    path = tmp_path / "split.xlsx"
    write_workbook(path, sample_package())
    book = openpyxl.load_workbook(path)
    book[SHEET_SPLIT]["D4"] = book[SHEET_SPLIT]["D4"].value + 5  # 莞城's 粤菜师傅
    book.save(path)
    with pytest.raises(PlanWorkbookError) as refused:
        read_workbook(path)
    city_row = SPLIT_FIRST_TOWN_ROW + len(TOWNS)
    assert refused.value.problems == [
        f"工作表“分解表”第 {city_row} 行 D 列：“{SHIPPED.by_code['yuecai_certified'].name}”33 个镇街合计 "
        f"{sample_package().city.targets['yuecai_certified'] + 5:,}，与全市合计 "
        f"{sample_package().city.targets['yuecai_certified']:,} 不符（相差 +5），如确有差额请在差额说明中写明"
    ]


def test_the_sample_workbook_carries_the_mark_on_every_sheet_and_reads_back(tmp_path):
    path = tmp_path / "sample.xlsx"
    write_workbook(path, sample_package())
    book = openpyxl.load_workbook(path)
    for sheet in book.worksheets:
        assert SAMPLE_MARK in sheet["A1"].value and SAMPLE_MARK in sheet.oddHeader.center.text
    assert read_workbook(path).content_hash == sample_package().content_hash
    write_template(tmp_path / "blank.xlsx")
    blank = openpyxl.load_workbook(tmp_path / "blank.xlsx")
    assert all(SAMPLE_MARK not in sheet["A1"].value for sheet in blank.worksheets)


# --- the signed file and its refusals -------------------------------------------------------------


def test_a_signed_package_verifies_against_the_city_root(keys, sample_plan):
    verified = read_plan_file(sample_plan, load_trust_roots(keys["city_cert"]))
    assert verified.package.content_hash == sample_package().content_hash


def _envelope(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def unsigned(keys, sample_plan, tmp_path):
    envelope = _envelope(sample_plan)
    envelope["signature"] = ""
    return json.dumps(envelope, ensure_ascii=False).encode()


def foreign_root(keys, sample_plan, tmp_path):
    out = tmp_path / "foreign.plan"
    write_plan_file(sample_package(), open_root(keys["foreign_key"], PASSPHRASE), out)
    return out.read_bytes()


def town_key(keys, sample_plan, tmp_path):
    out = tmp_path / "town.plan"
    write_plan_file(sample_package(), open_identity(keys["town_p12"].read_bytes(), PASSPHRASE), out)
    return out.read_bytes()


def altered_byte(keys, sample_plan, tmp_path):
    envelope = _envelope(sample_plan)
    target = sample_package().city.targets["yuecai_certified"]
    envelope["content"] = envelope["content"].replace(
        f'"yuecai_certified":{target}', f'"yuecai_certified":{target + 1}'
    )
    assert envelope["content"] != _envelope(sample_plan)["content"]
    return json.dumps(envelope, ensure_ascii=False).encode()


def truncated(keys, sample_plan, tmp_path):
    data = sample_plan.read_bytes()
    return data[: len(data) // 2]


def oversized(keys, sample_plan, tmp_path):
    return b" " * (4 * 1024 * 1024 + 1)


def other_format(keys, sample_plan, tmp_path):
    envelope = _envelope(sample_plan)
    envelope["format"] = "something-else/9"
    return json.dumps(envelope).encode()


def non_canonical(keys, sample_plan, tmp_path):
    """Content signed by the city root but not in canonical form: two files of one plan must have one hash."""
    content = json.dumps(sample_package().content(), ensure_ascii=False, indent=2).encode()
    from reports.signing import sign_payload

    signature = sign_payload(open_root(keys["city_key"], PASSPHRASE), content)
    return json.dumps({"format": FORMAT, "content": content.decode(), "signature": signature}).encode()


REFUSALS = {
    "unsigned": (unsigned, "规划文件未签名"),
    "foreign root": (foreign_root, "不是由受信任的市局根证书签名"),
    "town key": (town_key, "由莞城的签名证书签名，不是市局根证书"),
    "altered byte": (altered_byte, "规划内容在签名后被改动"),
    "truncated": (truncated, "规划文件已损坏或不完整"),
    "oversized": (oversized, "规划文件过大"),
    "other format": (other_format, "不是本系统的规划文件"),
    "not canonical": (non_canonical, "不是规范格式"),
}


@pytest.mark.parametrize("case", REFUSALS, ids=list(REFUSALS))
def test_a_bad_package_is_refused_at_import_with_its_reason_and_nothing_recorded(
    case, keys, sample_plan, town_db, tmp_path, capsys
):
    make, reason = REFUSALS[case]
    path = tmp_path / f"{case}.plan"
    path.write_bytes(make(keys, sample_plan, tmp_path))
    before = recorded(town_db)
    code, printed, err = run(capsys, "--db", town_db, "plan", "import", path, "--json")
    assert code == 2
    assert reason in err and json.loads(printed) == {"imported": False, "reason": json.loads(printed)["reason"]}
    assert reason in json.loads(printed)["reason"]
    assert recorded(town_db) == before
    with pytest.raises(PlanPackageError, match=reason):
        read_plan_file(path, load_trust_roots(keys["city_cert"]))


def test_import_needs_a_pinned_root(tmp_path, sample_plan, capsys):
    db = tmp_path / "no identity.sqlite3"
    assert main(["--db", str(db), "init", "--town", "莞城"]) == 0
    assert main(["--db", str(db), "profile", *SIGN_OFF_FLAGS]) == 0
    code, _, err = run(capsys, "--db", db, "plan", "import", sample_plan)
    assert code == 2 and "还没有市局根证书" in err
    assert recorded(db)[0] == []


def test_a_city_database_verifies_against_its_trust_root(tmp_path, keys, sample_plan, capsys):
    db = tmp_path / "city.sqlite3"
    assert main(["--db", str(db), "init", "--city", "--trust", str(keys["city_cert"])]) == 0
    code, _, err = run(capsys, "--db", db, "plan", "import", sample_plan)
    assert code == 0, err
    assert [p.id for p in recorded(db)[0]] == [sample_package().id]


def test_a_different_package_overlapping_an_imported_one_is_refused(keys, sample_plan, town_db, tmp_path, capsys):
    assert run(capsys, "--db", town_db, "plan", "import", sample_plan)[0] == 0
    revised = _with_target(sample_package(), "莞城", "skilled_trained", 1)
    revised = replace(  # another plan over the same period (a same-name correction: tests/test_plan_domain.py)
        revised,
        name="另一规划 2026-2030 示例（非正式目标）",
        city=replace(
            revised.city,
            targets={
                **revised.city.targets,
                "skilled_trained": sum(t.targets["skilled_trained"] for t in revised.towns),
            },
        ),
    )
    out = tmp_path / "revised.plan"
    write_plan_file(revised, open_root(keys["city_key"], PASSPHRASE), out)
    before = recorded(town_db)
    code, _, err = run(capsys, "--db", town_db, "plan", "import", out)
    assert code == 2 and "重叠" in err and sample_package().id in err
    assert recorded(town_db) == before


def test_a_package_overlapping_the_shipped_plan_is_refused(keys, town_db, tmp_path, capsys):
    early = replace(sample_package(), first=Quarter(2025, 1))
    out = tmp_path / "early.plan"
    write_plan_file(early, open_root(keys["city_key"], PASSPHRASE), out)
    before = recorded(town_db)
    code, _, err = run(capsys, "--db", town_db, "plan", "import", out)
    assert code == 2 and "重叠" in err
    assert recorded(town_db) == before


# --- storage --------------------------------------------------------------------------------------


def test_a_database_of_revision_0004_migrates_and_keeps_its_quarters_plan(tmp_path, keys, sample_plan, capsys):
    from tests.helpers import downgrade_database

    db = tmp_path / "旧 数据库.sqlite3"
    with Store(db, today=lambda: TODAY) as store:
        store.bind_town("莞城")
        store.set_profile(signed_off_profile())
        store.save_quarter(Quarter(2024, 3), {"yuecai_certified": 9})
    downgrade_database(db, "0004")
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] == "0004"
        assert "plan_packages" not in {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}

    with Store(db, today=lambda: TODAY) as store:
        assert [p.name for p in store.plans()] == [shipped_package().name]
        assert store.quarter_plan(Quarter(2024, 3)).plan_name == shipped_package().name
        assert store.figures(Quarter(2024, 3)) == {"yuecai_certified": 9}
        assert store.verify_audit().ok
    import_identity(db, keys)
    assert run(capsys, "--db", db, "plan", "import", sample_plan)[0] == 0
    with Store(db, today=lambda: TODAY) as store:
        assert [p.first for p in store.plans()] == [Quarter(2021, 1), Quarter(2026, 1)]
        store.save_quarter(Quarter(2024, 4), {"yuecai_certified": 3})
        assert store.quarter_plan(Quarter(2024, 4)).plan_id == shipped_package().id


def test_a_package_with_stock_bases_gives_them_to_the_plan(store):
    package = sample_package()
    towns = tuple(replace(t, bases={"card_holders": 1000 + i}) for i, t in enumerate(package.towns))
    with_bases = replace(package, towns=towns)
    check_package(with_bases)
    assert store.import_plan_package(with_bases, source="bases.plan") is True
    plan = store.plan_for(Quarter(2026, 2))
    assert plan.targets_for("莞城").bases == {"card_holders": 1000}
    partial = replace(package, towns=(replace(towns[0], bases={"card_holders": 5}), *package.towns[1:]))
    with pytest.raises(PlanError, match="基期数只给了部分镇街"):
        check_package(partial)


def test_split_rows_stay_in_canonical_order_whatever_order_they_were_given():
    package = sample_package()
    shuffled = replace(package, towns=tuple(reversed(package.towns)))
    assert package_from_content(json.loads(canonical_json(shuffled.content()))).towns == package.towns
    assert isinstance(package.towns[0], TownSplit) and package.towns[0].town == TOWNS[0]


def test_absurdly_nested_json_is_refused_not_a_crash(keys, tmp_path):
    path = tmp_path / "nested.plan"
    path.write_bytes(b"[" * 200_000 + b"]" * 200_000)
    with pytest.raises(PlanPackageError, match="已损坏或不完整"):
        read_plan_file(path, load_trust_roots(keys["city_cert"]))


def test_the_sample_is_built_signed_and_imports_into_a_town(keys, town_db, tmp_path):
    from actions.plan_packages import plan_import, plan_sample

    built = plan_sample(keys["city_key"], PASSPHRASE, tmp_path / "示例.plan", workbook=tmp_path / "示例.xlsx")
    assert built.summary.sample and SAMPLE_MARK in built.summary.name
    assert read_workbook(tmp_path / "示例.xlsx").content_hash == built.summary.content_hash
    with Store(town_db, today=lambda: TODAY) as store:
        result = plan_import(store, built.out)
        assert result.imported and result.summary.id == sample_package().id
        assert store.plan_for(Quarter(2026, 1)).name == sample_package().name


def test_the_citys_plan_commands_load_no_database_layer(tmp_path, keys):
    from tests.test_cli_imports import DATABASE, loaded, packages

    template = tmp_path / "模板.xlsx"
    code, modules = loaded(["plan", "template", "--out", str(template)], tmp_path)
    assert code == 0 and template.exists()
    assert packages(modules, DATABASE) == set()
    write_workbook(tmp_path / "split.xlsx", sample_package())
    argv = ["plan", "build", str(tmp_path / "split.xlsx"), "--root", str(keys["city_key"])]
    argv += ["--root-passphrase-file", str(keys["passphrase_file"]), "--out", str(tmp_path / "out.plan")]
    code, modules = loaded(argv, tmp_path)
    assert code == 0 and (tmp_path / "out.plan").exists()
    assert packages(modules, DATABASE) == set()


def test_reading_a_package_shows_what_it_holds_without_importing(keys, sample_plan):
    from actions.plan_packages import read_plan_package

    summary = read_plan_package(sample_plan, load_trust_roots(keys["city_cert"]))
    assert (summary.id, summary.first, summary.last, summary.sample) == (sample_package().id, "2026Q1", "2030Q4", True)
    by_code = {line.code: line for line in summary.indicators}
    assert by_code["skilled_trained"].kind == "flow"
    assert by_code["skilled_trained"].city_target == f"{sample_package().city.targets['skilled_trained']:,}"
    assert by_code["mediation_cases"].city_target == "劳动人事争议调解成功率 78%以上（含本数）"
    assert summary.root_sha256.count(":") == 31


def test_only_the_city_root_can_build_a_plan(tmp_path, keys, capsys):
    write_workbook(tmp_path / "split.xlsx", sample_package())
    out = tmp_path / "out.plan"
    code, _, err = run(
        capsys, "plan", "build", tmp_path / "split.xlsx", "--root", keys["town_p12"],
        "--root-passphrase-file", keys["passphrase_file"], "--out", out,
    )  # fmt: skip
    assert code == 2 and "不是市局根证书" in err and not out.exists()
