"""Submission state per quarter: 草稿 / 已上报 (revision n) / 已退回修改.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quarter_status",
        sa.Column("town", sa.String(32), sa.ForeignKey("towns.name"), primary_key=True),
        sa.Column("quarter", sa.String(8), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.String(40), nullable=False),
    )
    # Signed exports made before this table existed were recorded as meta rows; they become 已上报.
    connection = op.get_bind()
    town = connection.execute(sa.text("SELECT value FROM meta WHERE key = 'town'")).scalar()
    rows = connection.execute(sa.text("SELECT key, value FROM meta WHERE key LIKE 'revision.%'")).fetchall()
    for key, value in rows:
        quarter = key.split(".", 1)[1]
        content = connection.execute(
            sa.text("SELECT value FROM meta WHERE key = :key"), {"key": f"revision_hash.{quarter}"}
        ).scalar()
        connection.execute(
            sa.text(
                "INSERT INTO quarter_status (town, quarter, state, revision, content_hash, updated_at) "
                "VALUES (:town, :quarter, 'submitted', :revision, :hash, datetime('now'))"
            ),
            {"town": town, "quarter": quarter, "revision": int(value), "hash": content or ""},
        )
    connection.execute(sa.text("DELETE FROM meta WHERE key LIKE 'revision.%' OR key LIKE 'revision_hash.%'"))


def downgrade() -> None:
    op.drop_table("quarter_status")
