"""Text that reads one way: characters that change how text is shown without being seen are refused.

A bidirectional override typed into the phone prints its digits in another order than they were
typed; a zero-width space makes two names that look alike differ. One rule, used by every input
(profile, 说明, names, the reason of 退回修改), by the plan package check and by the verifier on a
signed payload.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping

from core.errors import InputError

BIDI_CONTROLS = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C))
ZERO_WIDTH = frozenset(chr(c) for c in (*range(0x200B, 0x200E), 0x2060, 0xFEFF))
# Not category Cf, but shown as nothing (or as a blank that is not a space) by common fonts.
OTHER_INVISIBLE = frozenset(
    chr(c)
    for c in (
        0x034F, 0x115F, 0x1160, 0x3164, 0xFFA0, 0x180B, 0x180C, 0x180D, 0x180F, 0x17B4, 0x17B5, 0x2800, 0x16FE4,
        *range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0),  # variation selectors
        *range(0x2060, 0x2070), *range(0xFFF0, 0xFFF9), *range(0xE0000, 0xE1000),  # format blocks, used or not
    )
)  # fmt: skip
ALLOWED_CONTROLS = frozenset("\n\r\t")  # a 说明 may run over several lines
LINE_BREAKS = frozenset("\n\r\t")  # ...but a name or a phone number is one line


def is_noncharacter(ch: str) -> bool:
    code = ord(ch)
    return 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE


def character_kind(ch: str) -> str | None:
    """What kind of hidden character `ch` is, in Chinese, or None when it is an ordinary one."""
    if ch in BIDI_CONTROLS:
        return "双向文字控制符（会改变文字的显示顺序）"
    if ch in ZERO_WIDTH:
        return "零宽字符（看不见）"
    if ch in OTHER_INVISIBLE:
        return "不可见字符"
    category = unicodedata.category(ch)
    if category == "Cf":
        return "不可见的格式控制符"
    if category == "Cs":
        return "不成对的代理码位（不是有效的字符）"
    if category in ("Zl", "Zp"):
        return "分行控制符"
    if category == "Cc" and ch not in ALLOWED_CONTROLS:
        return "控制字符"
    if category == "Co":
        return "私用区字符（各电脑显示不同）"
    if is_noncharacter(ch):
        return "非字符码位（不是可以显示的字符）"
    return None


def hidden_character(text: str) -> tuple[int, str, str] | None:
    """The first character of `text` that is not shown as itself: (position, U+ code, kind), or None."""
    for position, ch in enumerate(text):
        kind = character_kind(ch)
        if kind is not None:
            return position, f"U+{ord(ch):04X}", kind
    return None


def hidden_character_problem(text: str, what: str, one_line: bool = False) -> str | None:
    """A Chinese sentence naming the first hidden character of `text` (in `what`, e.g. 联系电话), or None.
    `one_line` (a name, a phone number) refuses line breaks and tabs too."""
    if one_line:
        for position, ch in enumerate(text):
            if ch in LINE_BREAKS:
                return f"{what}第 {position + 1} 个字符是换行或制表符（U+{ord(ch):04X}），这一项只能是一行，请删除后再输入"
    found = hidden_character(text)
    if found is None:
        return None
    position, code, kind = found
    return f"{what}第 {position + 1} 个字符是 {code}，{kind}，请删除后再输入"


def check_text(text: str, what: str, one_line: bool = False) -> str:
    """`text` unchanged, or InputError naming the hidden character it holds."""
    problem = hidden_character_problem(text, what, one_line)
    if problem is not None:
        raise InputError(problem)
    return text


def check_texts(values: Mapping[str, str | None], labels: Mapping[str, str]) -> None:
    """Each of `values` (named by its key; `labels` gives the Chinese name) passes check_text."""
    for name, value in values.items():
        if value is not None:
            check_text(value, labels.get(name, name), one_line=True)


def payload_text_problem(value: object, where: str = "签名数据") -> str | None:
    """The first hidden character in any text of a decoded payload (keys included), as a Chinese
    sentence naming it; None when every text reads one way. For the verifier: a signed return whose
    phone or 说明 holds U+202E shows another text than was signed."""
    stack: list[object] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found = hidden_character(item)
            if found is not None:
                _, code, kind = found
                return f"{where}中有 {code}，{kind}：显示出的文字与签名的内容可能不同"
        elif isinstance(item, Mapping):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return None
