"""The clerk's window's 目标进度 and 历史与修改记录 tabs: built when first shown, filled when shown."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QHeaderView, QSplitter, QWidget

from core.quarters import Quarter
from gui.window_layout import restore_states

if TYPE_CHECKING:
    from gui.history_view import HistoryView
    from gui.progress_view import ProgressView
    from gui.window_database import WindowDatabase
    from gui.window_frame import ClerkFrame

PROGRESS_TAB, HISTORY_TAB = 1, 2
TAB_TITLES = {PROGRESS_TAB: "目标进度", HISTORY_TAB: "历史与修改记录"}


class TabViews:
    """The two tabs after 填报; they are not needed to start typing, so they are made when first shown."""

    def __init__(self, frame: ClerkFrame, database: WindowDatabase):
        self.frame, self.database = frame, database
        self.built: dict[int, QWidget] = {}
        for index in (PROGRESS_TAB, HISTORY_TAB):
            frame.tabs.addTab(QWidget(), TAB_TITLES[index])  # the view itself is made when first shown

    @property
    def progress(self) -> ProgressView:
        from gui.progress_view import ProgressView

        view = self._view(PROGRESS_TAB, ProgressView)
        assert isinstance(view, ProgressView)
        return view

    @property
    def history(self) -> HistoryView:
        from gui.history_view import HistoryView

        built = HISTORY_TAB in self.built
        view = self._view(HISTORY_TAB, HistoryView)
        assert isinstance(view, HistoryView)
        if not built:
            restored = restore_states(
                self.frame.settings,
                "main_window",
                {"history_splitter": view.splitter, "audit_columns": view.audit.horizontalHeader()},
            )
            view.audit_columns_set = "audit_columns" in restored
        return view

    def _view(self, index: int, make: Callable[[], QWidget]) -> QWidget:
        """The tab's view, made now and put in place of its placeholder if this is the first call."""
        tabs = self.frame.tabs
        view = self.built.get(index)
        if view is None:
            view = self.built[index] = make()
            placeholder = tabs.widget(index)
            current = tabs.currentIndex()
            blocked = tabs.blockSignals(True)
            tabs.removeTab(index)
            tabs.insertTab(index, view, TAB_TITLES[index])
            tabs.setCurrentIndex(current)
            tabs.blockSignals(blocked)
            if placeholder is not None:
                placeholder.deleteLater()
        return view

    def remembered(self) -> dict[str, QSplitter | QHeaderView]:
        """What of the tabs built so far is remembered between runs."""
        parts: dict[str, QSplitter | QHeaderView] = {}
        history = self.built.get(HISTORY_TAB)
        if history is not None:
            from gui.history_view import HistoryView

            assert isinstance(history, HistoryView)
            parts["history_splitter"] = history.splitter
            if history.audit_columns_set:  # never sized yet: nothing of the clerk's to keep
                parts["audit_columns"] = history.audit.horizontalHeader()
        return parts

    def refresh_visible(self, quarter: Quarter | None) -> None:
        """The progress and history views are filled when shown, not at every start-up or keystroke."""
        current = self.frame.tabs.currentIndex()
        if current not in (PROGRESS_TAB, HISTORY_TAB):
            return
        store = self.database.ready()
        if store is None or quarter is None:
            return
        if current == PROGRESS_TAB:
            from actions.figures import annual, progress

            self.progress.show_progress(progress(store, quarter), store.history(), annual(store, quarter.year))
        else:
            box = self.frame.quarter_box
            quarters = [Quarter.parse(box.itemData(i)) for i in range(box.count())]
            catalogues = {q: store.catalogue_for(q) for q in quarters}
            self.history.show_history(quarters, store.history(), list(reversed(store.audit_trail())), catalogues, store.today())
