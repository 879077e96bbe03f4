"""The audit trail: a hash chain over every change, replayed to prove it explains every stored figure.

The chain has no secret. It catches an edit made with a database tool (a changed, inserted or
deleted row, a figure changed without a row, a tail cut off while a backup or an export still
remembers it), not somebody who rewrites the whole chain, every backup and every export record.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path

from core.indicators import SHIPPED
from storage.backup import connect_backup, identity_of, live_identity, rotation_files

GENESIS_HASH = "0" * 64


ACTION_NAMES = {
    "bind_town": "绑定镇街",
    "profile": "修改单位信息",
    "set_figure": "修改数值",
    "set_explanation": "修改说明",
    "plan_import": "导入规划目标",
    "identity_import": "导入签名证书",
    "export": "导出上报",
    "city_mode": "设为市局汇总",
    "reopen": "退回修改",
    "backup": "备份",
    "restore": "从备份恢复",
    "db_id": "数据库编号",
    "set_base": "录入基期数",
    "clock": "确认电脑时间",
    "city_receipt": "导入市局回执",
    "city_notice": "导入市局退回通知",
    "migrate_figure": "升级数据库结构（仲裁、监察案件分为上期结转和本期受理）",
}
# A figure written by a database migration (0007): replayed like set_figure, but not a change a signed
# return's figures missed (the 需重新上报 check reads set_figure rows only).
MIGRATE_FIGURE = "migrate_figure"


@dataclass(frozen=True)
class AuditRow:
    """One change as the history view and `audit --json` show it."""

    id: int
    at: str
    os_user: str
    clerk: str
    action: str
    quarter: str | None
    code: str | None
    old_value: str | None
    new_value: str | None
    # The indicator or profile field in words, named from the list of the row's quarter (Store.audit_trail)
    subject: str = field(default="", kw_only=True)

    @property
    def action_name(self) -> str:
        return ACTION_NAMES.get(self.action, self.action)

    def as_dict(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(AuditRow)}


@dataclass(frozen=True)
class ChainRow(AuditRow):
    """An audit row with the links of the hash chain."""

    prev_hash: str
    hash: str

    def shown(self) -> AuditRow:
        """The row without its links, as the history view shows it."""
        return AuditRow(
            self.id,
            self.at,
            self.os_user,
            self.clerk,
            self.action,
            self.quarter,
            self.code,
            self.old_value,
            self.new_value,
        )


@dataclass(frozen=True)
class AuditCheck:
    ok: bool
    rows: int
    first_bad_id: int | None = None
    message: str = ""


def row_hash(row: ChainRow) -> str:
    body = [
        row.id,
        row.at,
        row.os_user,
        row.clerk,
        row.action,
        row.quarter,
        row.code,
        row.old_value,
        row.new_value,
        row.prev_hash,
    ]
    return hashlib.sha256(json.dumps(body, ensure_ascii=False).encode("utf-8")).hexdigest()


def check_chain(rows: Sequence[ChainRow]) -> AuditCheck | None:
    """The first row altered, inserted or deleted inside the chain; None when it links up."""
    previous_hash = GENESIS_HASH
    for expected_id, row in enumerate(rows, start=1):
        if row.id != expected_id:
            return AuditCheck(
                False, len(rows), row.id, f"第 {expected_id} 条审计记录缺失（下一条是第 {row.id} 条），记录被删除"
            )
        if row.prev_hash != previous_hash:
            return AuditCheck(False, len(rows), row.id, f"第 {row.id} 条审计记录与前一条接不上，其前后记录被删除或插入")
        if row_hash(row) != row.hash:
            return AuditCheck(False, len(rows), row.id, f"第 {row.id} 条审计记录的内容被改动")
        previous_hash = row.hash
    return None


def _where(quarter: str | None, code: str | None, name: Callable[[str], str] = SHIPPED.display_name) -> str:
    from core.quarters import Quarter

    parts = []
    if quarter:
        try:
            parts.append(Quarter.parse(quarter).label)
        except ValueError:
            parts.append(quarter)
    if code:
        parts.append(name(code))
    return "".join(parts) or "（未注明）"


def check_replay(
    rows: Sequence[ChainRow],
    figures: Mapping[tuple[str, str], int],
    explanations: Mapping[tuple[str, str], str],
    bases: Mapping[tuple[str, str], int] | None = None,
    name: Callable[[str], str] = SHIPPED.display_name,
) -> AuditCheck | None:
    """Replaying the trail must give exactly the stored figures, explanations and 基期数; `name` names a
    code in the message (Store.indicator_name: from whichever stored plan lists it)."""
    replayed_figures: dict[tuple[str, str], str] = {}
    replayed_texts: dict[tuple[str, str], str] = {}
    replayed_bases: dict[tuple[str, str], str] = {}
    for row in rows:
        if row.action == "set_base" and row.code is not None:
            match = _BASE.fullmatch(row.new_value or "")
            if match:
                replayed_bases[(match.group(2), row.code)] = match.group(1)
            continue
        if row.action not in ("set_figure", MIGRATE_FIGURE, "set_explanation") or row.quarter is None or row.code is None:
            continue
        target = replayed_texts if row.action == "set_explanation" else replayed_figures
        key = (row.quarter, row.code)
        if target.get(key) != row.old_value:
            return AuditCheck(
                False,
                len(rows),
                row.id,
                f"第 {row.id} 条审计记录（{_where(*key, name)}）的原值与此前的记录不符，修改记录被改动过",
            )
        if row.new_value is None:
            target.pop(key, None)
        else:
            target[key] = row.new_value
    stored_figures = {key: str(value) for key, value in figures.items()}
    stored_bases = {key: str(value) for key, value in (bases or {}).items()}
    if bases is not None:
        for key in sorted(set(replayed_bases) | set(stored_bases)):
            if replayed_bases.get(key) != stored_bases.get(key):
                return AuditCheck(
                    False,
                    len(rows),
                    None,
                    f"{key[0]}{name(key[1])}的基期数（{stored_bases.get(key) or '空'}）与修改记录"
                    f"（{replayed_bases.get(key) or '空'}）不一致：数据库在本软件之外被改动过",
                )
    for kind, replayed, stored in (
        ("数值", replayed_figures, stored_figures),
        ("说明", replayed_texts, dict(explanations)),
    ):
        for key in sorted(set(replayed) | set(stored)):
            if replayed.get(key) != stored.get(key):
                shown = stored.get(key)
                return AuditCheck(
                    False,
                    len(rows),
                    None,
                    f"{_where(*key, name)}的{kind}（{shown if shown is not None else '空'}）与修改记录"
                    f"（{replayed.get(key) or '空'}）不一致：数据库在本软件之外被改动过",
                )
    return None


_REVISION = re.compile(r"第 (\d+) 版")
_BASE = re.compile(r"(\d+)（(.+)）")


def check_states(rows: Sequence[ChainRow], states: Mapping[str, tuple[str, int]]) -> AuditCheck | None:
    """Each quarter's 已上报 / 已退回修改 state and revision must be what its export and reopen rows say."""
    expected: dict[str, tuple[str, int]] = {}
    for row in rows:
        if row.quarter is None:
            continue
        if row.action == "export":
            match = _REVISION.search(row.new_value or "")
            if match:
                expected[row.quarter] = ("submitted", int(match.group(1)))
        elif row.action == "reopen" and row.quarter in expected:
            expected[row.quarter] = ("reopened", expected[row.quarter][1])
    for quarter in sorted(set(expected) | set(states)):
        if expected.get(quarter) != states.get(quarter):
            return AuditCheck(
                False,
                len(rows),
                None,
                f"{_where(quarter, None)}的上报状态与修改记录不一致（上报、退回修改的记录与状态表对不上）："
                "数据库在本软件之外被改动过",
            )
    return None


ANSWER_ACTIONS = {"city_receipt": "回执", "city_notice": "退回通知"}


def check_answers(rows: Sequence[ChainRow], kept: Iterable[int | None]) -> AuditCheck | None:
    """Every receipt or send-back the trail says was imported must still have its row (city_answers):
    a row deleted from outside would silently change the quarter's state at the city."""
    present = set(kept)
    for row in rows:
        if row.action in ANSWER_ACTIONS and row.id not in present:
            return AuditCheck(
                False,
                len(rows),
                None,
                f"{_where(row.quarter, None)}导入的市局{ANSWER_ACTIONS[row.action]}（修改记录第 {row.id} 条）在数据库中"
                "找不到了：数据库在本软件之外被改动过（请用完好的备份恢复）",
            )
    return None


def check_db_id(rows: Sequence[ChainRow], db_id: str | None) -> AuditCheck | None:
    recorded = next((row.new_value for row in reversed(rows) if row.action == "db_id"), None)
    if recorded is not None and recorded != db_id:
        return AuditCheck(False, len(rows), None, "数据库编号（db.id）与修改记录不符：在本软件之外被改动过")
    return None


@dataclass(frozen=True)
class ChainHead:
    """Where somebody else saw the chain end: a backup's last row, or the row that recorded an export.

    A backup also gives its whole chain (`chain`, read only when needed): a backup taken from a history
    that a restore later replaced is told by where it parts from the live chain, not by any time."""

    where: str
    id: int
    hash: str
    chain: Callable[[], dict[int, str]] | None = None


def check_heads(rows: Sequence[ChainRow], heads: Iterable[ChainHead]) -> AuditCheck | None:
    """Every head seen elsewhere must still be in the live chain, unless the live chain parted from the
    backup's at a restore (the restore replaced the history the backup was taken from)."""
    by_id = {row.id: row for row in rows}
    for head in heads:
        live = by_id.get(head.id)
        if live is not None and live.hash == head.hash:
            continue
        if head.chain is not None and _parted_at_a_restore(by_id, head.chain()):
            continue
        return AuditCheck(
            False,
            len(rows),
            head.id,
            f"{head.where}记录到第 {head.id} 条审计记录，但数据库中的这条记录"
            + ("不见了" if live is None else "与之不同")
            + "：修改记录的末尾被删除或改动过",
        )
    return None


def _parted_at_a_restore(live: Mapping[int, ChainRow], theirs: Mapping[int, str]) -> bool:
    """Whether the first row where the live chain differs from the backup's is a restore row of the live chain."""
    position = 1
    while position in theirs and position in live and live[position].hash == theirs[position]:
        position += 1
    parting = live.get(position)
    return parting is not None and parting.action == "restore"


def backup_heads(db_path: Path, db_id: str | None) -> list[ChainHead]:
    """The last audit row of each backup of this database, each file opened once, read-only."""
    db_id = db_id or live_identity(db_path).db_id
    if db_id is None:
        return []
    heads = []
    for path in rotation_files(db_path):
        try:
            conn = connect_backup(path)
        except (sqlite3.Error, OSError):
            continue
        try:
            if identity_of(conn).db_id != db_id:
                continue
            row = conn.execute("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
        except (sqlite3.Error, OSError):
            continue
        finally:
            conn.close()
        if row:
            heads.append(ChainHead(f"备份 {path.name} ", row[0], row[1], functools.partial(_chain_of, path)))
    return heads


def _chain_of(path: Path) -> dict[int, str]:
    try:
        conn = connect_backup(path)
    except (sqlite3.Error, OSError):
        return {}
    try:
        return dict(conn.execute("SELECT id, hash FROM audit ORDER BY id").fetchall())
    except sqlite3.Error:
        return {}
    finally:
        conn.close()
