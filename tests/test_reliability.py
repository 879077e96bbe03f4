"""Nothing lost, nothing forged: lock, audit chain, backups, crashes and hostile files."""

import datetime as dt
import io
import sqlite3
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli import main as cli_main
from core.errors import DomainError
from core.quarters import Quarter
from reports.safe_zip import UnsafeFile, check_xlsx
from reports.tables import read_plan_file as read_plan_table
from storage.backup import DatabaseDamaged, backups_of, newest_good_backup
from storage.store import QuarterLocked, RestoreRefused, Store, restore_database
from tests.helpers import FULL_QUARTER, ROOT, TODAY, signed_off_profile

Q = Quarter(2024, 3)


def submit(store, quarter=Q, content="hash"):
    revision = store.revision_for(quarter, content)
    store.record_export(quarter, revision, content, ["a.xlsx"])
    return revision


def test_a_submitted_quarter_is_locked_until_reopened(store, capsys):
    store.save_quarter(Q, FULL_QUARTER)
    assert submit(store) == 1
    assert store.quarter_status(Q).label == "已上报（第 1 版）"
    with pytest.raises(QuarterLocked):
        store.save_quarter(Q, {"yuecai_certified": 1})
    code = cli_main(["--db", str(store.path), "enter", "--quarter", Q.code, "yuecai_certified=1"])
    assert code == 2 and "已锁定" in capsys.readouterr().err
    assert cli_main(["--db", str(store.path), "reopen", "--quarter", Q.code, "--reason", "改"]) == 2
    assert cli_main(["--db", str(store.path), "reopen", "--quarter", Q.code, "--reason", "培训人数录错"]) == 0
    assert store.quarter_status(Q).label == "已退回修改"
    assert store.audit_trail(Q)[-1].new_value == "培训人数录错"
    store.save_quarter(Q, {"yuecai_certified": 1})
    assert submit(store) == 2
    capsys.readouterr()
    cli_main(["--db", str(store.path), "status", "--json"])
    assert '"revision": 2' in capsys.readouterr().out


def test_reopening_a_draft_is_refused(store):
    with pytest.raises(DomainError, match="尚未上报"):
        store.reopen(Q, "没有上报过的季度")


def test_a_submission_makes_a_backup_first(store):
    from actions.returns import prepare_export
    from tests.helpers import on_pace_history

    for quarter, values in on_pace_history(last=Q).items():
        store.save_quarter(quarter, values)
    prepare_export(store, Q, signed=True)  # the backup comes before the revision and before any file
    assert any("上报前" in p.name for p in backups_of(store.path))


def test_backups_rotate(store):
    for _ in range(33):
        store.backup_to_rotation("测试")
    assert len(backups_of(store.path)) == 30


def test_daily_backup_once_a_day(store):
    first = store.daily_backup()
    assert first is not None and store.daily_backup() is None


def test_backup_and_restore_on_the_command_line(store, tmp_path, capsys):
    store.save_quarter(Q, FULL_QUARTER)
    target = tmp_path / "备份.sqlite3"
    assert cli_main(["--db", str(store.path), "backup", "--out", str(target)]) == 0
    store.save_quarter(Q, {"card_holders": 1})
    store.close()
    assert cli_main(["--db", str(store.path), "restore", str(target)]) == 0
    with Store(store.path) as restored:
        assert restored.figures(Q)["card_holders"] == FULL_QUARTER["card_holders"]
        assert restored.verify_audit().ok
        assert restored.audit_trail()[-1].action == "restore"
    kept = [p for p in backups_of(store.path) if "恢复前" in p.name]
    with Store(kept[0]) as before:
        assert before.figures(Q)["card_holders"] == 1  # the replaced database was kept


def test_restore_refuses_a_damaged_file_and_another_towns_backup(store, tmp_path):
    bad = tmp_path / "bad.sqlite3"
    bad.write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)
    with pytest.raises(RestoreRefused, match="损坏|不是"):
        restore_database(store.path, bad)
    other = tmp_path / "other.sqlite3"
    with Store(other) as s:
        s.bind_town("石龙")
        s.set_profile(signed_off_profile())
    with pytest.raises(RestoreRefused, match="属于另一个数据库（石龙）"):
        restore_database(store.path, other)
    assert store.town() == "莞城"


def corrupt(path: Path) -> None:
    data = bytearray(path.read_bytes())
    for offset in range(4096 + 100, min(len(data), 4096 * 6), 7):
        data[offset] = 0xA5
    path.write_bytes(bytes(data))


def test_a_damaged_database_is_not_opened_and_the_newest_good_backup_is_found(store):
    store.save_quarter(Q, FULL_QUARTER)
    store.backup_to_rotation("测试")
    path = store.path
    store.close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    corrupt(path)
    before = path.read_bytes()
    with pytest.raises(DatabaseDamaged):
        Store(path)
    assert path.read_bytes() == before
    good = newest_good_backup(path)
    assert good is not None
    restore_database(path, good)
    with Store(path) as restored:
        assert restored.figures(Q) == FULL_QUARTER


def test_a_migration_backs_up_first_and_keeps_the_data(tmp_path):
    from tools.crash_trials import write_first_revision_database

    db = tmp_path / "old.sqlite3"
    write_first_revision_database(db)
    with Store(db, today=lambda: TODAY) as store:
        assert store.figures(Q) == {"card_holders": 123}
    assert any("升级前" in p.name for p in backups_of(db))


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
@pytest.mark.parametrize("kind", ["save", "export", "first_run", "migrate", "backup", "restore", "reopen"])
def test_sigkill_loses_nothing(kind):
    from tools.crash_trials import run

    result = run(kind, trials=3, seed=7)
    assert result["work"] > 0, "every kill came before any work was done: the trial tested nothing"
    assert result.get("lost", 0) == 0 and result.get("unusable", 0) == 0
    assert result.get("half_written", 0) == 0 and result.get("broken_backups", 0) == 0
    assert result.get("reused_revisions", 0) == 0
    assert result["integrity_failures"] == 0 and result["chain_failures"] == 0


# --- hostile files -----------------------------------------------------------------------------


def zip_bomb(path: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/worksheets/sheet1.xml", b"\x00" * (150 * 1024 * 1024))
    return path


def test_a_zip_bomb_is_refused_before_it_is_expanded(tmp_path, capsys):
    bomb = zip_bomb(tmp_path / "targets_2026_2030.xlsx")
    assert bomb.stat().st_size < 1024 * 1024
    with pytest.raises(UnsafeFile, match="压缩炸弹"):
        check_xlsx(bomb)
    with pytest.raises(DomainError, match="压缩炸弹"):
        read_plan_table(bomb)
    from reports.verify import Verifier

    assert "压缩炸弹" in Verifier([]).verify(bomb).reason


def test_not_a_zip_and_a_truncated_zip(tmp_path):
    text = tmp_path / "a.xlsx"
    text.write_text("plain text")
    with pytest.raises(UnsafeFile, match="不是有效的 Excel"):
        check_xlsx(text)
    import openpyxl

    wb = openpyxl.Workbook()
    wb.save(tmp_path / "b.xlsx")
    data = (tmp_path / "b.xlsx").read_bytes()
    (tmp_path / "b.xlsx").write_bytes(data[: len(data) // 2])
    with pytest.raises(UnsafeFile):
        check_xlsx(tmp_path / "b.xlsx")


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"
 xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">
<property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="2" name="town_returns_payload"><vt:lpwstr>&x;</vt:lpwstr></property>
<property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="3" name="town_returns_signature"><vt:lpwstr>AA==</vt:lpwstr></property>
</Properties>"""

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;"><!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">]>
<Properties><property name="town_returns_payload"><vt>&e;</vt></property></Properties>"""


def replace_part(path: Path, name: str, data: bytes) -> None:
    """Rewrite a workbook with one zip member replaced (or added)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(buffer, "w") as target:
        for item in source.infolist():
            if item.filename != name:
                target.writestr(item, source.read(item.filename))
        target.writestr(name, data)
    path.write_bytes(buffer.getvalue())


@pytest.mark.parametrize("xml", [XXE, LAUGHS], ids=["external-entity", "entity-expansion"])
def test_xml_entities_in_a_return_are_refused(tmp_path, xml):
    import openpyxl

    from reports.verify import Verifier

    path = tmp_path / "2024Q3_莞城_季报.xlsx"
    openpyxl.Workbook().save(path)
    replace_part(path, "docProps/custom.xml", xml)
    verdict = Verifier([]).verify(path)
    assert not verdict.valid and "root:" not in verdict.reason


def test_entity_expansion_in_a_target_workbook_is_refused(tmp_path, capsys):
    import openpyxl

    path = tmp_path / "targets_2026_2030.xlsx"
    openpyxl.Workbook().save(path)
    replace_part(path, "xl/worksheets/sheet1.xml", LAUGHS)
    with pytest.raises(DomainError):
        read_plan_table(path)


def test_a_payload_town_with_path_separators_is_refused():
    from reports.payload import PayloadError, parse_payload

    body = (
        '{"explanations":{},"figures":{},"format":"town-returns/1","generated_at":"x","plan":null,'
        '"quarter":"2024Q3","revision":1,"town":"../../etc"}'
    )
    with pytest.raises(PayloadError):
        parse_payload(body.encode())


def test_formula_like_targets_are_plain_text_errors(tmp_path, capsys):
    import csv

    rows = list(csv.reader((ROOT / "resources" / "plans" / "targets_2021_2025.csv").open(encoding="utf-8")))
    rows[2][2] = '=HYPERLINK("http://x",1)'
    path = tmp_path / "targets_2026_2030.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    with pytest.raises(DomainError, match="第 3 行"):
        read_plan_table(path)


# --- property test over the storage front door -------------------------------------------------

OPERATIONS = st.lists(
    st.one_of(
        st.tuples(
            st.just("save"),
            st.sampled_from(["card_holders", "yuecai_certified", "nanyue_trained"]),
            st.one_of(st.none(), st.integers(0, 10**6)),
        ),
        st.tuples(st.just("submit"), st.just(""), st.none()),
        st.tuples(st.just("reopen"), st.just(""), st.none()),
    ),
    max_size=25,
)


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPERATIONS)
def test_any_sequence_keeps_the_chain_and_the_last_saved_values(operations):
    with tempfile.TemporaryDirectory() as folder:
        with Store(Path(folder) / "p.sqlite3", today=lambda: dt.date(2026, 11, 28)) as store:
            store.bind_town("莞城")
            store.set_profile(signed_off_profile())
            expected: dict[str, int] = {}
            submitted = False
            revision = 0
            for op, code, value in operations:
                if op == "save":
                    if submitted:
                        with pytest.raises(QuarterLocked):
                            store.save_quarter(Q, {code: value})
                        continue
                    store.save_quarter(Q, {code: value})
                    if value is None:
                        expected.pop(code, None)
                    else:
                        expected[code] = value
                elif op == "submit" and not submitted:
                    new_revision = submit(store, content=str(sorted(expected.items())))
                    assert new_revision >= revision
                    revision, submitted = new_revision, True
                elif op == "reopen" and submitted:
                    store.reopen(Q, "属性测试退回")
                    submitted = False
            assert store.figures(Q) == expected
            assert store.verify_audit().ok


def test_the_app_offers_the_newest_good_backup_for_a_damaged_database(qapp, store, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from gui.app import open_or_recover

    store.save_quarter(Q, FULL_QUARTER)
    store.backup_to_rotation("测试")
    path = store.path
    store.close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    corrupt(path)
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.Yes)
    told = []
    monkeypatch.setattr(QMessageBox, "information", lambda *a, **k: told.append(a[2]))
    recovered = open_or_recover(path)
    assert told and "原样另存" in told[0]
    assert recovered is not None and "最近的完好备份" in asked[0]
    assert recovered.figures(Q) == FULL_QUARTER
    recovered.close()
