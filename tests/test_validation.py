from datetime import date

import pytest

from core.plans import load_shipped_plan
from core.quarters import Quarter
from core.validation import QuarterInput, check_quarter, explanation_ok, submission_blockers
from tests.helpers import FULL_QUARTER, TODAY, on_pace_history

PLAN = load_shipped_plan()
Q = Quarter(2024, 3)


def findings(
    values=None, history=None, explanations=None, invalid=None, quarter=Q, today=TODAY, plan=PLAN, bases=None
):
    history = on_pace_history(last=quarter.previous()) if history is None else history
    values = dict(history.get(quarter.previous(), FULL_QUARTER), card_holders=200_000) if values is None else values
    bases = {"card_holders": 150_000} if bases is None else bases
    return check_quarter(
        QuarterInput("莞城", quarter, today, plan, values, history, explanations or {}, invalid or {}, bases)
    )


def rules(found, level=None):
    return {(f.rule, f.indicator) for f in found if level is None or f.level == level}


def test_a_clean_quarter_has_no_findings():
    assert findings() == []


@pytest.mark.parametrize(
    ("part", "whole"),
    [
        ("mediation_success", "mediation_cases"),
        ("arbitration_closed", "arbitration_due"),
        ("inspection_closed", "inspection_cases"),
    ],
)
def test_sub_count_above_its_total_is_an_error(part, whole):
    values = dict(FULL_QUARTER, card_holders=200_000, **{whole: 10, part: 11})
    found = findings(values)
    assert ("sub_exceeds_total", part) in rules(found, "error")
    values[part] = 10
    assert ("sub_exceeds_total", part) not in rules(findings(values))


def test_a_quarter_that_has_not_begun_is_an_error():
    q = Quarter(2027, 1)
    found = findings({"card_holders": 1}, history={}, quarter=q)
    assert ("quarter_not_begun", None) in rules(found, "error")
    assert ("quarter_not_begun", None) not in rules(findings({"card_holders": 1}, history={}, quarter=Quarter(2026, 4)))


def test_unparsable_value_is_an_error():
    found = findings(invalid={"nanyue_trained": "“1.5”带有小数"})
    assert ("unparsable", "nanyue_trained") in rules(found, "error")


def test_ytd_rate_below_target_needs_an_explanation():
    values = dict(FULL_QUARTER, card_holders=200_000, mediation_cases=100, mediation_success=10)
    found = findings(values)
    warning = next(f for f in found if f.rule == "rate_below_target")
    assert warning.level == "warning" and warning.indicator == "mediation_success_rate"
    assert warning.needs_explanation and not warning.explained
    explained = findings(values, explanations={"mediation_success_rate": "当事人撤回申请较多"})
    assert next(f for f in explained if f.rule == "rate_below_target").explained


def test_ytd_rate_exactly_at_target_is_not_a_warning():
    history = {Quarter(2024, 1): dict(FULL_QUARTER, mediation_cases=50, mediation_success=39)}
    values = dict(FULL_QUARTER, card_holders=200_000, mediation_cases=50, mediation_success=39)  # 78/100
    assert ("rate_below_target", "mediation_success_rate") not in rules(findings(values, history=history))


def test_no_cases_is_not_below_target():
    values = dict(FULL_QUARTER, card_holders=200_000, inspection_cases=0, inspection_closed=0)
    history = {Quarter(2024, 1): dict(FULL_QUARTER, inspection_cases=0, inspection_closed=0)}
    assert ("rate_below_target", "inspection_closure_rate") not in rules(findings(values, history=history))


def test_severely_behind_is_a_warning_and_behind_a_notice():
    # At 2024Q3 time progress is 75%. 莞城's 南粤家政 target is 1,301.
    history = {Quarter(2024, 1): {"nanyue_trained": 600}}
    behind = findings(dict(FULL_QUARTER, card_holders=200_000, nanyue_trained=300), history=history)  # 69.2%
    assert ("behind", "nanyue_trained") in rules(behind, "notice")
    assert ("severely_behind", "nanyue_trained") not in rules(behind)
    severe = findings(dict(FULL_QUARTER, card_holders=200_000, nanyue_trained=100), history=history)  # 53.8%
    assert ("severely_behind", "nanyue_trained") in rules(severe, "warning")


def test_card_holders_falling_needs_an_explanation():
    history = {Q.previous(): dict(FULL_QUARTER, card_holders=171_000)}
    found = findings(dict(FULL_QUARTER, card_holders=170_999), history=history)
    assert ("card_holders_decreased", "card_holders") in rules(found, "warning")
    assert ("card_holders_decreased", "card_holders") not in rules(
        findings(dict(FULL_QUARTER, card_holders=171_000), history=history)
    )


def test_a_spike_over_three_times_the_previous_four_nonzero_quarters():
    history = {
        Quarter(2022, 4): {"mediation_cases": 100},  # fifth non-zero quarter back: outside the window
        Quarter(2023, 1): {"mediation_cases": 10},
        Quarter(2023, 2): {"mediation_cases": 0},  # zero quarters are skipped
        Quarter(2023, 3): {"mediation_cases": 10},
        Quarter(2023, 4): {"mediation_cases": 0},
        Quarter(2024, 1): {"mediation_cases": 10},
        Quarter(2024, 2): {"mediation_cases": 10},
    }
    spike = findings(
        dict(FULL_QUARTER, card_holders=200_000, mediation_cases=31, mediation_success=31), history=history
    )
    assert ("flow_spike", "mediation_cases") in rules(spike, "warning")
    at_three = findings(
        dict(FULL_QUARTER, card_holders=200_000, mediation_cases=30, mediation_success=30), history=history
    )
    assert ("flow_spike", "mediation_cases") not in rules(at_three)


def test_a_small_spike_under_twenty_is_ignored():
    history = {Quarter(2024, 2): {"inspection_cases": 2}}
    found = findings(
        dict(FULL_QUARTER, card_holders=200_000, inspection_cases=20, inspection_closed=20), history=history
    )
    assert ("flow_spike", "inspection_cases") not in rules(found)


def test_missing_earlier_quarter_is_a_notice():
    history = on_pace_history(last=Q.previous())
    del history[Quarter(2022, 2)]
    found = findings(history=history, values=dict(FULL_QUARTER, card_holders=200_000))
    notice = next(f for f in found if f.rule == "missing_earlier_quarter")
    assert notice.level == "notice" and "2022年第2季度" in notice.message


def test_explanations_need_six_characters():
    assert not explanation_ok("太短了")
    assert not explanation_ok("  五个字啊呀  ")
    assert explanation_ok("六个字的说明")


def test_submission_blockers_name_missing_figures_and_unexplained_warnings():
    values = dict(FULL_QUARTER, card_holders=200_000, mediation_cases=100, mediation_success=10)
    del values["nanyue_trained"]
    found = findings(values)
    reasons = submission_blockers(found, values)
    assert any("南粤家政" in r and "尚未填写" in r for r in reasons)
    assert any("调解成功率" in r for r in reasons)


def test_old_quarter_is_fine_on_any_day():
    assert ("quarter_not_begun", None) not in rules(findings(today=date(2030, 1, 1)))
