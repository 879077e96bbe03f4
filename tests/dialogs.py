"""A test fails on any modal dialog it did not declare, and on a declared one that never came.

Every test gets the `dialogs` guard (autouse). A test that expects a dialog says so, with the answer:

    dialogs.expect("覆盖", answer=QMessageBox.StandardButton.Yes)
    dialogs.expect("选择保存季报的文件夹", answer=str(folder))        # QFileDialog.getExistingDirectory
    dialogs.expect("不保存")                                           # a box's own button, by its text

The fragment is looked for in the dialog's title, text and button texts. An unexpected dialog fails
the test at teardown; meanwhile it is answered so the code goes on and cannot hang (a question Yes,
a box its Esc button, a file or input dialog cancelled).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest


@dataclass
class Expected:
    fragment: str
    answer: Any


@dataclass
class Dialogs:
    pending: list[Expected] = field(default_factory=list)
    shown: list[str] = field(default_factory=list)  # "kind: title | text" of every dialog, in order
    unexpected: list[str] = field(default_factory=list)

    def expect(self, fragment: str, answer: Any = None) -> None:
        """The next dialog whose title, text or buttons contain `fragment` gets `answer`."""
        self.pending.append(Expected(fragment, answer))

    def texts(self) -> list[str]:
        return [entry.split(" | ", 1)[1] for entry in self.shown]

    def answer_for(self, kind: str, title: str, text: str, buttons: tuple[str, ...] = ()) -> Expected | None:
        """Record a dialog as shown and return the expectation it meets (None: unexpected)."""
        entry = f"{kind}: {title} | {text}"
        self.shown.append(entry)
        haystack = "\n".join([title, text, *buttons])
        for expected in self.pending:
            if expected.fragment in haystack:
                self.pending.remove(expected)
                return expected
        self.unexpected.append(entry)
        return None


def _install(monkeypatch: pytest.MonkeyPatch, dialogs: Dialogs) -> None:
    from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox

    button = QMessageBox.StandardButton

    def static_box(kind: str, default: Any):
        def show(parent, title, text, *args, **kwargs):
            expected = dialogs.answer_for(kind, title, text)
            if expected is None:  # answered Yes as the old blanket stub did: the code goes on, no hang
                return button.Yes if kind == "question" else button.Ok
            return default if expected.answer is None else expected.answer

        return show

    monkeypatch.setattr(QMessageBox, "question", static_box("question", button.Yes))
    for kind in ("information", "warning", "critical"):
        monkeypatch.setattr(QMessageBox, kind, static_box(kind, button.Ok))

    def exec_box(box: QMessageBox) -> int:
        buttons = box.buttons()
        expected = dialogs.answer_for("box", box.windowTitle(), box.text(), tuple(b.text() for b in buttons))
        chosen = None
        if expected is not None:
            # An answer names a button by its text or as a standard button; no answer: the button
            # whose text the expectation quoted.
            label = expected.fragment if expected.answer is None else expected.answer
            if isinstance(label, QMessageBox.StandardButton):
                chosen = box.button(label)
            else:
                chosen = next((b for b in buttons if b.text() == label), None)
            if chosen is None:
                pytest.fail(f"the dialog {box.text()!r} has no button {label!r}; it has {[b.text() for b in buttons]}")
        if chosen is None:  # unexpected: closed as a user pressing Esc would
            chosen = box.escapeButton() or next(
                (b for b in box.buttons() if box.buttonRole(b) == QMessageBox.ButtonRole.RejectRole), None
            )
        if chosen is not None:
            chosen.click()  # sets clickedButton() as a real click does
        return box.result()

    monkeypatch.setattr(QMessageBox, "exec", exec_box)

    def file_dialog(kind: str, cancelled: Any):
        def show(parent=None, caption="", *args, **kwargs):
            expected = dialogs.answer_for(kind, caption, "")
            return cancelled if expected is None or expected.answer is None else expected.answer

        return show

    monkeypatch.setattr(QFileDialog, "getOpenFileName", file_dialog("open", ("", "")))
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", file_dialog("open", ([], "")))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", file_dialog("save", ("", "")))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", file_dialog("folder", ""))

    def input_dialog(kind: str, cancelled: Any):
        def show(parent, title, label, *args, **kwargs):
            expected = dialogs.answer_for(kind, title, label)
            return cancelled if expected is None or expected.answer is None else expected.answer

        return show

    monkeypatch.setattr(QInputDialog, "getText", input_dialog("text", ("", False)))
    monkeypatch.setattr(QInputDialog, "getInt", input_dialog("number", (0, False)))


@pytest.fixture(autouse=True)
def dialogs(monkeypatch: pytest.MonkeyPatch):
    guard = Dialogs()
    _install(monkeypatch, guard)
    yield guard
    problems = [f"未预期的对话框 unexpected dialog — {entry}" for entry in guard.unexpected]
    problems += [f"expected a dialog containing {e.fragment!r}, none came" for e in guard.pending]
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)
