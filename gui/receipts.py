"""The town window's side of the city round trip (issue 27): 文件 → 导入市局回执…, the quarter's city state
in the quarter list and 关于, and the city's reasons beside the figures they name (in the findings list,
a click goes to the figure).

The main window calls these through small hooks; the work is `actions.receipts`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QFileDialog, QListWidget, QListWidgetItem, QMessageBox, QWidget

from actions.receipts import NO_ANSWER, AnswerImport, import_answers
from core.quarters import Quarter
from core.receipts import SENT_BACK

if TYPE_CHECKING:
    from actions.database import Store, StoreReads

ANSWER_FILTER = "市局回执或退回通知 (*.receipt *.notice)"
CITY_COLOUR = "#6a1b9a"
CITY_REASON = "city_reason"  # the list items' kind, so a refresh replaces them


def city_mark(reads: StoreReads, quarter: Quarter, revision: int | None) -> str:
    """The quarter list's note of the city's answer, e.g. "，市局已接收（第 1 版，…）"."""
    label = _states(reads).get(quarter, NO_ANSWER).label(revision)
    return f"，{label}" if label else ""


def _states(reads: StoreReads) -> dict[Quarter, Any]:
    try:
        return reads.city_states()
    except Exception:  # a database read before its structure has the city's tables: nothing to show
        return {}


def about_lines(store: Store) -> str:
    """关于: each quarter the city has answered, newest first."""
    states = _states(store)
    if not states:
        return "市局回执：尚未导入"
    statuses = store.quarter_statuses()
    lines = []
    for quarter in sorted(states, reverse=True):
        status = statuses.get(quarter)
        lines.append(f"　{quarter.label}：{states[quarter].label(status.revision if status else None)}")
    return "市局回执：\n" + "\n".join(lines)


def show_city_reasons(findings: QListWidget, reads: StoreReads, quarter: Quarter | None) -> None:
    """Put the city's reasons of a sent-back quarter at the top of the findings list, each naming its
    figure (a click goes to it), so they stand beside the figures they are about."""
    for row in reversed(range(findings.count())):
        if findings.item(row).data(Qt.ItemDataRole.UserRole + 1) == CITY_REASON:
            findings.takeItem(row)
    if quarter is None:
        return
    state = _states(reads).get(quarter, NO_ANSWER)
    if state.state != SENT_BACK:
        return
    for place, reason in enumerate(state.reasons):
        where = "整份季报" if reason.indicator is None else reads.indicator_name(reason.indicator, quarter.code)
        item = QListWidgetItem(f"【市局退回·第 {state.revision} 版】{where}：{reason.text}")
        item.setData(Qt.ItemDataRole.UserRole, reason.indicator)
        item.setData(Qt.ItemDataRole.UserRole + 1, CITY_REASON)
        item.setForeground(QBrush(QColor(CITY_COLOUR)))
        item.setToolTip(reason.text)
        findings.insertItem(place, item)


def reason_for(reads: StoreReads, quarter: Quarter, code: str) -> str | None:
    """The city's reason about one figure of a sent-back quarter, if it gave one."""
    state = _states(reads).get(quarter, NO_ANSWER)
    return state.reason_for(code) if state.state == SENT_BACK else None


def choose_files(parent: QWidget, start: str) -> list[Path]:
    chosen, _ = QFileDialog.getOpenFileNames(parent, "选择市局的回执或退回通知", start, ANSWER_FILTER)
    return [Path(p) for p in chosen]


def import_city_answers(parent: QWidget, store: Store, paths: list[Path]) -> list[AnswerImport]:
    """Import the files and tell what each did (imported, nothing changed, or refused and why)."""
    results = import_answers(store, paths)
    refused = [r for r in results if not r.imported]
    lines = [f"{r.file.name}：{'' if r.imported else '未导入——'}{r.message}" for r in results]
    box = QMessageBox(
        QMessageBox.Icon.Warning if refused else QMessageBox.Icon.Information,
        "导入市局回执",
        "\n\n".join(lines),
        parent=parent,
    )
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    box.exec()
    return results
