"""The office PC's clock, judged against what the database already recorded.

Town office PCs often run with a wrong date (a flat CMOS battery, a date set by hand). Offline, nothing
can prove the clock right, but a clock earlier than a time the database itself recorded, or earlier
than the day the signing certificate became valid, is certainly wrong: signing is refused then, and
the clerk is told the date in words. A clock that is ahead cannot be seen; that is why a signed export
shows the computer's date and the quarter's end before it signs.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from core.quarters import Quarter

# Two PCs' clocks, or one clock corrected by a few minutes, are not "behind" in any sense that matters.
TOLERANCE = timedelta(minutes=10)


def in_words(moment: datetime | date) -> str:
    return f"{moment.year}年{moment.month}月{moment.day}日"


def _shown(moment: datetime, other: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment.date() == other.date() else f"{moment:%Y-%m-%d}"


def clock_problem(now: datetime, latest_recorded: datetime | None, valid_from: datetime | None = None) -> str | None:
    """Why the clock cannot be right (a sentence for the clerk), or None. Times must carry a timezone."""
    if latest_recorded is not None and now < latest_recorded - TOLERANCE:
        recorded = latest_recorded.astimezone(now.tzinfo)
        return (
            f"本机日期 {_shown(now, recorded)} 早于上次保存的时间 {_shown(recorded, now)}，请先校正电脑时间"
        )
    if valid_from is not None and now < valid_from:
        return (
            f"本机日期 {now:%Y-%m-%d} 早于签名证书的生效日期 {valid_from.astimezone(now.tzinfo):%Y-%m-%d}，"
            "电脑时间可能不对，请先校正电脑时间"
        )
    return None


def signed_after(now: datetime, last_signed: datetime | None) -> str | None:
    """A new revision must be signed after the one before it: the city counts a higher revision signed
    earlier as a conflict and leaves the town out. No tolerance here."""
    if last_signed is not None and now <= last_signed:
        return (
            f"本机时间 {_shown(now, last_signed)} 早于本季度上一版的上报时间 {_shown(last_signed, now)}："
            "这一版签名后会被市局判为与上一版冲突，两版都不计入汇总。请先校正电脑时间"
        )
    return None


def clock_moved(started: datetime, now: datetime) -> str | None:
    """A clock set back while an export ran (its files would carry a signing time before their making)."""
    if now < started - TOLERANCE:
        return (
            f"导出过程中电脑时间被改动（从 {_shown(started, now)} 改为 {_shown(now, started)}），"
            "签名的文件会被判为无效"
        )
    return None


def signing_notice(now: datetime, quarter: Quarter) -> str:
    """What a clerk confirms before signing: the computer's date and the quarter's end, in words."""
    return (
        f"本机日期：{in_words(now)}。报告期：{quarter.label}，{in_words(quarter.last_day)}结束。"
        "签名时间取自本机时钟，如日期不对请先校正电脑时间。"
    )
