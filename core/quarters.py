"""Calendar quarters: parsing, printing and arithmetic."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from core.errors import QuarterError

_CODE = re.compile(r"^(\d{4})\s*[-_ ]?\s*[Qq]([1-4])$")
_CHINESE = re.compile(r"^(\d{4})\s*年\s*第?\s*([1-4一二三四])\s*季度?$")
_CHINESE_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4}


@dataclass(frozen=True, order=True)
class Quarter:
    year: int
    q: int

    def __post_init__(self) -> None:
        if not 1 <= self.q <= 4:
            raise QuarterError(f"季度须为 1 到 4，而不是 {self.q}")
        if not 1900 <= self.year <= 9999:
            raise QuarterError(f"年份 {self.year} 不在合理范围内")

    @classmethod
    def parse(cls, text: str) -> Quarter:
        """Read `2024Q3`, `2024q3`, `2024年第3季度` or `2024年第三季度`."""
        cleaned = unicodedata.normalize("NFKC", str(text)).strip()
        match = _CODE.match(cleaned) or _CHINESE.match(cleaned)
        if not match:
            raise QuarterError(f"无法识别的季度“{text}”，请写成 2024Q3 或 2024年第3季度")
        year, quarter = match.groups()
        return cls(int(year), _CHINESE_DIGITS.get(quarter) or int(quarter))

    @classmethod
    def containing(cls, day: date) -> Quarter:
        return cls(day.year, (day.month - 1) // 3 + 1)

    @classmethod
    def latest_ended(cls, today: date) -> Quarter:
        """The most recent quarter whose last day is before `today`."""
        return cls.containing(today).previous()

    @property
    def code(self) -> str:
        return f"{self.year}Q{self.q}"

    @property
    def label(self) -> str:
        return f"{self.year}年第{self.q}季度"

    def __str__(self) -> str:
        return self.code

    @property
    def first_day(self) -> date:
        return date(self.year, 3 * self.q - 2, 1)

    @property
    def last_day(self) -> date:
        nxt = self.next().first_day
        return date.fromordinal(nxt.toordinal() - 1)

    @property
    def ordinal(self) -> int:
        return self.year * 4 + self.q - 1

    @classmethod
    def from_ordinal(cls, ordinal: int) -> Quarter:
        return cls(ordinal // 4, ordinal % 4 + 1)

    def next(self) -> Quarter:
        return Quarter.from_ordinal(self.ordinal + 1)

    def previous(self) -> Quarter:
        return Quarter.from_ordinal(self.ordinal - 1)

    def __add__(self, quarters: int) -> Quarter:
        return Quarter.from_ordinal(self.ordinal + quarters)

    def __sub__(self, other: Quarter) -> int:
        return self.ordinal - other.ordinal

    def year_to_date(self) -> list[Quarter]:
        """The quarters of this year up to and including this one."""
        return [Quarter(self.year, q) for q in range(1, self.q + 1)]

    def has_begun(self, today: date) -> bool:
        return self.first_day <= today

    def has_ended(self, today: date) -> bool:
        return self.last_day < today


def quarter_range(first: Quarter, last: Quarter) -> list[Quarter]:
    return [Quarter.from_ordinal(o) for o in range(first.ordinal, last.ordinal + 1)]
