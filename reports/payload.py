"""The canonical signed payload of a return: the same bytes whoever writes or reads them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from core.errors import DomainError
from core.indicators import INDICATOR_CODES, is_known_code
from core.plans import check_town
from core.quarters import Quarter
from reports.returns import ReturnData

FORMAT = "town-returns/1"
# Where a workbook keeps the payload and its CMS signature (custom document properties survive
# openpyxl and LibreOffice re-saves; see STACK.md).
PAYLOAD_PROPERTY = "town_returns_payload"
SIGNATURE_PROPERTY = "town_returns_signature"
PDF_ATTACHMENT = "town_returns_payload.json"


class PayloadError(DomainError):
    pass


@dataclass(frozen=True)
class Payload:
    town: str
    quarter: Quarter
    plan: str | None
    revision: int
    generated_at: str
    figures: dict[str, int]
    explanations: dict[str, str]

    def to_bytes(self) -> bytes:
        body = {
            "format": FORMAT,
            "town": self.town,
            "quarter": self.quarter.code,
            "plan": self.plan,
            "revision": self.revision,
            "generated_at": self.generated_at,
            "figures": self.figures,
            "explanations": self.explanations,
        }
        return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")

    def content_hash(self) -> str:
        """What changes a revision: the figures and explanations, not the time of writing."""
        body = json.dumps([self.figures, self.explanations], ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(body.encode("utf-8")).hexdigest()


def payload_of(data: ReturnData) -> Payload:
    return Payload(
        data.town,
        data.quarter,
        data.plan_name,
        data.revision,
        data.generated_at.isoformat(timespec="seconds"),
        dict(data.values),
        dict(data.explanations),
    )


def parse_payload(raw: bytes) -> Payload:
    try:
        body: Any = json.loads(raw.decode("utf-8"))
        if not isinstance(body, dict) or body.get("format") != FORMAT:
            raise ValueError("format")
        figures = body["figures"]
        explanations = body["explanations"]
        if set(figures) != set(INDICATOR_CODES) or not all(type(v) is int and v >= 0 for v in figures.values()):
            raise ValueError("figures")
        if not all(is_known_code(k) and isinstance(v, str) for k, v in explanations.items()):
            raise ValueError("explanations")
        revision = body["revision"]
        if type(revision) is not int or revision < 1:
            raise ValueError("revision")
        plan = body.get("plan")
        town = check_town(str(body["town"]))  # a name from the payload never reaches a path unchecked
        if town != body["town"]:
            raise ValueError("town")
        return Payload(
            town,
            Quarter.parse(body["quarter"]),
            plan if isinstance(plan, str) else None,
            revision,
            str(body["generated_at"]),
            figures,
            explanations,
        )
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, DomainError) as exc:
        raise PayloadError("签名数据格式不对，无法读取") from exc
