"""The clerk's window's figure entry: the quarter shown, its figures and findings, saving, 基期数, 退回修改."""

from __future__ import annotations

import html
import logging
from datetime import datetime
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QListWidgetItem, QMessageBox

from core.errors import DomainError
from core.plans import SAMPLE_MARK
from core.quarters import Quarter
from core.submission import WINDOW_REOPEN, status_findings
from core.validation import ERROR, LEVEL_NAMES, NOTICE, WARNING, Finding
from gui import APP_TITLE, questions
from gui import receipts as round_trip
from gui.errors import show_error

if TYPE_CHECKING:
    from PySide6.QtGui import QAction

    from actions.database import Store
    from actions.figures import FiguresChangedElsewhere
    from gui.window_database import WindowDatabase
    from gui.window_frame import ClerkFrame
    from gui.window_views import TabViews

log = logging.getLogger(__name__)
LEVEL_COLOURS = {ERROR: "#c62828", WARNING: "#b35900", NOTICE: "#555555"}
SAVED_STYLE = "QLabel { color: #1a7f37; background: #e6f4ea; border: 1px solid #1a7f37; padding: 3px 8px; }"
UNSAVED_STYLE = "QLabel { color: #7a3d00; background: #fff8e1; border: 1px solid #b35900; padding: 3px 8px; }"


class FigureEntry:
    """The 填报 tab and the bar above it: which quarter, its figures, their findings, whether saved."""

    def __init__(self, frame: ClerkFrame, database: WindowDatabase, views: TabViews, reopen_action: QAction):
        self.frame, self.database, self.views, self.reopen_action = frame, database, views, reopen_action
        self.form = frame.form
        self.quarter: Quarter | None = None  # None in the skeleton, before the database is read
        self.status_notices: list[Finding] = []  # what the quarter's state adds to its findings (需重新上报)

    @property
    def shown(self) -> Quarter:
        """The quarter shown."""
        assert self.quarter is not None
        return self.quarter

    # --- the quarters ---------------------------------------------------------------------------

    def fill_in(self, initial_quarter: Quarter | None) -> None:
        """The skeleton filled in once the database can be read, and the clerk let in."""
        window = self.frame
        window.town = self.database.reads.require_town()
        window.town_label.setText(f"<b style='font-size:15pt'>{window.town}</b>")
        self.fill_and_load(initial_quarter)
        window.statusBar().clearMessage()
        window.setEnabled(True)
        window.focus_first_figure()

    def fill_and_load(self, initial_quarter: Quarter | None) -> None:
        box = self.frame.quarter_box
        self.fill_quarters()
        start = initial_quarter or Quarter.latest_ended(self.database.reads.today())
        index = box.findData(start.code)
        box.setCurrentIndex(index if index >= 0 else box.count() - 1)
        self.load_quarter(Quarter.parse(box.currentData()))

    def fill_quarters(self) -> None:
        """The quarters from the first plan's to today's, newest first, each named as `status` names it."""
        from actions.quarters import statuses

        reads, box = self.database.reads, self.frame.quarter_box
        first = min((p.first for p in reads.plans()), default=Quarter.latest_ended(reads.today()))
        last = Quarter.containing(reads.today())
        box.clear()
        for state in reversed(statuses(reads)):
            if first <= state.quarter <= last:
                answer = "" if state.status.revision is None else round_trip.city_mark(reads, state.quarter, state.status.revision)
                box.addItem(f"{state.quarter.label}（{state.label}{answer}）", state.quarter.code)

    def refresh_quarter_labels(self) -> None:
        current = self.frame.quarter_box.currentIndex()
        self.fill_quarters()
        self.frame.quarter_box.setCurrentIndex(current)

    def show_changed_elsewhere(self) -> None:
        """The store, once loaded, found the database changed since it was read: the quarters listed
        again, and the quarter shown again unless the clerk has edited it."""
        self.refresh_quarter_labels()
        if not self.form.is_dirty():
            self.load_quarter(self.shown)

    def show_restored(self) -> None:
        """After a restore: the quarters listed again, the same quarter shown if the backup has it."""
        box = self.frame.quarter_box
        code = self.shown.code
        self.fill_quarters()
        box.setCurrentIndex(max(box.findData(code), 0))
        self.load_quarter(Quarter.parse(box.currentData()))

    def show_status(self, quarter: Quarter) -> None:
        """The quarter's state where the clerk reads it: the lock, the banner, 需重新上报 in the findings."""
        window = self.frame
        status = self.database.reads.quarter_status(quarter)
        self.status_notices = status_findings(quarter, status, WINDOW_REOPEN)
        self.form.set_read_only(status.locked)
        window.save_button.setEnabled(not status.locked)
        self.reopen_action.setEnabled(status.locked)
        window.lock_banner.setVisible(status.state != "draft")
        if status.stale_because:
            window.lock_banner.setText(
                f"{quarter.label}{status.label}：{status.stale_because}。请用“季报 → 退回修改”并写明原因，"
                f"再重新导出第 {(status.revision or 0) + 1} 版。"
            )
        elif status.locked:
            window.lock_banner.setText(
                f"{quarter.label}{status.label}，数值已锁定。如需修改，请用“季报 → 退回修改”并写明原因，再次导出将是第 {(status.revision or 0) + 1} 版。"
            )
        else:
            window.lock_banner.setText(
                f"{quarter.label}{status.label}（原第 {status.revision} 版），修改后请重新导出上报。"
            )

    def load_quarter(self, quarter: Quarter) -> None:
        window, reads, form = self.frame, self.database.reads, self.form
        self.quarter = quarter
        self.show_status(quarter)
        if form.set_catalogue(reads.catalogue_for(quarter)):
            window.chain_tabs()
        self.show_plan_line(quarter)
        plan = reads.plan_for(quarter)
        form.load(
            window.town,
            quarter,
            plan,
            reads.history(),
            reads.explanations(quarter),
            reads.today(),
            reads.stock_bases(plan),
            reads.migrated_case_quarters(),
        )
        self.show_save_state("", "")
        self.update_title()
        self.views.refresh_visible(quarter)

    def show_plan_line(self, quarter: Quarter) -> None:
        plan = self.database.reads.plan_for(quarter)
        if plan is None:
            text = f"{quarter.label}不在任何已导入的规划期内，没有目标（可用“文件 → 导入规划”导入市局下发的规划）"
        else:
            text = f"规划：{html.escape(plan.name)}（{plan.first.label}至{plan.last.label}）"
            if plan.form_number and plan.form_number != SAMPLE_MARK:
                text += f"　表号：{html.escape(plan.form_number)}"
            if plan.sample:
                text += f"　<b style='color:#c62828'>{SAMPLE_MARK}：演示用，不是市局下发的正式目标</b>"
        self.frame.plan_line.setText(text)
        self.frame.plan_line.setToolTip(f"规划编号：{plan.plan_id}" if plan is not None and plan.plan_id else "")

    def on_quarter_chosen(self, index: int) -> None:
        box = self.frame.quarter_box
        chosen = Quarter.parse(box.itemData(index))
        if chosen == self.quarter:
            return
        if not self.resolve_unsaved():
            box.setCurrentIndex(box.findData(self.shown.code))
            return
        self.load_quarter(chosen)

    def reload(self) -> None:
        """Show the database as it is now, the quarters' states and this quarter's figures, dropping
        edits not saved: after a reopen, an export or an import here, or a change made elsewhere."""
        self.refresh_quarter_labels()
        self.load_quarter(self.shown)

    def select_quarter(self, quarter: Quarter) -> None:
        """Choose a quarter as the picker would (used by tests and the demo)."""
        index = self.frame.quarter_box.findData(quarter.code)
        self.frame.quarter_box.setCurrentIndex(index)
        self.on_quarter_chosen(index)

    # --- writing: 基期数, 退回修改, saving ---------------------------------------------------------

    def enter_base(self, code: str, value: int | None = None) -> bool:
        """录入基期数 of a stock for the quarter's plan (asked for when `value` is not given)."""
        store = self.database.ready()
        if store is None:
            return False
        window, quarter = self.frame, self.shown
        plan = store.plan_for(quarter)
        if plan is None:
            show_error(window, f"{quarter.label}不在任何已导入的规划期内，没有基期数", title="不能录入基期数")
            return False
        if value is None:
            from gui.clerk_dialogs import BaseDialog
            from gui.plan_dialogs import run_modal

            name = plan.catalogue.display_name(code)
            dialog = BaseDialog(window, name, plan.name, plan.first.year - 1, store.stock_bases(plan).get(code))
            window.base_dialog = dialog
            accepted = run_modal(dialog)
            typed = dialog.value()
            if not accepted or typed is None:
                return False
            value = typed
        from actions.figures import stock_bases

        try:
            bases = stock_bases(store, [(code, value)], quarter)
        except DomainError as exc:
            show_error(window, exc, title="不能录入基期数")
            return False
        self.form.set_bases(bases.bases)
        self.views.refresh_visible(quarter)
        # a 基期数 changes what a return printed: the quarters' states (需重新上报) as `status` gives them now
        self.refresh_quarter_labels()
        self.show_status(quarter)
        self.show_findings(self.form.findings())
        window.statusBar().showMessage(f"已保存{plan.catalogue.display_name(code)}基期数 {value:,}", 5000)
        return True

    def reopen_quarter(self, reason: str | None = None) -> bool:
        store = self.database.ready()
        if store is None:
            return False
        quarter = self.shown
        if reason is None:
            from gui.clerk_dialogs import ReasonDialog
            from gui.plan_dialogs import run_modal

            dialog = ReasonDialog(self.frame, quarter.label)
            self.frame.reason_dialog = dialog
            if not run_modal(dialog):
                return False
            reason = dialog.reason()
        from actions.figures import reopen

        try:
            reopened = reopen(store, quarter, reason)
        except DomainError as exc:
            show_error(self.frame, exc, title="不能退回修改")
            return False
        self.reload()
        self.frame.statusBar().showMessage(reopened.message, 15000)
        return True

    def save(self) -> bool:
        store = self.database.ready()
        if store is None:
            return False
        window, form, quarter = self.frame, self.form, self.shown
        if store.quarter_status(quarter).locked:
            show_error(window, f"{quarter.label}已上报，数值已锁定；如需修改请先退回修改", title="不能保存")
            return False
        values, invalid = form.parsed()
        blocking = [f for f in form.findings() if f.level == ERROR]
        if invalid or blocking:
            reasons = "\n".join(f"· {f.message}" for f in blocking)
            show_error(window, f"{quarter.label}有错误，未保存：\n{reasons}", title="不能保存")
            return False
        explanations = form.explanations()
        loaded, loaded_explanations = form.loaded()
        from actions.figures import FiguresChangedElsewhere, SaveRefused, save_figures

        try:
            try:
                changes = save_figures(store, quarter, values, explanations, loaded, loaded_explanations)
            except FiguresChangedElsewhere as exc:
                if not self.overwrite_changed_elsewhere(exc):
                    return False
                changes = save_figures(store, quarter, values, explanations)
        except SaveRefused as exc:
            show_error(window, exc, title="不能保存")
            return False
        except DomainError as exc:
            show_error(window, exc)
            return False
        form.mark_saved(values, explanations)
        self.refresh_quarter_labels()
        self.views.refresh_visible(quarter)
        saved = f"已保存 {quarter.label}（{datetime.now():%H:%M:%S}，{len(changes)} 项修改）"
        self.show_save_state(f"✓ {saved}", SAVED_STYLE)
        window.statusBar().showMessage(saved, 5000)
        log.info("saved %s: %d changes", quarter.code, len(changes))
        return True

    def overwrite_changed_elsewhere(self, exc: FiguresChangedElsewhere) -> bool:
        """Ask before this window's figures replace ones changed elsewhere since it loaded them."""
        box = QMessageBox(QMessageBox.Icon.Warning, "数据已在别处修改", exc.message, parent=self.frame)
        overwrite = box.addButton("用本窗口的数值覆盖", QMessageBox.ButtonRole.DestructiveRole)
        reload = box.addButton("重新载入（放弃本窗口的修改）", QMessageBox.ButtonRole.ResetRole)
        box.addButton("取消", QMessageBox.ButtonRole.RejectRole)
        box.exec()
        if box.clickedButton() is reload:
            self.load_quarter(self.shown)
        return box.clickedButton() is overwrite

    def settled(self) -> Store | None:
        """The store, for an action that leaves the figures shown behind (an import, a restore, an export):
        None when the database is not ready (the clerk told why) or the clerk kept the unsaved edits."""
        store = self.database.ready()
        return store if store is not None and self.resolve_unsaved() else None

    def resolve_unsaved(self) -> bool:
        """True when it is safe to move on from the quarter shown: nothing unsaved, saved now, or
        discarded on purpose."""
        if not self.form.is_dirty():
            return True
        choice = questions.ask_unsaved(self.frame, self.shown.label)
        if choice is questions.Unsaved.SAVE:
            return self.save()
        return choice is questions.Unsaved.DISCARD

    # --- what the clerk is shown of it ----------------------------------------------------------

    def update_title(self) -> None:
        dirty = self.quarter is not None and self.form.is_dirty()
        self.frame.setWindowTitle(f"{APP_TITLE} — {self.frame.town}" + ("　*未保存" if dirty else ""))
        if dirty:
            self.show_save_state("● 有未保存的修改", UNSAVED_STYLE)
        elif self.frame.save_state.property("state") != "saved":
            self.show_save_state("", "")

    def show_save_state(self, text: str, style: str) -> None:
        """The save confirmation in the window itself: the status bar is off-screen on a small display."""
        label = self.frame.save_state
        label.setText(text)
        label.setStyleSheet(style)
        label.setProperty("state", "saved" if style == SAVED_STYLE else "unsaved" if style else "")
        label.setVisible(bool(text))

    def show_findings(self, findings: list[Finding]) -> None:
        findings = [*findings, *self.status_notices]  # as `check` lists them
        findings_list = self.frame.findings_list
        findings_list.clear()
        counts = {ERROR: 0, WARNING: 0, NOTICE: 0}
        unexplained = 0
        order = {ERROR: 0, WARNING: 1, NOTICE: 2}
        for finding in sorted(findings, key=lambda f: order[f.level]):
            counts[finding.level] += 1
            unexplained += finding.needs_explanation and not finding.explained
            item = QListWidgetItem(f"【{LEVEL_NAMES[finding.level]}】{finding.message}")
            item.setData(Qt.ItemDataRole.UserRole, finding.indicator)
            item.setForeground(QBrush(QColor(LEVEL_COLOURS[finding.level])))
            findings_list.addItem(item)
        round_trip.show_city_reasons(findings_list, self.database.reads, self.quarter)  # the city's reasons beside the figures
        summary = f"错误 {counts[ERROR]}　警告 {counts[WARNING]}　提示 {counts[NOTICE]}"
        if counts[ERROR]:
            summary += "<br><span style='color:#c62828'>有错误，不能保存。</span>"
        elif unexplained:
            summary += f"<br><span style='color:#b35900'>{unexplained} 项警告需要填写说明后才能上报。</span>"
        elif not findings:
            summary += "<br><span style='color:#1a7f37'>未发现问题。</span>"
        self.frame.findings_summary.setText(f"<b>检查结果</b>　{summary}")

    def on_finding_clicked(self, item: QListWidgetItem) -> None:
        self.frame.tabs.setCurrentIndex(0)
        self.form.focus_field(item.data(Qt.ItemDataRole.UserRole))
        self.frame.scroll_to_focus()
