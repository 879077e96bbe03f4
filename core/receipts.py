"""The city's answers to a return: a receipt (回执, the return is accepted) or a send-back (退回通知, with
the city's reasons), each bound to one return by its town, quarter, revision and content hash.

What an answer says and the order answers take effect in are rules, kept here; the signed file they
travel in is `reports.receipt`, the town's record of them `storage.round_trip`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.errors import DomainError
from core.plans import TOWNS
from core.quarters import Quarter
from core.submission import SUBMITTED
from core.text import hidden_character_problem

RECEIPT = "receipt"
NOTICE = "notice"
ACCEPTED = "已接收"  # the city's state of a quarter as `status --json` writes it
SENT_BACK = "已退回"
KIND_NAMES = {RECEIPT: "回执", NOTICE: "退回通知"}
VERDICTS = {RECEIPT: ACCEPTED, NOTICE: SENT_BACK}
MAX_REASON = 500  # characters, as a 说明
MAX_REASONS = 60
MIN_REASON = 4
_HASH = re.compile(r"^[0-9a-f]{64}$")
CONTENT_KEYS = frozenset(
    {"kind", "town", "quarter", "revision", "content_hash", "verdict", "reasons", "at", "return_file"}
)


class AnswerRefused(DomainError):
    """A receipt or send-back that is not what this system writes, or that does not apply here."""


@dataclass(frozen=True)
class Reason:
    """One of the city's reasons: for the whole return (indicator None) or for one indicator."""

    indicator: str | None
    text: str

    def as_dict(self) -> dict[str, Any]:
        return {"indicator": self.indicator, "reason": self.text}


@dataclass(frozen=True)
class CityAnswer:
    """What the city signed: its verdict on one return."""

    kind: str  # RECEIPT or NOTICE
    town: str
    quarter: Quarter
    revision: int
    content_hash: str  # the return's (reports.payload.Payload.content_hash)
    at: dt.datetime  # when the city signed it (the signature's signing time is this to the second)
    reasons: tuple[Reason, ...] = ()
    return_file: str = ""  # the name of the file the city read, for the record

    @property
    def verdict(self) -> str:
        return VERDICTS[self.kind]

    @property
    def name(self) -> str:
        return KIND_NAMES[self.kind]

    def content(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "town": self.town,
            "quarter": self.quarter.code,
            "revision": self.revision,
            "content_hash": self.content_hash,
            "verdict": self.verdict,
            "reasons": [r.as_dict() for r in self.reasons],
            "at": self.at.isoformat(timespec="microseconds"),
            "return_file": self.return_file,
        }

    def canonical_bytes(self) -> bytes:
        return canonical(self.content())

    def order(self) -> tuple[int, dt.datetime, bool]:
        """Answers take effect in this order: a later revision, then a later signature (a send-back
        over a receipt signed at the same moment: the city changed its mind)."""
        return answer_order(self.revision, self.at, self.kind)

    def describe(self) -> str:
        return f"{self.town} {self.quarter.label}第 {self.revision} 版的{self.name}"


def answer_order(revision: int, at: dt.datetime, kind: str) -> tuple[int, dt.datetime, bool]:
    return revision, at, kind == NOTICE


def canonical(content: Mapping[str, Any]) -> bytes:
    return json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def checked_reasons(
    whole: str | None, per_indicator: Sequence[tuple[str, str]], known: Iterable[str]
) -> tuple[Reason, ...]:
    """The city's reasons as a send-back carries them: each long enough to say something, one line of
    shown characters at most MAX_REASON long, each indicator one of the return's and named once."""
    known = set(known)
    reasons: list[Reason] = []
    items: list[tuple[str | None, str]] = [(None, whole)] if whole is not None else []
    items += list(per_indicator)
    if not items:
        raise AnswerRefused("退回须写明原因（--reason）")
    seen: set[str] = set()
    for indicator, text in items:
        where = "退回原因" if indicator is None else f"指标 {indicator} 的退回原因"
        text = text.strip()
        if len(text) < MIN_REASON:
            raise AnswerRefused(f"{where}太短（至少 {MIN_REASON} 个字）")
        if len(text) > MAX_REASON:
            raise AnswerRefused(f"{where}有 {len(text)} 个字，超过 {MAX_REASON} 个字的上限")
        problem = hidden_character_problem(text, where)
        if problem:
            raise AnswerRefused(problem)
        if indicator is not None:
            if indicator not in known:
                raise AnswerRefused(f"这份季报没有指标“{indicator}”（可选：{'、'.join(sorted(known))}）")
            if indicator in seen:
                raise AnswerRefused(f"指标 {indicator} 的退回原因写了两次")
            seen.add(indicator)
        reasons.append(Reason(indicator, text))
    if len(reasons) > MAX_REASONS:
        raise AnswerRefused(f"退回原因超过 {MAX_REASONS} 条")
    return tuple(reasons)


def answer_from_content(content: object, what: str) -> CityAnswer:
    """The answer a signed content object states; AnswerRefused (naming `what`, 回执 or 退回通知) when
    any key is missing, extra or of another shape than this system writes."""

    def refuse(detail: str) -> AnswerRefused:
        return AnswerRefused(f"{what}内容有误：{detail}（不是本系统写的{what}）")

    if not isinstance(content, dict):
        raise refuse("不是一个对象")
    keys = set(content)
    if keys != CONTENT_KEYS:
        extra, missing = sorted(keys - CONTENT_KEYS), sorted(CONTENT_KEYS - keys)
        raise refuse("、".join([*(f"多出“{k}”" for k in extra), *(f"缺少“{k}”" for k in missing)]))
    kind = content["kind"]
    if kind not in VERDICTS:
        raise refuse(f"种类“{kind}”")
    if content["verdict"] != VERDICTS[kind]:
        raise refuse(f"结论“{content['verdict']}”")
    town = content["town"]
    if town not in TOWNS:
        raise refuse(f"镇街“{town}”")
    quarter_code = content["quarter"]
    try:
        quarter = Quarter.parse(quarter_code) if isinstance(quarter_code, str) else None
    except DomainError:
        quarter = None
    if quarter is None or quarter.code != quarter_code:
        raise refuse(f"季度“{quarter_code}”")
    revision = content["revision"]
    if type(revision) is not int or not 1 <= revision <= 9999:
        raise refuse(f"版本号“{revision}”")
    content_hash = content["content_hash"]
    if not isinstance(content_hash, str) or not _HASH.match(content_hash):
        raise refuse("季报内容哈希")
    at_text = content["at"]
    try:
        at = dt.datetime.fromisoformat(at_text) if isinstance(at_text, str) else None
    except ValueError:
        at = None
    if at is None or at.tzinfo is None or at.isoformat(timespec="microseconds") != at_text:
        raise refuse(f"时间“{at_text}”")
    return_file = content["return_file"]
    if not isinstance(return_file, str) or len(return_file) > 300:
        raise refuse("季报文件名")
    reasons = _reasons(content["reasons"], refuse)
    if kind == RECEIPT and reasons:
        raise refuse("回执不应有退回原因")
    if kind == NOTICE and not reasons:
        raise refuse("退回通知没有退回原因")
    return CityAnswer(kind, town, quarter, revision, content_hash, at, reasons, return_file)


def _reasons(value: object, refuse: Any) -> tuple[Reason, ...]:
    if not isinstance(value, list) or len(value) > MAX_REASONS:
        raise refuse("退回原因")
    reasons = []
    seen: set[str | None] = set()
    for item in value:
        if not isinstance(item, dict) or set(item) != {"indicator", "reason"}:
            raise refuse("退回原因")
        indicator, text = item["indicator"], item["reason"]
        if indicator is not None and (
            not isinstance(indicator, str) or not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", indicator)
        ):
            raise refuse(f"指标代码“{indicator}”")
        if not isinstance(text, str) or not MIN_REASON <= len(text) <= MAX_REASON or text != text.strip():
            raise refuse("退回原因的文字")
        if indicator in seen:
            raise refuse("同一项的退回原因出现两次")
        seen.add(indicator)
        reasons.append(Reason(indicator, text))
    return tuple(reasons)


@dataclass(frozen=True)
class CityState:
    """A quarter's state at the city, as the town last learned it: the answer that took effect last."""

    state: str | None  # ACCEPTED, SENT_BACK or None (no answer yet)
    revision: int | None = None
    at: str | None = None  # when the city signed it, ISO
    reasons: tuple[Reason, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "revision": self.revision,
            "at": self.at,
            "reasons": [r.as_dict() for r in self.reasons],
        }

    def label(self, exported: int | None = None) -> str:
        """In words, for the quarter list and 关于: 市局已接收（第 1 版，时间）…; `exported` is the
        quarter's newest exported revision, named when the city has not answered it yet."""
        if self.state is None:
            return ""
        when = _shown_time(self.at)
        word = "市局已接收" if self.state == ACCEPTED else "市局退回"
        text = f"{word}（第 {self.revision} 版{'，' + when if when else ''}）"
        if exported is not None and self.revision is not None and exported > self.revision:
            text += f"；第 {exported} 版市局尚未接收"
        return text

    def reason_for(self, indicator: str | None) -> str | None:
        return next((r.text for r in self.reasons if r.indicator == indicator), None)


def _shown_time(at: str | None) -> str:
    if not at:
        return ""
    try:
        return dt.datetime.fromisoformat(at).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return at


BEIJING = dt.timezone(dt.timedelta(hours=8))


AUDIT_ACTIONS = {RECEIPT: "city_receipt", NOTICE: "city_notice"}


def answer_audit_text(kind: str, revision: int, file_sha256: str, signed_at: str, reasons: Sequence[Reason]) -> str:
    """What the audit row of an imported answer says. A town's answer row counts only while its chain row
    says exactly this, so a row changed with a database tool (another revision, verdict or reason) does not."""
    text = f"第 {revision} 版{VERDICTS[kind]}（{KIND_NAMES[kind]} SHA-256 {file_sha256}，市局签名于 {signed_at}）"
    if reasons:
        text += "：" + "；".join(r.text if r.indicator is None else f"{r.indicator}：{r.text}" for r in reasons)
    return text


def receipt_file_name(answer: CityAnswer) -> str:
    """回执_莞城_2026年第1季度_第2版.receipt"""
    return f"回执_{answer.town}_{answer.quarter.label}_第{answer.revision}版.receipt"


def notice_file_name(answer: CityAnswer) -> str:
    return f"退回通知_{answer.town}_{answer.quarter.label}_第{answer.revision}版.notice"


@dataclass(frozen=True)
class ReceivedFacts:
    """What a town's database knows when an answer arrives."""

    town: str
    exported: Mapping[int, str]  # each revision of the quarter it exported, with that return's content hash
    state: str | None  # the quarter's stored state (submitted / reopened) or None
    revision: int | None  # the quarter's last exported revision
    latest: CityState | None  # the answer in effect, if any
    already: bool  # this very file was imported before


@dataclass(frozen=True)
class Outcome:
    message: str
    records: bool = False  # the answer is kept and changes the quarter's city state
    reopens: bool = False  # a send-back that opens the quarter for correction (退回修改)


def judge_answer(answer: CityAnswer, facts: ReceivedFacts, indicator_name: Callable[[str], str] = str) -> Outcome:
    """What an answer does to a town's database: refused (AnswerRefused), nothing, recorded, or recorded
    and the quarter reopened. It must be this town's, for a return this database exported (revision and
    content); an answer older than the one in effect (a lower revision, or signed earlier) changes nothing.
    `indicator_name` gives an indicator's Chinese name for the message."""
    name, quarter, revision = answer.name, answer.quarter, answer.revision
    if facts.already:
        return Outcome(f"此{name}已导入过，未作改动")
    if answer.town != facts.town:
        raise AnswerRefused(f"这是给{answer.town}的{name}，本数据库属于{facts.town}，未导入")
    if revision not in facts.exported:
        raise AnswerRefused(
            f"本数据库没有导出过{quarter.label}第 {revision} 版季报，{name}所指的季报不是本数据库上报的，未导入"
        )
    if facts.exported[revision] != answer.content_hash:
        raise AnswerRefused(
            f"{name}所指的{quarter.label}第 {revision} 版季报与本数据库导出的第 {revision} 版内容不同"
            "（可能是另一个数据库的季报），未导入"
        )
    latest = facts.latest
    if latest is not None and latest.revision is not None and latest.at is not None:
        kind = NOTICE if latest.state == SENT_BACK else RECEIPT
        if answer.order() <= answer_order(latest.revision, dt.datetime.fromisoformat(latest.at), kind):
            shown = latest.label()
            return Outcome(
                f"已有更新的市局答复（{shown}），此{name}（第 {revision} 版，{_shown_time(answer.at.isoformat())}）未作改动"
            )
    newest = facts.revision
    if answer.kind == RECEIPT:
        message = f"市局已接收{quarter.label}第 {revision} 版（{_shown_time(answer.at.isoformat())}）"
        if newest is not None and newest > revision:
            message += f"；最新的第 {newest} 版市局尚未接收"
        return Outcome(message, records=True)
    if newest is not None and revision < newest:
        return Outcome(f"{quarter.label}第 {revision} 版已被第 {newest} 版取代，此退回通知不再适用，未作改动")
    reasons = "；".join(r.text if r.indicator is None else f"{indicator_name(r.indicator)}：{r.text}" for r in answer.reasons)
    if facts.state == SUBMITTED:
        return Outcome(
            f"市局退回{quarter.label}第 {revision} 版：{reasons}。本季度已退回修改，改正后重新导出将是第 {revision + 1} 版",
            records=True,
            reopens=True,
        )
    return Outcome(f"市局退回{quarter.label}第 {revision} 版：{reasons}。本季度已处于退回修改状态", records=True)
