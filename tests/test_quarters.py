from datetime import date

import pytest

from core.errors import QuarterError
from core.quarters import Quarter, quarter_range


@pytest.mark.parametrize(
    "text", ["2024Q3", "2024q3", " 2024Q3 ", "2024年第3季度", "2024年第三季度", "２０２４Ｑ３", "2024年3季度"]
)
def test_parse_both_spellings(text):
    assert Quarter.parse(text) == Quarter(2024, 3)


@pytest.mark.parametrize("text", ["2024Q5", "2024Q0", "2024", "Q3", "2024年第5季度", "", "24Q3"])
def test_bad_quarters_are_refused_in_chinese(text):
    with pytest.raises(QuarterError) as caught:
        Quarter.parse(text)
    assert "季度" in caught.value.message


def test_label_and_code():
    q = Quarter(2024, 3)
    assert q.label == "2024年第3季度"
    assert q.code == "2024Q3"
    assert Quarter.parse(q.label) == q


def test_previous_and_next_cross_the_year():
    assert Quarter(2024, 1).previous() == Quarter(2023, 4)
    assert Quarter(2023, 4).next() == Quarter(2024, 1)
    assert Quarter(2025, 4) - Quarter(2021, 1) == 19


def test_year_to_date():
    assert Quarter(2024, 3).year_to_date() == [Quarter(2024, 1), Quarter(2024, 2), Quarter(2024, 3)]
    assert Quarter(2024, 1).year_to_date() == [Quarter(2024, 1)]


def test_dates_and_latest_ended():
    assert Quarter(2024, 3).first_day == date(2024, 7, 1)
    assert Quarter(2024, 3).last_day == date(2024, 9, 30)
    assert Quarter(2024, 4).last_day == date(2024, 12, 31)
    assert Quarter.latest_ended(date(2026, 11, 28)) == Quarter(2026, 3)
    assert Quarter.latest_ended(date(2026, 1, 1)) == Quarter(2025, 4)


def test_range_covers_the_plan():
    quarters = quarter_range(Quarter(2021, 1), Quarter(2025, 4))
    assert len(quarters) == 20
    assert quarters[0] == Quarter(2021, 1) and quarters[-1] == Quarter(2025, 4)
