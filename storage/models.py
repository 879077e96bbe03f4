"""SQLAlchemy models. Only `storage` sees them; the rest of the app gets plain values."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Meta(Base):
    """Key/value settings of this database: its town and the office profile."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Town(Base):
    __tablename__ = "towns"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)


class PlanRow(Base):
    __tablename__ = "plans"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    first_quarter: Mapped[str] = mapped_column(String(8))
    last_quarter: Mapped[str] = mapped_column(String(8))
    source: Mapped[str] = mapped_column(Text)
    imported_at: Mapped[str] = mapped_column(String(40))


class TargetRow(Base):
    """A town's (or 全市's) target: a count, or a minimum rate written as a decimal string."""

    __tablename__ = "targets"
    __table_args__ = (UniqueConstraint("plan_id", "town", "code"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"))
    town: Mapped[str] = mapped_column(String(32))
    code: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(String(40))


class FigureRow(Base):
    __tablename__ = "figures"
    town: Mapped[str] = mapped_column(ForeignKey("towns.name"), primary_key=True)
    quarter: Mapped[str] = mapped_column(String(8), primary_key=True)
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[str] = mapped_column(String(40))


class ExplanationRow(Base):
    __tablename__ = "explanations"
    town: Mapped[str] = mapped_column(ForeignKey("towns.name"), primary_key=True)
    quarter: Mapped[str] = mapped_column(String(8), primary_key=True)
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[str] = mapped_column(String(40))


class AuditEntry(Base):
    """One change; `hash` covers the row and the previous row's hash, so edits outside the app show."""

    __tablename__ = "audit"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[str] = mapped_column(String(40))
    os_user: Mapped[str] = mapped_column(String(200))
    clerk: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(40))
    quarter: Mapped[str | None] = mapped_column(String(8), nullable=True)
    code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    old_value: Mapped[str | None] = mapped_column(Text, nullable=True)
    new_value: Mapped[str | None] = mapped_column(Text, nullable=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class QuarterStatusRow(Base):
    """草稿 has no row; 已上报 and 已退回修改 carry the last exported revision and its content hash."""

    __tablename__ = "quarter_status"
    town: Mapped[str] = mapped_column(ForeignKey("towns.name"), primary_key=True)
    quarter: Mapped[str] = mapped_column(String(8), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    revision: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[str] = mapped_column(String(40))
    # The audit row that recorded the export: the live chain must still hold it, or its tail was cut.
    audit_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    audit_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)


class IssuedRevision(Base):
    """A revision number handed to a signed export before its files were written: never reused for other content."""

    __tablename__ = "issued_revisions"
    town: Mapped[str] = mapped_column(ForeignKey("towns.name"), primary_key=True)
    quarter: Mapped[str] = mapped_column(String(8), primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[str] = mapped_column(String(40))


class StockBase(Base):
    """A stock's 基期数 for one plan, entered by the town where the plan's annex has none."""

    __tablename__ = "stock_bases"
    town: Mapped[str] = mapped_column(ForeignKey("towns.name"), primary_key=True)
    plan: Mapped[str] = mapped_column(String(200), primary_key=True)
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[str] = mapped_column(String(40))


class PlanPackageRow(Base):
    """An imported plan package: its canonical content exactly as signed, and where it came from."""

    __tablename__ = "plan_packages"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    first_quarter: Mapped[str] = mapped_column(String(8))
    last_quarter: Mapped[str] = mapped_column(String(8))
    content: Mapped[str] = mapped_column(Text)
    origin: Mapped[str] = mapped_column(String(16))  # "signed" (verified against the pinned root)
    source: Mapped[str] = mapped_column(Text)
    imported_at: Mapped[str] = mapped_column(String(40))
    signature: Mapped[str | None] = mapped_column(Text, nullable=True)  # the city root's CMS over `content`


class QuarterPlanRow(Base):
    """The plan a quarter was entered under, recorded at its first save: a quarter keeps its plan."""

    __tablename__ = "quarter_plans"
    town: Mapped[str] = mapped_column(ForeignKey("towns.name"), primary_key=True)
    quarter: Mapped[str] = mapped_column(String(8), primary_key=True)
    plan_name: Mapped[str] = mapped_column(String(200))
    plan_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    content_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    recorded_at: Mapped[str] = mapped_column(String(40))



class CityAnswerRow(Base):
    """A receipt or send-back from the city, imported by the town: the signed content kept as it came."""

    __tablename__ = "city_answers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    town: Mapped[str] = mapped_column(ForeignKey("towns.name"))
    quarter: Mapped[str] = mapped_column(String(8))
    revision: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # "receipt" or "notice"
    content_hash: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[str] = mapped_column(String(40))
    reasons: Mapped[str] = mapped_column(Text)  # JSON list of {"indicator", "reason"}
    file_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    content: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(Text)
    imported_at: Mapped[str] = mapped_column(String(40))
    audit_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class CityRegisterRow(Base):
    """The city's register: a return it accepted, refused or sent back, and the receipt or notice issued."""

    __tablename__ = "city_register"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(Text, unique=True)  # town|quarter|revision|hash, or the refused file
    quarter: Mapped[str] = mapped_column(String(8))
    town: Mapped[str | None] = mapped_column(String(32), nullable=True)
    revision: Mapped[int | None] = mapped_column(Integer, nullable=True)
    content_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    file: Mapped[str] = mapped_column(Text)
    verdict: Mapped[str] = mapped_column(String(16))  # accepted / refused / sent_back
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    issued: Mapped[str | None] = mapped_column(String(16), nullable=True)  # receipt / notice
    issued_file: Mapped[str | None] = mapped_column(Text, nullable=True)
    issued_at: Mapped[str | None] = mapped_column(String(40), nullable=True)
    unit_name: Mapped[str | None] = mapped_column(Text, nullable=True)
    phone: Mapped[str | None] = mapped_column(Text, nullable=True)
    first_seen: Mapped[str] = mapped_column(String(40))
    last_seen: Mapped[str] = mapped_column(String(40))
