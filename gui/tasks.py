"""Long work off the GUI thread, with a progress dialog and a cancel button; results come back by signal."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal
from PySide6.QtWidgets import QProgressDialog, QWidget

log = logging.getLogger(__name__)

# The work receives step(label) -> bool: it reports what it is doing and learns whether to go on.
Work = Callable[[Callable[[str], bool]], Any]


class _Signals(QObject):
    step = Signal(str)
    succeeded = Signal(object)
    failed = Signal(object)


class _Runnable(QRunnable):
    def __init__(self, work: Work, signals: _Signals, cancelled: threading.Event):
        super().__init__()
        self.work, self.signals, self.cancelled = work, signals, cancelled

    def run(self) -> None:
        def step(label: str) -> bool:
            self.signals.step.emit(label)
            return not self.cancelled.is_set()

        try:
            result = self.work(step)
        except BaseException as exc:  # every failure goes back to the GUI thread to be shown
            self.signals.failed.emit(exc)
        else:
            self.signals.succeeded.emit(result)


class BackgroundTask(QObject):
    """Runs `work` on the thread pool while a modal progress dialog with 取消 is shown."""

    finished = Signal()

    def __init__(
        self,
        parent: QWidget,
        title: str,
        work: Work,
        on_success: Callable[[Any], None],
        on_failure: Callable[[BaseException], None],
    ):
        super().__init__(parent)
        self.cancelled = threading.Event()
        self.signals = _Signals()
        self.dialog = QProgressDialog(title, "取消", 0, 0, parent)
        self.dialog.setWindowTitle(title)
        self.dialog.setWindowModality(Qt.WindowModality.WindowModal)
        self.dialog.setMinimumDuration(300)
        self.dialog.canceled.connect(self.cancelled.set)
        self.signals.step.connect(self.dialog.setLabelText)
        self.signals.succeeded.connect(lambda result: self._done(on_success, result))
        self.signals.failed.connect(lambda error: self._done(on_failure, error))
        self._runnable = _Runnable(work, self.signals, self.cancelled)

    def start(self) -> None:
        QThreadPool.globalInstance().start(self._runnable)

    def _done(self, callback: Callable[[Any], None], value: Any) -> None:
        self.dialog.reset()
        self.dialog.hide()
        try:
            callback(value)
        finally:
            self.finished.emit()
            self.deleteLater()
