"""A quarter's way to the city: its states, when an export gets a new revision, what a reopen needs.

草稿 → 已上报 (a signed export, figures locked) → 已退回修改 (reopened with a written reason) → 已上报 …
需重新上报 and 未填报 are never stored: the first is a submitted quarter whose 本年累计 / 规划累计
changed after it was exported, the second a quarter with nothing entered.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from core.errors import DomainError
from core.plans import Plan
from core.quarters import Quarter
from core.text import check_text
from core.validation import NOTICE, Finding

DRAFT = "draft"
SUBMITTED = "submitted"
REOPENED = "reopened"
STALE = "stale"
NOT_ENTERED = "not_entered"
STATE_NAMES = {NOT_ENTERED: "未填报", DRAFT: "草稿", SUBMITTED: "已上报", REOPENED: "已退回修改", STALE: "需重新上报"}
MIN_REOPEN_REASON = 4


@dataclass(frozen=True)
class QuarterStatus:
    state: str
    revision: int | None
    stale_because: str = ""  # for 需重新上报: which later changes made the exported return out of date

    @property
    def locked(self) -> bool:
        return self.state in (SUBMITTED, STALE)

    @property
    def name(self) -> str:
        """The state in words: 未填报, 草稿, 已上报, 已退回修改 or 需重新上报."""
        return STATE_NAMES[self.state]

    @property
    def label(self) -> str:
        if self.state == SUBMITTED:
            return f"已上报（第 {self.revision} 版）"
        if self.state == STALE:
            return f"需重新上报（第 {self.revision} 版已过时）"
        return STATE_NAMES[self.state]


def overview_label(status: QuarterStatus, entered: int, of: int) -> str:
    """A quarter as the quarter list and `status` name it: the state, and for a draft not yet complete,
    how many of its figures are in."""
    if status.state == DRAFT and 0 < entered < of:
        return f"{status.name}，已填 {entered}/{of}"
    return status.label


class QuarterLocked(DomainError):
    """Figures of a submitted quarter cannot change until it is reopened."""


def refuse_changes_if_submitted(quarter: Quarter, state: str | None, revision: int | None) -> None:
    """Figures and explanations of an exported quarter stay as they were signed until it is reopened."""
    if state == SUBMITTED:
        raise QuarterLocked(
            f"{quarter.label}已上报（第 {revision} 版），数值已锁定；如需修改，请先退回修改（reopen）并写明原因"
        )


def checked_reopen_reason(reason: str) -> str:
    """The reason a reopen is recorded with, once it is long enough to say something."""
    reason = reason.strip()
    if len(reason) < MIN_REOPEN_REASON:
        raise DomainError(f"退回修改须写明原因（至少 {MIN_REOPEN_REASON} 个字）")
    return check_text(reason, "退回修改的原因")


def refuse_reopen_unless_submitted(quarter: Quarter, state: str | None) -> None:
    if state != SUBMITTED:
        raise DomainError(f"{quarter.label}尚未上报，不需要退回修改")


@dataclass(frozen=True)
class IssuedNumber:
    """A revision number already given to some content (by an export, or reserved for one)."""

    revision: int
    content_hash: str


def revision_for(
    content_hash: str,
    *,
    state: str | None,
    recorded: IssuedNumber | None,
    latest_issued: IssuedNumber | None,
) -> int:
    """The revision a signed return of this content carries: the last one again, or the next.

    `recorded` is the revision the quarter's status holds (its last recorded export); `latest_issued`
    the highest number ever handed out for the quarter. Unchanged content of a 已上报 quarter keeps
    its revision; after 退回修改 the next export always carries the next one. A number once handed
    out (even to an export killed before it was recorded) is only ever reused for the same content.
    """
    if state == SUBMITTED and recorded is not None and recorded.content_hash == content_hash:
        return recorded.revision
    last_recorded = recorded.revision if recorded is not None else 0
    if latest_issued is not None and latest_issued.revision > last_recorded and latest_issued.content_hash == content_hash:
        return latest_issued.revision  # an export of this content was killed before it was recorded
    return max(last_recorded, latest_issued.revision if latest_issued is not None else 0) + 1


@dataclass(frozen=True)
class LaterChange:
    """A change made after a quarter was exported: a figure of `quarter`, or a 基期数 of the plan `plan_name`."""

    code: str
    quarter: Quarter | None = None
    plan_name: str | None = None


def stale_because(quarter: Quarter, plan: Plan | None, revision: int, later: Iterable[LaterChange]) -> str:
    """Why an exported revision no longer shows the quarter's totals, or "" while it still does.

    A return carries 本年累计, 规划累计 and 完成率, so a revised earlier quarter of the same year or
    plan, or a revised 基期数 of its plan, makes it out of date.
    """
    changed: list[str] = []
    for change in later:
        if change.quarter is None:
            if plan is not None and change.plan_name == plan.name:
                changed.append(f"{plan.catalogue.display_name(change.code)}基期数")
            continue
        earlier = change.quarter
        same_year = earlier.year == quarter.year
        same_plan = plan is not None and plan.contains(earlier)
        if earlier < quarter and (same_year or same_plan) and earlier.label not in changed:
            changed.append(earlier.label)
    if not changed:
        return ""
    return f"第 {revision} 版上报后，{'、'.join(changed)}的数值被修改，本季度的本年累计、规划累计或完成率已随之变化"


COMMAND_LINE_REOPEN = "退回修改（reopen）"
WINDOW_REOPEN = "“季报 → 退回修改”"


def resubmission_notice(quarter: Quarter, status: QuarterStatus, reopen: str = COMMAND_LINE_REOPEN) -> str:
    """`reopen` names how the clerk reopens the quarter where the notice is read: the command or the menu item."""
    return (
        f"{quarter.label}需重新上报：{status.stale_because}。请用{reopen}后重新导出，"
        f"新的一版将是第 {(status.revision or 0) + 1} 版"
    )


def status_findings(quarter: Quarter, status: QuarterStatus, reopen: str = COMMAND_LINE_REOPEN) -> list[Finding]:
    """What the quarter's state adds to its findings, listed by `check` and by the window's 检查结果 alike."""
    if status.state != STALE:
        return []
    return [Finding(NOTICE, "needs_resubmission", None, resubmission_notice(quarter, status, reopen))]
