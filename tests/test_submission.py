"""The submission rules of `core.submission`, without a database."""

import pytest

from core import submission
from core.errors import DomainError
from core.plans import load_shipped_plan
from core.quarters import Quarter
from core.submission import (
    DRAFT,
    REOPENED,
    STALE,
    SUBMITTED,
    IssuedNumber,
    LaterChange,
    QuarterLocked,
    QuarterStatus,
    checked_reopen_reason,
    refuse_changes_if_submitted,
    refuse_reopen_unless_submitted,
    revision_for,
    stale_because,
)

PLAN = load_shipped_plan()
Q = Quarter(2024, 3)


def test_the_first_export_is_revision_one():
    assert revision_for("a", state=None, recorded=None, latest_issued=None) == 1


def test_unchanged_content_of_a_submitted_quarter_keeps_its_revision():
    recorded = IssuedNumber(2, "a")
    assert revision_for("a", state=SUBMITTED, recorded=recorded, latest_issued=recorded) == 2


def test_changed_content_gets_the_next_revision():
    recorded = IssuedNumber(2, "a")
    assert revision_for("b", state=SUBMITTED, recorded=recorded, latest_issued=recorded) == 3


def test_after_a_reopen_even_the_same_content_gets_the_next_revision():
    recorded = IssuedNumber(2, "a")
    assert revision_for("a", state=REOPENED, recorded=recorded, latest_issued=recorded) == 3


def test_a_number_handed_to_a_killed_export_is_reused_only_for_the_same_content():
    recorded, killed = IssuedNumber(2, "a"), IssuedNumber(3, "b")
    assert revision_for("b", state=SUBMITTED, recorded=recorded, latest_issued=killed) == 3
    assert revision_for("c", state=SUBMITTED, recorded=recorded, latest_issued=killed) == 4
    assert revision_for("b", state=None, recorded=None, latest_issued=IssuedNumber(1, "b")) == 1


def test_a_revision_handed_out_after_a_restore_is_never_handed_out_again():
    # The restored status remembers revision 1; revision 2 was given to other content before the restore.
    assert revision_for("c", state=SUBMITTED, recorded=IssuedNumber(1, "a"), latest_issued=IssuedNumber(2, "b")) == 3


def test_a_submitted_quarter_refuses_changes_and_says_how_to_unlock_it():
    with pytest.raises(QuarterLocked, match="第 2 版.*退回修改"):
        refuse_changes_if_submitted(Q, SUBMITTED, 2)
    for state in (None, DRAFT, REOPENED):
        refuse_changes_if_submitted(Q, state, 2)


def test_only_a_submitted_quarter_can_be_reopened():
    refuse_reopen_unless_submitted(Q, SUBMITTED)
    for state in (None, REOPENED):
        with pytest.raises(DomainError, match="尚未上报"):
            refuse_reopen_unless_submitted(Q, state)


def test_a_reopen_reason_must_say_something(monkeypatch):
    assert checked_reopen_reason("  数据有误  ") == "数据有误"
    with pytest.raises(DomainError, match="至少 4 个字"):
        checked_reopen_reason("  有误 ")
    monkeypatch.setattr(submission, "MIN_REOPEN_REASON", 8)
    with pytest.raises(DomainError, match="至少 8 个字"):
        checked_reopen_reason("数据有误")


def test_statuses_in_words():
    assert QuarterStatus(SUBMITTED, 2).label == "已上报（第 2 版）"
    assert QuarterStatus(STALE, 2, "…").label == "需重新上报（第 2 版已过时）"
    assert QuarterStatus(REOPENED, 2).label == QuarterStatus(REOPENED, 2).name == "已退回修改"
    assert QuarterStatus(SUBMITTED, 1).locked and QuarterStatus(STALE, 1).locked
    assert not QuarterStatus(REOPENED, 1).locked and not QuarterStatus(DRAFT, None).locked


def test_an_earlier_quarter_of_the_year_or_plan_revised_makes_an_export_stale():
    same_year = LaterChange("new_jobs", quarter=Quarter(2024, 1))
    same_plan = LaterChange("new_jobs", quarter=Quarter(2023, 4))
    reason = stale_because(Q, PLAN, 2, [same_year, same_plan, same_year])
    assert reason.startswith("第 2 版上报后，2024年第1季度、2023年第4季度的数值被修改")


def test_later_quarters_and_other_plans_leave_an_export_as_it_is():
    later = LaterChange("new_jobs", quarter=Quarter(2024, 4))
    outside = LaterChange("new_jobs", quarter=Quarter(2019, 4))
    other_base = LaterChange("card_holders", plan_name="另一个规划")
    assert stale_because(Q, PLAN, 1, [later, outside, other_base]) == ""


def test_a_base_of_the_quarters_plan_revised_makes_an_export_stale():
    reason = stale_because(Q, PLAN, 1, [LaterChange("card_holders", plan_name=PLAN.name)])
    assert "基期数的数值被修改" in reason
    assert stale_because(Q, None, 1, [LaterChange("card_holders", plan_name=PLAN.name)]) == ""
