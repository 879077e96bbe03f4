"""A message that states a limit states the constant the rule uses: change one, the other follows."""

from fractions import Fraction

import pytest

from core import progress, validation
from core.quarters import Quarter
from tests.helpers import FULL_QUARTER
from tests.test_validation import findings

SPIKE_HISTORY = {Quarter(2024, 1): {"mediation_cases": 10}, Quarter(2024, 2): {"mediation_cases": 10}}
SPIKE_VALUES = dict(FULL_QUARTER, card_holders=200_000, mediation_cases=41, mediation_success=41)
BEHIND_HISTORY = {Quarter(2024, 1): {"nanyue_trained": 600}}
# At 2024Q3 time progress is 75%; 莞城's 南粤家政 completion here is 53.8%, 21.2 points behind.
BEHIND_VALUES = dict(FULL_QUARTER, card_holders=200_000, nanyue_trained=100)


def warning(found, rule, indicator=None):
    return next(f for f in found if f.rule == rule and indicator in (None, f.indicator))


def test_the_explanation_length_asked_for_is_the_one_checked(monkeypatch):
    found = warning(findings(SPIKE_VALUES, history=SPIKE_HISTORY), "flow_spike")
    assert found.message.endswith(f"请填写说明（至少 {validation.MIN_EXPLANATION_CHARS} 个字）")
    monkeypatch.setattr(validation, "MIN_EXPLANATION_CHARS", 9)
    eight_chars = {"mediation_cases": "八个字的说明文字"}
    short = warning(findings(SPIKE_VALUES, history=SPIKE_HISTORY, explanations=eight_chars), "flow_spike")
    assert short.message.endswith("请填写说明（至少 9 个字）") and not short.explained
    assert validation.explanation_request() == "，请填写说明（至少 9 个字）"


def test_the_spike_factor_stated_is_the_one_checked(monkeypatch):
    found = warning(findings(SPIKE_VALUES, history=SPIKE_HISTORY), "flow_spike")
    assert f"均值 10.0 的 {validation.SPIKE_FACTOR} 倍" in found.message
    monkeypatch.setattr(validation, "SPIKE_FACTOR", 4)
    assert "均值 10.0 的 4 倍" in warning(findings(SPIKE_VALUES, history=SPIKE_HISTORY), "flow_spike").message
    monkeypatch.setattr(validation, "SPIKE_FACTOR", 5)
    assert not any(f.rule == "flow_spike" for f in findings(SPIKE_VALUES, history=SPIKE_HISTORY))


def test_the_gap_stated_for_severely_behind_is_the_one_checked(monkeypatch):
    found = warning(findings(BEHIND_VALUES, history=BEHIND_HISTORY), "severely_behind", "nanyue_trained")
    assert "落后超过 20 个百分点" in found.message
    monkeypatch.setattr(progress, "SEVERE_GAP", Fraction(15, 100))
    found = warning(findings(BEHIND_VALUES, history=BEHIND_HISTORY), "severely_behind", "nanyue_trained")
    assert "落后超过 15 个百分点" in found.message
    monkeypatch.setattr(progress, "SEVERE_GAP", Fraction(225, 1000))
    assert warning(findings(BEHIND_VALUES, history=BEHIND_HISTORY), "behind", "nanyue_trained")
    assert progress.severe_gap_words() == "落后超过 22.5 个百分点"


@pytest.mark.parametrize("explanations", [{}, {"mediation_cases": "当季集中受理了一批欠薪案件"}])
def test_a_warnings_statement_is_its_message_without_the_request_for_a_note(explanations):
    found = warning(findings(SPIKE_VALUES, history=SPIKE_HISTORY, explanations=explanations), "flow_spike")
    ending = validation.EXPLAINED if explanations else validation.explanation_request()
    assert found.message == found.statement + ending
    assert found.statement.endswith(f"的 {validation.SPIKE_FACTOR} 倍")


def test_a_finding_without_a_request_states_its_message():
    found = findings(dict(FULL_QUARTER, card_holders=200_000, nanyue_trained=300), history=BEHIND_HISTORY)
    behind = warning(found, "behind", "nanyue_trained")
    assert behind.level == "notice" and behind.statement == behind.message
