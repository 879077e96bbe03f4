"""The audit trail as `Store` writes it and `verify_audit` reads it back, backups included."""

import sqlite3
from dataclasses import fields, replace

from core.quarters import Quarter
from storage.audit import AuditRow, ChainRow, backup_heads, row_hash
from storage.store import Store
from tests.helpers import FULL_QUARTER, TODAY

Q = Quarter(2024, 3)


def test_the_trail_shown_is_the_chain_without_its_links(store):
    store.save_quarter(Q, {"card_holders": 170_000})
    shown = store.audit_trail(Q)
    assert [row.action_name for row in shown] == ["修改数值"]
    assert type(shown[0]) is AuditRow and set(shown[0].as_dict()) == {f.name for f in fields(AuditRow)}
    with sqlite3.connect(store.path) as conn:
        stored = conn.execute("SELECT * FROM audit WHERE id = ?", (shown[0].id,)).fetchone()
    chain = ChainRow(*stored)
    assert chain.shown() == replace(shown[0], subject="") and row_hash(chain) == chain.hash
    assert shown[0].subject == "社会保障卡持卡人数（季末数）"  # named from the quarter's list, as `history` names it


def test_only_this_databases_backups_are_read_for_chain_heads(tmp_path):
    ours, theirs = tmp_path / "town_returns.sqlite3", tmp_path / "town_returns_东城.sqlite3"
    with Store(ours, today=lambda: TODAY) as a, Store(theirs, today=lambda: TODAY) as b:
        a.bind_town("莞城")
        b.bind_town("东城")
        a.save_quarter(Q, FULL_QUARTER)
        mine = a.backup_to_rotation("测试")
        for quarter in (Q.previous(), Q):
            b.save_quarter(quarter, FULL_QUARTER)
            b.backup_to_rotation("东城")
        assert mine is not None
        (mine.parent / "town_returns_20240101-000000-000000_坏.sqlite3").write_bytes(b"not a database")
        heads = backup_heads(ours, a.db_id())
        assert [head.where.strip() for head in heads] == [f"备份 {mine.name}"]
        with sqlite3.connect(mine) as conn:
            assert heads[0].id == conn.execute("SELECT max(id) FROM audit").fetchone()[0]
        # 东城's backups end in rows 莞城's chain does not have: read as 莞城's, they would fail it.
        assert a.verify_audit().ok
