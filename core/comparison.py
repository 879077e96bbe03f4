"""同比 and 环比 (issue 26 item 9): each figure of a quarter against the quarter before (上季度) and the same
quarter a year earlier (上年同期).

A figure is compared with the value of the same code in the other quarter, whatever plan that quarter was
under: the first year of a plan compares across plans when the indicator is the same. Nothing to compare
(the other quarter not entered, or the code not in it) gives None; a change from 0 has no 增减%.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from core.indicators import Catalogue
from core.progress import History, case_quarter, percent, ratio
from core.quarters import Quarter

PREVIOUS_QUARTER = "previous_quarter"
SAME_QUARTER_LAST_YEAR = "same_quarter_last_year"
# The printed names of the two comparisons and of their three columns.
PREVIOUS_LABEL = "环比"
LAST_YEAR_LABEL = "同比"


@dataclass(frozen=True)
class Comparison:
    value: int  # the other quarter's figure
    change: int  # this quarter's − the other's
    change_percent: Fraction | None  # change ÷ the other's; None when the other is 0

    def as_dict(self) -> dict[str, Any]:
        return {"value": self.value, "change": self.change, "change_percent": ratio(self.change_percent)}


def compare(current: int | None, other: int | None) -> Comparison | None:
    """This quarter's figure against another quarter's; None when either is missing."""
    if current is None or other is None:
        return None
    change = current - other
    return Comparison(other, change, Fraction(change, other) if other else None)


def last_year(quarter: Quarter) -> Quarter:
    return Quarter(quarter.year - 1, quarter.q)


def quarter_figures(history: History, quarter: Quarter, catalogue: Catalogue) -> dict[str, int | None]:
    """Every code a return prints for `quarter` (a case count's 上期结转 and 本期受理 too, split as the return
    splits a quarter saved before they were entered separately) -> its figure, None where not entered."""
    figures = history.get(quarter, {})
    values: dict[str, int | None] = {code: figures.get(code) for code in catalogue.indicator_codes}
    for flow in catalogue.case_flows:
        pair = case_quarter(figures, flow, history.get(quarter.previous()))
        values[flow.carried], values[flow.received] = pair if pair is not None else (None, None)
    return values


def compared_figures(history: History, quarter: Quarter, catalogue: Catalogue) -> tuple[dict[str, int | None], dict[str, int | None]]:
    """(上季度, 上年同期): the figures `quarter` is compared with, code by code."""
    return (
        quarter_figures(history, quarter.previous(), catalogue),
        quarter_figures(history, last_year(quarter), catalogue),
    )


def comparisons(
    current: Mapping[str, int | None],
    previous: Mapping[str, int | None],
    year_before: Mapping[str, int | None],
) -> dict[str, tuple[Comparison | None, Comparison | None]]:
    """code -> (环比, 同比) for every code of `current`."""
    return {code: (compare(v, previous.get(code)), compare(v, year_before.get(code))) for code, v in current.items()}


def change_text(comparison: Comparison | None) -> str:
    """增减 as printed: +1,234 / -56 / 0; blank (—) where there is nothing to compare."""
    return "—" if comparison is None else f"{comparison.change:+,}" if comparison.change else "0"


def change_percent_text(comparison: Comparison | None, rounding: str) -> str:
    """增减% as printed, rounded toward zero like every percentage: +12.5% / -3.3%; — from 0 or with nothing to compare."""
    if comparison is None or comparison.change_percent is None:
        return "—"
    shown = percent(comparison.change_percent, rounding=rounding)
    return f"+{shown}" if comparison.change_percent > 0 and shown.strip("0.%") else shown
