"""The built-in 2021–2025 plan's 指标解释, quoted from the plan document (issue 26, item 11).

The built-in plan's package is frozen (its content hash is named by every return signed under it), so
its definitions live here, beside it, keyed to that hash: a package the city builds carries its own.
Each text is the plan document's own sentences (the seed's wording, never paraphrased), joined in order.
"""

from __future__ import annotations

SHIPPED_PLAN_HASH = "52e76e624f28e8f4fc52c3cb97b143c01f5ded5f2aea1ebc0ff20ffcc75aeca0"
QUOTE_PREFIX = "规划原文："

_RATES = "每年劳动人事争议调解成功率、仲裁结案率、劳动保障监察举报投诉结案率分别达到78%以上、96%以上、100%。"
_FIVE_YEARS = "注：[  ]内为五年累计数。"

# indicator code (a count pair's count) -> the plan document's sentences about it
SHIPPED_QUOTES: dict[str, tuple[str, ...]] = {
    "card_holders": (
        "到2025年，社保卡持卡人数达到1026万。",
        "提升社保卡发行服务能力，将社保卡覆盖群体从参保人拓展至常住人口。",
    ),
    "yuecai_certified": (
        "到2025年，规划建设5个市级培训基地和5个市级名厨工作室，开展“粤菜师傅”培训1万人次以上，"
        "直接带动3万人次以上实现就业创业。",
        _FIVE_YEARS,
    ),
    "nanyue_trained": (
        "到2025年，开展家政职业技能培训5.9万人次，促进11.8万人次以上稳定和新增就业创业。",
        _FIVE_YEARS,
    ),
    "mediation_cases": (_RATES,),
    "arbitration_due": (_RATES,),
    "inspection_cases": (_RATES,),
}


def quoted(quotes: tuple[str, ...]) -> str:
    """The sentences one after the other: each ends with its own 。, as in the document."""
    return QUOTE_PREFIX + "".join(quotes)


def builtin_definitions(content_hash: str) -> dict[str, str]:
    """The definitions of the built-in plan when `content_hash` is its hash; {} for any other plan."""
    if content_hash != SHIPPED_PLAN_HASH:
        return {}
    return {code: quoted(quotes) for code, quotes in SHIPPED_QUOTES.items()}
