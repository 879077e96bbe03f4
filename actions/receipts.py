"""The city round trip (issue 27): the city's signed receipts (回执) and send-backs (退回通知), the town
importing them, the city's register of what arrived, and the list of towns that are late (催报).

Which return a receipt is for comes from `actions.city.collect_as_consolidate`, the function
`consolidate` counts with: a receipt is issued exactly for the return the 汇总表 counts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import InputError
from core.receipts import (
    BEIJING,
    NOTICE,
    RECEIPT,
    AnswerRefused,
    CityAnswer,
    CityState,
    Reason,
    checked_reasons,
    notice_file_name,
    receipt_file_name,
)
from reports.files import printable

if TYPE_CHECKING:
    from cryptography import x509

    from core.quarters import Quarter
    from reports.collect import Collection
    from reports.identity import Identity
    from reports.verify import Verdict
    from storage.store import RegisterEntry, Store

__all__ = ["AnswerRefused", "Reason", "notice_file_name"]

# the register's verdicts (storage.round_trip) in words
VERDICT_NAMES = {"accepted": "已接收", "refused": "拒收", "sent_back": "已退回"}
ISSUED_NAMES = {RECEIPT: "回执", NOTICE: "退回通知"}
MISSING = "缺报"
SENT_BACK_WAITING = "已退回未重报"


# --- the city's database and root ------------------------------------------------------------------


def city_database(db: Path | None) -> Path:
    """The city's database the register lives in: the one given, else the default; it must exist and be
    the city's (a town's database is refused before it is opened, as verification does)."""
    from actions.city import refuse_a_town_database
    from actions.database import database_path, open_store

    path = database_path(db)
    if not path.is_file():
        raise InputError(
            f"找不到市局数据库 {printable(str(path))}：回执、退回和登记簿记在市局汇总用的数据库中，"
            "请先用 init --city --trust city_root.pem 建立（或用 --db 指定）"
        )
    try:
        refuse_a_town_database(path)
    except InputError as exc:
        raise not_for_the_register(path) from exc
    with open_store(path) as store:
        if store.mode() != "city":
            raise not_for_the_register(path)
    return path


def not_for_the_register(path: Path) -> InputError:
    return InputError(
        f"数据库 {printable(str(path))} 不是市局汇总用的数据库：回执、退回和登记簿只记在市局的数据库中"
        "（init --city --trust city_root.pem 建立），请用 --db 指定市局的数据库"
    )


def open_city_root(root: Path, passphrase: bytes) -> Identity:
    from reports.plan_file import open_root

    return open_root(root, passphrase)


def checked_roots(root: Identity, trust: Path | None, db: Path) -> list[x509.Certificate]:
    """The roots returns are verified against: --trust, else the city database's; the signing root must
    be one of them (a receipt signed by another root would be refused by every town)."""
    from cryptography.hazmat.primitives import serialization

    from actions.city import stored_trust_roots, trust_roots
    from actions.database import open_store

    if trust is not None:
        roots = trust_roots(trust)
    else:
        with open_store(db) as store:
            roots = stored_trust_roots(store)
    mine = root.certificate.public_bytes(serialization.Encoding.DER)
    if not any(r.public_bytes(serialization.Encoding.DER) == mine for r in roots):
        raise InputError("--root 的根证书不是受信任的市局根证书（与 --trust 或市局数据库中的根证书不同），未签发")
    return roots


def storable(text: str) -> str:
    """A path as kept in the register or signed in an answer: the bytes of a name that is not UTF-8 (the
    lone surrogates Python reads them as, which no database or JSON can hold) written as \\udcXX; the
    rest, Windows' backslashes included, as it is."""
    return "".join(f"\\u{ord(c):04x}" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)


def _now() -> dt.datetime:
    return dt.datetime.now(BEIJING)


def _signoff(verdict: Verdict) -> tuple[str | None, str | None]:
    body = verdict.payload.body if verdict.payload is not None else {}
    signoff = body.get("signoff") or {}
    return signoff.get("unit_name") or None, signoff.get("phone") or None


# --- city receipts --------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedReceipt:
    town: str
    quarter: Quarter
    revision: int
    file: Path
    new: bool  # written by this run (False: the receipt written before for the same return)

    def as_dict(self) -> dict[str, Any]:
        return {"town": self.town, "quarter": self.quarter.code, "revision": self.revision, "file": str(self.file)}


@dataclass(frozen=True)
class RefusedReturn:
    file: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "reason": self.reason}


@dataclass(frozen=True)
class Receipts:
    quarter: Quarter
    receipts: list[IssuedReceipt]
    refused: list[RefusedReturn]

    def as_dict(self) -> dict[str, Any]:
        return {"receipts": [r.as_dict() for r in self.receipts], "refused": [r.as_dict() for r in self.refused]}


def city_receipts(
    quarter_text: str,
    folder: Path,
    root: Path,
    root_passphrase: bytes,
    out: Path,
    trust: Path | None = None,
    crls: Sequence[Path] = (),
    plan_files: Sequence[Path] = (),
    db: Path | None = None,
    strict_crl: bool = False,
    warn: Callable[[str], None] | None = None,
) -> Receipts:
    """Verify the folder as `consolidate` does and sign a receipt for each return it counts; the refused
    returns (invalid, conflicting, or sent back and not yet resubmitted) get none. All of it is entered
    in the city's register."""
    from actions.city import collect_as_consolidate
    from actions.database import open_store
    from core.quarters import Quarter
    from reports.receipt import read_answer_file, write_answer_file
    from storage.round_trip import ACCEPTED, REFUSED, SENT_BACK, RegisterEntry, register_key

    quarter = Quarter.parse(quarter_text)
    if not folder.is_dir():
        raise InputError(f"找不到文件夹 {printable(str(folder))}")
    path = city_database(db)
    identity = open_city_root(root, root_passphrase)
    roots = checked_roots(identity, trust, path)
    collection, _ = collect_as_consolidate(folder, roots, list(crls), path, list(plan_files), strict_crl, warn)
    with open_store(path) as store:
        sent_back = {
            register_key(e.quarter, e.town, e.revision, e.content_hash, e.file): e
            for e in store.city_register(quarter)
            if e.verdict == SENT_BACK
        }
    receipts: list[IssuedReceipt] = []
    refused: list[RefusedReturn] = []
    entries: list[RegisterEntry] = []
    for town, verdict in collection.counted(quarter).items():
        payload = verdict.payload
        assert payload is not None and verdict.revision is not None
        content_hash = payload.content_hash()
        unit, phone = _signoff(verdict)
        key = register_key(quarter.code, town, payload.revision, content_hash, verdict.file)
        if key in sent_back:
            reason = f"{quarter.label}第 {payload.revision} 版已退回（{sent_back[key].issued_file or '退回通知'}），等待{town}重新上报"
            refused.append(RefusedReturn(storable(verdict.file), reason))
            continue
        answer = CityAnswer(
            RECEIPT, town, quarter, payload.revision, content_hash, _now(), (), storable(Path(verdict.file).name)
        )
        target = out / receipt_file_name(answer)
        new = True
        if target.exists():
            try:
                kept = read_answer_file(target, roots).answer
            except AnswerRefused as exc:
                raise AnswerRefused(f"{target} 已存在且不是可用的回执（{exc.message}），未覆盖") from exc
            if (kept.kind, kept.town, kept.quarter, kept.revision, kept.content_hash) != (
                RECEIPT,
                town,
                quarter,
                payload.revision,
                content_hash,
            ):
                raise AnswerRefused(f"{target} 已存在，是另一份季报的回执，未覆盖")
            new, answer = False, kept
        else:
            write_answer_file(answer, identity, target)
        receipts.append(IssuedReceipt(town, quarter, payload.revision, target, new))
        entries.append(
            RegisterEntry(
                quarter.code,
                town,
                payload.revision,
                content_hash,
                storable(verdict.file),
                ACCEPTED,
                None,
                RECEIPT,
                storable(str(target)),
                answer.at.isoformat(),
                unit,
                phone,
                "",
                "",
            )  # fmt: skip
        )
    for verdict in [*collection.invalid, *collection.conflicts]:
        if verdict.quarter not in (None, quarter.code):
            continue
        reason = (
            verdict.reason
            if verdict.valid is False
            else "冲突：同一镇街同一季度的季报版本或签名时间互相矛盾，未计入，须市局核实"
        )
        refused.append(RefusedReturn(storable(verdict.file), reason))
        entries.append(
            RegisterEntry(
                quarter.code,
                verdict.town,
                verdict.revision,
                None,  # entered by its file: a damaged copy never stands for the return it copies
                storable(verdict.file),
                REFUSED,
                reason,
                None,
                None,
                None,
                None,
                None,
                "",
                "",
            )  # fmt: skip
        )
    with open_store(path, "登记回执") as store:
        store.record_register(entries)
    return Receipts(quarter, receipts, refused)


# --- city send-back -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SentBack:
    answer: CityAnswer
    file: Path

    def as_dict(self) -> dict[str, Any]:
        a = self.answer
        return {
            "town": a.town,
            "quarter": a.quarter.code,
            "revision": a.revision,
            "content_hash": a.content_hash,
            "reasons": [r.as_dict() for r in a.reasons],
            "file": str(self.file),
        }


def pair_reasons(items: Sequence[tuple[str, str]]) -> tuple[str | None, list[tuple[str, str]]]:
    """`--reason` and `--indicator CODE --reason TEXT` in the order given: the reasons before any
    --indicator are the whole return's (one), each --indicator takes the --reason after it."""
    whole: str | None = None
    pairs: list[tuple[str, str]] = []
    pending: str | None = None
    for option, value in items:
        if option == "indicator":
            if pending is not None:
                raise InputError(f"--indicator {pending} 后面缺少 --reason 原因")
            pending = value
        elif pending is not None:
            pairs.append((pending, value))
            pending = None
        elif whole is None and not pairs:
            whole = value
        else:
            raise InputError("整份季报的退回原因（--reason）只能写一条，写在各 --indicator 之前")
    if pending is not None:
        raise InputError(f"--indicator {pending} 后面缺少 --reason 原因")
    return whole, pairs


def send_back(
    return_file: Path,
    whole: str | None,
    per_indicator: Sequence[tuple[str, str]],
    root: Path,
    root_passphrase: bytes,
    out: Path,
    trust: Path | None = None,
    crls: Sequence[Path] = (),
    plan_files: Sequence[Path] = (),
    db: Path | None = None,
    strict_crl: bool = False,
    warn: Callable[[str], None] | None = None,
    withdraw_receipt: bool = False,
) -> SentBack:
    """A 退回通知 for one verified return, bound to its town, quarter, revision and content hash, with the
    city's reasons; entered in the register, so a later `city receipts` issues no receipt for that return.

    Refused (before anything is signed) for a revision a newer one supersedes, for one the city already
    issued a receipt for unless `withdraw_receipt` (the city takes its acceptance back, deliberately), and
    when the register holds an answer for this return signed later than now (a clock that ran ahead: a
    notice signed now would never take effect at the town)."""
    from actions.city import revocations, trusted_plans
    from actions.database import open_store
    from reports.receipt import write_answer_file
    from reports.verify import Verifier
    from storage.round_trip import SENT_BACK, RegisterEntry

    if out.exists():
        raise InputError(f"{printable(str(out))} 已存在，未覆盖")
    if out.suffix.lower() != ".notice":
        raise InputError(f"退回通知的文件名须以 .notice 结尾（{printable(out.name)}）")
    path = city_database(db)
    identity = open_city_root(root, root_passphrase)
    roots = checked_roots(identity, trust, path)
    plans = trusted_plans(list(plan_files), roots, path)
    verdict = Verifier(roots, revocations=revocations(list(crls), roots, strict_crl, warn), plans=plans).verify(
        return_file
    )
    if not verdict.valid or verdict.payload is None:
        raise AnswerRefused(f"{printable(return_file.name)} 不是有效的季报（{verdict.reason}），不能据此退回")
    payload = verdict.payload
    known = [*payload.figures, *(r["code"] for r in payload.body.get("rates", []))]
    reasons = checked_reasons(whole, per_indicator, known)
    with open_store(path) as store:
        entries = store.city_register(payload.quarter)
    at = _now()
    refuse_send_back(entries, payload.town, payload.quarter, payload.revision, payload.content_hash(), at,
                     withdraw_receipt)  # fmt: skip
    answer = CityAnswer(NOTICE, payload.town, payload.quarter, payload.revision, payload.content_hash(), at,
                        reasons, storable(return_file.name))  # fmt: skip
    write_answer_file(answer, identity, out)
    unit, phone = _signoff(verdict)
    name = payload.catalogue.display_name
    text = "；".join(r.text if r.indicator is None else f"{name(r.indicator)}：{r.text}" for r in reasons)
    with open_store(path, "登记退回") as store:
        store.record_register(
            [
                RegisterEntry(
                    payload.quarter.code,
                    payload.town,
                    payload.revision,
                    answer.content_hash,
                    storable(str(return_file)),
                    SENT_BACK,
                    text,
                    NOTICE,
                    storable(str(out)),
                    answer.at.isoformat(),
                    unit,
                    phone,
                    "",
                    "",
                )
            ]  # fmt: skip
        )
    return SentBack(answer, out)


class ReceiptIssued(AnswerRefused):
    """A send-back of a revision the city already issued a receipt for: done only deliberately."""


def refuse_send_back(
    entries: Sequence[RegisterEntry],
    town: str,
    quarter: Quarter,
    revision: int,
    content_hash: str,
    at: dt.datetime,
    withdraw_receipt: bool = False,
) -> None:
    """Why a send-back of this return must not be signed now (see send_back), naming what stands in its way."""
    from storage.round_trip import REFUSED

    mine = [e for e in entries if e.town == town and e.verdict != REFUSED]
    newer = sorted({e.revision for e in mine if e.revision is not None and e.revision > revision})
    if newer:
        last = newer[-1]
        files = "、".join(sorted({printable(Path(e.file).name) for e in mine if e.revision == last}))
        raise AnswerRefused(
            f"{town}{quarter.label}第 {revision} 版已被第 {last} 版取代（{files}），不能退回旧的一版；"
            f"如需退回，请退回第 {last} 版"
        )
    same = [e for e in mine if e.revision == revision and e.content_hash == content_hash and e.issued_at]
    later = [e for e in same if (signed := _time(e.issued_at)) is not None and signed >= at]
    if later:
        entry = max(later, key=lambda e: e.issued_at or "")
        raise AnswerRefused(
            f"登记簿中{town}{quarter.label}第 {revision} 版的{ISSUED_NAMES.get(entry.issued or '', '答复')}"
            f"（{printable(Path(entry.issued_file or '').name)}）签于 {_shown(entry.issued_at)}，晚于现在"
            f"（{at:%Y-%m-%d %H:%M}）：签发它时电脑时间可能超前。现在签发的退回通知在镇街不会生效（镇街以签名在后的答复为准），"
            "未签发；请核对电脑时间，在该时间之后再退回"
        )
    receipts = [e for e in same if e.issued == RECEIPT]
    if receipts and not withdraw_receipt:
        entry = max(receipts, key=lambda e: e.issued_at or "")
        raise ReceiptIssued(
            f"{town}{quarter.label}第 {revision} 版已于 {_shown(entry.issued_at)} 签发回执"
            f"（{printable(Path(entry.issued_file or '').name)}），镇街可能已记为市局已接收；"
            "确要撤回接收、退回这一版，请加 --withdraw-receipt（窗口里确认撤回），未签发"
        )


def _time(text: str | None) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def _shown(text: str | None) -> str:
    moment = _time(text)
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M") if moment else (text or "")


# --- the town imports -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AnswerImport:
    file: Path
    imported: bool  # False: refused, nothing recorded
    changed: bool  # the quarter's city state changed (a new receipt or notice in effect)
    message: str
    kind: str | None = None
    quarter: str | None = None
    revision: int | None = None
    reopened: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": str(self.file),
            "imported": self.imported,
            "changed": self.changed,
            "kind": self.kind,
            "quarter": self.quarter,
            "revision": self.revision,
            "reopened": self.reopened,
            "message": self.message,
        }


def import_answers(store: Store, files: Sequence[Path]) -> list[AnswerImport]:
    """Import receipts and send-backs: each checked against the root pinned at identity import and bound
    to a return this database exported; a refused file records nothing and the next is still imported."""
    from cryptography import x509

    from reports.receipt import read_answer_file

    if store.mode() == "city":
        raise InputError(
            f"数据库 {printable(str(store.path))} 是市局汇总用的数据库：回执和退回通知由镇街在自己的数据库中导入"
            "（用 --db 指定镇街的数据库）"
        )
    store.require_town()
    pinned = store.pinned_root()
    results = []
    for path in files:
        if not pinned:
            results.append(
                AnswerImport(
                    path, False, False, "尚未导入签名证书：回执和退回通知要用导入证书时固定的市局根证书核验，未导入"
                )
            )
            continue
        roots = x509.load_pem_x509_certificates(pinned.encode("ascii"))
        try:
            verified = read_answer_file(path, roots)
            answer = verified.answer
            outcome = store.import_city_answer(answer, verified.file_sha256, verified.content, verified.signature)
        except AnswerRefused as exc:
            results.append(AnswerImport(path, False, False, exc.message))
            continue
        except OSError as exc:
            from core.errors import os_reason

            results.append(AnswerImport(path, False, False, f"无法读取：{os_reason(exc)}"))
            continue
        results.append(
            AnswerImport(
                path,
                True,
                outcome.records,
                outcome.message,
                answer.kind,
                answer.quarter.code,
                answer.revision,
                outcome.reopens,
            )  # fmt: skip
        )
    return results


def city_states(store: Store) -> dict[Quarter, CityState]:
    """Each quarter's state at the city, as learned from the receipts and send-backs imported."""
    return store.city_states()


NO_ANSWER = CityState(None)


# --- the city's register and 催报 ------------------------------------------------------------------


@dataclass(frozen=True)
class RegisterView:
    quarter: Quarter
    entries: list[RegisterEntry]

    def superseded_by(self, entry: RegisterEntry) -> int | None:
        """The newer revision of the same town the register holds, if any."""
        newer = [e.revision for e in self.entries if e.town == entry.town and e.revision and entry.revision
                 and e.revision > entry.revision and e.verdict != "refused"]  # fmt: skip
        return max(newer) if newer else None

    def answered_later(self, entry: RegisterEntry) -> RegisterEntry | None:
        """The answer the city signed after this one for the same return (a receipt withdrawn by a send-back)."""
        if not entry.issued_at or entry.town is None:
            return None
        later = [e for e in self.entries if (e.town, e.revision, e.content_hash) == (entry.town, entry.revision,
                 entry.content_hash) and e.issued_at and e.issued_at > entry.issued_at]  # fmt: skip
        return max(later, key=lambda e: e.issued_at or "") if later else None

    def replaced_note(self, entry: RegisterEntry) -> str:
        later = self.answered_later(entry)
        if later is None:
            return ""
        return f"此后于 {_shown(later.issued_at)} 签发{ISSUED_NAMES.get(later.issued or '', '答复')}，本答复已不再有效"

    def as_dict(self) -> dict[str, Any]:
        rows = []
        for entry in self.entries:
            row = entry.as_dict()
            row["verdict_name"] = VERDICT_NAMES.get(entry.verdict, entry.verdict)
            row["superseded_by"] = self.superseded_by(entry)
            later = self.answered_later(entry)
            row["answered_later"] = None if later is None else {"issued": later.issued, "issued_at": later.issued_at}
            rows.append(row)
        return {"quarter": self.quarter.code, "returns": rows}

    def lines(self) -> list[str]:
        out = []
        for entry in self.entries:
            who = f"{entry.town} 第 {entry.revision} 版" if entry.town else printable(Path(entry.file).name)
            text = f"{who}：{VERDICT_NAMES.get(entry.verdict, entry.verdict)}"
            if entry.issued:
                text += f"，已发{ISSUED_NAMES.get(entry.issued, entry.issued)} {printable(Path(entry.issued_file or '').name)}"
            if entry.reason:
                text += f"（{entry.reason}）"
            newer = self.superseded_by(entry)
            if newer:
                text += f"；已被第 {newer} 版取代"
            if self.replaced_note(entry):
                text += f"；{self.replaced_note(entry)}"
            out.append(f"{text}；登记于 {entry.first_seen}")
        return out


def city_register(quarter_text: str, db: Path | None = None) -> RegisterView:
    from actions.database import open_store
    from core.quarters import Quarter

    quarter = Quarter.parse(quarter_text)
    path = city_database(db)
    with open_store(path) as store:
        return RegisterView(quarter, store.city_register(quarter))


@dataclass(frozen=True)
class LateTown:
    town: str
    state: str  # 缺报 or 已退回未重报
    unit: str
    phone: str
    revision: int | None = None
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"town": self.town, "state": self.state, "unit": self.unit, "phone": self.phone,
                "revision": self.revision, "reason": self.reason}  # fmt: skip


@dataclass(frozen=True)
class Missing:
    quarter: Quarter
    towns: list[LateTown]
    file: Path | None = None
    counted: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "quarter": self.quarter.code,
            "missing": [t.as_dict() for t in self.towns],
            "received": self.counted,
            "file": str(self.file) if self.file else None,
        }


def city_missing(
    quarter_text: str,
    folder: Path,
    db: Path | None = None,
    out: Path | None = None,
    overwrite: bool = False,
    crls: Sequence[Path] = (),
    plan_files: Sequence[Path] = (),
    collection: Collection | None = None,
) -> Missing:
    """The towns with no accepted return for the quarter, and those whose latest return was sent back and
    not resubmitted, with the unit and phone of their last return; written to a workbook when `out`."""
    from actions.city import collect_as_consolidate, stored_trust_roots
    from actions.database import open_store
    from core.plans import TOWNS
    from core.quarters import Quarter
    from storage.round_trip import SENT_BACK, register_key

    quarter = Quarter.parse(quarter_text)
    today = _now().date()
    if not quarter.has_ended(today):
        raise InputError(
            f"{quarter.label}尚未结束（{quarter.last_day:%Y-%m-%d} 结束）：季度结束后镇街才能上报，现在没有可催报的季报"
        )
    if collection is None and not folder.is_dir():
        raise InputError(f"找不到文件夹 {printable(str(folder))}")
    path = city_database(db)
    with open_store(path) as store:
        roots = stored_trust_roots(store)
        entries = store.city_register()
    if collection is None:
        collection, _ = collect_as_consolidate(folder, roots, list(crls), path, list(plan_files))
    counted = collection.counted(quarter)
    contact: dict[str, tuple[str, str]] = {}
    for entry in entries:  # oldest first: a later entry's contact replaces an earlier one's
        if entry.town and (entry.unit_name or entry.phone):
            contact[entry.town] = (entry.unit_name or "", entry.phone or "")
    latest: dict[str, tuple[Quarter, int, Verdict]] = {}
    for valid in collection.valid:
        if valid.payload is None:
            continue
        order = (valid.payload.quarter, valid.payload.revision)
        if valid.payload.town not in latest or order > latest[valid.payload.town][:2]:
            latest[valid.payload.town] = (*order, valid)
    for town, (_, _, last) in latest.items():
        unit, phone = _signoff(last)
        if unit or phone:
            contact[town] = (unit or "", phone or "")
    sent_back = {
        register_key(e.quarter, e.town, e.revision, e.content_hash, e.file): e
        for e in entries
        if e.verdict == SENT_BACK and e.quarter == quarter.code
    }
    late: list[LateTown] = []
    for town in TOWNS:
        unit, phone = contact.get(town, ("", ""))
        verdict = counted.get(town)
        if verdict is None:
            late.append(LateTown(town, MISSING, unit, phone))
            continue
        payload = verdict.payload
        assert payload is not None
        key = register_key(quarter.code, town, payload.revision, payload.content_hash(), verdict.file)
        if key in sent_back:
            late.append(LateTown(town, SENT_BACK_WAITING, unit, phone, payload.revision, sent_back[key].reason or ""))
    written = None
    if out is not None:
        from reports.receipt_sheet import write_missing_workbook

        written = write_missing_workbook(quarter, [t.as_dict() for t in late], out, overwrite)
    received = [t for t in counted if t not in {x.town for x in late}]
    return Missing(quarter, late, written, received)
