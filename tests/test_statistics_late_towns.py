"""Issue 26 item 10: the city's completion against the annex totals counts a late town's latest signed 规划累计
(naming how many quarters behind it is) instead of 0.

By hand, 粤菜师傅 (annex 全市 7,000): 莞城 signed 规划累计 150 for 2024Q3; 石龙 last signed 2024Q1 with 规划累计
120. Annex completion = (150 + 120) / 7,000; 石龙 is 2 quarters behind."""

from fractions import Fraction

from core.consolidation import consolidate
from core.demo import FULL_QUARTER
from core.plan_package import shipped_package
from core.quarters import Quarter
from reports.city_report import attention_lines, city_json

Q = Quarter(2024, 3)


def test_a_late_town_counts_with_its_latest_signed_cumulative():
    plan = shipped_package().to_plan()
    histories = {"莞城": {Q: dict(FULL_QUARTER)}, "石龙": {Quarter(2024, 1): dict(FULL_QUARTER)}}
    signed = {"莞城": {"yuecai_certified": (24, 150), "nanyue_trained": (210, 900)}}
    earlier = {"石龙": (Quarter(2024, 1), {"yuecai_certified": 120, "nanyue_trained": 800})}
    summary = consolidate(plan, Q, histories, town_signed=signed, earlier_signed=earlier)
    assert summary.annex_completion["yuecai_certified"] == Fraction(150 + 120, 7_000)
    assert summary.annex_completion["nanyue_trained"] == Fraction(900 + 800, 59_000)
    assert summary.annex_lags == {"石龙": 2}
    assert city_json(summary)["yuecai_certified"]["annex_completion"] == round((150 + 120) / 7_000, 6)
    line = next(text for text in attention_lines(summary, set()) if text.startswith("按附件全市目标"))
    assert "石龙落后 2 个季度" in line and "3.8%" in line  # 270/7000 = 3.857…%, truncated
