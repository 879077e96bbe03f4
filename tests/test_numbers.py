import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import NumberError
from core.numbers import MAX_COUNT, parse_count

FULL_WIDTH = str.maketrans("0123456789,", "０１２３４５６７８９，")
FULL_WIDTH_BACK = str.maketrans("０１２３４５６７８９，", "0123456789,")


def grouped(n: int, sep: str = ",") -> str:
    return f"{n:,}".replace(",", sep)


spellings = st.sampled_from(
    [
        str,
        lambda n: grouped(n),
        lambda n: grouped(n, "，"),
        lambda n: str(n).translate(FULL_WIDTH),
        lambda n: grouped(n).translate(FULL_WIDTH),
        lambda n: f"  {grouped(n)}\t",
        lambda n: f"\u3000{n}\u3000",
    ]
)


@given(st.integers(min_value=0, max_value=MAX_COUNT), spellings)
def test_every_accepted_spelling_round_trips(n, spell):
    assert parse_count(spell(n)) == n


@pytest.mark.parametrize("blank", ["", "   ", "\u3000", None])
def test_blank_means_not_entered_not_zero(blank):
    assert parse_count(blank) is None


def test_zero_is_a_value():
    assert parse_count("0") == 0


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("12.5", "小数"),
        ("12.0", "小数"),
        ("１２．５", "小数"),
        ("-3", "负"),
        ("1e5", "科学计数法"),
        ("1.2E+03", "科学计数法"),
        ("abc", "不是数字"),
        ("十二", "不是数字"),
        ("12人", "不是数字"),
        ("78%", "百分数"),
        ("12,34", "千分位"),
        ("12 34", "空格"),
        ("1,2345", "千分位"),
        ("100,000,001", "超过上限"),
        ("999999999999", "超过上限"),
    ],
)
def test_invalid_values_get_a_specific_chinese_reason(text, reason):
    with pytest.raises(NumberError) as caught:
        parse_count(text)
    assert reason in caught.value.message


def test_the_limit_itself_is_accepted():
    assert parse_count("100,000,000") == MAX_COUNT


@given(st.text(max_size=12))
def test_nothing_invalid_slips_through(text):
    """Whatever is accepted is exactly a run of digits, once spaces and well-placed commas are removed."""
    try:
        value = parse_count(text)
    except NumberError:
        return
    cleaned = text.translate(FULL_WIDTH_BACK).strip(" \t\r\n\u3000\u00a0\u2009\u202f\ufeff")
    if value is None:
        assert cleaned == ""
        return
    digits = cleaned.replace(",", "")
    assert digits.isascii() and digits.isdigit()
    assert int(digits) == value
    assert 0 <= value <= MAX_COUNT
    if "," in cleaned:
        assert cleaned == f"{value:,}"


@pytest.mark.parametrize("text", ["1²", "①②", "0,123", "٣٤", "12 34x"])
def test_look_alike_digits_and_odd_grouping_are_refused(text):
    with pytest.raises(NumberError):
        parse_count(text)
