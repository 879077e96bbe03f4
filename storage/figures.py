"""A town's figures and explanations as stored, written one quarter at a time with an audit row per change."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session

from core.errors import DomainError
from core.indicators import SHIPPED, Catalogue
from core.quarters import Quarter
from storage import reads
from storage.audit_trail import append_entry
from storage.engine import session_connection
from storage.models import ExplanationRow, FigureRow
from storage.settings import now_text


@dataclass(frozen=True)
class Change:
    quarter: str
    code: str
    old: str | None
    new: str | None


class FiguresChangedElsewhere(DomainError):
    """The figures a form was loaded with have changed in the database since: nothing was saved."""

    def __init__(self, quarter: Quarter, changed: list[str]):
        self.changed = changed
        super().__init__(
            f"{quarter.label}的以下数据在打开此表后已在别处（另一窗口或命令行）被修改：{'、'.join(changed)}。"
            "为免覆盖，本次未保存。"
        )


def quarter_figures(session: Session, town: str, quarter: Quarter) -> dict[str, int]:
    return reads.quarter_figures(session_connection(session), town, quarter)


def history(session: Session, town: str) -> dict[Quarter, dict[str, int]]:
    return reads.history(session_connection(session), town)


def explanations(session: Session, town: str, quarter: Quarter) -> dict[str, str]:
    return reads.explanations(session_connection(session), town, quarter)


def migrated_case_quarters(session: Session) -> frozenset[Quarter]:
    return reads.migrated_case_quarters(session_connection(session))


def refuse_changed_elsewhere(
    session: Session,
    town: str,
    quarter: Quarter,
    values: Mapping[str, int | None],
    texts: Mapping[str, str | None],
    loaded: Mapping[str, int] | None,
    loaded_explanations: Mapping[str, str] | None,
    catalogue: Catalogue = SHIPPED,
) -> None:
    """Refuse a save whose figures or explanations changed in the database since the form was loaded."""
    display_name = catalogue.display_name
    changed = []
    if loaded is not None:
        now = quarter_figures(session, town, quarter)
        changed += [display_name(code) for code in values if now.get(code) != loaded.get(code)]
    if loaded_explanations is not None:
        stored = explanations(session, town, quarter)
        changed += [
            f"{display_name(code)}的说明" for code in texts if stored.get(code) != loaded_explanations.get(code)
        ]
    if changed:
        raise FiguresChangedElsewhere(quarter, changed)


def write_quarter(
    session: Session,
    os_user: str,
    town: str,
    quarter: Quarter,
    values: Mapping[str, int | None],
    texts: Mapping[str, str | None],
) -> list[Change]:
    """Write what differs from the stored quarter, one audit row per change; None (or blank text) clears."""
    changes: list[Change] = []
    now = now_text()
    for code, new in values.items():
        row = session.get(FigureRow, (town, quarter.code, code))
        old = row.value if row else None
        if old == new:
            continue
        if new is None:
            assert row is not None
            session.delete(row)
        elif row is None:
            session.add(FigureRow(town=town, quarter=quarter.code, code=code, value=new, updated_at=now))
        else:
            row.value, row.updated_at = new, now
        change = Change(quarter.code, code, _text(old), _text(new))
        changes.append(change)
        append_entry(session, os_user, "set_figure", quarter.code, code, change.old, change.new)
    for code, text in texts.items():
        text = (text or "").strip() or None
        note = session.get(ExplanationRow, (town, quarter.code, code))
        old_text = note.text if note else None
        if old_text == text:
            continue
        if text is None:
            assert note is not None
            session.delete(note)
        elif note is None:
            session.add(ExplanationRow(town=town, quarter=quarter.code, code=code, text=text, updated_at=now))
        else:
            note.text, note.updated_at = text, now
        changes.append(Change(quarter.code, code, old_text, text))
        append_entry(session, os_user, "set_explanation", quarter.code, code, old_text, text)
    return changes


def _text(value: int | None) -> str | None:
    return None if value is None else str(value)
