"""The quarters' overview: each quarter's state and how many of its figures are in, for the `status`
command and the window's quarter list alike. Reads only, so the window can fill its list in before
the database layer has loaded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.quarters import Quarter, quarter_range
from core.submission import NOT_ENTERED, QuarterStatus, overview_label

if TYPE_CHECKING:
    from storage.reads import StoreReads


@dataclass(frozen=True)
class QuarterState:
    quarter: Quarter
    status: QuarterStatus
    entered: int = 0  # figures of the quarter's indicator list that are in
    of: int = 0

    @property
    def label(self) -> str:
        return overview_label(self.status, self.entered, self.of)

    def as_dict(self) -> dict[str, Any]:
        # state is one of 未填报、草稿、已上报、已退回修改、需重新上报
        return {
            "quarter": self.quarter.code,
            "state": self.status.name,
            "revision": self.status.revision,
            "reason": self.status.stale_because,
            "entered": self.entered,
            "of": self.of,
        }


def statuses(store: StoreReads) -> list[QuarterState]:
    """Every quarter of the plans, any other with figures and every one up to today's, in order, with
    its state and how many of its figures are in: the `status` command and the window's quarter list."""
    history = store.history()
    known = store.plan_quarter_statuses()
    first = min(known, default=Quarter.latest_ended(store.today()))
    for quarter in quarter_range(first, Quarter.containing(store.today())):
        known.setdefault(quarter, QuarterStatus(NOT_ENTERED, None))
    states = []
    for quarter, status in sorted(known.items()):
        codes = store.catalogue_for(quarter).indicator_codes
        entered = sum(history.get(quarter, {}).get(code) is not None for code in codes)
        states.append(QuarterState(quarter, status, entered, len(codes)))
    return states
