"""Issue 14, holes an outside attacker found: a town signs, with its own genuine key, a return the
exporter would never have written (no plan for a covered quarter, another 基期数, invented 完成率/状态/
累计, a dropped 需关注 line or 说明, a plan from an old unsigned row) and the city must refuse it; and the
city's plans for one quarter are one plan, whatever order they are given in.

Each forgery is built the attacker's way: the app's own prepare_export and write_return_files, the
town's own identity, a doctored ReturnData."""

import json
from dataclasses import replace
from fractions import Fraction

import pytest

from actions.city import issued_plans
from actions.returns import open_identity, prepare_export
from core.quarters import Quarter
from reports.export import write_return_files
from reports.identity import load_trust_roots
from reports.payload import DERIVED_MISMATCH, PLAN_MISMATCH
from reports.plan_file import open_root, write_plan_file
from reports.returns import plan_hash
from reports.verify import Verifier
from storage.store import Store
from tests.test_plan_returns import (  # noqa: F401  (keys and issued are fixtures)
    ADDED,
    PASSPHRASE,
    Q1,
    TOWN,
    added_and_dropped,
    issued,
    keys,
    q1_figures,
    run,
    town_database,
)

RATE = "mediation_success_rate"


def verifier(keys, *plan_files):  # noqa: F811
    roots = load_trust_roots(keys["city_cert"])
    return Verifier(roots, plans=issued_plans(list(plan_files), roots))


def signed_return(db, tmp_path, data, name):
    with Store(db) as store:
        identity = open_identity(store, PASSPHRASE)
    return write_return_files(data, tmp_path / name, identity=identity).workbook


def entered(tmp_path, keys, capsys, plan_file=None, **changes):  # noqa: F811
    """A town database with 2026Q1 entered (under `plan_file` when given) and exportable."""
    db = town_database(tmp_path, keys, capsys)
    if plan_file is not None:
        assert run(capsys, "--db", db, "plan", "import", plan_file)[0] == 0
    figures = {**q1_figures(added_and_dropped()), **changes}
    if plan_file is None:
        figures.pop(ADDED)
        figures["nanyue_trained"] = 10
    explain = ["--explain", f"{RATE}=调解案件多为疑难案件，下季度加强调解"] if "mediation_success" in changes else []
    code, out, err = run(
        capsys, "--db", db, "enter", "--quarter", Q1.code, *(f"{k}={v}" for k, v in figures.items()), *explain
    )
    assert code == 0, out + err
    return db


# --- 1: no plan for a quarter a trusted plan covers --------------------------------------------


def test_a_return_made_under_no_plan_for_a_covered_quarter_is_refused_and_not_counted(keys, issued, tmp_path, capsys):  # noqa: F811
    db = entered(tmp_path, keys, capsys)  # the town never imported the city's 2026–2030 plan
    outbox = tmp_path / "上报"
    code, out, err = run(capsys, "--db", db, "export", "--quarter", Q1.code, "--out", outbox, "--passphrase-file", keys["pw"])
    assert code == 2 and "不在任何已导入的规划期内" in err and not outbox.exists()  # this release signs none (issue 23)
    # What an older release (or a town's own tool) signed: the return made below the export's rules.
    with Store(db) as store:
        data = replace(prepare_export(store, Q1), signed=True)
        files = write_return_files(data, outbox, identity=open_identity(store, PASSPHRASE)).paths

    code, out, _ = run(capsys, "verify", "--trust", keys["city_cert"], "--plan", issued, *files)
    assert code == 1 and out.count(PLAN_MISMATCH) == len(files), out
    assert "2026年第1季度属于市局下发的规划" in out and "季报却未按该规划填报" in out

    code, out, _ = run(capsys, "consolidate", "--trust", keys["city_cert"], "--plan", issued, "--quarter", Q1.code, outbox, "--json")
    result = json.loads(out)
    assert code == 0 and result["valid"] == [] and TOWN in result["missing"]
    assert all(PLAN_MISMATCH in item["reason"] for item in result["invalid"])

    # a quarter no trusted plan covers: a plan-less return stays acceptable
    code, out, _ = run(capsys, "verify", "--trust", keys["city_cert"], *files)
    assert code == 0 and out.count("有效") == len(files), out


# --- 2: the 基期数 the plan gives --------------------------------------------------------------


def test_a_return_with_another_base_than_the_plan_gives_is_refused(keys, tmp_path, capsys):  # noqa: F811
    package = added_and_dropped()
    towns = tuple(replace(t, bases={"card_holders": 150_000}) for t in package.towns)
    with_bases = replace(package, towns=towns, city=replace(package.city, bases={"card_holders": 150_000 * len(towns)}))
    plan_file = tmp_path / "基期 规划.plan"
    write_plan_file(with_bases, open_root(keys["city_key"], PASSPHRASE), plan_file)
    db = entered(tmp_path, keys, capsys, plan_file)
    with Store(db) as store:
        data = prepare_export(store, Q1, signed=True)
    assert data.bases == {"card_holders": 150_000}
    check = verifier(keys, plan_file)
    assert check.verify(signed_return(db, tmp_path, data, "真")).valid

    stock = next(line for line in data.figures if line.code == "card_holders")
    target = stock.target or 0
    forged_line = replace(stock, completion=Fraction(stock.quarter - 100_000, target - 100_000))
    forged = replace(
        data,
        bases={"card_holders": 100_000},
        figures=tuple(forged_line if line.code == "card_holders" else line for line in data.figures),
    )
    verdict = check.verify(signed_return(db, tmp_path, forged, "假"))
    assert not verdict.valid and PLAN_MISMATCH in verdict.reason and "基期数为 100,000" in verdict.reason
    assert "150,000" in verdict.reason


# --- 3: derived columns recomputed from the signed figures -------------------------------------


def _line(data, code, **changes):
    return replace(data, figures=tuple(replace(line, **changes) if line.code == code else line for line in data.figures))


def _rate(data, code, **changes):
    return replace(data, rates=tuple(replace(rate, **changes) if rate.code == code else rate for rate in data.rates))


FORGERIES = {
    "完成率": (lambda d: _line(d, ADDED, completion=Fraction(1)), "完成率"),
    "状态": (lambda d: _line(d, ADDED, status="已完成"), "状态"),
    "年度累计": (lambda d: _line(d, ADDED, ytd=(d.values[ADDED] * 20)), "本年累计"),
    "规划累计": (lambda d: _line(d, ADDED, cumulative=(d.values[ADDED] * 20)), "规划累计"),
    "时间进度": (lambda d: replace(d, time_progress=Fraction(1, 40)), "时间进度"),
    "是否达标": (lambda d: _rate(d, RATE, met=True), "是否达标"),
    "比率": (lambda d: _rate(d, RATE, numerator=90, ytd_rate=Fraction(90, 100), ytd_text="90.0%"), "本年累计"),
    "需关注": (lambda d: replace(d, attention=()), "需关注"),
    "说明": (lambda d: replace(d, notes=()), "须填写说明"),
    "其中项": (lambda d: _line(d, "mediation_success", quarter=200), "大于"),
}


@pytest.fixture
def behind_on_mediation(keys, issued, tmp_path, capsys):  # noqa: F811
    """A genuine 2026Q1 return under the city's plan whose 调解成功率 (50%) is below its 78% target."""
    db = entered(tmp_path, keys, capsys, issued, mediation_success=50)
    with Store(db) as store:
        data = prepare_export(store, Q1, signed=True)
    assert any(r.code == RATE and r.met is False for r in data.rates) and data.attention and data.notes
    return db, data


@pytest.mark.parametrize("column", FORGERIES)
def test_a_derived_column_that_does_not_follow_from_the_figures_is_refused(
    column, keys, issued, tmp_path, behind_on_mediation  # noqa: F811
):
    db, data = behind_on_mediation
    check = verifier(keys, issued)
    assert check.verify(signed_return(db, tmp_path, data, "真")).valid
    forge, named = FORGERIES[column]
    forged = forge(data)
    verdict = check.verify(signed_return(db, tmp_path, forged, "假"))
    assert not verdict.valid, column
    assert DERIVED_MISMATCH in verdict.reason and named in verdict.reason, verdict.reason


def test_a_return_that_names_its_plan_cannot_take_the_old_files_leniency(keys, issued, tmp_path, behind_on_mediation):  # noqa: F811
    """Re-attack of 29 Nov: a town-returns/3 return left out the rounding key and the bases, as returns
    signed before issue 15 did, to have its 需关注 lines and stock pace go unchecked."""
    from core.progress import ROUND_HALF_UP
    from reports.payload import ROUNDING_KEY, payload_of

    db, data = behind_on_mediation
    forged = replace(data, rounding=ROUND_HALF_UP, bases=None, attention=())
    assert ROUNDING_KEY not in payload_of(forged).body
    verdict = verifier(keys, issued).verify(signed_return(db, tmp_path, forged, "旧形"))
    assert not verdict.valid and "取舍规则" in verdict.reason, verdict.reason


def test_consolidate_does_not_count_a_return_with_an_invented_completion(keys, issued, tmp_path, behind_on_mediation, capsys):  # noqa: F811
    db, data = behind_on_mediation
    workbook = signed_return(db, tmp_path, _line(data, ADDED, completion=Fraction(1), status="已完成"), "收件箱")
    code, out, _ = run(
        capsys, "consolidate", "--trust", keys["city_cert"], "--plan", issued, "--quarter", Q1.code, workbook.parent, "--json"
    )
    result = json.loads(out)
    assert code == 0 and result["valid"] == [] and TOWN in result["missing"]
    assert any(DERIVED_MISMATCH in item["reason"] for item in result["invalid"])


# --- 4: a plan from an old unsigned plan row ---------------------------------------------------


def test_a_return_from_an_unsigned_plan_row_is_refused_as_not_the_citys_plan(keys, issued, tmp_path, behind_on_mediation):  # noqa: F811
    db, data = behind_on_mediation
    # an unsigned row's plan has a hash of its own rows and no package id
    legacy = replace(data, plan_id="", plan_hash=plan_hash(replace(added_and_dropped().to_plan(), content_hash="")))
    verdict = verifier(keys, issued).verify(signed_return(db, tmp_path, legacy, "旧式"))
    assert not verdict.valid and verdict.reason.startswith(PLAN_MISMATCH), verdict.reason
    assert "格式不对" not in verdict.reason


# --- 5: one plan per quarter -------------------------------------------------------------------


def test_overlapping_plans_are_refused_whatever_their_order(keys, issued, tmp_path, capsys):  # noqa: F811
    package = added_and_dropped()
    correction = replace(package, approval_number="东统字〔2026〕9号")
    corrected = tmp_path / "更正版.plan"
    write_plan_file(correction, open_root(keys["city_key"], PASSPHRASE), corrected)
    inbox = tmp_path / "收件箱"
    inbox.mkdir()
    outputs = []
    for first, second in ((issued, corrected), (corrected, issued)):
        code, out, err = run(
            capsys, "consolidate", "--trust", keys["city_cert"], "--plan", first, "--plan", second, "--quarter", Q1.code, inbox
        )
        assert code == 2 and "规划期重叠" in err, out + err
        outputs.append(out)
        code, out, err = run(capsys, "verify", "--trust", keys["city_cert"], "--plan", first, "--plan", second, issued)
        assert code == 2 and "规划期重叠" in err, out + err
    assert outputs[0] == outputs[1] == ""
    # the same plan given twice is one plan
    code, _, err = run(capsys, "consolidate", "--trust", keys["city_cert"], "--plan", issued, "--plan", issued, "--quarter", Q1.code, inbox)
    assert code == 0, err


def test_a_genuine_return_under_a_plan_that_began_mid_year_verifies(keys, tmp_path, capsys):  # noqa: F811
    """規划累计 counts the plan's quarters only: in the plan's first quarter it is that quarter's figure,
    below the 年度累计 that also holds the year's earlier quarters."""
    mid_year = replace(added_and_dropped(), name="年中开始的规划", first=Quarter(2026, 3))
    plan_file = tmp_path / "年中.plan"
    write_plan_file(mid_year, open_root(keys["city_key"], PASSPHRASE), plan_file)
    db = town_database(tmp_path, keys, capsys)
    earlier = {**q1_figures(added_and_dropped()), "nanyue_trained": 10}
    earlier.pop(ADDED)
    for quarter in (Quarter(2026, 1), Quarter(2026, 2)):
        assert run(capsys, "--db", db, "enter", "--quarter", quarter.code, *(f"{k}={v}" for k, v in earlier.items()))[0] == 0
    assert run(capsys, "--db", db, "plan", "import", plan_file)[0] == 0
    q3 = Quarter(2026, 3)
    figures = q1_figures(mid_year)
    code, out, err = run(capsys, "--db", db, "enter", "--quarter", q3.code, *(f"{k}={v}" for k, v in figures.items()))
    assert code == 0, out + err
    with Store(db) as store:
        data = prepare_export(store, q3, signed=True)
    line = next(line for line in data.figures if line.code == "yuecai_certified")
    assert line.cumulative == line.quarter < (line.ytd or 0)
    verdict = verifier(keys, plan_file).verify(signed_return(db, tmp_path, data, "年中"))
    assert verdict.valid, verdict.reason
