"""The clerk's window's frame: its widgets laid out (the quarter bar, the 填报 tab with its findings) and
where the focus goes; nothing of what the widgets do, which the window's parts decide."""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from gui.clerk_dialogs import QuarterPicker
from gui.entry_form import EntryForm


class ClerkFrame(QMainWindow):
    # The boxes and dialogs last shown, kept for tests and so that Python does not drop them.
    export_box: QMessageBox
    identity_box: QMessageBox
    about_box: QMessageBox
    current_task: object
    current_dialog: QWidget
    base_dialog: QWidget
    reason_dialog: QWidget

    def __init__(self, town: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.town = town
        self.settings = QSettings()
        self._build()

    def _build(self) -> None:
        central = QWidget()
        layout = QVBoxLayout(central)
        bar = QHBoxLayout()
        self.town_label = QLabel(f"<b style='font-size:15pt'>{self.town}</b>")
        bar.addWidget(self.town_label)
        bar.addSpacing(16)
        bar.addWidget(QLabel("报告期："))
        self.quarter_box = QuarterPicker()
        self.quarter_box.setObjectName("quarter")
        self.quarter_box.setMinimumWidth(280)
        bar.addWidget(self.quarter_box)
        bar.addStretch(1)
        self.save_state = QLabel()
        self.save_state.setObjectName("save_state")
        bar.addWidget(self.save_state)
        self.save_button = QPushButton("保存（Ctrl+S）")
        self.save_button.setObjectName("save")
        self.save_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        bar.addWidget(self.save_button)
        layout.addLayout(bar)
        self.plan_line = QLabel()
        self.plan_line.setObjectName("plan_line")
        self.plan_line.setTextFormat(Qt.TextFormat.RichText)
        self.plan_line.setWordWrap(True)
        layout.addWidget(self.plan_line)
        self.lock_banner = QLabel()
        self.lock_banner.setObjectName("lock_banner")
        self.lock_banner.setStyleSheet("background:#e8f0fe; color:#0b4a8b; padding:6px; border-radius:4px;")
        self.lock_banner.setWordWrap(True)  # a long 需重新上报 reason wraps instead of widening the window
        self.lock_banner.setVisible(False)
        layout.addWidget(self.lock_banner)

        self.tabs = QTabWidget()
        entry_page = self.entry_splitter = QSplitter(Qt.Orientation.Horizontal)
        self.form = EntryForm()
        scroll = self.entry_scroll = QScrollArea()
        scroll.setWidget(self.form)
        scroll.setWidgetResizable(True)
        entry_page.addWidget(scroll)
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        self.findings_summary = QLabel()
        self.findings_summary.setObjectName("findings_summary")
        self.findings_summary.setWordWrap(True)
        side_layout.addWidget(self.findings_summary)
        self.findings_list = QListWidget()
        self.findings_list.setObjectName("findings")
        self.findings_list.setWordWrap(True)
        self.findings_list.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        side_layout.addWidget(self.findings_list)
        entry_page.addWidget(side)
        entry_page.setStretchFactor(0, 3)
        entry_page.setStretchFactor(1, 1)
        entry_page.setSizes([900, 260])
        self.tabs.addTab(entry_page, "填报")
        layout.addWidget(self.tabs, 1)
        self.setCentralWidget(central)

    # --- focus: typing starts in the first figure, and the focused box is always in view ----------

    def keep_focus_in_view(self, _old: QWidget | None = None, _new: QWidget | None = None) -> None:
        """The focused figure or 说明 box is always scrolled into view (Enter moves focus without scrolling),
        once the form has laid out what typing changed (a 说明 box appearing moves the rows below)."""
        QTimer.singleShot(0, self, self.scroll_to_focus)  # dropped if the window is gone by then

    def scroll_to_focus(self) -> None:
        focused = QApplication.focusWidget()
        if focused is not None and self.form.isAncestorOf(focused):
            self.entry_scroll.ensureWidgetVisible(focused, 40, 40)

    def focus_first_figure(self) -> None:
        """Typing starts in the first figure of the quarter shown, never in the quarter picker."""
        edits = list(self.form.value_edits.values())
        if edits:
            self.tabs.setCurrentIndex(0)
            edits[0].setFocus(Qt.FocusReason.OtherFocusReason)
            edits[0].selectAll()

    def chain_tabs(self) -> None:
        """From the quarter picker, Tab goes to the first figure, not to the tab bar."""
        chain = [self.quarter_box, *self.form.tab_chain]
        for first, second in zip(chain, chain[1:], strict=False):
            QWidget.setTabOrder(first, second)
