from fractions import Fraction

import pytest

from core.plans import load_shipped_plan
from core.progress import (
    BEHIND,
    DONE,
    NO_CASES,
    ON_PACE,
    SEVERELY_BEHIND,
    RateResult,
    compute_progress,
    percent,
    rate_text,
    status_of,
)
from core.quarters import Quarter

PLAN = load_shipped_plan()


@pytest.mark.parametrize(
    ("completion", "time_progress", "status"),
    [
        (Fraction(1), Fraction(1, 2), DONE),
        (Fraction(11, 10), Fraction(1), DONE),
        (Fraction(1, 2), Fraction(1, 2), ON_PACE),  # exactly on pace is 正常
        (Fraction(49, 100), Fraction(1, 2), BEHIND),
        (Fraction(30, 100), Fraction(50, 100), BEHIND),  # exactly 20 points behind is not yet 严重
        (Fraction(2999, 10000), Fraction(50, 100), SEVERELY_BEHIND),
    ],
)
def test_status_thresholds(completion, time_progress, status):
    assert status_of(completion, time_progress) == status


def test_rate_at_exactly_78_percent_meets_the_target():
    assert RateResult("mediation_success_rate", 78, 100, Fraction(78, 100)).met is True
    assert RateResult("mediation_success_rate", 77, 100, Fraction(78, 100)).met is False
    assert RateResult("arbitration_closure_rate", 96, 100, Fraction(96, 100)).met is True
    assert RateResult("inspection_closure_rate", 12, 12, Fraction(1)).met is True
    assert RateResult("inspection_closure_rate", 11, 12, Fraction(1)).met is False


def test_zero_denominator_is_no_cases_not_zero_or_failure():
    result = RateResult("inspection_closure_rate", 0, 0, Fraction(1))
    assert result.rate is None and result.met is None and result.no_cases
    assert rate_text(result) == NO_CASES


def test_progress_sums_flows_and_reads_stocks():
    history = {
        Quarter(2021, 1): {"yuecai_certified": 10, "card_holders": 100_000},
        Quarter(2023, 4): {"yuecai_certified": 20},
        Quarter(2024, 1): {"yuecai_certified": 5, "mediation_cases": 10, "mediation_success": 8},
        Quarter(2024, 2): {
            "yuecai_certified": 6,
            "card_holders": 165_000,
            "mediation_cases": 10,
            "mediation_success": 7,
        },
    }
    progress = compute_progress(PLAN, "莞城", Quarter(2024, 2), history)
    assert progress.time_progress == Fraction(14, 20)
    yuecai = progress.indicators["yuecai_certified"]
    assert (yuecai.quarter_value, yuecai.ytd, yuecai.cumulative, yuecai.target) == (6, 11, 41, 154)
    assert yuecai.completion == Fraction(41, 154)
    assert yuecai.status == SEVERELY_BEHIND
    cards = progress.indicators["card_holders"]
    assert cards.cumulative == 165_000 and cards.completion == Fraction(165_000, 170_478)
    ytd = progress.rates_ytd["mediation_success_rate"]
    assert (ytd.numerator, ytd.denominator) == (15, 20)  # summed, never an average of rates
    assert progress.rates_quarter["mediation_success_rate"].rate == Fraction(7, 10)


def test_a_quarter_outside_every_plan_has_no_target():
    progress = compute_progress(PLAN, "莞城", Quarter(2026, 2), {Quarter(2026, 2): {"yuecai_certified": 4}})
    assert progress.time_progress is None
    item = progress.indicators["yuecai_certified"]
    assert item.quarter_value == 4 and item.target is None and item.status is None


def test_percent_truncates_to_one_decimal_so_it_never_crosses_a_line():
    assert percent(Fraction(78, 100)) == "78.0%"
    assert percent(Fraction(1, 3)) == "33.3%"
    assert percent(Fraction(2, 3)) == "66.6%"
    assert percent(Fraction(2, 3), rounding="half_up") == "66.7%"  # how returns signed before were printed
    assert percent(Fraction(1, 8)) == "12.5%"
    assert percent(None) == "—"
