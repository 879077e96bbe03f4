"""仲裁 and 监察 case counts become flows with a carry-over (issue 26): 应结 = 上期结转 + 本期受理.

Every quarter saved before holds only its 应结 ("本期应结（含上期结转）") and its 结案. It is kept as it was
and split into two figures, each with an audit row (action migrate_figure, which the replay counts as a
figure and the 需重新上报 check does not): the first quarter of a run of entered quarters has 上期结转 0
and 本期受理 = its 应结; each next quarter has 上期结转 = what the quarter before left open (应结 − 结案) and
本期受理 = the rest of its 应结 — or, where its 应结 is smaller than that (it did not include them), 结转 0
and 受理 = 应结. Their 结转 is not checked against the quarter before (nobody typed it):
storage.reads.migrated_case_quarters finds them from these audit rows.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from storage.audit import GENESIS_HASH, ChainRow, row_hash
from storage.settings import now_text

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# (应结, 上期结转, 本期受理) of the built-in plan's two case counts (core.indicators.BUILT_IN_CASE_FLOWS)
CASE_FLOWS = (
    ("arbitration_due", "arbitration_carried", "arbitration_received", "arbitration_closed"),
    ("inspection_cases", "inspection_carried", "inspection_received", "inspection_closed"),
)
MIGRATED_BY = "（数据库结构升级 0007）"
ACTION = "migrate_figure"


def upgrade() -> None:
    connection = op.get_bind()
    last = connection.execute(sa.text("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1")).fetchone()
    next_id, previous_hash = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
    at = now_text()
    for due, carried, received, closed in CASE_FLOWS:
        rows = connection.execute(
            sa.text(
                "SELECT town, quarter, value, (SELECT c.value FROM figures c WHERE c.town = f.town "
                "AND c.quarter = f.quarter AND c.code = :closed) FROM figures f WHERE code = :due AND NOT EXISTS "
                "(SELECT 1 FROM figures g WHERE g.town = f.town AND g.quarter = f.quarter "
                "AND g.code IN (:carried, :received)) ORDER BY town, quarter"
            ),
            {"due": due, "carried": carried, "received": received, "closed": closed},
        ).fetchall()
        left_open: dict[tuple[str, str], int | None] = {}  # (town, quarter) -> 应结 − 结案
        for town, quarter, value, closed_value in rows:
            left_open[(town, quarter)] = value - closed_value if closed_value is not None else None
            before = left_open.get((town, _previous(quarter)))
            carry = before if before is not None and 0 <= before <= value else 0
            for code, new in ((carried, carry), (received, value - carry)):
                connection.execute(
                    sa.text(
                        "INSERT INTO figures (town, quarter, code, value, updated_at) "
                        "VALUES (:town, :quarter, :code, :value, :at)"
                    ),
                    {"town": town, "quarter": quarter, "code": code, "value": new, "at": at},
                )
                row = ChainRow(next_id, at, MIGRATED_BY, "", ACTION, quarter, code, None, str(new), previous_hash, "")
                digest = row_hash(row)
                connection.execute(
                    sa.text(
                        "INSERT INTO audit (id, at, os_user, clerk, action, quarter, code, old_value, new_value, "
                        "prev_hash, hash) VALUES (:id, :at, :os_user, '', :action, :quarter, :code, NULL, :new, "
                        ":prev, :hash)"
                    ),
                    {
                        "id": next_id,
                        "at": at,
                        "os_user": MIGRATED_BY,
                        "action": ACTION,
                        "quarter": quarter,
                        "code": code,
                        "new": str(new),
                        "prev": previous_hash,
                        "hash": digest,
                    },
                )
                next_id, previous_hash = next_id + 1, digest


def _previous(quarter: str) -> str:
    """2024Q1 -> 2023Q4 (the quarter codes figures are stored under)."""
    year, number = int(quarter[:4]), int(quarter[5:])
    return f"{year - 1}Q4" if number == 1 else f"{year}Q{number - 1}"


def downgrade() -> None:
    # An older release replays only set_figure rows: the figures this migration wrote (and not changed
    # since) leave the table; its audit rows stay in the chain, where that release passes over them.
    connection = op.get_bind()
    for _due, carried, received, _closed in CASE_FLOWS:
        for code in (carried, received):
            connection.execute(
                sa.text(
                    "DELETE FROM figures WHERE code = :code AND quarter IN (SELECT a.quarter FROM audit a "
                    "WHERE a.code = :code AND a.id = (SELECT MAX(b.id) FROM audit b WHERE b.code = :code "
                    "AND b.quarter = a.quarter AND b.action IN ('set_figure', :action)) AND a.action = :action)"
                ),
                {"code": code, "action": ACTION},
            )
