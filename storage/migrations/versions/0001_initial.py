"""Initial schema: settings, towns, plans and targets, figures, explanations, audit trail.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "meta", sa.Column("key", sa.String(64), primary_key=True), sa.Column("value", sa.Text(), nullable=False)
    )
    op.create_table(
        "towns",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("seq", sa.Integer(), nullable=False, unique=True),
    )
    op.create_table(
        "plans",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("first_quarter", sa.String(8), nullable=False),
        sa.Column("last_quarter", sa.String(8), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("imported_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "targets",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("plan_id", sa.Integer(), sa.ForeignKey("plans.id", ondelete="CASCADE"), nullable=False),
        sa.Column("town", sa.String(32), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("value", sa.String(40), nullable=False),
        sa.UniqueConstraint("plan_id", "town", "code"),
    )
    op.create_table(
        "figures",
        sa.Column("town", sa.String(32), sa.ForeignKey("towns.name"), primary_key=True),
        sa.Column("quarter", sa.String(8), primary_key=True),
        sa.Column("code", sa.String(64), primary_key=True),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "explanations",
        sa.Column("town", sa.String(32), sa.ForeignKey("towns.name"), primary_key=True),
        sa.Column("quarter", sa.String(8), primary_key=True),
        sa.Column("code", sa.String(64), primary_key=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("os_user", sa.String(200), nullable=False),
        sa.Column("clerk", sa.String(200), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("quarter", sa.String(8), nullable=True),
        sa.Column("code", sa.String(64), nullable=True),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=True),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_quarter_code", "audit", ["quarter", "code"])


def downgrade() -> None:
    for table in ("audit", "explanations", "figures", "targets", "plans", "towns", "meta"):
        op.drop_table(table)
