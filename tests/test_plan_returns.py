"""Issue 14, returns: a plan that adds an indicator and drops one, end to end through export, verify and
consolidate; a return under a plan the city did not issue is refused; returns signed before payloads named
their plan package still verify under the built-in 2021–2025 plan."""

import json
import math
from dataclasses import replace
from pathlib import Path

import openpyxl
import pytest
from pypdf import PdfReader

from actions.returns import export_return, open_identity, prepare_export
from cli import main
from core.plan_package import PlanPackage, TownSplit, sample_package
from core.plans import load_shipped_plan
from core.quarters import Quarter
from reports import payload as payload_module
from reports.export import write_return_files
from reports.identity import load_trust_roots
from reports.payload import PAYLOAD_PROPERTY, PLAN_MISMATCH
from reports.plan_file import open_root, write_plan_file
from reports.plan_workbook import write_workbook
from reports.returns import plan_hash
from reports.verify import Verifier
from storage.store import Store
from tests.helpers import SIGN_OFF_FLAGS, TODAY, on_pace_history, signed_off_profile
from tests.pki import PASSPHRASE

PLANLESS_FORMAT = "town-returns/2"  # before payloads named their plan package
TOWN = "莞城"
Q1 = Quarter(2026, 1)
ADDED, DROPPED = "skilled_trained", "nanyue_trained"


def added_and_dropped() -> PlanPackage:
    """The sample 2026–2030 split with 技能人才培养人数 added and 南粤家政 dropped, not marked as a sample."""
    sample = sample_package()

    def without(split: TownSplit) -> TownSplit:
        return TownSplit(split.town, {k: v for k, v in split.targets.items() if k != DROPPED}, dict(split.rates), {})

    return replace(
        sample,
        name="东莞市人力资源和社会保障事业发展“十五五”规划（测试）",
        indicators=tuple(i for i in sample.indicators if i.code != DROPPED),
        towns=tuple(without(t) for t in sample.towns),
        city=without(sample.city),
        form_number="东人社统 ZJ-02 表",
        approval_number="东统字〔2026〕8号",
        valid_until="2030年12月",
        sample=False,
    )


def doctored(package: PlanPackage) -> PlanPackage:
    """The same plan with 莞城's 技能人才 target cut to a tenth."""
    towns = tuple(
        replace(t, targets={**t.targets, ADDED: t.targets[ADDED] // 10}) if t.town == TOWN else t for t in package.towns
    )
    city_targets = {**package.city.targets, ADDED: sum(t.targets[ADDED] for t in towns)}
    return replace(package, towns=towns, city=replace(package.city, targets=city_targets))


@pytest.fixture(scope="module")
def keys(tmp_path_factory, city_keys, foreign_root):
    """The session's city root and 莞城's identity (tests/pki.py), a foreign root, and a folder of this module's own."""
    base = tmp_path_factory.mktemp("keys")
    (base / "pw.txt").write_text(PASSPHRASE.decode(), encoding="utf-8")
    city_cert, city_key, town_p12 = city_keys["city_cert"], city_keys["city_key"], city_keys["town_p12"]
    foreign_key = foreign_root[1]
    return {
        "base": base,
        "pw": base / "pw.txt",
        "city_cert": city_cert,
        "city_key": city_key,
        "foreign_key": foreign_key,
        "town_p12": town_p12,
    }


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def q1_figures(package: PlanPackage) -> dict[str, int]:
    """On pace for 2026Q1 (time progress 5%): each flow at 6% of 莞城's target, the rates above target."""
    targets = next(t for t in package.towns if t.town == TOWN).targets
    figures = {
        "card_holders": 160_000,
        "mediation_cases": 100,
        "mediation_success": 80,
        "arbitration_carried": 0,  # 应结 = 结转 + 受理 is computed (issue 26)
        "arbitration_received": 50,
        "arbitration_closed": 50,
        "inspection_carried": 0,
        "inspection_received": 10,
        "inspection_closed": 10,
    }
    for item in package.indicators:
        if item.code not in figures and item.case_flow is None:
            figures[item.code] = math.ceil(targets[item.code] * 0.06) + 1
    return figures


def town_database(tmp_path: Path, keys, capsys) -> Path:
    db = tmp_path / "镇街 数据库.sqlite3"
    assert run(capsys, "--db", db, "init", "--town", TOWN)[0] == 0
    assert run(capsys, "--db", db, "profile", *SIGN_OFF_FLAGS)[0] == 0
    assert run(capsys, "--db", db, "identity", "import", keys["town_p12"], "--passphrase-file", keys["pw"])[0] == 0
    return db


@pytest.fixture(scope="module")
def issued(keys, tmp_path_factory):
    """The city's workbook of the new plan, built and signed on the command line into a .plan file."""
    folder = tmp_path_factory.mktemp("市局 规划")
    workbook, plan_file = folder / "分解 2026-2030.xlsx", folder / "2026-2030 规划.plan"
    write_workbook(workbook, added_and_dropped())
    code = main(
        [
            "plan",
            "build",
            str(workbook),
            "--root",
            str(keys["city_key"]),
            "--root-passphrase-file",
            str(keys["pw"]),
            "--out",
            str(plan_file),
        ]
    )
    assert code == 0
    return plan_file


def test_a_plan_that_adds_and_drops_an_indicator_end_to_end(keys, issued, tmp_path, capsys):
    db = town_database(tmp_path, keys, capsys)
    assert run(capsys, "--db", db, "plan", "import", issued)[0] == 0
    figures = q1_figures(added_and_dropped())
    assert DROPPED not in figures and ADDED in figures
    code, out, err = run(capsys, "--db", db, "enter", "--quarter", Q1.code, *(f"{k}={v}" for k, v in figures.items()))
    assert code == 0, out + err
    code, out, err = run(capsys, "--db", db, "check", "--quarter", Q1.code)
    assert code == 0, out + err
    outbox = tmp_path / "上报 文件"
    code, out, err = run(capsys, "--db", db, "export", "--quarter", Q1.code, "--out", outbox, "--passphrase-file", keys["pw"])
    assert code == 0, out + err
    files = sorted(outbox.iterdir())
    workbook = next(p for p in files if p.suffix == ".xlsx")

    sheet = openpyxl.load_workbook(workbook)["季报"]
    shown = [str(c.value) for row in sheet.iter_rows() for c in row if c.value is not None]
    assert "技能人才培养人数" in shown and figures[ADDED] in [c.value for row in sheet.iter_rows() for c in row]
    assert not any("南粤家政" in text for text in shown)
    assert any("东人社统 ZJ-02 表" in text for text in shown)
    pdf = next(p for p in files if p.suffix == ".pdf" and "摘要" not in p.name)
    text = "".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert "技能人才培养人数" in text and "南粤家政" not in text

    code, out, _ = run(capsys, "verify", "--trust", keys["city_cert"], "--plan", issued, *files)
    assert code == 0 and out.count("有效") == len(files), out

    code, out, _ = run(capsys, "verify", "--trust", keys["city_cert"], workbook)
    assert code == 1 and PLAN_MISMATCH in out and "--plan" in out

    inbox = tmp_path / "市局 收件箱"
    inbox.mkdir()
    for path in files:
        (inbox / path.name).write_bytes(path.read_bytes())
    code, out, _ = run(capsys, "consolidate", "--trust", keys["city_cert"], "--plan", issued, "--quarter", Q1.code, inbox, "--json")
    assert code == 0
    result = json.loads(out)
    assert result["valid"] == [TOWN] and result["invalid"] == []
    assert result["city"][ADDED]["quarter"] == figures[ADDED]
    assert result["city"][ADDED]["target"] == next(t for t in added_and_dropped().towns if t.town == TOWN).targets[ADDED]
    assert DROPPED not in result["city"] and DROPPED not in result["towns"][TOWN]

    # without the plan the city does not know the return's plan: refused, not counted
    code, out, _ = run(capsys, "consolidate", "--trust", keys["city_cert"], "--quarter", Q1.code, inbox, "--json")
    result = json.loads(out)
    assert result["valid"] == [] and all(PLAN_MISMATCH in item["reason"] for item in result["invalid"])


def test_a_return_under_a_doctored_plan_is_refused(keys, issued, tmp_path, capsys):
    """A plan with the genuine content but a lower target, signed by a foreign root and put into the town's
    database behind the import's back: its return names a plan the city never issued."""
    db = town_database(tmp_path, keys, capsys)
    fake = doctored(added_and_dropped())
    write_plan_file(fake, open_root(keys["foreign_key"], PASSPHRASE), tmp_path / "假 规划.plan")
    assert run(capsys, "--db", db, "plan", "import", tmp_path / "假 规划.plan")[0] == 2
    with Store(db) as store:
        store.import_plan_package(fake, source="手工写入")
        assert store.plan_for(Q1).content_hash == fake.content_hash
    figures = q1_figures(fake)
    assert run(capsys, "--db", db, "enter", "--quarter", Q1.code, *(f"{k}={v}" for k, v in figures.items()))[0] == 0
    outbox = tmp_path / "out"
    code, out, err = run(capsys, "--db", db, "export", "--quarter", Q1.code, "--out", outbox, "--passphrase-file", keys["pw"])
    assert code == 0, out + err
    files = sorted(outbox.iterdir())
    code, out, _ = run(capsys, "verify", "--trust", keys["city_cert"], "--plan", issued, *files)
    assert code == 1 and out.count(PLAN_MISMATCH) == len(files), out

    # the same return signed as if made under the genuine plan still prints the doctored target
    genuine = added_and_dropped()
    with Store(db) as store:
        data = prepare_export(store, Q1)
        identity = open_identity(store, PASSPHRASE)
    claimed = replace(data, plan_hash=genuine.content_hash, plan_id=genuine.id, revision=2, signed=True)
    result = write_return_files(claimed, tmp_path / "claimed", identity=identity)
    roots = load_trust_roots(keys["city_cert"])
    from actions.city import issued_plans

    verifier = Verifier(roots, plans=issued_plans([issued], roots))
    for path in result.paths:
        verdict = verifier.verify(path)
        assert not verdict.valid and PLAN_MISMATCH in verdict.reason and "技能人才培养人数目标为" in verdict.reason


def _old_format_body(original):
    """body_of as the app wrote it before payloads named their plan package (town-returns/2)."""

    def body_of(data):
        body = original(data)
        body["format"] = PLANLESS_FORMAT
        del body["plan_id"], body["renderer"]
        if body["plan_hash"] is not None:
            body["plan_hash"] = plan_hash(load_shipped_plan())
        return body

    return body_of


def test_a_return_signed_before_payloads_named_their_plan_is_an_earlier_releases(keys, tmp_path, monkeypatch):
    """Such returns were verified under the built-in 2021–2025 plan until issue 22; their files were not
    written byte for byte from the payload, so this release refuses them, saying which release wrote them."""
    store = Store(tmp_path / "old.sqlite3", today=lambda: TODAY)
    store.bind_town(TOWN)
    store.set_profile(signed_off_profile())
    store.set_identity(keys["town_p12"].read_bytes(), TOWN)
    last = Quarter(2024, 3)
    for quarter, values in on_pace_history(last=last).items():
        store.save_quarter(quarter, values)
    identity = open_identity(store, PASSPHRASE)
    with monkeypatch.context() as patch:
        patch.setattr(payload_module, "body_of", _old_format_body(payload_module.body_of))
        result = export_return(store, last, tmp_path / "old", identity=identity)
    store.close()
    raw = openpyxl.load_workbook(result.workbook).custom_doc_props[PAYLOAD_PROPERTY].value
    body = json.loads(raw)
    assert body["format"] == PLANLESS_FORMAT and "plan_id" not in body
    verifier = Verifier(load_trust_roots(keys["city_cert"]))
    for path in result.paths:
        verdict = verifier.verify(path)
        assert not verdict.valid and verdict.reason.startswith("不是本版本软件生成的季报"), verdict.reason
        assert "town-returns/2" in verdict.reason


def test_an_old_format_return_with_a_target_other_than_the_built_in_plan_is_refused(keys, tmp_path, monkeypatch):
    """Before plans were signed, a doctored CSV could change a target; the built-in plan's targets now decide."""
    store = Store(tmp_path / "old.sqlite3", today=lambda: TODAY)
    store.bind_town(TOWN)
    store.set_profile(signed_off_profile())
    store.set_identity(keys["town_p12"].read_bytes(), TOWN)
    last = Quarter(2024, 3)
    for quarter, values in on_pace_history(last=last).items():
        store.save_quarter(quarter, values)
    data = prepare_export(store, last)
    identity = open_identity(store, PASSPHRASE)
    store.close()
    lines = tuple(replace(f, target=8_523) if f.code == "yuecai_certified" else f for f in data.figures)
    with monkeypatch.context() as patch:
        patch.setattr(payload_module, "body_of", _old_format_body(payload_module.body_of))
        result = write_return_files(replace(data, figures=lines, signed=True), tmp_path / "old", identity=identity)
    verdict = Verifier(load_trust_roots(keys["city_cert"])).verify(result.workbook)
    assert not verdict.valid and verdict.reason.startswith("不是本版本软件生成的季报")


# --- the demo: the sample 2026–2030 package and returns under it ----------------------------------


def test_the_city_demo_has_the_sample_plan_and_2026_returns_made_under_it(tmp_path, capsys):
    from core.plan_package import SAMPLE_MARK

    folder = tmp_path / "演示 数据"
    code, out, _ = run(capsys, "city", "demo", "--out", folder, "--json")
    assert code == 0
    made = json.loads(out)
    plan_file = Path(made["sample_plan"])
    assert SAMPLE_MARK in plan_file.name and plan_file.parent == folder
    workbook = next(folder.glob("*.xlsx"))
    assert SAMPLE_MARK in workbook.name
    for sheet in openpyxl.load_workbook(workbook):
        texts = [str(c.value) for row in sheet.iter_rows() for c in row if c.value] + [sheet.oddHeader.center.text or ""]
        assert any(SAMPLE_MARK in t for t in texts), sheet.title
    # the demo makes a return for every quarter of the sample plan ended by the day it runs
    import datetime as dt

    ended = [q for q in sample_package().to_plan().quarters if q.last_day < dt.date.today()]
    assert Quarter(2026, 3) in ended
    returns = Path(made["returns"])
    assert sorted(p.name for p in (returns / TOWN).glob("2026*.xlsx")) == [f"{q.code}_莞城_季报.xlsx" for q in ended]

    code, out, _ = run(capsys, "consolidate", "--trust", made["trust"], "--plan", plan_file, "--quarter", "2026Q1", returns, "--json")
    assert code == 0
    result = json.loads(out)
    assert len(result["valid"]) == 33 and result["invalid"] == []
    assert result["city"][ADDED]["quarter"] == sum(figures[ADDED] for figures in result["towns"].values())
    code, out, _ = run(capsys, "verify", "--trust", made["trust"], "--plan", plan_file, returns / TOWN / "2026Q3_莞城_季报.xlsx")
    assert code == 0 and "有效" in out
    code, out, _ = run(capsys, "verify", "--trust", made["trust"], returns / TOWN / "2026Q3_莞城_季报.xlsx")
    assert code == 1 and PLAN_MISMATCH in out


def test_the_demo_database_has_the_sample_plan_with_2026_figures(tmp_path):
    from storage.demo import build_demo_database

    db = tmp_path / "demo.sqlite3"
    assert build_demo_database(db, today=TODAY) == Quarter(2026, 3)
    with Store(db, today=lambda: TODAY) as store:
        plan = store.plan_for(Q1)
        assert plan is not None and plan.sample and plan.content_hash == sample_package().content_hash
        assert ADDED in store.figures(Q1) and store.figures(Quarter(2026, 3))[ADDED] > 0
        assert Quarter(2026, 4) not in store.history()
        data = prepare_export(store, Quarter(2026, 3), signed=False)
    assert ADDED in data.values and data.plan_hash == plan.content_hash


def test_verify_takes_the_plans_of_the_city_database(keys, issued, tmp_path, capsys):
    town_db = town_database(tmp_path, keys, capsys)
    assert run(capsys, "--db", town_db, "plan", "import", issued)[0] == 0
    figures = q1_figures(added_and_dropped())
    assert run(capsys, "--db", town_db, "enter", "--quarter", Q1.code, *(f"{k}={v}" for k, v in figures.items()))[0] == 0
    outbox = tmp_path / "out"
    assert run(capsys, "--db", town_db, "export", "--quarter", Q1.code, "--out", outbox, "--passphrase-file", keys["pw"])[0] == 0
    workbook = next(outbox.glob("*.xlsx"))
    city_db = tmp_path / "市局.sqlite3"
    assert run(capsys, "--db", city_db, "init", "--city", "--trust", keys["city_cert"])[0] == 0
    assert run(capsys, "--db", city_db, "plan", "import", issued)[0] == 0
    code, out, _ = run(capsys, "--db", city_db, "verify", "--trust", keys["city_cert"], workbook)
    assert code == 0 and "有效" in out
    code, _, err = run(capsys, "--db", tmp_path / "没有.sqlite3", "verify", "--trust", keys["city_cert"], workbook)
    assert code == 2 and "找不到数据库" in err and not (tmp_path / "没有.sqlite3").exists()
