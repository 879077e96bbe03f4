"""The one parser of typed counts, used by every entry path (window, command line, imports)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction

from core.errors import NumberError, PlanError

MAX_COUNT = 100_000_000

_GROUPED = re.compile(r"^[1-9][0-9]{0,2}(,[0-9]{3})+$")
_PLAIN = re.compile(r"^[0-9]+$")
_SPACES = " \t\r\n\u3000\u00a0\u2009\u202f\ufeff"
# Only the full-width forms a Chinese input method types; NFKC would also turn "²" or "①" into digits.
_FULL_WIDTH = str.maketrans("０１２３４５６７８９，．－＋％ｅＥ", "0123456789,.-+%eE")


def parse_count(text: object) -> int | None:
    """Read a non-negative whole count as typed by a clerk.

    Blank means "not entered" and gives None, never 0. Full-width digits, `1,234` and `1，234`
    and surrounding spaces are accepted; anything else raises NumberError with a Chinese reason.
    """
    if text is None:
        return None
    if isinstance(text, bool):
        raise NumberError("请填写数字")
    if isinstance(text, int):
        return _checked(text)
    raw = str(text)
    cleaned = raw.translate(_FULL_WIDTH).strip(_SPACES)
    if cleaned == "":
        return None
    if _PLAIN.match(cleaned):
        return _checked(int(cleaned))
    if _GROUPED.match(cleaned):
        return _checked(int(cleaned.replace(",", "")))
    raise NumberError(_reason(cleaned, raw))


def _checked(value: int) -> int:
    if value < 0:
        raise NumberError("不能为负数")
    if value > MAX_COUNT:
        raise NumberError(f"数值 {value:,} 超过上限 {MAX_COUNT:,}，请核对是否多输了位数")
    return value


def _reason(cleaned: str, raw: str) -> str:
    shown = raw.strip()
    if any(c in _SPACES for c in cleaned):
        return f"“{shown}”中间有空格，请删去空格"
    if cleaned.startswith("-") or cleaned.startswith("−"):
        return f"“{shown}”是负数，人数和件数不能为负"
    if re.fullmatch(r"[+-]?[\d,]*\.?\d*[eE][+-]?\d+", cleaned):
        return f"“{shown}”是科学计数法，请填写完整的整数"
    if re.fullmatch(r"[+]?[\d,]*\.\d*", cleaned) and any(c.isdigit() for c in cleaned):
        return f"“{shown}”带有小数，人数和件数须为整数"
    if re.fullmatch(r"[\d,]+", cleaned):
        return f"“{shown}”的千分位分隔符位置不对，应每三位一个逗号，如 1,234"
    if cleaned.endswith("%"):
        return f"“{shown}”是百分数，这里只填数量，比率由系统计算"
    return f"“{shown}”不是数字，请只填写阿拉伯数字"


def parse_counts(texts: Mapping[str, object]) -> tuple[dict[str, int | None], dict[str, str]]:
    """Several typed figures at once: (code -> count or None for blank, code -> why the text was refused)."""
    values: dict[str, int | None] = {}
    invalid: dict[str, str] = {}
    for code, text in texts.items():
        try:
            values[code] = parse_count(text)
        except NumberError as exc:
            invalid[code] = exc.message
    return values, invalid


def percent_text(rate: Fraction) -> str:
    """78/100 -> "78", 965/1000 -> "96.5": a rate as the percentage a statistician writes."""
    percent = rate * 100
    denominator = percent.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    if denominator != 1:
        raise PlanError(f"比率 {float(percent):g}% 不是有限小数，请写成如 96.5% 的形式")
    text = format(Decimal(percent.numerator) / Decimal(percent.denominator), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
