"""Each stock's 基期数 (its level at the start of a plan) as the town entered it, once per plan.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stock_bases",
        sa.Column("town", sa.String(32), sa.ForeignKey("towns.name"), primary_key=True),
        sa.Column("plan", sa.String(200), primary_key=True),
        sa.Column("code", sa.String(64), primary_key=True),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("stock_bases")
